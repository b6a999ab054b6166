// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "mailtext.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "limits.h"
#include "timefmt.h"
#include "log.h"
#include "placeholder.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

enum {
	/* RFC 5322 2.1.1: lines should stay within 78 characters; longer header lines
	 * are folded where a space allows. */
	LINE_SOFT = 78,
	/* Bytes per RFC 2047 encoded word: 60 base64 characters and 12 of framing stay
	 * under the 75 the RFC allows. */
	WORD_RAW = 45,
	/* A header name that fits one folded line with its colon. */
	NAME_MAX_LEN = 76,
	/* Headers a template may add; a template is not a mailing list manager. */
	TEMPLATE_HEADERS_MAX = 32,
};

/* Unix seconds of 9999-12-31T23:59:59Z: beyond it dates do not format. */
static const int64_t time_max = 253402300799LL;

/* Figure 8, word for word where it can be, and what the client tried. */
const char upn_mail_default_template[] =
	"Subject: Server {server_full} has recovered\n"
	"\n"
	"To {to}\n"
	"\n"
	"SERVER FAILURE RECOVERY NOTIFICATION\n"
	"\n"
	"It is hereby notified that the following server has recovered.\n"
	"\n"
	"Recovered server : {server_full}\n"
	"Recovered time   : {recovered}\n"
	"\n"
	"You tried to reach it from {client}, port {port}, first at {first}.\n"
	"This notice is sent once per outage; there is no need to reply.\n"
	"To stop these notices: {unsubscribe}\n";

/* The portal's double opt-in: nothing here may read as a notice already promised. */
const char upn_mail_confirm_template[] =
	"Subject: Confirm: tell you when {server_full} is back\n"
	"\n"
	"Someone at {client} asked to be told at this address, {to},\n"
	"when the server {server_full} recovers.\n"
	"\n"
	"To confirm, open this link:\n"
	"\n"
	"{link}\n"
	"\n"
	"The link expires at {expires}.\n"
	"\n"
	"If it wasn't you, ignore this mail: nothing will be sent, and this address\n"
	"will not be asked again unless someone asks for it anew.\n";

enum placeholder {
	PH_SERVER,
	PH_SERVER_NAME,
	PH_SERVER_FULL,
	PH_CLIENT,
	PH_PORT,
	PH_FIRST,
	PH_RECOVERED,
	PH_TO,
	PH_FROM,
	PH_MESSAGE_ID,
	PH_DATE,
	PH_LINK,
	PH_EXPIRES,
	PH_UNSUBSCRIBE,
	PH_COUNT
};

static const char *const ph_names[PH_COUNT] = {
	[PH_SERVER] = "server",
	[PH_SERVER_NAME] = "server_name",
	[PH_SERVER_FULL] = "server_full",
	[PH_CLIENT] = "client",
	[PH_PORT] = "port",
	[PH_FIRST] = "first",
	[PH_RECOVERED] = "recovered",
	[PH_TO] = "to",
	[PH_FROM] = "from",
	[PH_MESSAGE_ID] = "message_id",
	[PH_DATE] = "date",
	[PH_LINK] = "link",
	[PH_EXPIRES] = "expires",
	[PH_UNSUBSCRIBE] = "unsubscribe",
};

/* Headers the mailer writes itself, or that have no place in a notice. */
static const char *const reserved[] = {
	"Date",
	"From",
	"To",
	"Cc",
	"Bcc",
	"Sender",
	"Message-ID",
	"MIME-Version",
	"Content-Type",
	"Content-Transfer-Encoding",
	"Auto-Submitted",
	"Return-Path",
	"Received",
	/* RFC 8058: the mailer's, with the link it signs, or none at all. */
	"List-Unsubscribe",
	"List-Unsubscribe-Post",
};

struct vals {
	const char *v[PH_COUNT];
	char port[8], first[UPN_TIMESTRLEN], recovered[UPN_TIMESTRLEN], expires[UPN_TIMESTRLEN];
	char date[48];
	char *server_full, *message_id;
};

struct hdr {
	const char *name;
	size_t name_len;
	char *value; /* unfolded, placeholders not yet expanded */
};

