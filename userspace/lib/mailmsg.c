// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* A received mail message parsed with GMime 3 into what the agent and the mail
 * commands look at (see mailmsg.h). */
#include "mailmsg.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "relaymsg.h"

enum {
	/* multipart inside multipart: real mail nests two or three deep; a crafted one
	 * could nest until the stack runs out. */
	DEPTH_MAX = 16,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
	g_mime_init();
}

void upn_mailmsg_init(void)
{
	pthread_once(&once, init_once);
}

/* Copies @s if it fits and has no control character or blank (an address or a
 * Message-ID goes into logs and headers); "" otherwise. */
static void copy_token(char *dst, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	dst[0] = 0;
	if (!n || n >= cap)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return;
	memcpy(dst, s, n + 1);
}

/* The first mailbox, looking inside groups too. */
static const char *first_mailbox(InternetAddressList *list, int depth)
{
	int n = list ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n && depth < DEPTH_MAX; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			return internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			const char *a = first_mailbox(
				internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
				depth + 1);

			if (a)
				return a;
		}
	}
	return NULL;
}

/* Valid UTF-8 cut at a character boundary, control characters (C0, DEL, C1) as
 * blanks. */
static void copy_subject(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	char *v;

	dst[0] = 0;
	if (!s)
		return;
	v = g_utf8_make_valid(s, -1);
	for (const char *p = v; *p;) {
		const char *next = g_utf8_next_char(p);
		size_t l = (size_t)(next - p);

		if (n + l >= cap)
			break;
		if (g_unichar_iscntrl(g_utf8_get_char(p))) {
			dst[n++] = ' ';
		} else {
			memcpy(dst + n, p, l);
			n += l;
		}
		p = next;
	}
	dst[n] = 0;
	g_free(v);
}

/* "Auto-Submitted: auto-generated" (RFC 3834) or a mailing-list Precedence: never
 * answer such mail, or two robots mail each other forever. */
static bool is_auto(GMimeObject *o)
{
	const char *as = g_mime_object_get_header(o, "Auto-Submitted");
	const char *pr = g_mime_object_get_header(o, "Precedence");

	if (as) {
		size_t n;

		as += strspn(as, " \t\r\n");
		n = strcspn(as, " \t\r\n;(");
		if (!(n == 2 && !strncasecmp(as, "no", 2)))
			return true;
	}
	if (pr) {
		pr += strspn(pr, " \t\r\n");
		for (const char *w = "bulk\0junk\0list\0"; *w; w += strlen(w) + 1)
			if (!strncasecmp(pr, w, strlen(w)) &&
			    (!pr[strlen(w)] || strchr(" \t\r\n;(", pr[strlen(w)])))
				return true;
	}
	return false;
}

static GMimeObject *find_plain(GMimeObject *o, int depth, bool attachments)
{
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);

		if (depth >= DEPTH_MAX)
			return NULL;
		for (int i = 0; i < n; i++) {
			GMimeObject *p = find_plain(g_mime_multipart_get_part(mp, i), depth + 1,
						    attachments);

			if (p)
				return p;
		}
		return NULL;
	}
	/* A forwarded message (message/rfc822) is somebody else's text: not looked in. */
	if (!GMIME_IS_TEXT_PART(o))
		return NULL;
	if (!g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "plain"))
		return NULL;
	if (!attachments && g_mime_part_is_attachment(GMIME_PART(o)))
		return NULL;
	return o;
}

/* The decoded text of @part in UTF-8, malloc'ed. */
static char *part_text(GMimeObject *part, size_t *len)
{
	char *t = NULL, *v, *out;
	size_t n;

	if (part && GMIME_IS_TEXT_PART(part))
		t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	if (!t) {
		*len = 0;
		return strdup("");
	}
	/* An unknown or lying charset leaves bytes that are not UTF-8. */
	v = g_utf8_validate(t, -1, NULL) ? t : g_utf8_make_valid(t, -1);
	n = strlen(v);
	out = malloc(n + 1);
	if (out) {
		memcpy(out, v, n + 1);
		*len = n;
	}
	if (v != t)
		g_free(v);
	g_free(t);
	return out;
}

int upn_mailmsg_parse(const char *raw, size_t len, struct upn_mailmsg *m, char *err, size_t errlen)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeObject *top, *part;
	const char *sig;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!raw || len == 0) {
		upn_set_err(err, errlen, "empty message");
		return -EINVAL;
	}
	if (len > UPN_MAILMSG_MAX) {
		upn_set_err(err, errlen, "message of %zu bytes is over the limit of %u", len,
			    UPN_MAILMSG_MAX);
		return -EINVAL;
	}
	upn_mailmsg_init();
	stream = g_mime_stream_mem_new_with_buffer(raw, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (!msg) {
		upn_set_err(err, errlen, "not a mail message");
		return -EINVAL;
	}
	copy_token(m->from, sizeof(m->from), first_mailbox(g_mime_message_get_from(msg), 0));
	copy_token(m->message_id, sizeof(m->message_id), g_mime_message_get_message_id(msg));
	copy_subject(m->subject, sizeof(m->subject), g_mime_message_get_subject(msg));
	m->auto_submitted = is_auto(GMIME_OBJECT(msg));
	sig = g_mime_object_get_header(GMIME_OBJECT(msg), UPN_RELAY_SIG_HEADER);
	if (sig && !(m->signature = strdup(sig)))
		rc = -ENOMEM;
	top = g_mime_message_get_mime_part(msg);
	part = top ? find_plain(top, 0, false) : NULL;
	if (!part && top)
		part = find_plain(top, 0, true);
	/* No text/plain anywhere: a single text part of another kind is still the body. */
	if (!part && top && GMIME_IS_TEXT_PART(top))
		part = top;
	if (!rc && !(m->text = part_text(part, &m->text_len)))
		rc = -ENOMEM;
	g_object_unref(msg);
	if (rc) {
		upn_set_err(err, errlen, "out of memory");
		upn_mailmsg_free(m);
	}
	return rc;
}

void upn_mailmsg_free(struct upn_mailmsg *m)
{
	if (!m)
		return;
	free(m->signature);
	free(m->text);
	m->signature = NULL;
	m->text = NULL;
	m->text_len = 0;
}
