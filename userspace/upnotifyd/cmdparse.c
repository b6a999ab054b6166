// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "cmdparse.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const verbs[UPN_CMD_NVERBS] = {
	[UPN_CMD_SUBSCRIBE] = "SUBSCRIBE",
	[UPN_CMD_UNSUBSCRIBE] = "UNSUBSCRIBE",
	[UPN_CMD_STATUS] = "STATUS",
	[UPN_CMD_WAITLIST] = "WAITLIST",
};

const char *upn_cmd_verb_name(unsigned int verb)
{
	return verb < UPN_CMD_NVERBS ? verbs[verb] : "?";
}

int upn_cmd_verb_parse(const char *word)
{
	for (int i = 0; i < UPN_CMD_NVERBS; i++)
		if (!strcasecmp(word, verbs[i]))
			return i;
	return -1;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The reply quotes a bad line: printable ASCII only, so nothing a stranger wrote can
 * reach the reply's text as anything but characters. */
static void printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < cap; i++)
		dst[n++] = (src[i] >= ' ' && src[i] < 0x7f) ? src[i] : '?';
	dst[n] = '\0';
}

static int bad(struct upn_cmd_mail *m, const char *line, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(struct upn_cmd_mail *m, const char *line, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (m->error[0])
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	printable(m->bad_line, sizeof(m->bad_line), line, len);
	return -EINVAL;
}

/* An address to subscribe: what the rest of upnotifyd takes, in plain ASCII since it
 * goes into headers. */
static bool address_ok(const char *a)
{
	for (const char *c = a; *c; c++)
		if ((unsigned char)*c >= 0x7f)
			return false;
	return upn_mail_valid(a);
}

/* One command line, already trimmed, into @c. */
static int command(struct upn_cmd_mail *m, const char *line, size_t len, struct upn_cmd *c)
{
	char buf[UPN_CMD_LINE_MAX + 1], *tok[4], *save = NULL;
	size_t ntok = 0;
	int verb;

	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (ntok == 4)
			return bad(m, line, len, "too many words for a command");
		tok[ntok++] = t;
	}
	/* A NUL in the line ends what strtok sees: maybe nothing at all. */
	verb = ntok ? upn_cmd_verb_parse(tok[0]) : -1;
	if (verb < 0)
		return bad(m, line, len,
			   "unknown command; expected SUBSCRIBE, UNSUBSCRIBE, "
			   "STATUS or WAITLIST");
	memset(c, 0, sizeof(*c));
	c->verb = (uint8_t)verb;
	switch (verb) {
	case UPN_CMD_SUBSCRIBE:
		if (ntok < 2 || ntok > 3)
			return bad(m, line, len, "expected SUBSCRIBE SERVER [ADDRESS]");
		break;
	case UPN_CMD_WAITLIST:
		if (ntok != 2)
			return bad(m, line, len, "expected WAITLIST SERVER");
		break;
	default:
		if (ntok > 2)
			return bad(m, line, len, "expected %s [SERVER]", verbs[verb]);
	}
	if (ntok >= 2) {
		if (upn_addr_parse(tok[1], &c->server))
			return bad(m, line, len, "the server must be an IP address");
		c->has_server = true;
	}
	if (ntok == 3) {
		if (strlen(tok[2]) > UPN_MAIL_MAX || !address_ok(tok[2]))
			return bad(m, line, len, "not a usable mail address");
		strcpy(c->address, tok[2]);
	}
	/* Quoted back in the reply: the verb as we know it, the rest as written (all
	 * of it checked above: addresses and a mail address, printable ASCII). */
	snprintf(c->line, sizeof(c->line), "%s", verbs[verb]);
	for (size_t i = 1; i < ntok; i++) {
		size_t n = strlen(c->line);

		snprintf(c->line + n, sizeof(c->line) - n, " %s", tok[i]);
	}
	return 0;
}

