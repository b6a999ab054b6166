/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The kernel module as upnotifyd's event source: the module detects in its netfilter
 * hooks what detect.c does from NFQUEUE copies, and multicasts the events on the
 * generic netlink family "upnotify". One socket joins "events" and sits in the loop;
 * another carries the synchronous commands. The daemon pushes its configuration and
 * its down servers at start, tells the module about recoveries it saw by other means,
 * and after a receive buffer overrun resyncs the server states from a dump. */
#ifndef UPN_KMOD_H
#define UPN_KMOD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "detect.h"
#include "event.h"

struct upn_daemon;
struct upn_kmod;

struct upn_kmod_stats {
	uint64_t events; /* events decoded and applied */
	uint64_t by_type[UPNOTIFY_CMD_MAX + 1];
	uint64_t bad_messages; /* messages that failed strict decoding, or cut short */
	uint64_t overruns;     /* ENOBUFS: the kernel dropped events meant for us */
	uint64_t resyncs;      /* server-state dumps read after an overrun */
	uint64_t resync_fixes; /* server states corrected by them */
	uint64_t cmd_errors;   /* commands the module refused or never answered */
};

/* Is the module loaded here (does the family resolve in this network namespace)? */
bool upn_kmod_available(void);
/* Opens both sockets, pushes the configuration (SET_WATCH, SET_CONFIG) and syncs the
 * down servers both ways. NULL, logged, on failure. */
struct upn_kmod *upn_kmod_open(struct upn_daemon *d);
void upn_kmod_close(struct upn_kmod *k);
/* The event socket: watch it for EPOLLIN and call upn_kmod_dispatch(). */
int upn_kmod_fd(const struct upn_kmod *k);
void upn_kmod_dispatch(struct upn_kmod *k);

/* The daemon recovered @ev->server by a signal the module did not see (trap, probe,
 * neighbour, operator): SET_SERVER UP. A no-op for events the module itself sent. */
void upn_kmod_server_up(struct upn_kmod *k, const struct upn_event *ev);
/* The neighbour entry of @server FAILED: SET_SERVER DOWN with cause NEIGH; the module
 * then reports every SYN still pending to it, and marks it down only if there was one.
 * Returns 0: the attempts arrive later as events (see upn_recovery_count_neigh_failed). */
uint32_t upn_kmod_neigh_failed(struct upn_kmod *k, const struct upn_addr *server);

/* For `upnotifyctl status`: the module's counters (GET_STATS, a round trip now) in the
 * NFQUEUE source's terms, and the kmod.* counters. */
void upn_kmod_detect_stats(struct upn_kmod *k, struct upn_detect_stats *ds, uint64_t *pending);
void upn_kmod_stats_json(const struct upn_kmod *k, json_t *counters, json_t *gauges);

#endif