struct tmpl {
	struct hdr h[TEMPLATE_HEADERS_MAX];
	size_t n;
	const char *body;
	bool has_subject;
};

/* ---- values ---- */

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* An address or a Message-ID goes into a structured header as it is: visible ASCII
 * only, so nothing can end the line, start an encoded word or hide behind 8 bits. */
static bool plain_ok(const char *s, bool required)
{
	if (!s || !*s)
		return !required;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Free text (a DNS name) may be encoded in a header, but never hold a line end. */
static bool text_ok(const char *s)
{
	for (; s && *s; s++)
		if (is_ctl((unsigned char)*s))
			return false;
	return true;
}

const char *upn_mail_fields_check(const struct upn_mail_fields *f)
{
	if (!plain_ok(f->from, true))
		return "from";
	if (!plain_ok(f->to, true))
		return "to";
	if (!plain_ok(f->server, true))
		return "server";
	if (!text_ok(f->server_name))
		return "server_name";
	if (!plain_ok(f->client, false))
		return "client";
	if (!plain_ok(f->message_id, true) || strpbrk(f->message_id, "<>"))
		return "message_id";
	/* Links: one goes into List-Unsubscribe between angle brackets. */
	if (!plain_ok(f->link, false) || (f->link && strpbrk(f->link, "<>")))
		return "link";
	if (!plain_ok(f->unsubscribe, false) || (f->unsubscribe && strpbrk(f->unsubscribe, "<>")))
		return "unsubscribe";
	return NULL;
}

static int64_t clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > time_max ? time_max : t;
}

const char *upn_mail_date(int64_t unix_s, char *buf, size_t len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)clamp_time(unix_s);
	struct tm tm;
	long off, a;

	if (!localtime_r(&t, &tm)) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	off = tm.tm_gmtoff / 60;
	a = off < 0 ? -off : off;
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, off < 0 ? '-' : '+', (a / 60) % 100, a % 60);
	return buf;
}

static int vals_init(struct vals *v, const struct upn_mail_fields *f)
{
	const char *name = f->server_name && *f->server_name ? f->server_name : f->server;
	int n;

	memset(v, 0, sizeof(*v));
	snprintf(v->port, sizeof(v->port), "%u", f->port);
	upn_time_fmt(clamp_time(f->first), 1, v->first);
	upn_time_fmt(clamp_time(f->recovered), 1, v->recovered);
	upn_time_fmt(clamp_time(f->expires), 1, v->expires);
	upn_mail_date(f->now, v->date, sizeof(v->date));
	if (strcmp(name, f->server))
		n = asprintf(&v->server_full, "%s (%s)", name, f->server);
	else
		n = asprintf(&v->server_full, "%s", f->server);
	if (n < 0) {
		v->server_full = NULL;
		return -ENOMEM;
	}
	if (asprintf(&v->message_id, "<%s>", f->message_id) < 0) {
		v->message_id = NULL;
		free(v->server_full);
		return -ENOMEM;
	}
	v->v[PH_SERVER] = f->server;
	v->v[PH_SERVER_NAME] = name;
	v->v[PH_SERVER_FULL] = v->server_full;
	v->v[PH_CLIENT] = f->client ? f->client : "";
	v->v[PH_PORT] = v->port;
	v->v[PH_FIRST] = v->first;
	v->v[PH_RECOVERED] = v->recovered;
	v->v[PH_TO] = f->to;
	v->v[PH_FROM] = f->from;
	v->v[PH_MESSAGE_ID] = v->message_id;
	v->v[PH_DATE] = v->date;
	v->v[PH_LINK] = f->link ? f->link : "";
	v->v[PH_EXPIRES] = v->expires;
	v->v[PH_UNSUBSCRIBE] = f->unsubscribe ? f->unsubscribe : "";
	return 0;
}

static void vals_free(struct vals *v)
{
	free(v->server_full);
	free(v->message_id);
}

/* ---- placeholders ---- */

/* The length of the "{word}" at @s, 0 if there is none; its index in @idx, or -1
 * when the word is no placeholder of ours. */
static size_t placeholder_at(const char *s, size_t n, int *idx)
{
	return upn_placeholder_at(s, n, ph_names, PH_COUNT, idx);
}

