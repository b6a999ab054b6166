// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "token.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

enum {
	ADDR_BYTES = 17,
	TIME_BYTES = 8,
	CSRF_BYTES = 2 * ADDR_BYTES + TIME_BYTES,
	CONFIRM_FIXED = 2 * ADDR_BYTES + TIME_BYTES,
	MAC_B64 = (crypto_auth_BYTES * 4 + 2) / 3,
};

_Static_assert(crypto_auth_KEYBYTES == UPN_TOKEN_KEYBYTES, "crypto_auth key size");
/* Kind, dot, payload, dot, MAC: the longest token made must fit its limit, and the
 * largest payload must still open. */
_Static_assert(3 + ((CONFIRM_FIXED + UPN_TOKEN_MAIL_MAX) * 4 + 2) / 3 + MAC_B64 <=
		       UPN_TOKEN_LEN_MAX,
	       "UPN_TOKEN_LEN_MAX too small");
_Static_assert(3 + (UPN_TOKEN_PAYLOAD_MAX * 4 + 2) / 3 + MAC_B64 <= UPN_TOKEN_TEXT_MAX,
	       "UPN_TOKEN_PAYLOAD_MAX too large");
_Static_assert(CONFIRM_FIXED + UPN_TOKEN_MAIL_MAX <= UPN_TOKEN_PAYLOAD_MAX, "payload");

/* ---- the MAC ---- */

/* crypto_auth is HMAC-SHA-512-256, and HMAC hashes the padded key before any data:
 * half its cost on a short token. The keyed state is kept per thread (the portal's
 * loop and the mailer each have their own) and copied for each MAC; the MAC is the
 * same as crypto_auth's. */
struct keyed {
	bool set;
	unsigned char key[UPN_TOKEN_KEYBYTES];
	crypto_auth_hmacsha512256_state st;
};

static __thread struct keyed keyed;

static void mac(const unsigned char key[UPN_TOKEN_KEYBYTES], const unsigned char *in, size_t len,
		unsigned char out[crypto_auth_BYTES])
{
	crypto_auth_hmacsha512256_state st;

	if (!keyed.set || sodium_memcmp(keyed.key, key, UPN_TOKEN_KEYBYTES)) {
		memcpy(keyed.key, key, UPN_TOKEN_KEYBYTES);
		crypto_auth_hmacsha512256_init(&keyed.st, key, UPN_TOKEN_KEYBYTES);
		keyed.set = true;
	}
	st = keyed.st;
	crypto_auth_hmacsha512256_update(&st, in, len);
	crypto_auth_hmacsha512256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* ---- the generic form ---- */

static bool kind_ok(char kind)
{
	return kind >= 'a' && kind <= 'z';
}

int upn_token_make(const unsigned char key[UPN_TOKEN_KEYBYTES], char kind, const void *payload,
		   size_t len, char *out, size_t outlen)
{
	/* What the MAC covers: the kind byte, then the payload. */
	unsigned char buf[1 + UPN_TOKEN_PAYLOAD_MAX], m[crypto_auth_BYTES];
	size_t plen;

	if (!kind_ok(kind) || len > UPN_TOKEN_PAYLOAD_MAX || (len && !payload))
		return -EINVAL;
	plen = sodium_base64_ENCODED_LEN(len, B64) - 1;
	if (!out || outlen < 3 + plen + MAC_B64 + 1)
		return -ENOSPC;
	buf[0] = (unsigned char)kind;
	if (len)
		memcpy(buf + 1, payload, len);
	mac(key, buf, 1 + len, m);
	out[0] = kind;
	out[1] = '.';
	sodium_bin2base64(out + 2, plen + 1, buf + 1, len, B64);
	out[2 + plen] = '.';
	sodium_bin2base64(out + 3 + plen, MAC_B64 + 1, m, sizeof(m), B64);
	return 0;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Decodes exactly the @n characters at @s into @bin: the whole segment or nothing.
 * The alphabet is checked here first: libsodium 1.0.18 reads every byte above 0x7f
 * as a base64 digit (a signed char), which would give one token many texts. */
static int decode(const char *s, size_t n, unsigned char *bin, size_t cap, size_t *len)
{
	const char *end = NULL;

	for (size_t i = 0; i < n; i++)
		if (!b64_char(s[i]))
			return -EINVAL;
	if (sodium_base642bin(bin, cap, s, n, NULL, len, &end, B64) || end != s + n)
		return -EINVAL;
	return 0;
}

int upn_token_open(const unsigned char key[UPN_TOKEN_KEYBYTES], char kind, const char *text,
		   void *payload, size_t cap, size_t *len)
{
	unsigned char buf[1 + UPN_TOKEN_PAYLOAD_MAX], m[crypto_auth_BYTES];
	unsigned char want[crypto_auth_BYTES];
	size_t n, plen = 0, mlen;
	const char *dot;

	if (!text || !kind_ok(kind))
		return -EINVAL;
	n = strnlen(text, UPN_TOKEN_TEXT_MAX + 1);
	if (n > UPN_TOKEN_TEXT_MAX || n < 3 || text[0] != kind || text[1] != '.')
		return -EINVAL;
	dot = memchr(text + 2, '.', n - 2);
	if (!dot || decode(text + 2, (size_t)(dot - text - 2), buf + 1, sizeof(buf) - 1, &plen) ||
	    decode(dot + 1, n - (size_t)(dot + 1 - text), m, sizeof(m), &mlen) || mlen != sizeof(m))
		return -EINVAL;
	buf[0] = (unsigned char)kind;
	/* Constant-time; nothing of the payload is looked at before it. */
	mac(key, buf, 1 + plen, want);
	if (sodium_memcmp(m, want, sizeof(m)))
		return -EBADMSG;
	if (plen > cap)
		return -EINVAL;
	if (plen)
		memcpy(payload, buf + 1, plen);
	if (len)
		*len = plen;
	return 0;
}

/* ---- payload layouts ---- */

static bool addr_ok(const struct upn_addr *a)
{
	if (a->family == AF_INET) {
		for (size_t i = 4; i < sizeof(a->a); i++)
			if (a->a[i])
				return false;
		return true;
	}
	return a->family == AF_INET6;
}

static unsigned char *put_addr(unsigned char *p, const struct upn_addr *a)
{
	*p++ = a->family == AF_INET ? 4 : 6;
	memcpy(p, a->a, sizeof(a->a));
	return p + sizeof(a->a);
}

static bool get_addr(const unsigned char **p, struct upn_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (**p != 4 && **p != 6)
		return false;
	a->family = **p == 4 ? AF_INET : AF_INET6;
	memcpy(a->a, *p + 1, sizeof(a->a));
	*p += ADDR_BYTES;
	return addr_ok(a);
}

static unsigned char *put_time(unsigned char *p, int64_t t)
{
	uint64_t u = (uint64_t)t;

	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)u;
		u >>= 8;
	}
	return p + TIME_BYTES;
}

