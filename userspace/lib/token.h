/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Signed tokens: the portal's CSRF field and the links in its mails, which carry
 * their own state so that the gateway keeps none per form or per mail sent.
 *
 * Text form "<kind>.<payload>.<mac>": kind one lowercase letter, payload and mac in
 * unpadded base64url (RFC 4648 section 5), so a token goes into a URL, a form field
 * and a mail body as it is. The MAC is libsodium's crypto_auth (HMAC-SHA-512-256)
 * with a 32-byte key over the kind byte followed by the payload bytes: a token of
 * one kind never passes for another. Verification is constant-time
 * (crypto_auth_verify). Base64 is decoded strictly (no padding, no whitespace, no
 * stray bits), so each token has exactly one text form.
 *
 * The typed payloads are fixed binary layouts, big-endian:
 *   address  1 byte family (4 or 6) + 16 bytes, an IPv4 address in the first 4
 *   time     8 bytes, unix seconds, two's complement
 *   c csrf        client address, server address, issued time           42 bytes
 *   k confirm     client address, server address, expiry time, mail   42 + mail
 *   u unsubscribe mail                                                    mail
 * A mail address is 1..UPN_TOKEN_MAIL_MAX bytes with no control character. */
#ifndef UPN_TOKEN_H
#define UPN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define UPN_TOKEN_KEYBYTES 32

#define UPN_TOKEN_CSRF 'c'
#define UPN_TOKEN_CONFIRM 'k'
#define UPN_TOKEN_UNSUB 'u'

enum upn_token_limits {
	/* RFC 5321's path limit, as UPN_MAIL_MAX (the daemon checks they agree). */
	UPN_TOKEN_MAIL_MAX = 254,
	/* The longest link base (gateway_url), as UPN_URL_MAX. */
	UPN_TOKEN_BASE_MAX = 200,
	/* The longest token made: a confirm token with the longest mail address is
	 * 1 + 1 + 395 + 1 + 43 = 441 characters. */
	UPN_TOKEN_LEN_MAX = 448,
	/* The longest link: base, "/.upnotify/unsubscribe?t=" and a token. */
	UPN_TOKEN_URL_MAX = UPN_TOKEN_BASE_MAX + 32 + UPN_TOKEN_LEN_MAX,
	/* Text longer than this is refused before any decoding: it came from the
	 * network and no token of ours is that long. */
	UPN_TOKEN_TEXT_MAX = 1024,
	/* The most payload a token may carry (what UPN_TOKEN_TEXT_MAX can hold). */
	UPN_TOKEN_PAYLOAD_MAX = 720,
	/* A CSRF token issued this far in the future (the clock was set back) still
	 * passes. */
	UPN_TOKEN_SKEW_S = 60,
};

/* The generic form. Each returns 0 or a negative errno:
 *   make: -EINVAL for a kind that is not a lowercase letter or a payload over
 *         UPN_TOKEN_PAYLOAD_MAX; -ENOSPC when @out (with its NUL) is too small.
 *   open: -EINVAL for bad form: another kind, bad base64, no MAC of the right
 *         size, text over UPN_TOKEN_TEXT_MAX, a payload over @cap; -EBADMSG for a
 *         MAC that does not verify. The payload and *@len are set on 0 only. */
int upn_token_make(const unsigned char key[UPN_TOKEN_KEYBYTES], char kind, const void *payload,
		   size_t len, char *out, size_t outlen);
int upn_token_open(const unsigned char key[UPN_TOKEN_KEYBYTES], char kind, const char *text,
		   void *payload, size_t cap, size_t *len);

/* CSRF: a form's hidden field, bound to the client and the server it was shown
 * for. check: 0; -EINVAL, -EBADMSG as upn_token_open (and -EINVAL for a payload
 * that is not a CSRF layout); -EACCES for another client or server; -ETIMEDOUT when
 * issued more than @max_age seconds before @now, or more than UPN_TOKEN_SKEW_S
 * after it. make: -EINVAL for an address that is no AF_INET/AF_INET6 one. */
int upn_token_csrf_make(const unsigned char key[UPN_TOKEN_KEYBYTES], const struct upn_addr *client,
			const struct upn_addr *server, int64_t issued, char *out, size_t outlen);
int upn_token_csrf_check(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			 const struct upn_addr *client, const struct upn_addr *server, int64_t now,
			 int64_t max_age);

/* Confirm (double opt-in): everything the registration needs, so that clicking the
 * link can register without any state kept since the form was sent. */
struct upn_token_confirm {
	struct upn_addr client, server;
	int64_t expires; /* unix seconds */
	char mail[UPN_TOKEN_MAIL_MAX + 1];
};

/* make: -EINVAL for a bad address or mail. open: as upn_token_open, and
 * -ETIMEDOUT when @now is past expires; @out is filled whenever the MAC verified
 * and the layout is good, that is on 0 and on -ETIMEDOUT. */
int upn_token_confirm_make(const unsigned char key[UPN_TOKEN_KEYBYTES],
			   const struct upn_token_confirm *c, char *out, size_t outlen);
int upn_token_confirm_open(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			   int64_t now, struct upn_token_confirm *out);

/* Unsubscribe: the mail address alone, and no expiry: RFC 8058 links must keep
 * working for as long as the mails that carry them are read. @mail of open holds
 * UPN_TOKEN_MAIL_MAX + 1 bytes. */
int upn_token_unsub_make(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *mail, char *out,
			 size_t outlen);
int upn_token_unsub_open(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *text,
			 char mail[UPN_TOKEN_MAIL_MAX + 1]);

/* "BASE/.upnotify/unsubscribe?t=TOKEN" and "BASE/.upnotify/confirm?t=TOKEN"; the
 * trailing slashes of @base are dropped. -EINVAL for an empty @base, one over
 * UPN_TOKEN_BASE_MAX or holding anything but visible ASCII, or a bad mail/address;
 * -ENOSPC for a short @out (UPN_TOKEN_URL_MAX + 1 always suffices). */
int upn_token_unsub_url(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *base,
			const char *mail, char *out, size_t outlen);
int upn_token_confirm_url(const unsigned char key[UPN_TOKEN_KEYBYTES], const char *base,
			  const struct upn_token_confirm *c, char *out, size_t outlen);

#endif
