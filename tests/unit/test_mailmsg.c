// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* Received mail parsed with GMime: headers, transfer encodings, charsets, MIME
 * structure, the auto-reply markers, and input that is not mail at all. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testlib.h"

#include "mailmsg.h"

static int parse(const char *raw, struct upn_mailmsg *m)
{
	char err[128] = "";
	int rc = upn_mailmsg_parse(raw, strlen(raw), m, err, sizeof(err));

	if (rc)
		assert_true(err[0]);
	return rc;
}

static void test_plain(void **state)
{
	struct upn_mailmsg m;

	assert_int_equal(parse("From: Upnotify <upnotify@example.test>\r\n"
			       "To: agent@srv.example.test\r\n"
			       "Subject: upnotify: 3 clients waited for 10.0.2.2\r\n"
			       "Message-ID: <upn-relay-0123@example.test>\r\n"
			       "X-Upnotify-Signature: v=1; k=k1; t=1795352400;\r\n"
			       " s=00ff\r\n"
			       "\r\n"
			       "line one\r\n"
			       "line two\r\n",
			       &m),
			 0);
	assert_string_equal(m.from, "upnotify@example.test");
	assert_string_equal(m.message_id, "upn-relay-0123@example.test");
	assert_string_equal(m.subject, "upnotify: 3 clients waited for 10.0.2.2");
	assert_non_null(m.signature);
	/* Unfolded (whitespace at the fold is the verifier's business). */
	assert_non_null(strstr(m.signature, "v=1; k=k1; t=1795352400;"));
	assert_non_null(strstr(m.signature, "s=00ff"));
	assert_null(strchr(m.signature, '\n'));
	assert_false(m.auto_submitted);
	assert_non_null(m.text);
	assert_int_equal(m.text_len, strlen(m.text));
	assert_non_null(strstr(m.text, "line one"));
	assert_non_null(strstr(m.text, "line two"));
	upn_mailmsg_free(&m);
	/* Free twice is harmless. */
	upn_mailmsg_free(&m);

	/* LF-only mail, no Content-Type, no signature. */
	assert_int_equal(parse("From: a@b.test\nSubject: hi\n\nbody\n", &m), 0);
	assert_string_equal(m.from, "a@b.test");
	assert_null(m.signature);
	assert_string_equal(m.message_id, "");
	assert_string_equal(m.text, "body\n");
	upn_mailmsg_free(&m);
}

static void test_quoted_printable(void **state)
{
	struct upn_mailmsg m;

	assert_int_equal(
		parse("From: a@b.test\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n"
		      "\r\n"
		      "CLIENT IP ADDRESS=09: 10.0.1.2=09first=3D1 a long line that was =\r\n"
		      "soft-broken\r\n"
		      "caf=C3=A9\r\n",
		      &m),
		0);
	assert_non_null(strstr(m.text, "CLIENT IP ADDRESS\t: 10.0.1.2\tfirst=1 a long line "
				       "that was soft-broken"));
	assert_non_null(strstr(m.text, "caf\xc3\xa9"));
	upn_mailmsg_free(&m);
}

static void test_base64(void **state)
{
	struct upn_mailmsg m;

	/* "hello world\n" */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: text/plain; charset=us-ascii\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "\r\n"
			       "aGVsbG8g\r\n"
			       "d29ybGQK\r\n",
			       &m),
			 0);
	assert_string_equal(m.text, "hello world\n");
	assert_int_equal(m.text_len, 12);
	upn_mailmsg_free(&m);
}