static int64_t get_time(const unsigned char **p)
{
	uint64_t u = 0;

	for (int i = 0; i < TIME_BYTES; i++)
		u = u << 8 | (*p)[i];
	*p += TIME_BYTES;
	return (int64_t)u;
}

/* What the store and the mailer would take: visible characters, no line end. */
static bool mail_bytes_ok(const unsigned char *m, size_t len)
{
	if (len == 0 || len > UPN_TOKEN_MAIL_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (m[i] < 0x20 || m[i] == 0x7f)
			return false;
	return true;
}

static size_t mail_len(const char *mail)
{
	return mail ? strnlen(mail, UPN_TOKEN_MAIL_MAX + 1) : 0;
}

/* ---- csrf ---- */

int upn_token_csrf_make(const unsigned char key[UPN_TOKEN_KEYBYTES], const struct upn_addr *client,
			const struct upn_addr *server, int64_t issued, char *out, size_t outlen)
{
	unsigned char p[CSRF_BYTES], *q = p;

	if (!addr_ok(client) || !addr_ok(server))
		return -EINVAL;
	q = put_addr(q, client);
	q = put_addr(q, server);
	put_time(q, issued);
	return upn_token_make(key, UPN_TOKEN_CSRF, p, sizeof(p), out, outlen);
}

int upn_token_csrf_check(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			 const struct upn_addr *client, const struct upn_addr *server, int64_t now,
			 int64_t max_age)
{
	unsigned char p[CSRF_BYTES];
	const unsigned char *q = p;
	struct upn_addr c, s;
	int64_t issued;
	size_t len;
	int ret;

	ret = upn_token_open(key, UPN_TOKEN_CSRF, text, p, sizeof(p), &len);
	if (ret)
		return ret;
	if (len != sizeof(p) || !get_addr(&q, &c) || !get_addr(&q, &s))
		return -EINVAL;
	issued = get_time(&q);
	if (!upn_addr_eq(&c, client) || !upn_addr_eq(&s, server))
		return -EACCES;
	/* Differences in unsigned: far-off times must not overflow. */
	if (issued > now)
		return (uint64_t)issued - (uint64_t)now > UPN_TOKEN_SKEW_S ? -ETIMEDOUT : 0;
	if (max_age < 0 || (uint64_t)now - (uint64_t)issued > (uint64_t)max_age)
		return -ETIMEDOUT;
	return 0;
}

/* ---- confirm ---- */

int upn_token_confirm_make(const unsigned char key[UPN_TOKEN_KEYBYTES],
			   const struct upn_token_confirm *c, char *out, size_t outlen)
{
	unsigned char p[CONFIRM_FIXED + UPN_TOKEN_MAIL_MAX], *q = p;
	size_t ml = strnlen(c->mail, sizeof(c->mail));

	if (!addr_ok(&c->client) || !addr_ok(&c->server) || ml == sizeof(c->mail) ||
	    !mail_bytes_ok((const unsigned char *)c->mail, ml))
		return -EINVAL;
	q = put_addr(q, &c->client);
	q = put_addr(q, &c->server);
	q = put_time(q, c->expires);
	memcpy(q, c->mail, ml);
	return upn_token_make(key, UPN_TOKEN_CONFIRM, p, CONFIRM_FIXED + ml, out, outlen);
}

int upn_token_confirm_open(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			   int64_t now, struct upn_token_confirm *out)
{
	unsigned char p[CONFIRM_FIXED + UPN_TOKEN_MAIL_MAX];
	const unsigned char *q = p;
	struct upn_token_confirm c;
	size_t len;
	int ret;

	ret = upn_token_open(key, UPN_TOKEN_CONFIRM, text, p, sizeof(p), &len);
	if (ret)
		return ret;
	memset(&c, 0, sizeof(c));
	if (len <= CONFIRM_FIXED || !get_addr(&q, &c.client) || !get_addr(&q, &c.server))
		return -EINVAL;
	c.expires = get_time(&q);
	if (!mail_bytes_ok(q, len - CONFIRM_FIXED))
		return -EINVAL;
	memcpy(c.mail, q, len - CONFIRM_FIXED);
	*out = c;
	return now > c.expires ? -ETIMEDOUT : 0;
}

/* ---- unsubscribe ---- */

int upn_token_unsub_make(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *mail, char *out,
			 size_t outlen)
{
	size_t ml = mail_len(mail);

	if (!mail_bytes_ok((const unsigned char *)mail, ml))
		return -EINVAL;
	return upn_token_make(key, UPN_TOKEN_UNSUB, mail, ml, out, outlen);
}

int upn_token_unsub_open(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			 char mail[UPN_TOKEN_MAIL_MAX + 1])
{
	unsigned char p[UPN_TOKEN_MAIL_MAX];
	size_t len;
	int ret;

	ret = upn_token_open(key, UPN_TOKEN_UNSUB, text, p, sizeof(p), &len);
	if (ret)
		return ret;
	if (!mail_bytes_ok(p, len))
		return -EINVAL;
	memcpy(mail, p, len);
	mail[len] = '\0';
	return 0;
}

/* ---- links ---- */

/* The base without its trailing slashes: its length, or 0 when it is unusable. */
static size_t base_len(const char *base)
{
	size_t n = base ? strnlen(base, UPN_TOKEN_BASE_MAX + 1) : 0;

	if (n > UPN_TOKEN_BASE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)base[i] <= 0x20 || (unsigned char)base[i] >= 0x7f)
			return 0;
	while (n && base[n - 1] == '/')
		n--;
	return n;
}

static int url(const char *base, const char *path, const char *token, char *out, size_t outlen)
{
	size_t n = base_len(base);
	int len;

	if (!n)
		return -EINVAL;
	len = snprintf(out, outlen, "%.*s/.upnotify/%s?t=%s", (int)n, base, path, token);
	return len < 0 || (size_t)len >= outlen ? -ENOSPC : 0;
}

int upn_token_unsub_url(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *base,
			const char *mail, char *out, size_t outlen)
{
	char t[UPN_TOKEN_LEN_MAX + 1];
	int ret;

	if (!base_len(base))
		return -EINVAL;
	ret = upn_token_unsub_make(key, mail, t, sizeof(t));
	return ret ? ret : url(base, "unsubscribe", t, out, outlen);
}

int upn_token_confirm_url(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *base,
			  const struct upn_token_confirm *c, char *out, size_t outlen)
{
	char t[UPN_TOKEN_LEN_MAX + 1];
	int ret;

	if (!base_len(base))
		return -EINVAL;
	ret = upn_token_confirm_make(key, c, t, sizeof(t));
	return ret ? ret : url(base, "confirm", t, out, outlen);
}
