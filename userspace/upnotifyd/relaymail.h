/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The texts of the two mails that are not made from a template: the relay mail
 * (the signed list of waiting clients, to an agent) and the reply to a mail
 * command. Both are built from the outbox row's stored body; every header value is
 * checked so that nothing stored can become a header of its own.
 *
 * A relay mail: Date, From, To, Subject "upnotify: N clients waited for SERVER" ("1 client"),
 * Message-ID <upn-relay-ID@from-domain> (ID: the list's "id:" line), Auto-Submitted:
 * auto-generated, MIME-Version, Content-Type text/plain; charset=us-ascii, and
 * X-Upnotify-Signature over the body (upn_relay_sign, mail form); the body is the
 * stored one with CRLF line ends.
 *
 * A reply: the stored body is "Subject: ...\nIn-Reply-To: <id>\n\ntext" (either
 * header may be left out, no other is taken); the mail gets Date, From, To, the
 * Subject, Message-ID, In-Reply-To and References, Auto-Submitted: auto-replied,
 * MIME-Version and Content-Type, then the text with CRLF line ends. */
#ifndef UPN_RELAYMAIL_H
#define UPN_RELAYMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "relaymsg.h"

struct upn_relay_mail {
	const char *from, *to;
	const char *server; /* the server's address as text */
	const char *body;   /* as stored: LF line ends */
	size_t len;
	const struct upn_relay_key *key;
	int64_t now; /* Date and the signature's time */
};

/* The message, CRLF line ends, malloc'ed; its Message-ID (no angle brackets) in
 * @message_id (UPN_MAIL_MAX + 1 bytes). NULL with errno and "why" in @err: EINVAL
 * for a value that would inject a header, a body without its id, a bare CR or a line
 * longer than SMTP allows; ENOMEM. */
char *upn_relay_mail_render(const struct upn_relay_mail *r, char *message_id, char *err,
			    size_t errlen);

struct upn_reply_mail {
	const char *from, *to;
	const char *message_id; /* without angle brackets */
	const char *body;	/* as stored */
	int64_t now;
};

/* The reply, CRLF line ends, malloc'ed. NULL with errno and "why" in @err: EINVAL
 * for a control character (CR, LF, ...) in a header value, a header other than
 * Subject and In-Reply-To, no empty line after them; ENOMEM. */
char *upn_reply_mail_render(const struct upn_reply_mail *r, char *err, size_t errlen);

/* The list id of a stored relay body (its "id:" line) or webhook JSON (its "id"
 * member) into @id (UPN_RELAY_ID_LEN + 1 bytes): 0, or -EINVAL when it has none. */
int upn_relay_body_id(const char *body, size_t len, char *id);
int upn_relay_json_id(const char *json, size_t len, char *id);

#endif
