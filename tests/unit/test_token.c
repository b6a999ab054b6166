// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* Signed tokens: round trips, tampering, expiry, kinds and keys, and the links. */
#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "testlib.h"

#include "token.h"

#define NOW 1700000000

static const unsigned char key[UPN_TOKEN_KEYBYTES] = "0123456789abcdef0123456789abcde";
static const unsigned char other_key[UPN_TOKEN_KEYBYTES] = "0123456789abcdef0123456789abcdf";

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* "<kind>.<b64url>.<b64url>", nothing else. */
static void assert_form(const char *t, char kind)
{
	const char *d1, *d2;

	assert_int_equal(t[0], kind);
	assert_int_equal(t[1], '.');
	d1 = t + 1;
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	for (const char *p = d1 + 1; *p; p++)
		assert_true(p == d2 || b64url_char(*p));
	/* A 32-byte MAC is 43 characters unpadded. */
	assert_int_equal(strlen(d2 + 1), 43);
}

static void test_round_trip(void **state)
{
	unsigned char p[UPN_TOKEN_PAYLOAD_MAX], back[UPN_TOKEN_PAYLOAD_MAX];
	char t[UPN_TOKEN_TEXT_MAX + 1];
	size_t len;

	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (unsigned char)(i * 7 + 3);
	/* Every payload length, so that every base64 tail is exercised. */
	for (size_t n = 0; n <= UPN_TOKEN_PAYLOAD_MAX; n++) {
		assert_int_equal(upn_token_make(key, 'x', p, n, t, sizeof(t)), 0);
		assert_form(t, 'x');
		assert_true(strlen(t) <= UPN_TOKEN_TEXT_MAX);
		len = 12345;
		memset(back, 0, sizeof(back));
		assert_int_equal(upn_token_open(key, 'x', t, back, sizeof(back), &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(back, p, n);
		/* Exactly the room the text needs, and one byte less. */
		{
			char exact[UPN_TOKEN_TEXT_MAX + 1];
			size_t need = strlen(t) + 1;

			assert_int_equal(upn_token_make(key, 'x', p, n, exact, need), 0);
			assert_string_equal(exact, t);
			assert_int_equal(upn_token_make(key, 'x', p, n, exact, need - 1), -ENOSPC);
		}
		/* A payload larger than the caller's room is bad form. */
		if (n)
			assert_int_equal(upn_token_open(key, 'x', t, back, n - 1, &len), -EINVAL);
	}
	/* Deterministic: the same input, the same text. */
	{
		char a[128], b[128];

		assert_int_equal(upn_token_make(key, 'q', "abc", 3, a, sizeof(a)), 0);
		assert_int_equal(upn_token_make(key, 'q', "abc", 3, b, sizeof(b)), 0);
		assert_string_equal(a, b);
		assert_int_equal(upn_token_make(other_key, 'q', "abc", 3, b, sizeof(b)), 0);
		assert_string_not_equal(a, b);
	}
	assert_int_equal(upn_token_make(key, 'x', p, UPN_TOKEN_PAYLOAD_MAX + 1, t, sizeof(t)),
			 -EINVAL);
	assert_int_equal(upn_token_make(key, 'X', p, 1, t, sizeof(t)), -EINVAL);
	assert_int_equal(upn_token_make(key, '.', p, 1, t, sizeof(t)), -EINVAL);
	assert_int_equal(upn_token_make(key, 0, p, 1, t, sizeof(t)), -EINVAL);
}

/* Every single-character change, and every truncation, is refused. */
static void test_tamper(void **state)
{
	static const char alphabet[] = "AZaz09-_.=+/ \n%x";
	char t[256], m[256];
	unsigned char back[64];
	size_t len, n;

	assert_int_equal(upn_token_make(key, 'u', "alice@example.org", 17, t, sizeof(t)), 0);
	n = strlen(t);
	for (size_t i = 0; i < n; i++) {
		for (const char *c = alphabet; *c; c++) {
			int ret;

			if (*c == t[i])
				continue;
			strcpy(m, t);
			m[i] = *c;
			ret = upn_token_open(key, 'u', m, back, sizeof(back), &len);
			check(ret == -EINVAL || ret == -EBADMSG, "pos %zu '%c': %d", i, *c, ret);
			/* A change inside a base64 segment that still decodes is the MAC's
			 * to catch. */
			if (i >= 2 && b64url_char(*c) && b64url_char(t[i]) && ret == -EINVAL) {
				/* Only the last character of a segment may fail to decode
				 * (stray bits). */
				check(m[i + 1] == '.' || m[i + 1] == '\0', "pos %zu '%c'", i, *c);
			}
		}
	}
	for (size_t k = 0; k < n; k++) {
		strcpy(m, t);
		m[k] = '\0';
		assert_true(upn_token_open(key, 'u', m, back, sizeof(back), &len) < 0);
	}
	/* Appended characters. */
	snprintf(m, sizeof(m), "%sA", t);
	assert_true(upn_token_open(key, 'u', m, back, sizeof(back), &len) < 0);
	snprintf(m, sizeof(m), "%s.", t);
	assert_int_equal(upn_token_open(key, 'u', m, back, sizeof(back), &len), -EINVAL);
	snprintf(m, sizeof(m), "%s ", t);
	assert_int_equal(upn_token_open(key, 'u', m, back, sizeof(back), &len), -EINVAL);
	/* Another key. */
	assert_int_equal(upn_token_open(other_key, 'u', t, back, sizeof(back), &len), -EBADMSG);
	/* Bytes above 0x7f in place of a digit (libsodium 1.0.18 decodes them as one,
	 * found by fuzz_token): the same bytes, but not the token's text. */
	for (size_t i = 2; i < n; i++) {
		if (t[i] == '.')
			continue;
		for (int c = 0x80; c <= 0xff; c++) {
			strcpy(m, t);
			m[i] = (char)c;
			check(upn_token_open(key, 'u', m, back, sizeof(back), &len) == -EINVAL,
			      "pos %zu byte %02x", i, c);
		}
	}
}

static void test_bad_form(void **state)
{
	static const char *const cases[] = {
		"",
		"u",
		"u.",
		"u..",
		"u...",
		".AA.AA",
		"uAA.AA",
		"u.AA",
		"u.AA=.AA",
		"u.QR.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* stray bits in "QR" */
		"u.QQ==.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* padding */
		"u.Q.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    /* a lone character */
		"u.QQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    /* 42: a short MAC */
		"u.QQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 45: a long MAC */
		"u.Q+.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* not URL-safe */
		"u.Q Q.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	unsigned char back[64];
	char *big;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check(upn_token_open(key, 'u', cases[i], back, sizeof(back), &len) == -EINVAL,
		      "case %zu", i);
	/* Well formed, wrong MAC. */
	assert_int_equal(upn_token_open(key, 'u',
					"u.QQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", back,
					sizeof(back), &len),
			 -EBADMSG);
	assert_int_equal(upn_token_open(key, 'u', NULL, back, sizeof(back), &len), -EINVAL);
	/* Over the length cap: refused before decoding, whatever it holds. */
	big = malloc(UPN_TOKEN_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', UPN_TOKEN_TEXT_MAX + 1);
	big[0] = 'u';
	big[1] = '.';
	big[UPN_TOKEN_TEXT_MAX - 50] = '.';
	big[UPN_TOKEN_TEXT_MAX + 1] = '\0';
	assert_int_equal(upn_token_open(key, 'u', big, back, sizeof(back), &len), -EINVAL);
	free(big);
}

static void test_kinds(void **state)
{
	unsigned char back[64];
	char t[256];
	size_t len;

	assert_int_equal(upn_token_make(key, 'c', "x", 1, t, sizeof(t)), 0);
	/* The kind letter is checked, and the MAC covers it: the same payload and MAC
	 * under another letter do not verify. */
	assert_int_equal(upn_token_open(key, 'k', t, back, sizeof(back), &len), -EINVAL);
	t[0] = 'k';
	assert_int_equal(upn_token_open(key, 'k', t, back, sizeof(back), &len), -EBADMSG);
	t[0] = 'c';
	assert_int_equal(upn_token_open(key, 'c', t, back, sizeof(back), &len), 0);
	assert_int_equal(upn_token_open(key, 'C', t, back, sizeof(back), &len), -EINVAL);
}

static void test_csrf(void **state)
{
	struct upn_addr c4 = addr("198.51.100.7"), s4 = addr("192.0.2.80");
	struct upn_addr c6 = addr("2001:db8:1::7"), s6 = addr("2001:db8::80");
	char t[256], u[256];

	assert_int_equal(upn_token_csrf_make(key, &c4, &s4, NOW, t, sizeof(t)), 0);
	assert_form(t, 'c');
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW, 3600), 0);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW + 3600, 3600), 0);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW + 3601, 3600), -ETIMEDOUT);
	/* Issued in the future: a clock set back a little is forgiven, not more. */
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW - UPN_TOKEN_SKEW_S, 3600), 0);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW - UPN_TOKEN_SKEW_S - 1, 3600),
			 -ETIMEDOUT);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, NOW, -1), -ETIMEDOUT);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, INT64_MAX, INT64_MAX), 0);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s4, INT64_MIN, 3600), -ETIMEDOUT);
	/* Bound to the client and the server. */
	assert_int_equal(upn_token_csrf_check(key, t, &c6, &s4, NOW, 3600), -EACCES);
	assert_int_equal(upn_token_csrf_check(key, t, &c4, &s6, NOW, 3600), -EACCES);
	{
		struct upn_addr near = addr("198.51.100.8");

		assert_int_equal(upn_token_csrf_check(key, t, &near, &s4, NOW, 3600), -EACCES);
	}
	assert_int_equal(upn_token_csrf_check(other_key, t, &c4, &s4, NOW, 3600), -EBADMSG);
	/* IPv6, and mixed families. */
	assert_int_equal(upn_token_csrf_make(key, &c6, &s6, NOW, u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c6, &s6, NOW + 10, 60), 0);
	assert_int_equal(upn_token_csrf_make(key, &c6, &s4, NOW, u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c6, &s4, NOW, 60), 0);
	/* Extreme times round-trip (big-endian two's complement). */
	assert_int_equal(upn_token_csrf_make(key, &c4, &s4, INT64_MIN, u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c4, &s4, INT64_MAX, 3600), -ETIMEDOUT);
	assert_int_equal(upn_token_csrf_make(key, &c4, &s4, -5, u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c4, &s4, 0, 5), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c4, &s4, 1, 5), -ETIMEDOUT);
	/* Another kind's token with the right MAC is no CSRF token. */
	assert_int_equal(upn_token_unsub_make(key, "a@b", u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c4, &s4, NOW, 3600), -EINVAL);
	/* A CSRF-kind token of another layout (right MAC, wrong size). */
	assert_int_equal(upn_token_make(key, 'c', "short", 5, u, sizeof(u)), 0);
	assert_int_equal(upn_token_csrf_check(key, u, &c4, &s4, NOW, 3600), -EINVAL);
	/* Bad addresses are not signed. */
	{
		struct upn_addr none = { 0 }, junk = c4;

		junk.a[8] = 1;
		assert_int_equal(upn_token_csrf_make(key, &none, &s4, NOW, u, sizeof(u)), -EINVAL);
		assert_int_equal(upn_token_csrf_make(key, &c4, &junk, NOW, u, sizeof(u)), -EINVAL);
	}
	assert_int_equal(upn_token_csrf_make(key, &c4, &s4, NOW, u, 20), -ENOSPC);
}

