/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The text of a recovery mail (patent figure 8) and of the portal's confirmation
 * mail: the templates, their placeholders, and the checks that keep a value from
 * ever becoming a header of its own.
 *
 * A template is a message in miniature: header lines ("Subject: ...", "X-Foo: ..."),
 * one empty line, then the body. LF or CRLF line ends; every line end of the result
 * is CRLF. The mailer writes Date, From, To, Message-ID, Auto-Submitted, MIME-Version
 * and Content-Type/-Transfer-Encoding itself, so a template may not set those (nor
 * Cc, Bcc, Sender, Return-Path, Received); without a Subject it gets the default one.
 * When the mail has an unsubscribe link (a recovery mail, with the portal's
 * gateway_url set) the mailer adds "List-Unsubscribe: <link>" and
 * "List-Unsubscribe-Post: List-Unsubscribe=One-Click" (RFC 8058); a template may
 * not set either.
 * A header value with non-ASCII text is sent as RFC 2047 encoded words, long header
 * lines are folded at spaces.
 *
 * Placeholders, anywhere in the template:
 *   {server}       the recovered server's address
 *   {server_name}  its reverse DNS name, or the address when it has none
 *   {server_full}  "name (address)", or just the address (figure 8's form)
 *   {client}       the client's address
 *   {port}         the server port the client tried
 *   {first}        the client's first failed attempt, RFC 3339 with the local offset
 *   {recovered}    when the server recovered, RFC 3339 with the local offset
 *   {to} {from}    the recipient and the sender
 *   {message_id}   the Message-ID with its angle brackets
 *   {date}         the Date header's value
 *   {unsubscribe}  the unsubscribe link, "" when there is none (no portal). A body
 *                  line holding {unsubscribe} is left out, line end and all, when
 *                  the link is empty: the default template's "To stop these
 *                  notices" line shows only when there is a link to follow.
 *   {link}         confirmation mail only: the link that confirms the address
 *   {expires}      confirmation mail only: when that link expires, RFC 3339
 * "{{" is a literal "{". Any other "{word}" is left as it is when rendering, but
 * upn_mail_template_check() refuses it: a typo must fail at start, not reach 100,000
 * people. It refuses {link} and {expires} as well: the template files are for
 * recovery mails, where those would be empty; the confirmation mail's text is
 * upn_mail_confirm_template, built in. */
#ifndef UPN_MAILTEXT_H
#define UPN_MAILTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mailer.h"

/* Bytes of a template file; more is surely not a mail. */
#define UPN_MAIL_TEMPLATE_MAX (64 * 1024)

/* The built-in template: figure 8's notice, plus what the client tried and how to
 * stop these notices. */
extern const char upn_mail_default_template[];
/* The portal's confirmation mail (double opt-in): who asked, for which server, the
 * link and when it expires. */
extern const char upn_mail_confirm_template[];

/* NULL when every value of @f may go into a header, else the name of the first one
 * that may not ("to", "server_name", ...): a missing required value, or a control
 * character (CR, LF, ...) anywhere, or in an address, the Message-ID or a link
 * anything but printable ASCII (and no "<" or ">" in the last two). */
const char *upn_mail_fields_check(const struct upn_mail_fields *f);

/* 0, or -EINVAL with "line N: why" in @err: bad header syntax, a header the mailer
 * writes itself, no empty line before the body, an unknown placeholder. */
int upn_mail_template_check(const char *tmpl, char *err, size_t errlen);

/* Reads and checks a template file; the built-in one for NULL or "". A malloc'ed
 * string, or NULL with "path: why" in @err. */
char *upn_mail_template_load(const char *path, char *err, size_t errlen);

/* "upn-<32 hex digits>@<the domain of @from>": a hash of the kind (enum
 * upn_mail_kind), the server, the client and the outage, so a message sent twice
 * (after a crash) carries the same Message-ID both times and the receiving side can
 * tell, and mails of two kinds never share one. @buf holds UPN_MAIL_MAX + 1 bytes. */
void upn_mail_message_id(uint8_t kind, const char *server, const char *client, int64_t outage,
			 const char *from, char *buf);
/* The 32 hex digits of that hash alone (33 bytes with the NUL). A relay list's id is
 * this over (UPN_MAIL_RELAY, server, target, outage). */
void upn_mail_hash_hex(uint8_t kind, const char *server, const char *client, int64_t outage,
		       char *hex);
/* A reply's outage column: a 64-bit hash of the command mail's Message-ID and
 * sender, so that one command mail gets one reply, ever. */
int64_t upn_mail_reply_key(const char *message_id, const char *sender);
/* "<the domain of @from>", or "localhost" when it has none. */
const char *upn_mail_domain(const char *from);

/* Writes "Name: value" CRLF to @out: folded at blanks, or as RFC 2047 encoded words
 * when @value holds 8 bit text. The caller has checked @value for control
 * characters. */
void upn_mail_put_header(FILE *out, const char *name, const char *value);

/* A Date header's value: RFC 5322 3.3 with the local offset, in English whatever the
 * locale, @unix_s held to years 1970 to 9999. @len of 48 is enough. */
const char *upn_mail_date(int64_t unix_s, char *buf, size_t len);

#endif
