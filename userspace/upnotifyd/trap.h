/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The SNMP trap receiver, through net-snmp's single-session API in our event loop: no
 * snmptrapd, no SIGALRM, no blocking. v1, v2c, v2c informs (acknowledged) and v3 USM
 * authPriv. A trap counts when it is coldStart, warmStart, linkUp or one of the
 * configured OIDs, comes with a valid community or user, and its agent is a server the
 * caller wants; anything else is counted and dropped. */
#ifndef UPN_TRAP_H
#define UPN_TRAP_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"

struct upn_trap_stats {
	uint64_t received; /* PDUs read */
	uint64_t accepted; /* reported to the caller */
	uint64_t informs_acked;
	uint64_t bad_community;
	uint64_t bad_user;	/* unknown user, wrong password, not authPriv */
	uint64_t not_watched;	/* agent is no server we care about */
	uint64_t other_oid;	/* a trap OID we do not act on */
	uint64_t malformed;	/* undecodable, or a field that cannot be */
	uint64_t other_pdu;	/* decoded but no notification: Get, Response... */
	uint64_t engine_probes; /* v3 engine-ID discoveries (each inform sender's first step) */
	uint64_t ack_failed;	/* an inform we could not acknowledge */
};

struct upn_trap;

/* @wanted says whether an agent address is a server we care about; @recovered is called
 * for each accepted trap with the agent address: the v1 agent-addr, else the
 * snmpTrapAddress.0 varbind, else the UDP source. NULL with a message in @err. */
struct upn_trap *
upn_trap_open(const struct upn_config *cfg, bool (*wanted)(void *ctx, const struct upn_addr *agent),
	      void (*recovered)(void *ctx, const struct upn_addr *agent, const char *trap_oid),
	      void *ctx, char *err, size_t errlen);
void upn_trap_close(struct upn_trap *t);
/* The file descriptors to watch for input (at most @max), and the one call to make
 * when any of them is readable. */
int upn_trap_fds(struct upn_trap *t, int *fds, int max);
void upn_trap_read(struct upn_trap *t);
void upn_trap_get_stats(const struct upn_trap *t, struct upn_trap_stats *out);

#endif
