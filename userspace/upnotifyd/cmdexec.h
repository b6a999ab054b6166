/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Mail commands, the part that acts: one received command mail is checked
 * (cmdparse.h), run against the waitlist and the client mail table in the event loop,
 * and answered by a reply mail queued through the journal like every other mail, so
 * the answer is as durable as the change it reports.
 *
 * One reply per command mail, ever: the reply's outbox key (server = client =
 * 0.0.0.0, outage) has for outage a hash of the command mail's Message-ID and sender,
 * so a mail fetched twice (a crash before its DELE) is answered once. Refusals (an
 * unknown sender, a wrong secret, a command the sender may not use, a malformed mail)
 * get a short error reply, at most one per sender per [commands] reply_rate; nothing
 * is ever sent to an automatic message (Auto-Submitted, Precedence bulk) or to our
 * own From address, so two robots cannot keep each other busy. */
#ifndef UPN_CMDEXEC_H
#define UPN_CMDEXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "cmdparse.h"
#include "mailmsg.h"
#include "ratelimit.h"

struct upn_daemon;

struct upn_cmdexec_stats {
	uint64_t received;	     /* command mails looked at */
	uint64_t accepted;	     /* authorised and run */
	uint64_t rejected_sender;    /* no allow line for the sender */
	uint64_t rejected_secret;    /* missing or wrong SECRET */
	uint64_t rejected_command;   /* a command the sender may not use */
	uint64_t malformed;	     /* authenticated but unreadable, or not a message */
	uint64_t replies;	     /* reply mails queued */
	uint64_t replies_suppressed; /* not sent: automatic, our own, rate limit, no sender */
	uint64_t unqueued;	     /* replies that found no memory */
};

struct upn_cmdexec {
	struct upn_daemon *d;
	struct upn_ratelimit error_replies; /* keyed by the lower-cased sender */
	struct upn_cmdexec_stats stats;
};

enum upn_cmdexec_outcome {
	UPN_CMDEXEC_ACCEPTED,
	UPN_CMDEXEC_REJECTED_SENDER,
	UPN_CMDEXEC_REJECTED_SECRET,
	UPN_CMDEXEC_REJECTED_COMMAND,
	UPN_CMDEXEC_MALFORMED,
};

struct upn_cmdexec_result {
	uint8_t outcome; /* enum upn_cmdexec_outcome */
	bool replied;	 /* a reply mail was queued */
	char *text;	 /* the reply's text, queued or not (malloc'ed), or NULL */
};

/* @d's cfg.commands must stay as it is while @x lives. 0 or -ENOMEM. */
int upn_cmdexec_init(struct upn_cmdexec *x, struct upn_daemon *d);
void upn_cmdexec_destroy(struct upn_cmdexec *x);

/* One message as received (RFC 5322, at most UPN_MAILMSG_MAX bytes), at real time
 * @now (unix seconds) and monotonic @mono_ms (the reply rate limit). 0 (whatever the
 * verdict: @res says), or -ENOMEM when the reply could not be queued (try again
 * later). Free @res with upn_cmdexec_result_free. The caller makes the changes
 * durable (they are in d->journal) before it says the message was taken. */
int upn_cmdexec_raw(struct upn_cmdexec *x, const char *raw, size_t len, int64_t now,
		    int64_t mono_ms, struct upn_cmdexec_result *res);
/* The same for a message already parsed. */
int upn_cmdexec_message(struct upn_cmdexec *x, const struct upn_mailmsg *m, int64_t now,
			int64_t mono_ms, struct upn_cmdexec_result *res);
void upn_cmdexec_result_free(struct upn_cmdexec_result *res);
/* "accepted", "rejected-sender", "rejected-secret", "rejected-command", "malformed". */
const char *upn_cmdexec_outcome_name(unsigned int outcome);

/* The pseudo-client address of a subscriber by mail: @prefix (an IPv6 /64 or
 * shorter) with the first 64 bits of SHA-256 of the lower-cased @mail as its last
 * 64 bits. */
void upn_cmdexec_pseudo_client(const struct upn_prefix *prefix, const char *mail,
			       struct upn_addr *out);

/* The commands.* counters into @counters (status). */
void upn_cmdexec_stats_json(const struct upn_cmdexec *x, json_t *counters);

#endif
