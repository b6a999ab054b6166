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
#include "loop.h"

struct upn_probe_stats {
	uint64_t attempts; /* connects started */
	uint64_t successes;
	uint64_t failures;   /* refused, unreachable or timed out */
	uint64_t recoveries; /* servers reported up */
};

struct upn_probe;

struct upn_probe *upn_probe_new(struct upn_loop *loop, uint32_t interval_ms,
				uint32_t max_interval_ms, uint32_t rise,
				void (*recovered)(void *ctx, const struct upn_addr *server),
				void *ctx);
void upn_probe_free(struct upn_probe *p);
/* Start probing @server on these ports (up to 8; 0 entries ignored), or update the
 * ports of one already probed. */
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