static struct upn_token_confirm confirm(const char *client, const char *server, int64_t expires,
					const char *mail)
{
	struct upn_token_confirm c;

	memset(&c, 0, sizeof(c));
	c.client = addr(client);
	c.server = addr(server);
	c.expires = expires;
	snprintf(c.mail, sizeof(c.mail), "%s", mail);
	return c;
}

static void assert_confirm_eq(const struct upn_token_confirm *a, const struct upn_token_confirm *b)
{
	assert_true(upn_addr_eq(&a->client, &b->client));
	assert_true(upn_addr_eq(&a->server, &b->server));
	assert_int_equal(a->expires, b->expires);
	assert_string_equal(a->mail, b->mail);
}

static void test_confirm(void **state)
{
	struct upn_token_confirm c = confirm("198.51.100.7", "2001:db8::80", NOW + 86400,
					     "sato@xxx.yyy.co.jp"),
				 out, longest;
	char t[UPN_TOKEN_LEN_MAX + 1];

	assert_int_equal(upn_token_confirm_make(key, &c, t, sizeof(t)), 0);
	assert_form(t, 'k');
	memset(&out, 0xaa, sizeof(out));
	assert_int_equal(upn_token_confirm_open(key, t, NOW, &out), 0);
	assert_confirm_eq(&out, &c);
	assert_int_equal(upn_token_confirm_open(key, t, NOW + 86400, &out), 0);
	/* Expired: said so, with the contents (the MAC verified). */
	memset(&out, 0, sizeof(out));
	assert_int_equal(upn_token_confirm_open(key, t, NOW + 86401, &out), -ETIMEDOUT);
	assert_confirm_eq(&out, &c);
	/* Not filled when the MAC fails. */
	memset(&out, 0, sizeof(out));
	assert_int_equal(upn_token_confirm_open(other_key, t, NOW, &out), -EBADMSG);
	assert_int_equal(out.mail[0], 0);
	t[5] ^= 1;
	assert_true(upn_token_confirm_open(key, t, NOW, &out) < 0);

	/* The longest mail address makes the longest token, within its limit. */
	longest = confirm("2001:db8:ffff::ffff", "2001:db8::80", INT64_MAX, "");
	memset(longest.mail, 'm', UPN_TOKEN_MAIL_MAX);
	longest.mail[UPN_TOKEN_MAIL_MAX - 12] = '@';
	assert_int_equal(upn_token_confirm_make(key, &longest, t, sizeof(t)), 0);
	assert_true(strlen(t) <= UPN_TOKEN_LEN_MAX);
	print_message("longest confirm token: %zu characters\n", strlen(t));
	assert_int_equal(upn_token_confirm_open(key, t, NOW, &out), 0);
	assert_confirm_eq(&out, &longest);

	/* What is not signed. */
	c.mail[0] = '\0';
	assert_int_equal(upn_token_confirm_make(key, &c, t, sizeof(t)), -EINVAL);
	c = confirm("198.51.100.7", "192.0.2.80", NOW, "a@b\r\nBcc: c@d");
	assert_int_equal(upn_token_confirm_make(key, &c, t, sizeof(t)), -EINVAL);
	c = confirm("198.51.100.7", "192.0.2.80", NOW, "a@b");
	c.server.family = 0;
	assert_int_equal(upn_token_confirm_make(key, &c, t, sizeof(t)), -EINVAL);
	/* Other kinds, and a confirm-kind token with too short a payload. */
	assert_int_equal(upn_token_unsub_make(key, "a@b", t, sizeof(t)), 0);
	assert_int_equal(upn_token_confirm_open(key, t, NOW, &out), -EINVAL);
	{
		unsigned char p[42] = { 4 };

		p[17] = 4;
		assert_int_equal(upn_token_make(key, 'k', p, sizeof(p), t, sizeof(t)), 0);
		assert_int_equal(upn_token_confirm_open(key, t, NOW, &out), -EINVAL);
		/* A bad family byte, MAC and all. */
		unsigned char q[45] = { 5 };

		q[17] = 4;
		memcpy(q + 42, "a@b", 3);
		assert_int_equal(upn_token_make(key, 'k', q, sizeof(q), t, sizeof(t)), 0);
		assert_int_equal(upn_token_confirm_open(key, t, NOW, &out), -EINVAL);
		q[0] = 4;
		assert_int_equal(upn_token_make(key, 'k', q, sizeof(q), t, sizeof(t)), 0);
		assert_int_equal(upn_token_confirm_open(key, t, 0, &out), 0);
		q[5] = 1; /* an IPv4 address with bytes past its 4 */
		assert_int_equal(upn_token_make(key, 'k', q, sizeof(q), t, sizeof(t)), 0);
		assert_int_equal(upn_token_confirm_open(key, t, 0, &out), -EINVAL);
	}
}

