/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Rate limits for outgoing mail: messages per second in all and per recipient domain,
 * so that the recovery of a server 100,000 clients waited for does not flood the
 * relay, nor one company's mail server.
 *
 * Each limit is a token bucket holding one second's worth, kept in the GCRA form
 * (one "theoretical arrival time" per bucket instead of a token count). A message
 * that cannot go now is given the earliest time both of its buckets will have a
 * token and takes those tokens at once: the mailer holds it until then
 * (outbox.held) and the next message queues up behind it. A backlog is thus spread
 * once, every message to its own slot, instead of being looked at again every
 * second, and mail for an idle domain passes a busy domain's queue. */
#ifndef UPN_MAILRATE_H
#define UPN_MAILRATE_H

#include <stdint.h>

struct upn_mailrate_bucket;

struct upn_mailrate {
	int64_t all_t, all_tau, all_tat; /* emission interval, tolerance, arrival: µs */
	int64_t dom_t, dom_tau;
	struct upn_mailrate_bucket *dom; /* open addressing, UPN_MAILRATE_DOMAINS */
	unsigned char key[16];		 /* SipHash key: recipients choose their domains */
};

/* Distinct domains with tokens out at one time; beyond, a message waits a second. */
#define UPN_MAILRATE_DOMAINS 4096

/* A rate of 0 is no limit. 0 or -ENOMEM. */
int upn_mailrate_init(struct upn_mailrate *r, uint32_t rate, uint32_t per_domain);
void upn_mailrate_destroy(struct upn_mailrate *r);
/* Takes the tokens for one message to @recipient and returns its slot on the clock
 * of @now_us (monotonic µs): @now_us itself when it may go now. -1 when the domain
 * table is full of busy domains: nothing was taken, ask again later. */
int64_t upn_mailrate_reserve(struct upn_mailrate *r, const char *recipient, int64_t now_us);

#endif