/* Expands @s into @out. In the body every line end (CRLF, LF or a lone CR) becomes
 * CRLF: a bare LF or CR must never reach the relay. */
static void expand(FILE *out, const char *s, size_t n, const struct vals *v, bool body)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		int k;

		if (s[i] == '{') {
			if (i + 1 < n && s[i + 1] == '{') {
				fputc('{', out);
				i++;
				continue;
			}
			len = placeholder_at(s + i, n - i, &k);
			if (len && k >= 0) {
				fputs(v->v[k], out);
				i += len - 1;
				continue;
			}
			fputc('{', out);
		} else if (body && (s[i] == '\r' || s[i] == '\n')) {
			if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			fputs("\r\n", out);
		} else {
			fputc(s[i], out);
		}
	}
}

/* Does the line @s holds placeholder @want (reading "{{" as expand() does)? */
static bool line_has(const char *s, size_t n, int want)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		int k;

		if (s[i] != '{')
			continue;
		if (i + 1 < n && s[i + 1] == '{') {
			i++;
			continue;
		}
		len = placeholder_at(s + i, n - i, &k);
		if (len && k == want)
			return true;
		if (len)
			i += len - 1;
	}
	return false;
}

/* The body, line by line: a line holding {unsubscribe} goes only when there is a
 * link to put there, so the default template says nothing about unsubscribing
 * where there is no portal to do it. */
static void expand_body(FILE *out, const char *s, size_t n, const struct vals *v)
{
	bool drop = !*v->v[PH_UNSUBSCRIBE];

	while (n) {
		size_t len = strcspn(s, "\r\n");

		if (len > n)
			len = n;
		if (len < n)
			len += s[len] == '\r' && len + 1 < n && s[len + 1] == '\n' ? 2 : 1;
		if (!drop || !line_has(s, len, PH_UNSUBSCRIBE))
			expand(out, s, len, v, true);
		s += len;
		n -= len;
	}
}

/* ---- the template's headers ---- */

static bool is_subject(const struct hdr *h)
{
	return h->name_len == 7 && !strncasecmp(h->name, "Subject", 7);
}

static void tmpl_free(struct tmpl *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->h[i].value);
	t->n = 0;
}

static bool name_char(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int append_value(struct hdr *h, const char *s, size_t n)
{
	size_t old = h->value ? strlen(h->value) : 0;
	char *v = realloc(h->value, old + n + 1);

	if (!v)
		return -ENOMEM;
	memcpy(v + old, s, n);
	v[old + n] = '\0';
	h->value = v;
	return 0;
}

/* Splits @s into headers and body. Continuation lines are unfolded (only the line
 * end goes), the value keeps no leading blanks. */
static int tmpl_parse(const char *s, struct tmpl *t, char *err, size_t errlen)
{
	int line = 0;

	memset(t, 0, sizeof(*t));
	for (;;) {
		const char *nl = strchr(s, '\n'), *p;
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		struct hdr *h;

		line++;
		if (len && s[len - 1] == '\r')
			len--;
		if (!len && nl) {
			t->body = nl + 1;
			return 0;
		}
		if (!nl) {
			upn_set_err(err, errlen,
				    "line %d: no empty line between the headers and the body",
				    line);
			goto inval;
		}
		for (size_t i = 0; i < len; i++) {
			if (is_ctl((unsigned char)s[i]) && s[i] != '\t') {
				upn_set_err(err, errlen, "line %d: a control character in a header",
					    line);
				goto inval;
			}
		}
		if (s[0] == ' ' || s[0] == '\t') {
			if (!t->n) {
				upn_set_err(err, errlen,
					    "line %d: a continuation line with no header", line);
				goto inval;
			}
			if (append_value(&t->h[t->n - 1], s, len))
				goto nomem;
			s = nl + 1;
			continue;
		}
		for (p = s; p < s + len && name_char((unsigned char)*p); p++)
			;
		if (p == s || p == s + len || *p != ':' || p - s > NAME_MAX_LEN) {
			upn_set_err(err, errlen, "line %d: not a header (\"Name: value\")", line);
			goto inval;
		}
		for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
			if (strlen(reserved[i]) == (size_t)(p - s) &&
			    !strncasecmp(reserved[i], s, p - s)) {
				upn_set_err(err, errlen, "line %d: the mailer writes %s itself",
					    line, reserved[i]);
				goto inval;
			}
		}
		if (t->n == TEMPLATE_HEADERS_MAX) {
			upn_set_err(err, errlen, "line %d: more than %d headers", line,
				    TEMPLATE_HEADERS_MAX);
			goto inval;
		}
		h = &t->h[t->n++];
		h->name = s;
		h->name_len = (size_t)(p - s);
		if (is_subject(h)) {
			if (t->has_subject) {
				upn_set_err(err, errlen, "line %d: a second Subject", line);
				t->n--;
				goto inval;
			}
			t->has_subject = true;
		}
		for (p++; p < s + len && (*p == ' ' || *p == '\t'); p++)
			;
		if (append_value(h, p, (size_t)(s + len - p)))
			goto nomem;
		s = nl + 1;
	}
nomem:
	upn_set_err(err, errlen, "out of memory");
	tmpl_free(t);
	return -ENOMEM;
inval:
	tmpl_free(t);
	return -EINVAL;
}

