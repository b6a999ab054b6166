/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Active probes of down servers: a non-blocking TCP connect to the ports their clients
 * tried, every probe_interval, backing off to probe_max_interval while the server stays
 * down. `rise` consecutive successful rounds make it recovered, so a flapping server
 * sends no mail. Runs in the event loop; each connect is bounded by a timeout. */
#ifndef UPN_PROBE_H
#define UPN_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "limits.h"
#include "loop.h"

/* attempts == successes + failures + cancelled + inflight. */
struct upn_probe_stats {
	uint64_t attempts; /* connects started */
	uint64_t successes;
	uint64_t failures;     /* refused, unreachable or timed out */
	uint64_t timeouts;     /* of the failures, those that timed out */
	uint64_t local_errors; /* of the failures, socket() or connect() failing here */
	uint64_t cancelled;    /* closed unfinished: another port answered, or unwatched */
	uint64_t rounds;       /* finished rounds */
	uint64_t rounds_ok;    /* of which at least one port connected */
	uint64_t recoveries;   /* servers reported up */
	uint64_t deferred;     /* rounds postponed: UPN_PROBE_INFLIGHT_MAX reached */
	uint64_t table_full;   /* watches refused: UPN_PROBE_SERVERS_MAX reached */
	uint32_t watched;      /* servers probed now */
	uint32_t inflight;     /* connects in flight now */
};

struct upn_probe;

/* A round connects to every port of a server at once; it succeeds when one port
 * connects. The first round comes probe_interval after the watch (the server was just
 * seen failing); each failed round doubles the wait, up to @max_interval_ms, and a
 * successful one resets it. Waits get up to 1/8 of random jitter so that servers that
 * went down together are not probed in lockstep. @recovered is called once, after
 * @rise successful rounds in a row, and the server is then no longer watched; it may
 * call upn_probe_watch() and upn_probe_unwatch(), not upn_probe_free(). NULL when
 * memory is short. */
struct upn_probe *upn_probe_new(struct upn_loop *loop, uint32_t interval_ms,
				uint32_t max_interval_ms, uint32_t rise,
				void (*recovered)(void *ctx, const struct upn_addr *server),
				void *ctx);
/* Closes every connect in flight. Not from inside a loop handler: the loop may still
 * hold events for the sockets' handlers until upn_loop_once() returns. */
void upn_probe_free(struct upn_probe *p);
/* Start probing @server on these ports (up to 8; 0 entries ignored), or update the
 * ports of one already probed: its schedule and its run of successes stand, and the
 * new ports are used from its next round. A call with no usable port changes
 * nothing; at the cap a new server is counted (table_full) and not probed. */
void upn_probe_watch(struct upn_probe *p, const struct upn_addr *server, const uint16_t *ports,
		     size_t nports);
/* Stop probing it (it recovered by another signal, or was forgotten). */
void upn_probe_unwatch(struct upn_probe *p, const struct upn_addr *server);
/* Starts the probes that are due and times out the slow ones. */
void upn_probe_tick(struct upn_probe *p, int64_t mono_ms);
/* CLOCK_MONOTONIC ms of the next thing to do, or -1. */
int64_t upn_probe_next_deadline(const struct upn_probe *p);
void upn_probe_get_stats(const struct upn_probe *p, struct upn_probe_stats *out);

#endif
