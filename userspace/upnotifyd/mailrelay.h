/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Choosing a relay (the failover of the older design: several mail servers, use one
 * that works, the least loaded one).
 *
 * A relay that cannot be used at all (no connection, a 4xx/5xx greeting, no
 * STARTTLS when it is required, MAIL FROM refused) is dead for relay_retry_ms and
 * skipped; when every relay is dead, mail stays queued untouched.
 *
 * "Ordered" tries the relays in the configured order, so mail goes to the first one
 * that works and comes back to it once it is alive again. "Least loaded" prefers
 * the relay that has lately taken the least time per message: SMTP has no load
 * report, and with one session at a time the messages in flight are the same for
 * all, so the time a relay takes to accept a message is the load it shows (an
 * exponentially weighted average over sessions; a relay that failed some messages
 * mid-session counts the time as spent on them too). A relay unused for
 * UPN_MAILRELAY_FORGET_MS forgets its figure and is tried again, so that one slow
 * moment does not exile it. */
#ifndef UPN_MAILRELAY_H
#define UPN_MAILRELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define UPN_MAILRELAY_FORGET_MS 60000

struct upn_mailrelay {
	const struct upn_relay *cfg;
	char name[sizeof(((struct upn_relay *)0)->host) + 8]; /* "host:port" */
	int64_t dead_until;				      /* monotonic ms; 0: alive */
	int64_t last_used;				      /* monotonic ms */
	double ms_per_msg;				      /* 0: no figure yet */
};

struct upn_mailrelays {
	struct upn_mailrelay *r;
	size_t n;
	enum upn_relay_order order;
	uint32_t retry_ms;
};

int upn_mailrelays_init(struct upn_mailrelays *set, const struct upn_mail_config *cfg);
void upn_mailrelays_destroy(struct upn_mailrelays *set);
/* The relays worth trying at @now, best first, as indices into set->r: the count. */
size_t upn_mailrelays_pick(struct upn_mailrelays *set, int64_t now, size_t *order);
void upn_mailrelays_dead(struct upn_mailrelays *set, size_t i, int64_t now);
/* A session on relay @i handled @n messages in @ms milliseconds. */
void upn_mailrelays_used(struct upn_mailrelays *set, size_t i, int64_t now, size_t n, int64_t ms);

#endif
