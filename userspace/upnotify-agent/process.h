/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* One received message, start to end: parse, check the signature, parse the relay
 * list, refuse a replay, and queue one recovery mail per client the agent has an
 * address for, all in the store (the mailer thread sends them). Every outcome is
 * counted in the store's counters table (upnotify-agent(8) lists the names). */
#ifndef UPN_AGENT_PROCESS_H
#define UPN_AGENT_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "clients.h"
#include "relaymsg.h"
#include "store.h"

/* PUT_MAIL ops per transaction: a list of a million clients is queued in slices,
 * the relay_seen row and the counters in the last, so a crash in between leaves the
 * list unseen and its next reading queues the rest (the outbox ignores a mail it
 * already has: one per (server, client, outage)). */
#define UPN_AGENT_OPS_PER_APPLY 65536

struct upn_agent {
	struct upn_store *store; /* writer thread not started: upn_store_apply */
	const struct upn_relay_keys *keys;
	const struct upn_clients *clients; /* [clients]: client address -> mail */
	uint32_t max_age_s;
};

enum upn_agent_outcome {
	UPN_AGENT_ACCEPTED,   /* its mails are queued (maybe none): done with it */
	UPN_AGENT_REJECTED,   /* unsigned, forged, expired, replayed...: counted, done */
	UPN_AGENT_UNREADABLE, /* not a mail message at all: counted, done */
	UPN_AGENT_TEMPFAIL,   /* the store failed (or memory): keep it, try later */
};

/* @now in unix seconds. @queued, if not NULL, gets the number of mails queued. */
enum upn_agent_outcome upn_agent_process(struct upn_agent *a, const char *raw, size_t len,
					 int64_t now, size_t *queued);

/* Every counter name there is, NULL-terminated: a reader (--status) shows each, even
 * at 0. */
extern const char *const upn_agent_counter_names[];

/* Adds @delta to the counter @name, in a transaction of its own. 0 or -errno. */
int upn_agent_count(struct upn_agent *a, const char *name, int64_t delta);

#endif
