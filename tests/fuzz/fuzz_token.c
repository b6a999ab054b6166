// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The portal's signed tokens (token.h), with a fixed key. The first byte picks:
 *
 *   even: the rest is token text from the network, given to upn_token_open() and
 *         to each typed verifier. Each answers one of its documented codes, and
 *         whatever opens must come out of the matching make byte for byte: a
 *         token has one text form, and a verifier accepts only what was signed.
 *   odd:  the rest is a payload, signed as kind "ckuz"[(byte >> 1) % 4]; opening
 *         gives it back, and the typed verifiers agree with an independent
 *         reading of the layout here (they see any payload this way, not only
 *         the few well-formed ones a MAC lets through from the seeds).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "token.h"

#define NOW 1700000000
#define MAX_AGE 3600

static const unsigned char key[UPN_TOKEN_KEYBYTES] = {
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};

/* ---- the layout, read independently of token.c ---- */

static bool rd_addr(const uint8_t *p, struct upn_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (p[0] == 4) {
		for (int i = 5; i < 17; i++)
			if (p[i])
				return false;
		a->family = AF_INET;
	} else if (p[0] == 6) {
		a->family = AF_INET6;
	} else {
		return false;
	}
	memcpy(a->a, p + 1, 16);
	return true;
}

static int64_t rd_time(const uint8_t *p)
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)u;
}

static bool rd_mail(const uint8_t *p, size_t n)
{
	if (n == 0 || n > UPN_TOKEN_MAIL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static bool csrf_time_ok(int64_t issued)
{
	if (issued > NOW)
		return (uint64_t)issued - NOW <= UPN_TOKEN_SKEW_S;
	return (uint64_t)NOW - (uint64_t)issued <= MAX_AGE;
}

/* ---- text from the network ---- */

static void text_mode(const char *t)
{
	static const struct upn_addr c0 = { .family = AF_INET, .a = { 198, 51, 100, 7 } };
	static const struct upn_addr s0 = { .family = AF_INET, .a = { 192, 0, 2, 80 } };
	unsigned char p[UPN_TOKEN_PAYLOAD_MAX];
	char again[UPN_TOKEN_TEXT_MAX + 1], mail[UPN_TOKEN_MAIL_MAX + 1];
	struct upn_token_confirm c;
	size_t len;
	int ret;

	/* The generic form, under the kind the text claims and another. */
	for (int i = 0; i < 2; i++) {
		char kind = i ? 'c' : (t[0] >= 'a' && t[0] <= 'z' ? t[0] : 'u');

		len = 0;
		ret = upn_token_open(key, kind, t, p, sizeof(p), &len);
		CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG);
		if (ret)
			continue;
		CHECK(strlen(t) <= UPN_TOKEN_TEXT_MAX);
		CHECK(!upn_token_make(key, kind, p, len, again, sizeof(again)));
		CHECK(!strcmp(again, t));
	}

	ret = upn_token_csrf_check(key, t, &c0, &s0, NOW, MAX_AGE);
	CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG || ret == -EACCES || ret == -ETIMEDOUT);

	memset(&c, 0, sizeof(c));
	ret = upn_token_confirm_open(key, t, NOW, &c);
	CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG || ret == -ETIMEDOUT);
	if (ret == 0 || ret == -ETIMEDOUT) {
		CHECK((ret == 0) == (c.expires >= NOW));
		CHECK(!upn_token_confirm_make(key, &c, again, sizeof(again)));
		CHECK(!strcmp(again, t));
	}

	ret = upn_token_unsub_open(key, t, mail);
	CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG);
	if (!ret) {
		CHECK(!upn_token_unsub_make(key, mail, again, sizeof(again)));
		CHECK(!strcmp(again, t));
	}
}

/* ---- any payload, signed ---- */

static void payload_mode(char kind, const uint8_t *p, size_t n)
{
	unsigned char back[UPN_TOKEN_PAYLOAD_MAX];
	char t[UPN_TOKEN_TEXT_MAX + 1], mail[UPN_TOKEN_MAIL_MAX + 1];
	struct upn_token_confirm c;
	struct upn_addr ca, sa;
	size_t len = 0;
	int ret;

	if (n > UPN_TOKEN_PAYLOAD_MAX)
		n = UPN_TOKEN_PAYLOAD_MAX;
	CHECK(!upn_token_make(key, kind, p, n, t, sizeof(t)));
	CHECK(strlen(t) <= UPN_TOKEN_TEXT_MAX);
	CHECK(!upn_token_open(key, kind, t, back, sizeof(back), &len));
	CHECK(len == n && !memcmp(back, p, n));
	if (n)
		CHECK(upn_token_open(key, kind, t, back, n - 1, &len) == -EINVAL);

	switch (kind) {
	case UPN_TOKEN_CSRF: {
		bool layout = n == 42 && rd_addr(p, &ca) && rd_addr(p + 17, &sa);

		if (!layout) {
			static const struct upn_addr any = { .family = AF_INET6 };

			CHECK(upn_token_csrf_check(key, t, &any, &any, NOW, MAX_AGE) == -EINVAL);
			break;
		}
		ret = upn_token_csrf_check(key, t, &ca, &sa, NOW, MAX_AGE);
		CHECK(ret == (csrf_time_ok(rd_time(p + 34)) ? 0 : -ETIMEDOUT));
		if (!ret) {
			char again[UPN_TOKEN_TEXT_MAX + 1];

			CHECK(!upn_token_csrf_make(key, &ca, &sa, rd_time(p + 34), again,
						   sizeof(again)));
			CHECK(!strcmp(again, t));
		}
		/* Bound to its own client: any other is refused. */
		ca.a[ca.family == AF_INET ? 3 : 15] ^= 1;
		CHECK(upn_token_csrf_check(key, t, &ca, &sa, NOW, MAX_AGE) == -EACCES);
		break;
	}
	case UPN_TOKEN_CONFIRM: {
		bool layout = n > 42 && rd_addr(p, &ca) && rd_addr(p + 17, &sa) &&
			      rd_mail(p + 42, n - 42);
		int64_t expires = n >= 42 ? rd_time(p + 34) : 0;

		ret = upn_token_confirm_open(key, t, NOW, &c);
		if (!layout) {
			CHECK(ret == -EINVAL);
			break;
		}
		CHECK(ret == (expires >= NOW ? 0 : -ETIMEDOUT));
		CHECK(upn_addr_eq(&c.client, &ca) && upn_addr_eq(&c.server, &sa));
		CHECK(c.expires == expires);
		CHECK(strlen(c.mail) == n - 42 && !memcmp(c.mail, p + 42, n - 42));
		break;
	}
	case UPN_TOKEN_UNSUB:
		ret = upn_token_unsub_open(key, t, mail);
		CHECK(ret == (rd_mail(p, n) ? 0 : -EINVAL));
		if (!ret)
			CHECK(strlen(mail) == n && !memcmp(mail, p, n));
		break;
	default:
		/* No typed verifier takes another kind's token. */
		CHECK(upn_token_unsub_open(key, t, mail) == -EINVAL);
		CHECK(upn_token_confirm_open(key, t, NOW, &c) == -EINVAL);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t;

	if (!size)
		return 0;
	if (data[0] & 1) {
		payload_mode("ckuz"[(data[0] >> 1) % 4], data + 1, size - 1);
		return 0;
	}
	t = strndup((const char *)data + 1, size - 1);
	CHECK(t);
	text_mode(t);
	free(t);
	return 0;
}