/* ---- writing headers ---- */

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Folds before a blank when the next word would pass LINE_SOFT, never leaving a
 * line of blanks alone. Unfolding (removing the CRLFs) gives @value back. */
static void put_folded(FILE *out, const char *name, size_t name_len, const char *value)
{
	size_t col = name_len + 2;

	fprintf(out, "%.*s: ", (int)name_len, name);
	for (const char *p = value; *p; p++) {
		if ((*p == ' ' || *p == '\t') && col > name_len + 2) {
			size_t w = strcspn(p + 1, " \t");

			if (w && col + 1 + w > LINE_SOFT) {
				fputs("\r\n", out);
				col = 0;
			}
		}
		fputc(*p, out);
		col++;
	}
	fputs("\r\n", out);
}

/* RFC 2047 B encoding, one encoded word per line, cut between UTF-8 characters. */
static void put_encoded(FILE *out, const char *name, size_t name_len, const char *value)
{
	char b64[sodium_base64_ENCODED_LEN(WORD_RAW, sodium_base64_VARIANT_ORIGINAL)];
	size_t len = strlen(value), off = 0;

	fprintf(out, "%.*s:", (int)name_len, name);
	while (off < len) {
		size_t n = len - off > WORD_RAW ? WORD_RAW : len - off;

		/* Back off to the start of a character, unless the bytes are no UTF-8. */
		if (off + n < len) {
			size_t k = n;

			while (k > 1 && ((unsigned char)value[off + k] & 0xc0) == 0x80)
				k--;
			if (k > 1)
				n = k;
		}
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)value + off, n,
				  sodium_base64_VARIANT_ORIGINAL);
		fprintf(out, "%s=?UTF-8?B?%s?=", off ? "\r\n " : " ", b64);
		off += n;
	}
	fputs("\r\n", out);
}

static int put_header(FILE *out, const char *name, size_t name_len, const char *tmpl_value,
		      const struct vals *v)
{
	char *value = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&value, &len);

	if (!f)
		return -ENOMEM;
	expand(f, tmpl_value, strlen(tmpl_value), v, false);
	if (fclose(f)) {
		free(value);
		return -ENOMEM;
	}
	if (has_8bit(value, len))
		put_encoded(out, name, name_len, value);
	else
		put_folded(out, name, name_len, value);
	free(value);
	return 0;
}

/* ---- rendering ---- */

