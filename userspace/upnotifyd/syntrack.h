/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Pending SYNs: each waits for its SYN/ACK (ack = seq + 1) for syn_timeout. Every
 * entry has the same timeout, so insertion order is expiry order and a FIFO list
 * replaces a timer per entry: expiry pops from the head. */
#ifndef UPN_SYNTRACK_H
#define UPN_SYNTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "ihash.h"

struct upn_syn_key {
	struct upn_addr client, server;
	uint16_t cport, sport;
};

enum upn_syn_result {
	UPN_SYN_NEW,	    /* now pending */
	UPN_SYN_RETRANSMIT, /* already pending; its deadline stands */
	UPN_SYN_FULL,	    /* the table is at its cap; not tracked */
};

/* What upn_syntrack_report() found. */
enum upn_syn_report {
	UPN_SYN_UNKNOWN, /* no such attempt pending */
	UPN_SYN_FIRST,	 /* pending and not yet reported: report it now */
	UPN_SYN_AGAIN,	 /* already reported (an ICMP for a retransmission) */
};

struct upn_syntrack {
	struct upn_arena arena;
	struct upn_ihash index;
	uint32_t head, tail; /* FIFO by deadline */
	uint32_t timeout_ms;
};

int upn_syntrack_init(struct upn_syntrack *t, uint32_t max, uint32_t timeout_ms);
void upn_syntrack_destroy(struct upn_syntrack *t);

/* @k must be zeroed before it is filled in: its bytes are the hash key. An attempt
 * that is @reported at once (a SYN to a server known down) stays tracked only so
 * that its retransmissions and ICMP errors are not counted as new attempts; it
 * expires silently. */
enum upn_syn_result upn_syntrack_syn(struct upn_syntrack *t, const struct upn_syn_key *k,
				     uint32_t seq, int64_t now_ms, bool reported);
/* An ICMP error names this attempt: mark it reported, so that neither its
 * retransmissions nor its expiry count again. */
enum upn_syn_report upn_syntrack_report(struct upn_syntrack *t, const struct upn_syn_key *k);
/* A SYN/ACK or RST from the server: if it answers the pending SYN (@ack == seq + 1),
 * removes the entry and says whether the attempt had been reported already.
 * UPN_SYN_UNKNOWN when it answers nothing we track. */
enum upn_syn_report upn_syntrack_answer(struct upn_syntrack *t, const struct upn_syn_key *k,
					uint32_t ack);
/* Marks reported, and passes to @fn, every unreported attempt to @server: its
 * neighbour entry failed, so they will not be answered. A scan of the whole table,
 * for a rare event. Returns how many. */
uint32_t upn_syntrack_report_server(struct upn_syntrack *t, const struct upn_addr *server,
				    void (*fn)(void *ctx, const struct upn_syn_key *k), void *ctx);
/* Removes every entry whose deadline is <= @now_ms, oldest first, calling @fn for
 * those not reported yet. Returns how many expired. */
uint32_t upn_syntrack_expire(struct upn_syntrack *t, int64_t now_ms,
			     void (*fn)(void *ctx, const struct upn_syn_key *k), void *ctx);
/* The earliest deadline, or -1 when nothing is pending. */
int64_t upn_syntrack_next_deadline(const struct upn_syntrack *t);
uint32_t upn_syntrack_count(const struct upn_syntrack *t);

#endif
