/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The changes not yet handed to the store. Each in-memory record that has a change
 * here holds a marker (its op's position + 1), so a record changed a thousand times
 * during a SYN flood costs one op in the batch, not a thousand: the batch is bounded
 * by the number of records, whatever the packet rate. */
#ifndef UPN_JOURNAL_H
#define UPN_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct upn_journal {
	struct upn_store *store; /* NULL: changes are dropped (tests, --check) */
	struct upn_store_op *ops;
	uint32_t **owner; /* the marker pointing at each op, or NULL */
	size_t n, cap;
	int64_t first_ms; /* CLOCK_MONOTONIC of the oldest change waiting */
	uint64_t seq;	  /* of the last batch handed over */
	uint64_t submitted_ops;
};

void upn_journal_init(struct upn_journal *j, struct upn_store *store);
/* Frees the batch not handed over, with the bodies of its PUT_MAIL ops. */
void upn_journal_destroy(struct upn_journal *j);
/* The op slot for the record whose marker is @marker: its pending op, or a new one at
 * the end. NULL only when memory is short (the caller counts it). Records must not
 * move while their marker is set; arena records never do. */
struct upn_store_op *upn_journal_op(struct upn_journal *j, uint32_t *marker);
/* A record is going away: its op stays in the batch but no longer points back. */
void upn_journal_disown(struct upn_journal *j, uint32_t *marker);
/* Is it time to hand the batch over: its oldest change has waited UPN_STORE_FLUSH_MS,
 * or it holds UPN_STORE_BATCH_MAX changes? Waiting a little turns a flood of updates
 * into one commit, and one fsync, per interval. */
bool upn_journal_due(const struct upn_journal *j, int64_t now_ms);
/* When it will be due, or -1 when nothing waits. */
int64_t upn_journal_deadline(const struct upn_journal *j);
/* Hands the batch to the store's writer if it is idle. Returns the batch's sequence
 * number, or 0 if nothing was handed over. */
uint64_t upn_journal_flush(struct upn_journal *j);
/* The sequence number the changes made so far will be durable at. */
uint64_t upn_journal_barrier(const struct upn_journal *j);

#endif
