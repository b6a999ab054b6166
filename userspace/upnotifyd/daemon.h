/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Everything upnotifyd holds, in one place for the control socket to read, and the
 * one function where every source's events meet. */
#ifndef UPN_DAEMON_H
#define UPN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "clients.h"
#include "config.h"
#include "detect.h"
#include "journal.h"
#include "loop.h"
#include "nfq.h"
#include "notify.h"
#include "srvmap.h"
#include "store.h"
#include "waitlist.h"

struct upn_control;
struct upn_mailer;
struct upn_trap;
struct upn_probe;
struct upn_neigh;
struct upn_kmod;
struct upn_portal;
struct upn_cmdexec;
struct upn_cmdmail;

struct upn_daemon {
	struct upn_config cfg;
	struct upn_loop loop;
	struct upn_store *store;
	struct upn_journal journal;
	struct upn_clients clients;
	struct upn_srvmap srvmap; /* the server mail table */
	struct upn_waitlist wl;
	struct upn_detect detect;
	struct upn_nfq nfq;
	struct upn_kmod *kmod;	/* source kmod: the module's sockets; else NULL */
	enum upn_source source; /* the one in use, never AUTO */
	bool rules_installed;
	struct upn_control *ctl;
	struct upn_notify notify;
	struct upn_mailer *mailer;   /* NULL: no relay configured */
	struct upn_trap *trap;	     /* NULL: no snmp_listen */
	struct upn_probe *probe;     /* NULL: probe = no */
	struct upn_neigh *neigh;     /* NULL: neigh = no */
	struct upn_portal *portal;   /* NULL: [portal] enable = no */
	struct upn_cmdexec *cmds;    /* mail commands ([commands]); NULL: none (tests) */
	struct upn_cmdmail *cmdmail; /* NULL: no [commands] mailbox */
	uint64_t mail_barrier;	     /* kick the mailer once this batch is durable */
	int64_t started;	     /* unix seconds */
};

/* Applies one event from any source: the waitlist, probes, and on recovery the mails.
 * Returns, for SERVER_UP, the number of mails queued, or -1 if the server was not down. */
int upn_daemon_event(struct upn_daemon *d, const struct upn_event *ev);
/* The gateway's neighbour entry for @server has FAILED: the attempts to it still
 * waiting for a SYN/ACK have failed, found by whichever source tracks them (detect's
 * table, or the module's through SET_SERVER). Returns how many were reported (with
 * the module: 1 if it was told). */
uint32_t upn_daemon_neigh_failed(struct upn_daemon *d, const struct upn_addr *server,
				 uint64_t real_ns);

#endif
