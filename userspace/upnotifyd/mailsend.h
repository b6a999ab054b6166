/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* One SMTP session through libesmtp: many messages to one relay, with pipelining
 * (and CHUNKING) where the relay offers them, STARTTLS and AUTH as configured.
 * libesmtp is synchronous, which is why this runs in the mailer's thread only.
 *
 * The relay's acceptance of each message is reported the moment it arrives (the
 * SMTP_EV_MESSAGESENT event), so that the mailer can record it before the next
 * message goes out. Dot-stuffing, and the BDAT framing when the relay offers
 * CHUNKING, are libesmtp's; the text handed over has CRLF line ends only. */
#ifndef UPN_MAILSEND_H
#define UPN_MAILSEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mailrelay.h"

enum upn_mailsend_state {
	UPN_MAILSEND_PENDING, /* not tried: the session ended before it */
	UPN_MAILSEND_SENT,    /* the relay took it */
	UPN_MAILSEND_TEMP,    /* 4xx, or the connection broke during it */
	UPN_MAILSEND_PERM,    /* 5xx */
};

struct upn_mailsend_msg {
	int64_t id;
	const char *recipient;
	const char *text;
	/* results */
	enum upn_mailsend_state state;
	int code;	 /* the SMTP reply that decided, 0 for none */
	char error[256]; /* that reply's text, or what went wrong */
};

enum upn_mailsend_result {
	UPN_MAILSEND_DONE,	   /* the session ran: see each message's state */
	UPN_MAILSEND_RELAY_FAILED, /* the relay took no part: nothing was tried */
	UPN_MAILSEND_STOPPED,	   /* stop was asked for: the rest is PENDING */
};

struct upn_mailsend;

/* Reads the AUTH file and builds the TLS context. NULL with "why" in @err. */
struct upn_mailsend *upn_mailsend_new(const struct upn_mail_config *cfg, const atomic_bool *stop,
				      char *err, size_t errlen);
void upn_mailsend_free(struct upn_mailsend *s);
/* @accepted runs inside the session, once per message the relay has just taken,
 * before the next message is started. */
enum upn_mailsend_result upn_mailsend_session(struct upn_mailsend *s, const struct upn_mailrelay *r,
					      struct upn_mailsend_msg *msgs, size_t n,
					      void (*accepted)(void *arg,
							       struct upn_mailsend_msg *m),
					      void *arg, char *err, size_t errlen);

#endif
