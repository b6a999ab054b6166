/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The relay list: the clients that waited for a server, handed to an agent (mail) or
 * a webhook (JSON) when the server is back. Its text and JSON forms, the key file,
 * and the HMAC-SHA256 signature (header X-Upnotify-Signature) that makes it trusted. */
#ifndef UPN_RELAYMSG_H
#define UPN_RELAYMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define UPN_RELAY_ID_LEN 32    /* hex digits */
#define UPN_RELAY_KEYID_MAX 64 /* [A-Za-z0-9._-]{1,64} */
#define UPN_RELAY_CLIENTS_MAX 1000000
/* The header value: "v=1; k=" KEYID "; t=" 20 digits "; s=" 64 hex, and room. */
#define UPN_RELAY_SIG_MAX 192
#define UPN_RELAY_SIG_HEADER "X-Upnotify-Signature"
/* A signature this far in the future is refused (clock skew allowance). */
#define UPN_RELAY_FUTURE_S 300

struct upn_relay_client {
	struct upn_addr client;
	int64_t first, last;
	uint32_t attempts;
	uint16_t port;
};

struct upn_relay_list {
	char id[UPN_RELAY_ID_LEN + 1]; /* names this relay: Message-ID local part, replay key */
	struct upn_addr server;
	char server_name[256];	       /* "" when unknown */
	int64_t down_since, recovered; /* unix seconds */
	uint8_t cause;		       /* enum upnotify_cause of the recovery */
	struct upn_relay_client *clients;
	size_t nclients;
};

/* The mail body (LF line ends, already canonical), malloc'ed; NULL+errno. */
char *upn_relay_body(const struct upn_relay_list *l);
/* The webhook document, malloc'ed compact JSON (jansson). */
char *upn_relay_json(const struct upn_relay_list *l);
/* Parses the machine-readable block out of a (decoded) mail body; anything around it
 * is ignored. 0 or -EINVAL with "line N: why" in err. Allocates clients. */
int upn_relay_parse(const char *body, size_t len, struct upn_relay_list *out, char *err,
		    size_t errlen);
void upn_relay_list_free(struct upn_relay_list *l);
/* The earliest first and the latest last attempt of the list's clients; 0 and 0 for
 * none. */
void upn_relay_span(const struct upn_relay_list *l, int64_t *first, int64_t *last);

struct upn_relay_key {
	char id[UPN_RELAY_KEYID_MAX + 1];
	unsigned char key[64];
	size_t len;
};

struct upn_relay_keys {
	struct upn_relay_key *v;
	size_t n;
};

/* Key file: lines "KEYID HEXKEY", '#' comments, blank lines; HEXKEY 32..128 hex digits
 * (16..64 bytes). Refuses a file readable by group/other (like ssh does), a duplicate
 * id, a bad line: -EINVAL with "path:line: why". */
int upn_relay_keys_load(const char *path, struct upn_relay_keys *out, char *err, size_t errlen);
const struct upn_relay_key *upn_relay_key_find(const struct upn_relay_keys *k, const char *id);
void upn_relay_keys_free(struct upn_relay_keys *k);
/* Is @id a valid key id ([A-Za-z0-9._-]{1,64})? */
bool upn_relay_keyid_ok(const char *id);
/* Is @s one or more of A-Z a-z 0-9 . - _ : the characters a host name (a relay
 * list's server name, a PTR answer) may have to be printed in a mail or a log? */
bool upn_relay_name_chars_ok(const char *s);

/* Header value "v=1; k=KEYID; t=UNIX; s=<64 hex>" (the header is
 * X-Upnotify-Signature). MAC = HMAC-SHA256(key, "upnotify-relay-v1\nk=KEYID\nt=UNIX\n" || P)
 * where P is the canonical form of the payload when @mail is true (CRLF->LF, trailing
 * blanks/tabs of each line removed, trailing empty lines removed, exactly one final
 * LF) and the exact bytes when false (webhook JSON). OpenSSL libcrypto: HMAC() with
 * EVP_sha256(), compare with CRYPTO_memcmp. 0, -EINVAL, -ENOSPC or -ENOMEM. */
int upn_relay_sign(const struct upn_relay_key *k, int64_t t, const char *payload, size_t len,
		   bool mail, char *hdr, size_t hdrlen);

enum upn_relay_verdict {
	UPN_RELAY_OK,
	UPN_RELAY_UNSIGNED,
	UPN_RELAY_MALFORMED,
	UPN_RELAY_UNKNOWN_KEY,
	UPN_RELAY_FORGED,
	UPN_RELAY_EXPIRED,
};

/* @hdr NULL -> UNSIGNED. EXPIRED when t < now - max_age or t > now + 300. Fills
 * @key_id (UPN_RELAY_KEYID_MAX+1) when the header parsed. */
enum upn_relay_verdict upn_relay_verify(const struct upn_relay_keys *k, const char *hdr,
					const char *payload, size_t len, bool mail, int64_t now,
					uint32_t max_age_s, char *key_id);
/* "ok","unsigned","malformed","unknown-key","forged","expired" */
const char *upn_relay_verdict_name(enum upn_relay_verdict v);

#endif