static char *render(const struct tmpl *t, const struct upn_mail_fields *f)
{
	static const char default_subject[] = "Server {server_full} has recovered";
	char *body = NULL, *msg = NULL;
	size_t blen = 0, mlen = 0;
	struct vals v;
	FILE *b, *out;
	int err = 0;

	if (vals_init(&v, f))
		goto nomem;
	/* The body first: whether it is 8 bit decides a header. */
	b = open_memstream(&body, &blen);
	if (!b)
		goto nomem_vals;
	expand_body(b, t->body, strlen(t->body), &v);
	if (fclose(b))
		goto nomem_vals;
	if (blen < 2 || memcmp(body + blen - 2, "\r\n", 2)) {
		/* RFC 5322: the body ends with a line end like every line. */
		char *nb = realloc(body, blen + 3);

		if (!nb)
			goto nomem_vals;
		body = nb;
		memcpy(body + blen, "\r\n", 3);
		blen += 2;
	}

	out = open_memstream(&msg, &mlen);
	if (!out)
		goto nomem_vals;
	fprintf(out, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", v.date, f->from, f->to);
	/* The Subject right after To, wherever the template has it. */
	if (!t->has_subject)
		err = put_header(out, "Subject", 7, default_subject, &v);
	for (size_t i = 0; !err && i < t->n; i++)
		if (is_subject(&t->h[i]))
			err = put_header(out, t->h[i].name, t->h[i].name_len, t->h[i].value, &v);
	fprintf(out,
		"Message-ID: %s\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: %s\r\n",
		v.message_id, has_8bit(body, blen) ? "8bit" : "7bit");
	/* RFC 8058 one-click: a POST of "List-Unsubscribe=One-Click" to the link. The
	 * link is plain ASCII with no blank (fields_check), so it is never folded. */
	if (*v.v[PH_UNSUBSCRIBE])
		fprintf(out,
			"List-Unsubscribe: <%s>\r\n"
			"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
			v.v[PH_UNSUBSCRIBE]);
	for (size_t i = 0; !err && i < t->n; i++)
		if (!is_subject(&t->h[i]))
			err = put_header(out, t->h[i].name, t->h[i].name_len, t->h[i].value, &v);
	fputs("\r\n", out);
	fwrite(body, 1, blen, out);
	if (fclose(out) || err) {
		free(msg);
		goto nomem_vals;
	}
	free(body);
	vals_free(&v);
	return msg;
nomem_vals:
	free(body);
	vals_free(&v);
nomem:
	errno = ENOMEM;
	return NULL;
}

char *upn_mail_render(const char *tmpl, const struct upn_mail_fields *f)
{
	struct tmpl t;
	char *msg;
	int err;

	if (upn_mail_fields_check(f)) {
		errno = EINVAL;
		return NULL;
	}
	err = tmpl_parse(tmpl ? tmpl : upn_mail_default_template, &t, NULL, 0);
	if (err) {
		errno = -err;
		return NULL;
	}
	msg = render(&t, f);
	tmpl_free(&t);
	return msg;
}

/* ---- checking and loading ---- */

/* A recovery template is checked: {link} and {expires} belong to the built-in
 * confirmation mail only and would be empty in a recovery mail. */
static int check_placeholders(const char *s, int line0, char *err, size_t errlen)
{
	int line = line0;

	for (; *s; s++) {
		size_t len;
		int k;

		if (*s == '\n')
			line++;
		if (*s != '{')
			continue;
		if (s[1] == '{') {
			s++;
			continue;
		}
		len = placeholder_at(s, strlen(s), &k);
		if (len && k < 0) {
			upn_set_err(err, errlen, "line %d: unknown placeholder %.*s", line,
				    (int)len, s);
			return -EINVAL;
		}
		if (k == PH_LINK || k == PH_EXPIRES) {
			upn_set_err(err, errlen,
				    "line %d: %.*s is only for the confirmation mail, not in a "
				    "recovery mail",
				    line, (int)len, s);
			return -EINVAL;
		}
	}
	return 0;
}

int upn_mail_template_check(const char *tmpl, char *err, size_t errlen)
{
	struct upn_mail_fields sample = {
		.from = "upnotify@example.org",
		.to = "client@example.org",
		.server = "192.0.2.1",
		.server_name = "server.example.org",
		.client = "198.51.100.7",
		.message_id = "upn-0@example.org",
		.unsubscribe = "http://192.0.2.254:8080/.upnotify/unsubscribe?t=u.AA.AA",
		.port = 443,
	};
	struct tmpl t;
	char *msg;
	int ret;

	ret = tmpl_parse(tmpl, &t, err, errlen);
	if (ret)
		return ret;
	/* Headers were checked line by line; placeholders span the whole text. */
	ret = check_placeholders(tmpl, 1, err, errlen);
	if (!ret) {
		msg = render(&t, &sample);
		if (!msg) {
			upn_set_err(err, errlen, "out of memory");
			ret = -ENOMEM;
		}
		free(msg);
	}
	tmpl_free(&t);
	return ret;
}

char *upn_mail_template_load(const char *path, char *err, size_t errlen)
{
	char *buf, msg[160];
	size_t len;
	FILE *f;

	if (!path || !*path)
		return strdup(upn_mail_default_template);
	f = fopen(path, "re");
	if (!f) {
		upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(UPN_MAIL_TEMPLATE_MAX + 2);
	if (!buf) {
		fclose(f);
		upn_set_err(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	len = fread(buf, 1, UPN_MAIL_TEMPLATE_MAX + 1, f);
	if (ferror(f)) {
		upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	buf[len] = '\0';
	if (len > UPN_MAIL_TEMPLATE_MAX) {
		upn_set_err(err, errlen, "%s: larger than %d bytes", path, UPN_MAIL_TEMPLATE_MAX);
		goto fail;
	}
	if (strlen(buf) != len) {
		upn_set_err(err, errlen, "%s: holds a NUL byte", path);
		goto fail;
	}
	if (upn_mail_template_check(buf, msg, sizeof(msg))) {
		upn_set_err(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	fclose(f);
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

void upn_mail_hash_hex(uint8_t kind, const char *server, const char *client, int64_t outage,
		       char *hex)
{
	static const char *const kinds[] = {
		[UPN_MAIL_CONFIRM] = "confirm",
		[UPN_MAIL_RELAY] = "relay",
		[UPN_MAIL_WEBHOOK] = "webhook",
		[UPN_MAIL_REPLY] = "reply",
	};
	unsigned char h[16];
	char num[24];
	crypto_generichash_state st;

	/* The NULs keep ("1.2.3.4", "5") and ("1.2.3.45", "") apart. */
	snprintf(num, sizeof(num), "%lld", (long long)outage);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	/* A recovery mail's input is as it always was, so its Message-ID stays the
	 * same across an upgrade; every other kind's is prefixed with its name. */
	if (kind < ARRAY_SIZE(kinds) && kinds[kind])
		crypto_generichash_update(&st, (const unsigned char *)kinds[kind],
					  strlen(kinds[kind]) + 1);
	crypto_generichash_update(&st, (const unsigned char *)server, strlen(server) + 1);
	crypto_generichash_update(&st, (const unsigned char *)client, strlen(client) + 1);
	crypto_generichash_update(&st, (const unsigned char *)num, strlen(num));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, 2 * sizeof(h) + 1, h, sizeof(h));
}

const char *upn_mail_domain(const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;

	return at && at[1] ? at + 1 : "localhost";
}

void upn_mail_message_id(uint8_t kind, const char *server, const char *client, int64_t outage,
			 const char *from, char *buf)
{
	char hex[33];

	upn_mail_hash_hex(kind, server, client, outage, hex);
	snprintf(buf, UPN_MAIL_MAX + 1, "upn-%s@%.*s", hex, UPN_MAIL_MAX - 37,
		 upn_mail_domain(from));
}

int64_t upn_mail_reply_key(const char *message_id, const char *sender)
{
	static const char tag[] = "reply-key";
	unsigned char h[8];
	crypto_generichash_state st;
	uint64_t v = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)tag, sizeof(tag));
	crypto_generichash_update(&st, (const unsigned char *)message_id, strlen(message_id) + 1);
	crypto_generichash_update(&st, (const unsigned char *)sender, strlen(sender) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	for (size_t i = 0; i < sizeof(h); i++)
		v = v << 8 | h[i];
	/* Positive, so that it reads as what it is in the sqlite3 shell. */
	return (int64_t)(v >> 1);
}

void upn_mail_put_header(FILE *out, const char *name, const char *value)
{
	if (has_8bit(value, strlen(value)))
		put_encoded(out, name, strlen(name), value);
	else
		put_folded(out, name, strlen(name), value);
}
