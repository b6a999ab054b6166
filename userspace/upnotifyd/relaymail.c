// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "relaymail.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "limits.h"
#include "log.h"
#include "mailtext.h"

enum {
	/* RFC 5321 4.5.3.1.6: a text line, without its CRLF. */
	LINE_MAX_LEN = 998,
	/* A reply's stored Subject: what a person reads, not a document. */
	SUBJECT_MAX = 512,
};

static const char begin_marker[] = "-----BEGIN UPNOTIFY RELAY-----\n";

/* ---- values ---- */

/* An address or a Message-ID goes into a header as it is: visible ASCII only. */
static bool plain_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Free text (a Subject): tabs and 8 bit are fine, no other control character. */
static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool is_hexid(const char *s, size_t n)
{
	if (n < UPN_RELAY_ID_LEN)
		return false;
	for (size_t i = 0; i < UPN_RELAY_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The value of the block's line "@key: " (with @key's leading LF), as a pointer
 * into @body and the bytes left; NULL when the block does not have it. */
static const char *block_value(const char *body, size_t len, const char *key, size_t *left)
{
	const char *b = memmem(body, len, begin_marker, sizeof(begin_marker) - 1), *p;

	if (!b)
		return NULL;
	/* From the LF that ends the marker, so the first line matches too. */
	b += sizeof(begin_marker) - 2;
	p = memmem(b, len - (size_t)(b - body), key, strlen(key));
	if (!p)
		return NULL;
	p += strlen(key);
	*left = len - (size_t)(p - body);
	return p;
}

int upn_relay_body_id(const char *body, size_t len, char *id)
{
	size_t left;
	const char *p = block_value(body, len, "\nid: ", &left);

	if (!p || !is_hexid(p, left) ||
	    (left > UPN_RELAY_ID_LEN && p[UPN_RELAY_ID_LEN] != '\n' && p[UPN_RELAY_ID_LEN] != '\r'))
		return -EINVAL;
	memcpy(id, p, UPN_RELAY_ID_LEN);
	id[UPN_RELAY_ID_LEN] = '\0';
	return 0;
}

int upn_relay_json_id(const char *json, size_t len, char *id)
{
	static const char key[] = "\"id\":\"";
	const char *p = memmem(json, len, key, sizeof(key) - 1);
	size_t left;

	if (!p)
		return -EINVAL;
	p += sizeof(key) - 1;
	left = len - (size_t)(p - json);
	if (!is_hexid(p, left) || left == UPN_RELAY_ID_LEN || p[UPN_RELAY_ID_LEN] != '"')
		return -EINVAL;
	memcpy(id, p, UPN_RELAY_ID_LEN);
	id[UPN_RELAY_ID_LEN] = '\0';
	return 0;
}

/* The "clients:" count, for the Subject. */
static int body_clients(const char *body, size_t len, unsigned long *n)
{
	size_t left, k = 0;
	const char *p = block_value(body, len, "\nclients: ", &left);

	if (!p)
		return -EINVAL;
	*n = 0;
	for (; k < left && k < 8 && p[k] >= '0' && p[k] <= '9'; k++)
		*n = *n * 10 + (unsigned long)(p[k] - '0');
	return k && k < left && (p[k] == '\n' || p[k] == '\r') ? 0 : -EINVAL;
}

/* ---- the body ---- */

/* Checks a stored body for what SMTP cannot carry: a bare CR (it would end a line
 * for some and not for others, and the signature could not tell) and lines longer
 * than 998 bytes. Sets *eight for 8 bit text. NULL, or why not. */
static const char *body_check(const char *s, size_t n, bool *eight)
{
	size_t line = 0;

	*eight = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return "a bare CR in the body";
		if (c == '\n') {
			line = 0;
			continue;
		}
		if (c == '\0')
			return "a NUL in the body";
		if (c >= 0x80)
			*eight = true;
		if (c != '\r' && ++line > LINE_MAX_LEN)
			return "a body line longer than 998 bytes";
	}
	return NULL;
}

/* The body with CRLF line ends and a final CRLF. */
static void put_body(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			fputs("\r\n", out);
		else
			fputc(s[i], out);
	}
	if (!n || s[n - 1] != '\n')
		fputs("\r\n", out);
}

static void put_date(FILE *out, int64_t now)
{
	char date[48];

	fprintf(out, "Date: %s\r\n", upn_mail_date(now, date, sizeof(date)));
}

/* @msg is open_memstream()'s: it is only set once the stream is closed. */
static char *finish(FILE *out, char **msg)
{
	if (fclose(out)) {
		free(*msg);
		errno = ENOMEM;
		return NULL;
	}
	return *msg;
}

static char *refuse(char *err, size_t errlen, const char *why)
{
	upn_set_err(err, errlen, "%s", why);
	errno = EINVAL;
	return NULL;
}

/* ---- the relay mail ---- */

