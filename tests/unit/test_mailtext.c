// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The mails' text: figure 8's content, the confirmation mail, unsubscribe links,
 * templates, and header injection. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "mailer.h"
#include "mailtext.h"
#include "token.h"

/* 2023-11-14T22:13:20Z, in Tokyo 2023-11-15T07:13:20+09:00. */
#define RECOVERED 1700000000
#define FIRST (RECOVERED - 3600)

static struct upn_mail_fields fields(void)
{
	return (struct upn_mail_fields){
		.from = "upnotify@gw.example.org",
		.to = "sato@xxx.yyy.co.jp",
		.server = "172.27.178.80",
		.server_name = "aaa.bbbb.cccc.co.jp",
		.client = "172.27.179.151",
		.message_id = "upn-1234@gw.example.org",
		.recovered = RECOVERED,
		.first = FIRST,
		.now = RECOVERED + 5,
		.port = 443,
	};
}

static int setup_tz(void **state)
{
	/* A fixed zone with an offset, so RFC 3339 and RFC 5322 show it. */
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	return 0;
}

/* Every line ends in CRLF; no CR or LF anywhere else. */
static void assert_crlf_only(const char *m)
{
	for (const char *p = m; *p; p++) {
		if (*p == '\r')
			assert_true(p[1] == '\n');
		if (*p == '\n')
			assert_true(p > m && p[-1] == '\r');
	}
	assert_true(strlen(m) >= 2 && !strcmp(m + strlen(m) - 2, "\r\n"));
}

/* The header block, up to and without the empty line. */
static char *headers_of(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n");

	assert_non_null(end);
	return strndup(m, (size_t)(end - m) + 2);
}