static void secret_line(struct upn_cmd_mail *m, const char *line, size_t len, bool after_cmds)
{
	const char *s = line + 6;
	size_t n = len - 6;

	while (n && blank(*s))
		s++, n--;
	/* Never quoted: the bad line is the word alone. */
	if (m->has_secret) {
		bad(m, "SECRET", 6, "more than one SECRET line");
		return;
	}
	if (after_cmds)
		bad(m, "SECRET", 6, "the SECRET line must come before the commands");
	if (!n || n > UPN_CMD_SECRET_MAX) {
		bad(m, "SECRET", 6, "SECRET without a usable secret");
		return;
	}
	memcpy(m->secret, s, n);
	m->secret[n] = '\0';
	m->secret_len = n;
	m->has_secret = true;
}

int upn_cmd_parse(const char *text, size_t len, struct upn_cmd_mail *m)
{
	const char *p = text, *end = text + len;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p;
		size_t n;

		p = nl ? nl + 1 : end;
		if (e > s && e[-1] == '\r')
			e--;
		/* RFC 3676's signature separator; some clients eat its blank. */
		if ((e - s == 3 && !memcmp(s, "-- ", 3)) || (e - s == 2 && !memcmp(s, "--", 2)))
			break;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		n = (size_t)(e - s);
		if (!n || *s == '>')
			continue;
		if (n >= 6 && !strncasecmp(s, "SECRET", 6) && (n == 6 || blank(s[6]))) {
			secret_line(m, s, n, m->n > 0);
			continue;
		}
		/* After an error only a SECRET line still matters. */
		if (m->error[0])
			continue;
		if (n > UPN_CMD_LINE_MAX) {
			bad(m, s, n, "line longer than %d characters", UPN_CMD_LINE_MAX);
			continue;
		}
		if (m->n == UPN_CMD_MAX) {
			bad(m, s, n, "more than %d commands", UPN_CMD_MAX);
			continue;
		}
		if (!command(m, s, n, &m->cmds[m->n]))
			m->n++;
	}
	if (!m->error[0] && !m->n)
		bad(m, "", 0, "no command found");
	return m->error[0] ? -EINVAL : 0;
}

const struct upn_cmd_allow *upn_cmd_allow_find(const struct upn_cmd_allow *allow, size_t nallow,
					       const char *sender)
{
	if (!sender || !sender[0])
		return NULL;
	for (size_t i = 0; i < nallow; i++)
		if (!strcasecmp(allow[i].addr, sender))
			return &allow[i];
	return NULL;
}

/* Both sides padded to the same size, so the time taken says nothing about how much
 * of the secret, or how much of its length, was right. */
static bool secret_matches(const struct upn_cmd_allow *a, const struct upn_cmd_mail *m)
{
	unsigned char x[UPN_CMD_SECRET_MAX + 1] = { 0 }, y[UPN_CMD_SECRET_MAX + 1] = { 0 };
	int diff;

	memcpy(x, a->secret, a->secret_len);
	memcpy(y, m->secret, m->secret_len);
	diff = sodium_memcmp(x, y, sizeof(x));
	sodium_memzero(x, sizeof(x));
	sodium_memzero(y, sizeof(y));
	return !diff && a->secret_len == m->secret_len;
}

enum upn_cmd_verdict upn_cmd_authorise(const struct upn_cmd_allow *allow, size_t nallow,
				       const char *sender, const struct upn_cmd_mail *m,
				       size_t *bad_cmd)
{
	const struct upn_cmd_allow *a = upn_cmd_allow_find(allow, nallow, sender);

	if (!a)
		return UPN_CMD_BAD_SENDER;
	if (!m->has_secret || !a->secret_len || !secret_matches(a, m))
		return UPN_CMD_BAD_SECRET;
	if (m->error[0])
		return UPN_CMD_MALFORMED;
	for (size_t i = 0; i < m->n; i++) {
		if (!(a->verbs & (1u << m->cmds[i].verb))) {
			if (bad_cmd)
				*bad_cmd = i;
			return UPN_CMD_NOT_ALLOWED;
		}
	}
	return UPN_CMD_OK;
}