static void test_unsub(void **state)
{
	char t[UPN_TOKEN_LEN_MAX + 1], mail[UPN_TOKEN_MAIL_MAX + 1],
		longest[UPN_TOKEN_MAIL_MAX + 2];

	assert_int_equal(upn_token_unsub_make(key, "alice@example.org", t, sizeof(t)), 0);
	assert_form(t, 'u');
	assert_int_equal(upn_token_unsub_open(key, t, mail), 0);
	assert_string_equal(mail, "alice@example.org");
	assert_int_equal(upn_token_unsub_open(other_key, t, mail), -EBADMSG);

	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(upn_token_unsub_make(key, longest, t, sizeof(t)), -EINVAL);
	longest[UPN_TOKEN_MAIL_MAX] = '\0';
	assert_int_equal(upn_token_unsub_make(key, longest, t, sizeof(t)), 0);
	assert_int_equal(upn_token_unsub_open(key, t, mail), 0);
	assert_string_equal(mail, longest);
	assert_int_equal(upn_token_unsub_make(key, "", t, sizeof(t)), -EINVAL);
	assert_int_equal(upn_token_unsub_make(key, NULL, t, sizeof(t)), -EINVAL);
	assert_int_equal(upn_token_unsub_make(key, "a@b\n", t, sizeof(t)), -EINVAL);
	/* A signed payload that is no mail address (a NUL in it) is refused. */
	assert_int_equal(upn_token_make(key, 'u', "a\0b", 3, t, sizeof(t)), 0);
	assert_int_equal(upn_token_unsub_open(key, t, mail), -EINVAL);
	assert_int_equal(upn_token_make(key, 'u', "", 0, t, sizeof(t)), 0);
	assert_int_equal(upn_token_unsub_open(key, t, mail), -EINVAL);
}

