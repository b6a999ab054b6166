// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Relay lists (relaymsg.h) as an agent receives them, with a fixed key. The input
 * is a mail body; when its first line is "sig: VALUE", VALUE is taken as the
 * X-Upnotify-Signature header of the rest.
 *
 * - upn_relay_verify() answers one of its verdicts for any header; a header it
 *   accepts must be the one upn_relay_sign() makes for that time.
 * - Signing the body and verifying it again, and after the changes the canonical
 *   form ignores (CRLF, trailing blanks, trailing blank lines), gives OK.
 * - A list upn_relay_parse() accepts keeps its promises (count, no duplicate, first
 *   <= last, a valid id), and writes out as a body that parses back to the same
 *   list, and as JSON that jansson reads.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "relaymsg.h"

#define NOW 1795352400
#define MAX_AGE (7 * 86400)

static const struct upn_relay_key key = {
	"k1",
	{ 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	  0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	  0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42 },
	32,
};

static void check_list(const struct upn_relay_list *l)
{
	CHECK(strlen(l->id) == UPN_RELAY_ID_LEN);
	CHECK(l->nclients <= UPN_RELAY_CLIENTS_MAX);
	CHECK(l->nclients == 0 || l->clients);
	for (size_t i = 0; i < l->nclients; i++) {
		CHECK(l->clients[i].first <= l->clients[i].last);
		/* Small lists only: quadratic. */
		for (size_t j = i + 1; j < l->nclients && l->nclients < 200; j++)
			CHECK(!upn_addr_eq(&l->clients[i].client, &l->clients[j].client));
	}
}

static void same_list(const struct upn_relay_list *a, const struct upn_relay_list *b)
{
	CHECK(!strcmp(a->id, b->id));
	CHECK(upn_addr_eq(&a->server, &b->server));
	CHECK(!strcmp(a->server_name, b->server_name));
	CHECK(a->down_since == b->down_since && a->recovered == b->recovered);
	CHECK(a->cause == b->cause && a->nclients == b->nclients);
	for (size_t i = 0; i < a->nclients; i++) {
		CHECK(upn_addr_eq(&a->clients[i].client, &b->clients[i].client));
		CHECK(a->clients[i].first == b->clients[i].first);
		CHECK(a->clients[i].last == b->clients[i].last);
		CHECK(a->clients[i].attempts == b->clients[i].attempts);
		CHECK(a->clients[i].port == b->clients[i].port);
	}
}

static void signatures(const struct upn_relay_keys *keys, const char *hdr, const char *body,
		       size_t len)
{
	char mine[UPN_RELAY_SIG_MAX], id[UPN_RELAY_KEYID_MAX + 1];
	enum upn_relay_verdict v;
	char *more;

	if (hdr) {
		v = upn_relay_verify(keys, hdr, body, len, true, NOW, MAX_AGE, id);
		CHECK(v <= UPN_RELAY_EXPIRED);
		CHECK(strcmp(upn_relay_verdict_name(v), "unknown"));
		if (v == UPN_RELAY_OK) {
			const char *t = strstr(hdr, "t=");

			CHECK(!strcmp(id, "k1") && t);
			CHECK(!upn_relay_sign(&key, strtoll(t + 2, NULL, 10), body, len, true, mine,
					      sizeof(mine)));
			CHECK(strstr(hdr, mine + strlen(mine) - 64));
		}
		v = upn_relay_verify(keys, hdr, body, len, false, NOW, MAX_AGE, id);
		CHECK(v <= UPN_RELAY_EXPIRED);
	}
	CHECK(!upn_relay_sign(&key, NOW, body, len, true, mine, sizeof(mine)));
	CHECK(upn_relay_verify(keys, mine, body, len, true, NOW, MAX_AGE, id) == UPN_RELAY_OK);
	CHECK(!upn_relay_sign(&key, NOW, body, len, false, mine, sizeof(mine)));
	CHECK(upn_relay_verify(keys, mine, body, len, false, NOW, MAX_AGE, id) == UPN_RELAY_OK);
	/* What a mail transport may do to the text does not break a mail signature. */
	CHECK(!upn_relay_sign(&key, NOW, body, len, true, mine, sizeof(mine)));
	more = malloc(len + 8);
	if (len)
		memcpy(more, body, len);
	memcpy(more + len, " \r\n\t\n\r\n", 7);
	CHECK(upn_relay_verify(keys, mine, more, len + 7, true, NOW, MAX_AGE, id) == UPN_RELAY_OK);
	free(more);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upn_relay_keys keys = { (struct upn_relay_key *)&key, 1 };
	struct upn_relay_list l, back;
	const char *body = (const char *)data;
	char *hdr = NULL, err[128];
	size_t len = size;

	if (size > (1 << 20))
		return 0;
	if (size > 5 && !memcmp(data, "sig: ", 5)) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - body) - 5 : size - 5;

		hdr = strndup(body + 5, n);
		body = nl ? nl + 1 : body + size;
		len = size - (size_t)(body - (const char *)data);
	}
	signatures(&keys, hdr, body, len);
	free(hdr);

	if (upn_relay_parse(body, len, &l, err, sizeof(err)) == 0) {
		char *out, *json;
		json_t *doc;

		check_list(&l);
		out = upn_relay_body(&l);
		CHECK(out);
		CHECK(upn_relay_parse(out, strlen(out), &back, err, sizeof(err)) == 0);
		same_list(&l, &back);
		upn_relay_list_free(&back);
		json = upn_relay_json(&l);
		CHECK(json);
		doc = json_loads(json, 0, NULL);
		CHECK(doc);
		CHECK(json_array_size(json_object_get(doc, "clients")) == l.nclients);
		json_decref(doc);
		free(json);
		free(out);
		upn_relay_list_free(&l);
	} else {
		CHECK(!strncmp(err, "line ", 5));
		CHECK(!l.clients && !l.nclients);
	}
	return 0;
}