/* The unfolded value of header @name, or NULL. */
static char *header(const char *m, const char *name)
{
	char *h = headers_of(m), *line, *save = NULL, *out = NULL;
	size_t n = strlen(name);

	for (line = strtok_r(h, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (out && (line[0] == ' ' || line[0] == '\t')) {
			char *o = NULL;

			assert_true(asprintf(&o, "%s%s", out, line) > 0);
			free(out);
			out = o;
			continue;
		}
		if (out)
			break;
		if (!strncasecmp(line, name, n) && line[n] == ':')
			out = strdup(line + n + 2);
	}
	free(h);
	return out;
}

static const char *body_of(const char *m)
{
	const char *b = strstr(m, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static void test_default_matches_figure8(void **state)
{
	static const char want[] =
		"Date: Wed, 15 Nov 2023 07:13:25 +0900\r\n"
		"From: upnotify@gw.example.org\r\n"
		"To: sato@xxx.yyy.co.jp\r\n"
		"Subject: Server aaa.bbbb.cccc.co.jp (172.27.178.80) has recovered\r\n"
		"Message-ID: <upn-1234@gw.example.org>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n";
	struct upn_mail_fields f = fields();
	char *m = upn_mail_render(NULL, &f), *v;
	const char *body;

	assert_non_null(m);
	assert_crlf_only(m);
	/* The headers, in this order. */
	assert_true(!strncmp(m, want, strlen(want)));
	v = header(m, "Subject");
	assert_string_equal(v, "Server aaa.bbbb.cccc.co.jp (172.27.178.80) has recovered");
	free(v);
	v = header(m, "Message-ID");
	assert_string_equal(v, "<upn-1234@gw.example.org>");
	free(v);
	v = header(m, "Auto-Submitted");
	assert_string_equal(v, "auto-generated");
	free(v);
	v = header(m, "Content-Type");
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);

	/* Figure 8: to whom, the notice, the recovered server by name and address,
	 * the recovery time; then what this client tried. */
	body = body_of(m);
	assert_non_null(strstr(body, "To sato@xxx.yyy.co.jp\r\n"));
	assert_non_null(strstr(body, "SERVER FAILURE RECOVERY NOTIFICATION\r\n"));
	assert_non_null(strstr(body, "the following server has recovered."));
	assert_non_null(strstr(body, "Recovered server : aaa.bbbb.cccc.co.jp (172.27.178.80)\r\n"));
	assert_non_null(strstr(body, "Recovered time   : 2023-11-15T07:13:20+09:00\r\n"));
	assert_non_null(strstr(body, "172.27.179.151"));
	assert_non_null(strstr(body, "port 443"));
	assert_non_null(strstr(body, "2023-11-15T06:13:20+09:00"));
	free(m);
}

static void test_no_reverse_name(void **state)
{
	struct upn_mail_fields f = fields();
	char *m, *v;

	/* Without a PTR record the address stands alone, not "ip (ip)". */
	f.server_name = NULL;
	m = upn_mail_render(NULL, &f);
	assert_non_null(m);
	v = header(m, "Subject");
	assert_string_equal(v, "Server 172.27.178.80 has recovered");
	free(v);
	assert_non_null(strstr(m, "Recovered server : 172.27.178.80\r\n"));
	free(m);
	f.server_name = "";
	m = upn_mail_render(NULL, &f);
	assert_non_null(strstr(m, "Recovered server : 172.27.178.80\r\n"));
	free(m);
}

static void test_injection_refused(void **state)
{
	static const struct {
		size_t off; /* of the field in struct upn_mail_fields */
		const char *value;
		const char *name;
	} cases[] = {
		{ offsetof(struct upn_mail_fields, to), "a@b\r\nBcc: victim@example.org", "to" },
		{ offsetof(struct upn_mail_fields, to), "a@b\nX: y", "to" },
		{ offsetof(struct upn_mail_fields, to), "a@b\rX: y", "to" },
		{ offsetof(struct upn_mail_fields, to), "a b@c", "to" },
		{ offsetof(struct upn_mail_fields, to), "s\xc3\xa4t@example.org", "to" },
		{ offsetof(struct upn_mail_fields, to), "", "to" },
		{ offsetof(struct upn_mail_fields, from), "x@y\r\n\r\nbody", "from" },
		{ offsetof(struct upn_mail_fields, server), "1.2.3.4\r\nX: y", "server" },
		{ offsetof(struct upn_mail_fields, server_name), "evil.example\r\nBcc: a@b",
		  "server_name" },
		{ offsetof(struct upn_mail_fields, server_name), "evil\x01", "server_name" },
		{ offsetof(struct upn_mail_fields, client), "10.0.0.1\n", "client" },
		{ offsetof(struct upn_mail_fields, message_id), "a>\r\nX: <b", "message_id" },
		{ offsetof(struct upn_mail_fields, message_id), "a>b", "message_id" },
		{ offsetof(struct upn_mail_fields, message_id), "a\tb", "message_id" },
		{ offsetof(struct upn_mail_fields, link), "http://x/\r\nBcc: a@b", "link" },
		{ offsetof(struct upn_mail_fields, link), "http://x/ y", "link" },
		{ offsetof(struct upn_mail_fields, link), "http://x/\xc3\xa4", "link" },
		{ offsetof(struct upn_mail_fields, link), "http://x/>", "link" },
		{ offsetof(struct upn_mail_fields, unsubscribe), "http://x/\r\nBcc: a@b",
		  "unsubscribe" },
		{ offsetof(struct upn_mail_fields, unsubscribe), "http://x/\n", "unsubscribe" },
		{ offsetof(struct upn_mail_fields, unsubscribe), "http://x/>, <mailto:a@b",
		  "unsubscribe" },
		{ offsetof(struct upn_mail_fields, unsubscribe), "http://x/ y", "unsubscribe" },
		{ offsetof(struct upn_mail_fields, unsubscribe), "http://x/\x7f", "unsubscribe" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct upn_mail_fields f = fields();
		const char *bad;

		*(const char **)((char *)&f + cases[i].off) = cases[i].value;
		bad = upn_mail_fields_check(&f);
		check(bad && !strcmp(bad, cases[i].name), "case %zu: %s", i,
		      bad ? bad : "(accepted)");
		errno = 0;
		check(!upn_mail_render(NULL, &f) && errno == EINVAL, "case %zu rendered", i);
	}
	/* Missing required values are refused too; a missing client is only empty. */
	{
		struct upn_mail_fields f = fields();

		f.message_id = NULL;
		assert_string_equal(upn_mail_fields_check(&f), "message_id");
		f = fields();
		f.client = NULL;
		assert_null(upn_mail_fields_check(&f));
		/* Links are optional. */
		f.link = NULL;
		f.unsubscribe = "";
		assert_null(upn_mail_fields_check(&f));
	}
}

static void test_placeholders(void **state)
{
	static const char tmpl[] =
		"Subject: {server_name} is back\n"
		"X-Upnotify-Server: {server}\n"
		"\n"
		"server={server} name={server_name} full={server_full} client={client}\n"
		"port={port} first={first} recovered={recovered}\n"
		"to={to} from={from} id={message_id} date={date}\n"
		"{{literal} {unknown} {Server} {} {server {to}}\n";
	struct upn_mail_fields f = fields();
	char *m = upn_mail_render(tmpl, &f), *v;

	assert_non_null(m);
	assert_crlf_only(m);
	v = header(m, "Subject");
	assert_string_equal(v, "aaa.bbbb.cccc.co.jp is back");
	free(v);
	v = header(m, "X-Upnotify-Server");
	assert_string_equal(v, "172.27.178.80");
	free(v);
	assert_string_equal(body_of(m),
			    "server=172.27.178.80 name=aaa.bbbb.cccc.co.jp full=aaa.bbbb.cccc.co.jp"
			    " (172.27.178.80) client=172.27.179.151\r\n"
			    "port=443 first=2023-11-15T06:13:20+09:00"
			    " recovered=2023-11-15T07:13:20+09:00\r\n"
			    "to=sato@xxx.yyy.co.jp from=upnotify@gw.example.org"
			    " id=<upn-1234@gw.example.org> date=Wed, 15 Nov 2023 07:13:25 +0900\r\n"
			    "{literal} {unknown} {Server} {} {server sato@xxx.yyy.co.jp}\r\n");
	free(m);
}

static void test_template_check(void **state)
{
	static const struct {
		const char *tmpl;
		const char *err; /* NULL: accepted */
	} cases[] = {
		{ upn_mail_default_template, NULL },
		{ "Subject: x\n\nbody\n", NULL },
		{ "Subject: x\r\n\r\nbody\r\n", NULL },
		{ "\nonly a body {to}\n", NULL },
		{ "X-A: 1\n  continued\nSubject: y\n\n", NULL },
		{ "Subject: {{not a placeholder}\n\n", NULL },
		{ "Subject: x {serverr}\n\nbody\n", "line 1: unknown placeholder {serverr}" },
		{ "Subject: x\n\nbody\nline {oops}\n", "line 4: unknown placeholder {oops}" },
		{ "From: x@y\n\nbody\n", "line 1: the mailer writes From itself" },
		{ "subject: a\nmessage-id: <x>\n\n",
		  "line 2: the mailer writes Message-ID itself" },
		{ "Subject: a\nBcc: x@y\n\n", "line 2: the mailer writes Bcc itself" },
		{ "Subject: a\nSubject: b\n\n", "line 2: a second Subject" },
		{ "Subject x\n\nbody\n", "line 1: not a header (\"Name: value\")" },
		{ ": x\n\n", "line 1: not a header (\"Name: value\")" },
		{ "Sub ject: x\n\n", "line 1: not a header (\"Name: value\")" },
		{ " folded: x\n\n", "line 1: a continuation line with no header" },
		{ "Subject: a\rb\n\n", "line 1: a control character in a header" },
		{ "Subject: x\nbody without a blank line\n",
		  "line 2: not a header (\"Name: value\")" },
		{ "Subject: x", "line 1: no empty line between the headers and the body" },
		{ "", "line 1: no empty line between the headers and the body" },
		{ "Subject: x\n\nstop: {unsubscribe}\n", NULL },
		{ "X-Stop: {unsubscribe}\n\n", NULL },
		{ "Subject: x\nList-Unsubscribe: <http://x/>\n\n",
		  "line 2: the mailer writes List-Unsubscribe itself" },
		{ "list-unsubscribe-post: List-Unsubscribe=One-Click\n\n",
		  "line 1: the mailer writes List-Unsubscribe-Post itself" },
		{ "Subject: x\n\nclick {link}\n",
		  "line 3: {link} is only for the confirmation mail, not in a recovery mail" },
		{ "Subject: until {expires}\n\n",
		  "line 1: {expires} is only for the confirmation mail, not in a recovery mail" },
		{ "Subject: x\n\n{{link} is fine\n", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[256] = "";
		int ret = upn_mail_template_check(cases[i].tmpl, err, sizeof(err));

		if (!cases[i].err) {
			check(ret == 0, "case %zu: refused: %s", i, err);
			continue;
		}
		check(ret == -EINVAL, "case %zu: accepted", i);
		check(!strcmp(err, cases[i].err), "case %zu: '%s'", i, err);
		/* What the check refuses, rendering refuses as well (unknown
		 * placeholders and confirmation-only ones aside: those render). */
		if (!strstr(cases[i].err, "placeholder") && !strstr(cases[i].err, "confirmation")) {
			struct upn_mail_fields f = fields();

			check(!upn_mail_render(cases[i].tmpl, &f), "case %zu rendered", i);
		}
	}
}

static void test_no_subject_gets_default(void **state)
{
	struct upn_mail_fields f = fields();
	char *m = upn_mail_render("X-Note: hi\n\nbody\n", &f), *v;

	assert_non_null(m);
	v = header(m, "Subject");
	assert_string_equal(v, "Server aaa.bbbb.cccc.co.jp (172.27.178.80) has recovered");
	free(v);
	/* Subject right after To, template headers after the mailer's. */
	assert_true(strstr(m, "To: ") < strstr(m, "Subject: "));
	assert_true(strstr(m, "Content-Transfer-Encoding: ") < strstr(m, "X-Note: hi"));
	assert_string_equal(body_of(m), "body\r\n");
	free(m);
}

/* Decodes "=?UTF-8?B?...?=" words separated by folding white space. */
static char *decode_words(const char *v)
{
	char *out = calloc(1, strlen(v) + 1);
	size_t n = 0;

	assert_non_null(out);
	while (*v) {
		const char *end;
		size_t len;

		v += strspn(v, " \t");
		if (!*v)
			break;
		assert_true(!strncmp(v, "=?UTF-8?B?", 10));
		v += 10;
		end = strstr(v, "?=");
		assert_non_null(end);
		assert_true(end - v + 12 <= 75);
		assert_int_equal(sodium_base642bin((unsigned char *)out + n, strlen(v), v,
						   (size_t)(end - v), NULL, &len, NULL,
						   sodium_base64_VARIANT_ORIGINAL),
				 0);
		n += len;
		v = end + 2;
	}
	return out;
}

static void test_non_ascii(void **state)
{
	static const char subject[] = "Der Server {server_name} ist wieder erreichbar — "
				      "サーバが復旧しました — {server}";
	char tmpl[512], *m, *v, *d;
	struct upn_mail_fields f = fields();

	snprintf(tmpl, sizeof(tmpl), "Subject: %s\n\nGrüße, {to}\n", subject);
	m = upn_mail_render(tmpl, &f);
	assert_non_null(m);
	assert_crlf_only(m);
	/* 8 bit in the headers only as encoded words; the body says it is 8 bit. */
	for (const char *p = m; p < body_of(m); p++)
		assert_true((unsigned char)*p < 0x80);
	v = header(m, "Content-Transfer-Encoding");
	assert_string_equal(v, "8bit");
	free(v);
	v = header(m, "Subject");
	d = decode_words(v);
	assert_string_equal(d, "Der Server aaa.bbbb.cccc.co.jp ist wieder erreichbar — "
			       "サーバが復旧しました — 172.27.178.80");
	free(d);
	free(v);
	assert_string_equal(body_of(m), "Grüße, sato@xxx.yyy.co.jp\r\n");
	free(m);
}

static void test_folding(void **state)
{
	char tmpl[1100], want[1024], *m, *v;
	struct upn_mail_fields f = fields();
	const char *h;
	size_t n = 0;

	n += (size_t)snprintf(want + n, sizeof(want) - n, "word");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, " w%02d", i);
	snprintf(tmpl, sizeof(tmpl), "X-Long: %s\n\n", want);
	m = upn_mail_render(tmpl, &f);
	assert_non_null(m);
	/* Folded lines of at most 78, which unfold to the value. */
	h = strstr(m, "X-Long: ");
	assert_non_null(h);
	for (const char *line = h; line < body_of(m) && (line == h || *line == ' ');) {
		const char *eol = strstr(line, "\r\n");

		assert_true(eol - line <= 78);
		line = eol + 2;
	}
	v = header(m, "X-Long");
	assert_string_equal(v, want);
	free(v);
	free(m);
}

static void test_body_line_ends(void **state)
{
	struct upn_mail_fields f = fields();
	char *m = upn_mail_render("Subject: x\n\na\nb\r\nc\rd\n.\n..x\n\nlast", &f);

	assert_non_null(m);
	assert_crlf_only(m);
	/* Dots stay as they are: stuffing them is the SMTP library's job. */
	assert_string_equal(body_of(m), "a\r\nb\r\nc\r\nd\r\n.\r\n..x\r\n\r\nlast\r\n");
	free(m);
}

static void test_message_id(void **state)
{
	char a[UPN_MAIL_MAX + 1], b[UPN_MAIL_MAX + 1], c[UPN_MAIL_MAX + 1];
	struct upn_mail_fields f = fields();
	regex_t re;

	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.1", "198.51.100.7", 1700000000,
			    "n@gw.example.org", a);
	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.1", "198.51.100.7", 1700000000,
			    "n@gw.example.org", b);
	assert_string_equal(a, b);
	assert_int_equal(regcomp(&re, "^upn-[0-9a-f]{32}@gw\\.example\\.org$", REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, a, 0, NULL, 0), 0);
	regfree(&re);
	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.1", "198.51.100.7", 1700000001,
			    "n@gw.example.org", c);
	assert_string_not_equal(a, c);
	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.1", "198.51.100.70", 1700000000,
			    "n@gw.example.org", c);
	assert_string_not_equal(a, c);
	/* The separator keeps ("1.2.3.4", "5...") and ("1.2.3.45", "...") apart. */
	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.11", "98.51.100.7", 1700000000,
			    "n@gw.example.org", c);
	assert_string_not_equal(a, c);
	upn_mail_message_id(UPN_MAIL_RECOVERY, "192.0.2.1", "198.51.100.7", 1700000000, "nodomain",
			    c);
	assert_non_null(strstr(c, "@localhost"));
	/* A confirmation never shares its Message-ID with a recovery mail. */
	upn_mail_message_id(UPN_MAIL_CONFIRM, "192.0.2.1", "198.51.100.7", 1700000000,
			    "n@gw.example.org", c);
	assert_string_not_equal(a, c);
	assert_true(!strncmp(c, "upn-", 4) && strstr(c, "@gw.example.org"));
	/* A recovery mail's is what it was before there were kinds: a mail re-sent
	 * after an upgrade keeps its Message-ID. */
	{
		unsigned char h[16];
		char hex[33], want[UPN_MAIL_MAX + 1];
		crypto_generichash_state st;

		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		crypto_generichash_update(&st, (const unsigned char *)"192.0.2.1", 10);
		crypto_generichash_update(&st, (const unsigned char *)"198.51.100.7", 13);
		crypto_generichash_update(&st, (const unsigned char *)"1700000000", 10);
		crypto_generichash_final(&st, h, sizeof(h));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(want, sizeof(want), "upn-%s@gw.example.org", hex);
		assert_string_equal(a, want);
	}
	/* It renders. */
	f.message_id = a;
	free(upn_mail_render(NULL, &f));
}