static void test_urls(void **state)
{
	struct upn_token_confirm c = confirm("198.51.100.7", "192.0.2.80", NOW + 60,
					     "a@example.org"),
				 out;
	char url[UPN_TOKEN_URL_MAX + 1], t[UPN_TOKEN_LEN_MAX + 1], base[UPN_TOKEN_BASE_MAX + 2];
	char mail[UPN_TOKEN_MAIL_MAX + 1];
	const char *q;

	assert_int_equal(upn_token_unsub_make(key, "a@example.org", t, sizeof(t)), 0);
	assert_int_equal(upn_token_unsub_url(key, "http://10.0.1.1:8080", "a@example.org", url,
					     sizeof(url)),
			 0);
	assert_true(!strncmp(url, "http://10.0.1.1:8080/.upnotify/unsubscribe?t=", 45));
	assert_string_equal(url + 45, t);
	/* Trailing slashes go. */
	assert_int_equal(upn_token_unsub_url(key, "http://10.0.1.1:8080//", "a@example.org", url,
					     sizeof(url)),
			 0);
	assert_true(!strncmp(url, "http://10.0.1.1:8080/.upnotify/unsubscribe?t=u.", 47));
	assert_int_equal(upn_token_unsub_url(key, "http://gw.example.org/portal/", "a@example.org",
					     url, sizeof(url)),
			 0);
	assert_true(!strncmp(url, "http://gw.example.org/portal/.upnotify/unsubscribe?t=", 53));
	assert_int_equal(upn_token_unsub_open(key, url + 53, mail), 0);

	assert_int_equal(
		upn_token_confirm_url(key, "http://[2001:db8::1]:8080", &c, url, sizeof(url)), 0);
	q = "http://[2001:db8::1]:8080/.upnotify/confirm?t=";
	assert_true(!strncmp(url, q, strlen(q)));
	assert_int_equal(upn_token_confirm_open(key, url + strlen(q), NOW, &out), 0);
	assert_confirm_eq(&out, &c);

	/* The longest base with the longest token fits UPN_TOKEN_URL_MAX. */
	memset(base, 'b', UPN_TOKEN_BASE_MAX);
	memcpy(base, "http://", 7);
	base[UPN_TOKEN_BASE_MAX] = '\0';
	c = confirm("2001:db8::1", "2001:db8::2", 1, "");
	memset(c.mail, 'm', UPN_TOKEN_MAIL_MAX);
	assert_int_equal(upn_token_confirm_url(key, base, &c, url, sizeof(url)), 0);
	assert_int_equal(upn_token_unsub_url(key, base, c.mail, url, sizeof(url)), 0);
	assert_int_equal(upn_token_confirm_url(key, base, &c, url, 100), -ENOSPC);
	/* Bad bases. */
	base[UPN_TOKEN_BASE_MAX] = 'b';
	base[UPN_TOKEN_BASE_MAX + 1] = '\0';
	assert_int_equal(upn_token_unsub_url(key, base, "a@b", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "", "a@b", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, NULL, "a@b", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "/", "a@b", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "http://a b", "a@b", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "http://a\r\nX: y", "a@b", url, sizeof(url)),
			 -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "http://a", "", url, sizeof(url)), -EINVAL);
	assert_int_equal(upn_token_unsub_url(key, "http://a", "a@b", url, 10), -ENOSPC);
}