static void test_charset(void **state)
{
	struct upn_mailmsg m;

	/* Latin-1 "café" comes out as UTF-8. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: text/plain; charset=iso-8859-1\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n"
			       "\r\n"
			       "caf\xe9\r\n",
			       &m),
			 0);
	assert_non_null(strstr(m.text, "caf\xc3\xa9"));
	upn_mailmsg_free(&m);
	/* A lying charset still gives valid UTF-8. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "\r\n"
			       "bad \xff\xfe bytes\r\n",
			       &m),
			 0);
	assert_non_null(strstr(m.text, "bytes"));
	for (const unsigned char *p = (const unsigned char *)m.text; *p; p++)
		assert_true(*p != 0xff && *p != 0xfe);
	upn_mailmsg_free(&m);
}

static void test_multipart(void **state)
{
	struct upn_mailmsg m;

	assert_int_equal(parse("From: a@b.test\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
			       "\r\n"
			       "preamble\r\n"
			       "--outer\r\n"
			       "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
			       "\r\n"
			       "--inner\r\n"
			       "Content-Type: text/html\r\n"
			       "\r\n"
			       "<p>html</p>\r\n"
			       "--inner\r\n"
			       "Content-Type: text/plain; charset=us-ascii\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "\r\n"
			       "dGhlIHBsYWluIHRleHQK\r\n"
			       "--inner--\r\n"
			       "--outer\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Disposition: attachment; filename=x.txt\r\n"
			       "\r\n"
			       "attached\r\n"
			       "--outer--\r\n",
			       &m),
			 0);
	assert_string_equal(m.text, "the plain text\n");
	upn_mailmsg_free(&m);

	/* An attachment first: the inline text wins. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: multipart/mixed; boundary=b\r\n"
			       "\r\n"
			       "--b\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Disposition: attachment\r\n"
			       "\r\n"
			       "attached\r\n"
			       "--b\r\n"
			       "Content-Type: text/plain\r\n"
			       "\r\n"
			       "inline\r\n"
			       "--b--\r\n",
			       &m),
			 0);
	assert_non_null(strstr(m.text, "inline"));
	upn_mailmsg_free(&m);

	/* Only HTML: it is the body. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: text/html\r\n"
			       "\r\n"
			       "<p>only</p>\r\n",
			       &m),
			 0);
	assert_non_null(strstr(m.text, "<p>only</p>"));
	upn_mailmsg_free(&m);

	/* No text at all. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Content-Type: multipart/mixed; boundary=b\r\n"
			       "\r\n"
			       "--b\r\n"
			       "Content-Type: image/png\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "\r\n"
			       "iVBORw0KGgo=\r\n"
			       "--b--\r\n",
			       &m),
			 0);
	assert_non_null(m.text);
	assert_int_equal(m.text_len, 0);
	upn_mailmsg_free(&m);
}

static void test_subject(void **state)
{
	struct upn_mailmsg m;
	char raw[1024];

	assert_int_equal(parse("From: a@b.test\r\n"
			       "Subject: =?UTF-8?B?Y2Fmw6k=?= and =?ISO-8859-1?Q?na=EFve?=\r\n"
			       "\r\n"
			       "x\r\n",
			       &m),
			 0);
	assert_string_equal(m.subject, "caf\xc3\xa9 and na\xc3\xafve");
	upn_mailmsg_free(&m);

	/* An encoded control character becomes a blank. */
	assert_int_equal(parse("From: a@b.test\r\n"
			       "Subject: =?UTF-8?Q?a=0Ab=09c?=\r\n"
			       "\r\n"
			       "x\r\n",
			       &m),
			 0);
	assert_string_equal(m.subject, "a b c");
	upn_mailmsg_free(&m);

	/* Long: cut at 255 bytes, never inside a character. */
	strcpy(raw, "From: a@b.test\r\nSubject: ");
	for (int i = 0; i < 200; i++)
		strcat(raw, "\xc3\xa9");
	strcat(raw, "\r\n\r\nx\r\n");
	assert_int_equal(parse(raw, &m), 0);
	assert_int_equal(strlen(m.subject), 254);
	upn_mailmsg_free(&m);
}

static void test_auto_submitted(void **state)
{
	static const struct {
		const char *header;
		bool is_auto;
	} cases[] = {
		{ "Auto-Submitted: auto-generated\r\n", true },
		{ "Auto-Submitted: auto-replied\r\n", true },
		{ "Auto-Submitted: auto-notified; owner-email=x@y.test\r\n", true },
		{ "Auto-Submitted: no\r\n", false },
		{ "Auto-Submitted: No (a comment)\r\n", false },
		{ "Precedence: bulk\r\n", true },
		{ "Precedence: junk\r\n", true },
		{ "Precedence: List\r\n", true },
		{ "Precedence: first-class\r\n", false },
		{ "Precedence: bulky\r\n", false },
		{ "", false },
	};
	struct upn_mailmsg m;
	char raw[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(raw, sizeof(raw), "From: a@b.test\r\n%s\r\nx\r\n", cases[i].header);
		assert_int_equal(parse(raw, &m), 0);
		check(m.auto_submitted == cases[i].is_auto, "case %zu", i);
		upn_mailmsg_free(&m);
	}
}

