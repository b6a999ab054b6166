/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Failed-access detection from captured packets: what the kernel module does in its
 * hooks, done in userspace for the NFQUEUE source. Emits the events of the UAPI. */
#ifndef UPN_DETECT_H
#define UPN_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "lpm.h"
#include "syntrack.h"
#include "waitlist.h"

struct upn_detect_stats {
	uint64_t packets;
	uint64_t truncated; /* headers cut short */
	uint64_t malformed; /* inconsistent headers */
	uint64_t syn, synack, rst, unreach, other;
	uint64_t not_watched;	    /* server outside every watch prefix */
	uint64_t ignored_client;    /* client inside ignore_clients */
	uint64_t icmp_code_ignored; /* an unreachable code that does not count */
	uint64_t pending_full;	    /* SYNs not tracked: pending_max reached */
	uint64_t retransmits;	    /* SYNs of an attempt already tracked */
	uint64_t unreach_repeat;    /* ICMP errors for an attempt already counted */
	uint64_t syn_answered;	    /* pending SYNs cleared by their SYN/ACK */
	uint64_t syn_timeouts;
	uint64_t neigh_failures;  /* attempts reported early by a FAILED neighbour */
	uint64_t refused;	  /* RSTs answering a pending SYN */
	uint64_t refused_ignored; /* ... with count_refused = no */
	uint64_t events[UPNOTIFY_CMD_MAX + 1];
};

struct upn_detect {
	const struct upn_config *cfg;
	struct upn_lpm watch, ignore;
	struct upn_syntrack syn;
	const struct upn_waitlist *wl; /* which servers are down */
	void (*emit)(void *ctx, const struct upn_event *ev);
	void *emit_ctx;
	struct upn_detect_stats stats;
};

int upn_detect_init(struct upn_detect *d, const struct upn_config *cfg,
		    const struct upn_waitlist *wl,
		    void (*emit)(void *ctx, const struct upn_event *ev), void *ctx);
void upn_detect_destroy(struct upn_detect *d);
/* One captured packet, starting at its IP header. */
void upn_detect_packet(struct upn_detect *d, const void *buf, size_t len, int64_t mono_ms,
		       uint64_t real_ns);
/* Reports the SYNs that waited too long. */
void upn_detect_expire(struct upn_detect *d, int64_t mono_ms, uint64_t real_ns);
/* Is @server inside the watch prefixes (or is every server watched)? */
bool upn_detect_watched(const struct upn_detect *d, const struct upn_addr *server);
/* The gateway's neighbour entry for @server has FAILED: every attempt to it still
 * waiting for a SYN/ACK has failed, now rather than at syn_timeout, and the server is
 * down. Returns how many attempts that reported. */
uint32_t upn_detect_neigh_failed(struct upn_detect *d, const struct upn_addr *server,
				 uint64_t real_ns);
/* CLOCK_MONOTONIC ms of the next expiry, or -1. */
int64_t upn_detect_next_deadline(const struct upn_detect *d);

#endif