#define UNSUB "http://10.0.1.1:8080/.upnotify/unsubscribe?t=u.YUBiLmM.MAC"
#define LINK "http://10.0.1.1:8080/.upnotify/confirm?t=k.AAAA.MAC"

static void test_unsubscribe(void **state)
{
	struct upn_mail_fields f = fields();
	char *with, *without, *v, *h, *stripped;
	const char *p;

	without = upn_mail_render(NULL, &f);
	assert_non_null(without);
	f.unsubscribe = UNSUB;
	with = upn_mail_render(NULL, &f);
	assert_non_null(with);
	assert_crlf_only(with);

	/* RFC 8058: both headers, the link in angle brackets, on one line each. */
	v = header(with, "List-Unsubscribe");
	assert_string_equal(v, "<" UNSUB ">");
	free(v);
	v = header(with, "List-Unsubscribe-Post");
	assert_string_equal(v, "List-Unsubscribe=One-Click");
	free(v);
	h = headers_of(with);
	assert_non_null(strstr(h, "\r\nList-Unsubscribe: <" UNSUB ">\r\n"
				  "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	free(h);
	assert_non_null(strstr(body_of(with), "\r\nTo stop these notices: " UNSUB "\r\n"));

	/* Without a link: no header, and the line is left out, line end and all. */
	h = headers_of(without);
	assert_null(strstr(h, "List-Unsubscribe"));
	free(h);
	assert_null(strstr(body_of(without), "To stop"));
	p = "there is no need to reply.\r\n";
	assert_string_equal(body_of(without) + strlen(body_of(without)) - strlen(p), p);
	/* Otherwise the same body. */
	p = strstr(body_of(with), "To stop these notices: ");
	assert_non_null(p);
	stripped = strndup(body_of(with), (size_t)(p - body_of(with)));
	assert_string_equal(stripped, body_of(without));
	free(stripped);
	free(with);
	free(without);

	/* In a template of one's own: in a header, and on lines with other text. */
	f.unsubscribe = NULL;
	with = upn_mail_render("Subject: x\nX-Stop: [{unsubscribe}]\n\na\nstop: {unsubscribe}"
			       " now\r\nb {{unsubscribe}\nc\n{unsubscribe}",
			       &f);
	assert_non_null(with);
	assert_crlf_only(with);
	v = header(with, "X-Stop");
	assert_string_equal(v, "[]");
	free(v);
	assert_string_equal(body_of(with), "a\r\nb {unsubscribe}\r\nc\r\n");
	free(with);
	f.unsubscribe = UNSUB;
	with = upn_mail_render("Subject: x\n\na\nstop: {unsubscribe} now\r\nb\n", &f);
	assert_string_equal(body_of(with), "a\r\nstop: " UNSUB " now\r\nb\r\n");
	free(with);

	/* The longest link is never folded, and stays within RFC 5322's 998. */
	{
		char url[UPN_TOKEN_URL_MAX + 1];

		memset(url, 'a', sizeof(url) - 1);
		memcpy(url, "http://", 7);
		url[sizeof(url) - 1] = '\0';
		f.unsubscribe = url;
		with = upn_mail_render(NULL, &f);
		assert_non_null(with);
		v = header(with, "List-Unsubscribe");
		assert_int_equal(strlen(v), strlen(url) + 2);
		free(v);
		for (const char *line = with; *line;) {
			const char *eol = strstr(line, "\r\n");

			assert_true(eol - line <= 998);
			line = eol + 2;
		}
		free(with);
	}
}

static void test_confirm_mail(void **state)
{
	struct upn_mail_fields f = fields();
	char *m, *v, *h, err[256] = "";
	const char *body;

	f.link = LINK;
	f.expires = RECOVERED + 86400;
	m = upn_mail_render(upn_mail_confirm_template, &f);
	assert_non_null(m);
	assert_crlf_only(m);
	v = header(m, "Subject");
	assert_string_equal(v,
			    "Confirm: tell you when aaa.bbbb.cccc.co.jp (172.27.178.80) is back");
	free(v);
	v = header(m, "Message-ID");
	assert_string_equal(v, "<upn-1234@gw.example.org>");
	free(v);
	h = headers_of(m);
	assert_null(strstr(h, "List-Unsubscribe"));
	free(h);
	body = body_of(m);
	assert_non_null(strstr(body, "Someone at 172.27.179.151 asked to be told at this address,"
				     " sato@xxx.yyy.co.jp,\r\n"));
	assert_non_null(
		strstr(body, "when the server aaa.bbbb.cccc.co.jp (172.27.178.80) recovers"));
	/* The link on a line of its own, so that mail readers make it clickable. */
	assert_non_null(strstr(body, "\r\n" LINK "\r\n"));
	assert_non_null(strstr(body, "The link expires at 2023-11-16T07:13:20+09:00.\r\n"));
	assert_non_null(strstr(body, "If it wasn't you, ignore this mail: nothing will be sent"));
	free(m);

	/* A template file may not use the confirmation's placeholders, yet the
	 * built-in confirmation renders with every check but that one. */
	assert_int_equal(upn_mail_template_check(upn_mail_confirm_template, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "only for the confirmation mail"));
	assert_int_equal(upn_mail_template_check(upn_mail_default_template, err, sizeof(err)), 0);

	/* Injection through the new values is refused like any other. */
	f.link = "http://x/\r\nBcc: victim@example.org";
	errno = 0;
	assert_null(upn_mail_render(upn_mail_confirm_template, &f));
	assert_int_equal(errno, EINVAL);
}

static void test_template_load(void **state)
{
	char dir[] = "/tmp/upn-mailtext-XXXXXX", path[64], err[256];
	char *t, *big;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t", dir);

	t = upn_mail_template_load(NULL, err, sizeof(err));
	assert_string_equal(t, upn_mail_default_template);
	free(t);
	t = upn_mail_template_load("", err, sizeof(err));
	assert_string_equal(t, upn_mail_default_template);
	free(t);

	fp = fopen(path, "w");
	fputs("Subject: {server} back\n\nhello {to}\n", fp);
	fclose(fp);
	t = upn_mail_template_load(path, err, sizeof(err));
	assert_string_equal(t, "Subject: {server} back\n\nhello {to}\n");
	free(t);

	fp = fopen(path, "w");
	fputs("Subject: {sever}\n\n", fp);
	fclose(fp);
	assert_null(upn_mail_template_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1: unknown placeholder {sever}"));
	assert_true(!strncmp(err, path, strlen(path)));

	fp = fopen(path, "w");
	fwrite("Subject: a\n\n\0b\n", 1, 15, fp);
	fclose(fp);
	assert_null(upn_mail_template_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "NUL"));

	big = malloc(UPN_MAIL_TEMPLATE_MAX + 16);
	memset(big, 'a', UPN_MAIL_TEMPLATE_MAX + 15);
	memcpy(big, "Subject: a\n\n", 12);
	fp = fopen(path, "w");
	fwrite(big, 1, UPN_MAIL_TEMPLATE_MAX + 15, fp);
	fclose(fp);
	free(big);
	assert_null(upn_mail_template_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));

	unlink(path);
	assert_null(upn_mail_template_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_matches_figure8),
		cmocka_unit_test(test_no_reverse_name),
		cmocka_unit_test(test_injection_refused),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_template_check),
		cmocka_unit_test(test_no_subject_gets_default),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_body_line_ends),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_unsubscribe),
		cmocka_unit_test(test_confirm_mail),
		cmocka_unit_test(test_template_load),
	};

	return cmocka_run_group_tests_name("mailtext", tests, setup_tz, NULL);
}