static void test_from(void **state)
{
	static const struct {
		const char *from, *want;
	} cases[] = {
		{ "", "" },
		{ "From: \r\n", "" },
		{ "From: undisclosed-recipients:;\r\n", "" },
		{ "From: \"Ops, Team\" <ops@example.test>, other@example.test\r\n",
		  "ops@example.test" },
		{ "From: team: first@example.test, second@example.test;\r\n",
		  "first@example.test" },
		{ "From: plain@example.test (comment)\r\n", "plain@example.test" },
		{ "From: =?UTF-8?Q?Jos=C3=A9?= <jose@example.test>\r\n", "jose@example.test" },
	};
	struct upn_mailmsg m;
	char raw[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(raw, sizeof(raw), "%sSubject: s\r\n\r\nx\r\n", cases[i].from);
		assert_int_equal(parse(raw, &m), 0);
		check(!strcmp(m.from, cases[i].want), "case %zu: \"%s\"", i, m.from);
		upn_mailmsg_free(&m);
	}
}

static void test_garbage(void **state)
{
	struct upn_mailmsg m;
	char err[128];
	char *big;

	assert_int_equal(upn_mailmsg_parse("", 0, &m, err, sizeof(err)), -EINVAL);
	assert_int_equal(upn_mailmsg_parse(NULL, 0, &m, err, sizeof(err)), -EINVAL);
	/* Binary noise: parsed as something or refused, never a crash. */
	{
		char noise[4096];

		rng_state = 42;
		for (int round = 0; round < 200; round++) {
			for (size_t i = 0; i < sizeof(noise); i++)
				noise[i] = (char)rnd();
			if (!upn_mailmsg_parse(noise, (size_t)(rnd() % sizeof(noise)) + 1, &m, err,
					       sizeof(err))) {
				assert_non_null(m.text);
				assert_int_equal(strlen(m.text), m.text_len);
				upn_mailmsg_free(&m);
			}
		}
	}
	/* Not headers at all. */
	if (!parse("just some text\nwithout any header\n", &m))
		upn_mailmsg_free(&m);
	/* Deeply nested multiparts. */
	{
		char *deep = malloc(100000), *p = deep;

		p += sprintf(p, "From: a@b.test\r\n");
		for (int i = 0; i < 200; i++)
			p += sprintf(p,
				     "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
				     i, i);
		p += sprintf(p, "Content-Type: text/plain\r\n\r\ndeep\r\n");
		assert_int_equal(parse(deep, &m), 0);
		assert_non_null(m.text);
		upn_mailmsg_free(&m);
		free(deep);
	}
	/* Over the limit. */
	big = malloc(UPN_MAILMSG_MAX + 1);
	memset(big, 'a', UPN_MAILMSG_MAX + 1);
	assert_int_equal(upn_mailmsg_parse(big, UPN_MAILMSG_MAX + 1, &m, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "limit"));
	free(big);
	/* A Message-ID with a blank or an overlong From is dropped, not copied. */
	{
		char raw[1024];

		snprintf(raw, sizeof(raw),
			 "From: %0300d@b.test\r\nMessage-ID: <a b@c>\r\n\r\nx\r\n", 0);
		assert_int_equal(parse(raw, &m), 0);
		assert_string_equal(m.from, "");
		upn_mailmsg_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),	       cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_base64),	       cmocka_unit_test(test_charset),
		cmocka_unit_test(test_multipart),      cmocka_unit_test(test_subject),
		cmocka_unit_test(test_auto_submitted), cmocka_unit_test(test_from),
		cmocka_unit_test(test_garbage),
	};

	upn_mailmsg_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