char *upn_relay_mail_render(const struct upn_relay_mail *r, char *message_id, char *err,
			    size_t errlen)
{
	char id[UPN_RELAY_ID_LEN + 1], sig[UPN_RELAY_SIG_MAX];
	unsigned long clients;
	const char *bad;
	char *msg = NULL;
	size_t mlen = 0;
	bool eight;
	FILE *out;
	int ret;

	if (!plain_ok(r->from))
		return refuse(err, errlen, "the from value is no plain address");
	if (!plain_ok(r->to))
		return refuse(err, errlen, "the recipient is no plain address");
	if (!plain_ok(r->server))
		return refuse(err, errlen, "the server value is no plain address");
	if (!r->body || upn_relay_body_id(r->body, r->len, id))
		return refuse(err, errlen, "the relay body has no id line");
	if (body_clients(r->body, r->len, &clients))
		return refuse(err, errlen, "the relay body has no clients line");
	bad = body_check(r->body, r->len, &eight);
	if (bad)
		return refuse(err, errlen, bad);
	ret = upn_relay_sign(r->key, r->now, r->body, r->len, true, sig, sizeof(sig));
	if (ret) {
		upn_set_err(err, errlen, "signing: %s", strerror(-ret));
		errno = -ret;
		return NULL;
	}
	snprintf(message_id, UPN_MAIL_MAX + 1, "upn-relay-%s@%.*s", id, UPN_MAIL_MAX - 43,
		 upn_mail_domain(r->from));

	out = open_memstream(&msg, &mlen);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	put_date(out, r->now);
	fprintf(out,
		"From: %s\r\n"
		"To: %s\r\n"
		"Subject: upnotify: %lu client%s waited for %s\r\n"
		"Message-ID: <%s>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=%s\r\n"
		"Content-Transfer-Encoding: %s\r\n"
		/* One line, never folded: what an agent reads must not depend on how
		 * the MTAs on the way unfold it. */
		UPN_RELAY_SIG_HEADER ": %s\r\n"
		"\r\n",
		r->from, r->to, clients, clients == 1 ? "" : "s", r->server, message_id,
		eight ? "UTF-8" : "us-ascii", eight ? "8bit" : "7bit", sig);
	put_body(out, r->body, r->len);
	return finish(out, &msg);
}

/* ---- the reply ---- */

struct reply_headers {
	char subject[SUBJECT_MAX + 1];
	char in_reply_to[UPN_MAIL_MAX + 1];
	const char *text;
};

/* Splits the stored body at its empty line, taking Subject and In-Reply-To. */
static const char *reply_parse(const char *s, struct reply_headers *h)
{
	memset(h, 0, sizeof(*h));
	for (;;) {
		const char *nl = strchr(s, '\n'), *colon, *v;
		size_t len, nlen, vlen;
		char *dst;
		size_t dsize;

		if (!nl)
			return "no empty line after the reply's headers";
		len = (size_t)(nl - s);
		if (!len) {
			h->text = nl + 1;
			return NULL;
		}
		colon = memchr(s, ':', len);
		if (!colon)
			return "a reply header line without a colon";
		nlen = (size_t)(colon - s);
		v = colon + 1;
		while (v < nl && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(nl - v);
		if (!text_ok(v, vlen))
			return "a control character (CR, LF, ...) in a reply header";
		if (nlen == 7 && !strncasecmp(s, "Subject", 7)) {
			dst = h->subject;
			dsize = sizeof(h->subject);
		} else if (nlen == 11 && !strncasecmp(s, "In-Reply-To", 11)) {
			dst = h->in_reply_to;
			dsize = sizeof(h->in_reply_to);
		} else {
			return "a reply header other than Subject and In-Reply-To";
		}
		if (vlen >= dsize)
			return "a reply header value too long";
		if (*dst)
			return "a reply header given twice";
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
		s = nl + 1;
	}
}

/* "<...>": visible ASCII, one pair of angle brackets around it. */
static bool msgid_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 2 && s[0] == '<' && s[n - 1] == '>' && plain_ok(s) &&
	       !memchr(s + 1, '<', n - 2) && !memchr(s + 1, '>', n - 2);
}

char *upn_reply_mail_render(const struct upn_reply_mail *r, char *err, size_t errlen)
{
	struct reply_headers h;
	const char *bad;
	char *msg = NULL;
	size_t mlen = 0, tlen;
	bool eight;
	FILE *out;

	if (!plain_ok(r->from))
		return refuse(err, errlen, "the from value is no plain address");
	if (!plain_ok(r->to))
		return refuse(err, errlen, "the recipient is no plain address");
	if (!plain_ok(r->message_id) || strpbrk(r->message_id, "<>"))
		return refuse(err, errlen, "the Message-ID is not plain");
	if (!r->body)
		return refuse(err, errlen, "the reply has no body");
	bad = reply_parse(r->body, &h);
	if (bad)
		return refuse(err, errlen, bad);
	if (h.in_reply_to[0] && !msgid_ok(h.in_reply_to))
		return refuse(err, errlen, "In-Reply-To is no <message-id>");
	tlen = strlen(h.text);
	bad = body_check(h.text, tlen, &eight);
	if (bad)
		return refuse(err, errlen, bad);

	out = open_memstream(&msg, &mlen);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	put_date(out, r->now);
	fprintf(out, "From: %s\r\nTo: %s\r\n", r->from, r->to);
	upn_mail_put_header(out, "Subject", h.subject[0] ? h.subject : "upnotify: your command");
	fprintf(out, "Message-ID: <%s>\r\n", r->message_id);
	if (h.in_reply_to[0])
		fprintf(out, "In-Reply-To: %s\r\nReferences: %s\r\n", h.in_reply_to, h.in_reply_to);
	fprintf(out,
		"Auto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: %s\r\n"
		"\r\n",
		eight ? "8bit" : "7bit");
	put_body(out, h.text, tlen);
	return finish(out, &msg);
}
