/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The recovery signals beside the packets (patent claims 7-8, figures 12-14): SNMP traps
 * from a server's agent, the gateway's ARP/NDP entry for a server, active probes, and
 * the operator's command. Each becomes a SERVER_UP event for upn_daemon_event(). */
#ifndef UPN_RECOVERY_H
#define UPN_RECOVERY_H

#include <jansson.h>
#include <stdint.h>

#include "daemon.h"

struct upn_recovery_stats {
	uint64_t traps_for_up_servers; /* a trap from a server that is not down */
	uint64_t neigh_reachable;      /* down servers whose entry turned REACHABLE */
	uint64_t neigh_failed;	       /* watched servers whose entry FAILED with SYNs pending */
};

/* Opens what the config enables and adds it to the loop. 0, or -1 logged. */
int upn_recovery_open(struct upn_daemon *d);
void upn_recovery_close(struct upn_daemon *d);
/* Probes that are due; CLOCK_MONOTONIC ms of the next, or -1. */
void upn_recovery_tick(struct upn_daemon *d, int64_t mono_ms);
int64_t upn_recovery_deadline(const struct upn_daemon *d);
/* With source kmod: the module marked a server down after its neighbour entry FAILED,
 * which it does only when attempts to it were pending (counted in neigh.failed_early). */
void upn_recovery_count_neigh_failed(void);
/* Start probing every server the store says is down (after a restart). */
void upn_recovery_probe_all(struct upn_daemon *d);
/* Counters for `upnotifyctl status`, added to @counters. */
void upn_recovery_stats_json(const struct upn_daemon *d, json_t *counters);

#endif