/* The MAC is crypto_auth's, whatever key came before: the keyed state kept per thread
 * must follow a change of key. */
static void test_mac_is_crypto_auth(void **state)
{
	unsigned char k1[UPN_TOKEN_KEYBYTES], k2[UPN_TOKEN_KEYBYTES], m[crypto_auth_BYTES];
	unsigned char in[1 + 5] = { 'x', 'h', 'e', 'l', 'l', 'o' }, bin[crypto_auth_BYTES];
	char tok[128], want[64];
	size_t blen;
	const char *dot;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	for (int round = 0; round < 4; round++) {
		const unsigned char *k = round & 1 ? k2 : k1;

		assert_int_equal(upn_token_make(k, 'x', in + 1, 5, tok, sizeof(tok)), 0);
		crypto_auth(m, in, sizeof(in), k);
		dot = strrchr(tok, '.');
		assert_non_null(dot);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), dot + 1, strlen(dot + 1), NULL,
						   &blen, NULL,
						   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
				 0);
		assert_int_equal(blen, sizeof(m));
		assert_memory_equal(bin, m, sizeof(m));
		/* And the other key's token does not open with this one. */
		assert_int_equal(upn_token_open(round & 1 ? k1 : k2, 'x', tok, want, sizeof(want),
						NULL),
				 -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_bad_form),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_confirm),
		cmocka_unit_test(test_unsub),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_mac_is_crypto_auth),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
