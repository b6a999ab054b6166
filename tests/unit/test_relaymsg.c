// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* Relay lists: body and JSON forms, parsing, the key file, signatures. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "event.h"
#include "relaymsg.h"
#include "timefmt.h"

#define NOW 1795352400 /* 2026-11-22T13:00:00Z */
#define ID "0123456789abcdef0123456789abcdef"
#define DAY 86400

static int64_t t(const char *s)
{
	int64_t v;

	assert_int_equal(upn_time_parse(s, &v), 0);
	return v;
}

static struct upn_relay_client clients3[3];

static struct upn_relay_list sample(void)
{
	struct upn_relay_list l = { .id = ID };

	l.server = addr("10.0.2.2");
	snprintf(l.server_name, sizeof(l.server_name), "srv1.example.test");
	l.down_since = t("2026-11-22T12:50:00Z");
	l.recovered = t("2026-11-22T13:00:00Z");
	l.cause = UPNOTIFY_CAUSE_TRAP;
	clients3[0] = (struct upn_relay_client){ addr("10.0.1.2"), t("2026-11-22T12:51:00Z"),
						 t("2026-11-22T12:55:00Z"), 4, 80 };
	clients3[1] = (struct upn_relay_client){ addr("2001:db8::7"), t("2026-11-22T12:52:00Z"),
						 t("2026-11-22T12:52:00Z"), 1, 443 };
	clients3[2] = (struct upn_relay_client){ addr("10.0.1.3"), t("2026-11-22T12:53:10Z"),
						 t("2026-11-22T12:59:59Z"), 4294967295u, 0 };
	l.clients = clients3;
	l.nclients = 3;
	return l;
}

static const char expected_body[] =
	"Server 10.0.2.2 (srv1.example.test) is reachable again since 2026-11-22T13:00:00Z.\n"
	"3 clients tried to reach it while it was down, from 2026-11-22T12:51:00Z.\n"
	"Please tell them it is back. The list below is signed; upnotify-agent(8) reads it.\n"
	"\n"
	"-----BEGIN UPNOTIFY RELAY-----\n"
	"version: 1\n"
	"id: " ID "\n"
	"server: 10.0.2.2\n"
	"server-name: srv1.example.test\n"
	"down-since: 2026-11-22T12:50:00Z\n"
	"recovered: 2026-11-22T13:00:00Z\n"
	"cause: trap\n"
	"clients: 3\n"
	"SERVER IP ADDRESS\t: 10.0.2.2\n"
	"CLIENT IP ADDRESS\t: 10.0.1.2\tfirst=2026-11-22T12:51:00Z last=2026-11-22T12:55:00Z "
	"attempts=4 port=80\n"
	"CLIENT IP ADDRESS\t: 2001:db8::7\tfirst=2026-11-22T12:52:00Z last=2026-11-22T12:52:00Z "
	"attempts=1 port=443\n"
	"CLIENT IP ADDRESS\t: 10.0.1.3\tfirst=2026-11-22T12:53:10Z last=2026-11-22T12:59:59Z "
	"attempts=4294967295 port=0\n"
	"-----END UPNOTIFY RELAY-----\n";

static void assert_same_list(const struct upn_relay_list *a, const struct upn_relay_list *b)
{
	assert_string_equal(a->id, b->id);
	assert_true(upn_addr_eq(&a->server, &b->server));
	assert_string_equal(a->server_name, b->server_name);
	assert_int_equal(a->down_since, b->down_since);
	assert_int_equal(a->recovered, b->recovered);
	assert_int_equal(a->cause, b->cause);
	assert_int_equal(a->nclients, b->nclients);
	for (size_t i = 0; i < a->nclients; i++) {
		assert_true(upn_addr_eq(&a->clients[i].client, &b->clients[i].client));
		assert_int_equal(a->clients[i].first, b->clients[i].first);
		assert_int_equal(a->clients[i].last, b->clients[i].last);
		assert_int_equal(a->clients[i].attempts, b->clients[i].attempts);
		assert_int_equal(a->clients[i].port, b->clients[i].port);
	}
}

static void test_body_round_trip(void **state)
{
	struct upn_relay_list l = sample(), back;
	char err[128], *body;

	body = upn_relay_body(&l);
	assert_non_null(body);
	assert_string_equal(body, expected_body);
	assert_int_equal(upn_relay_parse(body, strlen(body), &back, err, sizeof(err)), 0);
	assert_same_list(&l, &back);
	upn_relay_list_free(&back);
	free(body);

	/* No name, one client, IPv6 server. */
	l.server = addr("2001:db8::1");
	l.server_name[0] = 0;
	l.nclients = 1;
	clients3[0].client = addr("2001:db8:1::2");
	body = upn_relay_body(&l);
	assert_non_null(body);
	assert_null(strstr(body, "server-name"));
	assert_non_null(strstr(body, "Server 2001:db8::1 is reachable"));
	assert_non_null(strstr(body, "\n1 client tried"));
	assert_int_equal(upn_relay_parse(body, strlen(body), &back, err, sizeof(err)), 0);
	assert_same_list(&l, &back);
	upn_relay_list_free(&back);
	free(body);

	/* No clients at all. */
	l.nclients = 0;
	body = upn_relay_body(&l);
	assert_non_null(body);
	assert_int_equal(upn_relay_parse(body, strlen(body), &back, err, sizeof(err)), 0);
	assert_int_equal(back.nclients, 0);
	upn_relay_list_free(&back);
	free(body);

	/* What cannot be written is refused, not written wrong. */
	l = sample();
	snprintf(l.server_name, sizeof(l.server_name), "bad name\n");
	errno = 0;
	assert_null(upn_relay_body(&l));
	assert_int_equal(errno, EINVAL);
	l = sample();
	l.id[5] = 'X';
	assert_null(upn_relay_body(&l));
	assert_null(upn_relay_json(&l));
}

static void test_parse_surroundings(void **state)
{
	struct upn_relay_list l = sample(), back;
	char err[128], *body, *mangled;
	size_t n = 0;

	body = upn_relay_body(&l);
	assert_non_null(body);
	/* CRLF, trailing blanks, a quoted-reply prefix before and a signature after. */
	mangled = malloc(strlen(body) * 2 + 200);
	n += (size_t)sprintf(mangled, "Hello,\r\n\r\n");
	for (const char *p = body; *p; p++) {
		if (*p == '\n')
			n += (size_t)sprintf(mangled + n, " \t\r\n");
		else
			mangled[n++] = *p;
	}
	n += (size_t)sprintf(mangled + n, "-- \r\nsignature\r\n\r\n\r\n");
	assert_int_equal(upn_relay_parse(mangled, n, &back, err, sizeof(err)), 0);
	assert_same_list(&l, &back);
	upn_relay_list_free(&back);
	free(mangled);
	free(body);
}

static void test_json(void **state)
{
	struct upn_relay_list l = sample();
	json_error_t jerr;
	json_t *doc, *c;
	char *s;

	s = upn_relay_json(&l);
	assert_non_null(s);
	assert_null(strchr(s, '\n'));
	assert_true(!strncmp(s, "{\"version\":1,\"id\":\"" ID "\",\"server\":\"10.0.2.2\"", 49));
	doc = json_loads(s, 0, &jerr);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "id")), ID);
	assert_string_equal(json_string_value(json_object_get(doc, "server_name")),
			    "srv1.example.test");
	assert_string_equal(json_string_value(json_object_get(doc, "down_since")),
			    "2026-11-22T12:50:00Z");
	assert_string_equal(json_string_value(json_object_get(doc, "recovered")),
			    "2026-11-22T13:00:00Z");
	assert_string_equal(json_string_value(json_object_get(doc, "cause")), "trap");
	assert_int_equal(json_array_size(json_object_get(doc, "clients")), 3);
	c = json_array_get(json_object_get(doc, "clients"), 1);
	assert_string_equal(json_string_value(json_object_get(c, "client")), "2001:db8::7");
	assert_string_equal(json_string_value(json_object_get(c, "first")), "2026-11-22T12:52:00Z");
	assert_int_equal(json_integer_value(json_object_get(c, "attempts")), 1);
	assert_int_equal(json_integer_value(json_object_get(c, "port")), 443);
	c = json_array_get(json_object_get(doc, "clients"), 2);
	assert_int_equal(json_integer_value(json_object_get(c, "attempts")), 4294967295ll);
	json_decref(doc);
	free(s);

	l.server_name[0] = 0;
	s = upn_relay_json(&l);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"server_name\":null"));
	free(s);
}

/* ---- parse errors ---- */

static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(s) + strlen(to) + 1);
	memcpy(out, s, (size_t)(at - s));
	strcpy(out + (at - s), to);
	strcat(out, at + strlen(from));
	return out;
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *from, *to, *why;
	} cases[] = {
		{ "clients: 3\n", "clients: 4\n", "fewer clients" },
		{ "clients: 3\n", "clients: 2\n", "more clients" },
		{ "clients: 3\n", "clients: 03\n", "bad clients count" },
		{ "clients: 3\n", "clients: 1000001\n", "bad clients count" },
		{ "10.0.1.3\t", "10.0.1.2\t", "duplicate client" },
		{ "10.0.1.3\t", "2001:db8::07\t", "" }, /* another text, same address */
		{ "10.0.1.3\t", "10.0.1.300\t", "bad client address" },
		{ "10.0.1.3\t", "host.example\t", "bad client address" },
		{ "version: 1\n", "version: 2\n", "unsupported version" },
		{ "version: 1\n", "", "no version line first" },
		{ "id: " ID, "id: 0123456789ABCDEF0123456789abcdef", "id is not" },
		{ "id: " ID, "id: 0123", "id is not" },
		{ "id: " ID "\n", "", "required line is missing" },
		{ "server: 10.0.2.2\n", "server: 10.0.2.9\n", "differs" },
		{ "server: 10.0.2.2\n", "server: 10.0.2\n", "bad server address" },
		{ "SERVER IP ADDRESS\t: 10.0.2.2\n", "", "required line is missing" },
		{ "server-name: srv1", "server-name: srv 1", "bad server-name" },
		{ "cause: trap\n", "cause: trap\ncause: trap\n", "repeated line" },
		{ "cause: trap\n", "cause: Trap!\n", "bad cause" },
		{ "cause: trap\n", "cause: trap\nwhat: ever\n", "unknown line" },
		{ "down-since: 2026-11-22T12:50:00Z", "down-since: 2026-11-22T12:50:00+00:00",
		  "bad down-since" },
		{ "recovered: 2026-11-22T13:00:00Z", "recovered: 2026-02-30T13:00:00Z",
		  "bad recovered" },
		{ "first=2026-11-22T12:51:00Z", "first=2026-11-22T12:56:00Z", "first after last" },
		{ "attempts=4 port=80", "attempts=4 port=65536", "bad port" },
		{ "attempts=4 port=80", "attempts=4294967296 port=80", "bad attempts" },
		{ "attempts=4 port=80", "attempts=-4 port=80", "bad attempts" },
		{ "attempts=4 port=80", "attempts=4", "missing fields" },
		{ "attempts=4 port=80", "attempts=4 port=80 x=1", "text after port" },
		{ "attempts=4 port=80", "port=80 attempts=4", "bad field" },
		{ "10.0.1.2\tfirst", "10.0.1.2 first", "missing fields" },
		{ "-----END UPNOTIFY RELAY-----\n", "", "no -----END" },
		{ "-----BEGIN UPNOTIFY RELAY-----\n", "", "no -----BEGIN" },
		{ "clients: 3\nSERVER", "SERVER", "client before" },
	};
	struct upn_relay_list l = sample(), back;
	char err[128], *body;

	body = upn_relay_body(&l);
	assert_non_null(body);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *bad = replace(body, cases[i].from, cases[i].to);

		err[0] = 0;
		check(upn_relay_parse(bad, strlen(bad), &back, err, sizeof(err)) == -EINVAL,
		      "case %zu parsed", i);
		check(!strncmp(err, "line ", 5), "case %zu: %s", i, err);
		check(strstr(err, cases[i].why[0] ? cases[i].why : "duplicate client"),
		      "case %zu: %s", i, err);
		check(back.clients == NULL && back.nclients == 0, "case %zu leaked", i);
		free(bad);
	}
	/* The line number is the body's. */
	{
		char *bad = replace(body, "cause: trap\n", "cause: trap\nwhat: ever\n");

		assert_int_equal(upn_relay_parse(bad, strlen(bad), &back, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "line 13: unknown line");
		free(bad);
	}
	/* Overlong line, NUL, empty input. */
	{
		char big[2000];

		memset(big, 'a', sizeof(big));
		memcpy(big, "-----BEGIN UPNOTIFY RELAY-----\nversion: 1\n", 42);
		big[sizeof(big) - 1] = '\n';
		assert_int_equal(upn_relay_parse(big, sizeof(big), &back, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "too long"));
		memcpy(big, "-----BEGIN UPNOTIFY RELAY-----\nversion: 1\0\n", 44);
		assert_int_equal(upn_relay_parse(big, 44, &back, err, sizeof(err)), -EINVAL);
		assert_int_equal(upn_relay_parse("", 0, &back, err, sizeof(err)), -EINVAL);
	}
	free(body);
}

/* ---- keys ---- */

static char dir[] = "/tmp/upn-relaymsg-XXXXXX";

static const char *key_file(const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/keys", dir);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_keys(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		const char *why; /* NULL: loads */
	} cases[] = {
		{ "# keys\n\nk1 000102030405060708090a0b0c0d0e0f\n"
		  "agent.2 "
		  "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"
		  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff  \r\n",
		  0600, NULL },
		{ "k1 000102030405060708090a0b0c0d0e0f\n", 0400, NULL },
		{ "k1 000102030405060708090a0b0c0d0e0f\n", 0644, "mode 0644" },
		{ "k1 000102030405060708090a0b0c0d0e0f\n", 0640, "mode 0640" },
		{ "k1 000102030405060708090a0b0c0d0e0f\n", 0604, "mode 0604" },
		{ "k1 000102030405060708090a0b0c0d0e0f\nk1 000102030405060708090a0b0c0d0e0f\n",
		  0600, ":2: duplicate key id" },
		{ "k1 000102030405060708090a0b0c0d0e\n", 0600, ":1: key must be" },
		{ "k1 000102030405060708090a0b0c0d0e0f0\n", 0600, ":1: key must be" },
		{ "k1 000102030405060708090a0b0c0d0e0g\n", 0600, ":1: key is not hex" },
		{ "# c\nk/1 000102030405060708090a0b0c0d0e0f\n", 0600, ":2: bad key id" },
		{ "k1\n", 0600, ":1: expected" },
		{ "k1 000102030405060708090a0b0c0d0e0f extra\n", 0600, ":1: text after" },
		{ "# nothing\n", 0600, "no keys" },
	};
	struct upn_relay_keys k;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *path = key_file(cases[i].text, cases[i].mode);
		int rc = upn_relay_keys_load(path, &k, err, sizeof(err));

		if (!cases[i].why) {
			check(rc == 0, "case %zu: %s", i, err);
			upn_relay_keys_free(&k);
			continue;
		}
		check(rc == -EINVAL, "case %zu loaded", i);
		check(!strncmp(err, path, strlen(path)), "case %zu: %s", i, err);
		check(strstr(err, cases[i].why), "case %zu: %s", i, err);
		check(k.v == NULL && k.n == 0, "case %zu leaked", i);
	}
	assert_int_equal(upn_relay_keys_load(key_file(cases[0].text, 0600), &k, err, sizeof(err)),
			 0);
	assert_int_equal(k.n, 2);
	assert_non_null(upn_relay_key_find(&k, "k1"));
	assert_int_equal(upn_relay_key_find(&k, "k1")->len, 16);
	assert_int_equal(upn_relay_key_find(&k, "k1")->key[15], 0x0f);
	assert_int_equal(upn_relay_key_find(&k, "agent.2")->len, 64);
	assert_int_equal(upn_relay_key_find(&k, "agent.2")->key[31], 0xff);
	assert_null(upn_relay_key_find(&k, "k2"));
	upn_relay_keys_free(&k);
	assert_int_equal(upn_relay_keys_load("/nonexistent/keys", &k, err, sizeof(err)), -ENOENT);
}

/* ---- signatures ---- */

static const struct upn_relay_key key1 = { "k1", "0123456789abcdef0123456789abcdef", 32 };
static const struct upn_relay_key key2 = { "k2", "fedcba9876543210fedcba9876543210", 32 };

static void test_sign_verify(void **state)
{
	struct upn_relay_key kv[] = { key1, key2 };
	struct upn_relay_keys keys = { kv, 2 };
	struct upn_relay_list l = sample();
	char hdr[UPN_RELAY_SIG_MAX], id[UPN_RELAY_KEYID_MAX + 1], *body, *json;
	size_t n;

	body = upn_relay_body(&l);
	json = upn_relay_json(&l);
	n = strlen(body);
	assert_int_equal(upn_relay_sign(&key1, NOW, body, n, true, hdr, sizeof(hdr)), 0);
	assert_true(!strncmp(hdr, "v=1; k=k1; t=1795352400; s=", 27));
	assert_int_equal(strlen(hdr), 27 + 64);
	assert_int_equal(upn_relay_verify(&keys, hdr, body, n, true, NOW, DAY, id), UPN_RELAY_OK);
	assert_string_equal(id, "k1");
	/* Within the clock allowances. */
	assert_int_equal(upn_relay_verify(&keys, hdr, body, n, true, NOW + DAY, DAY, id),
			 UPN_RELAY_OK);
	assert_int_equal(upn_relay_verify(&keys, hdr, body, n, true, NOW - 300, DAY, id),
			 UPN_RELAY_OK);
	/* Expired and future. */
	assert_int_equal(upn_relay_verify(&keys, hdr, body, n, true, NOW + DAY + 1, DAY, id),
			 UPN_RELAY_EXPIRED);
	assert_int_equal(upn_relay_verify(&keys, hdr, body, n, true, NOW - 301, DAY, id),
			 UPN_RELAY_EXPIRED);
	/* The other key signs differently. */
	{
		char h2[UPN_RELAY_SIG_MAX];

		assert_int_equal(upn_relay_sign(&key2, NOW, body, n, true, h2, sizeof(h2)), 0);
		assert_string_not_equal(h2 + 27, hdr + 27);
		assert_int_equal(upn_relay_verify(&keys, h2, body, n, true, NOW, DAY, id),
				 UPN_RELAY_OK);
		assert_string_equal(id, "k2");
	}
	/* One byte changed anywhere: forged. */
	for (size_t i = 0; i < n; i += 7) {
		char saved = body[i];

		body[i] = body[i] == 'x' ? 'y' : 'x';
		check(upn_relay_verify(&keys, hdr, body, n, true, NOW, DAY, id) == UPN_RELAY_FORGED,
		      "byte %zu", i);
		body[i] = saved;
	}
	/* The time is covered. */
	{
		char h2[UPN_RELAY_SIG_MAX];

		memcpy(h2, hdr, sizeof(h2));
		h2[22] = '1'; /* t=1795352401 */
		assert_int_equal(upn_relay_verify(&keys, h2, body, n, true, NOW, DAY, id),
				 UPN_RELAY_FORGED);
		memcpy(h2, hdr, sizeof(h2));
		h2[strlen(h2) - 1] ^= 1;
		assert_int_equal(upn_relay_verify(&keys, h2, body, n, true, NOW, DAY, id),
				 UPN_RELAY_FORGED);
	}
	/* Unknown key, unsigned. */
	{
		struct upn_relay_keys only2 = { kv + 1, 1 };

		assert_int_equal(upn_relay_verify(&only2, hdr, body, n, true, NOW, DAY, id),
				 UPN_RELAY_UNKNOWN_KEY);
		assert_string_equal(id, "k1");
		assert_int_equal(upn_relay_verify(&keys, NULL, body, n, true, NOW, DAY, id),
				 UPN_RELAY_UNSIGNED);
		assert_string_equal(id, "");
	}
	/* JSON: exact bytes. */
	assert_int_equal(upn_relay_sign(&key1, NOW, json, strlen(json), false, hdr, sizeof(hdr)),
			 0);
	assert_int_equal(upn_relay_verify(&keys, hdr, json, strlen(json), false, NOW, DAY, id),
			 UPN_RELAY_OK);
	{
		char *j2 = malloc(strlen(json) + 2);

		sprintf(j2, "%s\n", json);
		assert_int_equal(upn_relay_verify(&keys, hdr, j2, strlen(j2), false, NOW, DAY, id),
				 UPN_RELAY_FORGED);
		free(j2);
	}
	/* Too small a buffer. */
	assert_int_equal(upn_relay_sign(&key1, NOW, body, n, true, hdr, 40), -ENOSPC);
	free(body);
	free(json);
}

/* The canonical form: CRLF, trailing blanks and trailing blank lines do not count. */
static void test_canonical(void **state)
{
	static const char *const same[] = {
		"a\nb\n",     "a\r\nb\r\n",   "a \t\nb\n",	 "a\nb",
		"a\nb\n\n\n", "a\nb\r\n\r\n", "a\nb  \n \n\t\n", "a\r\nb \r\n",
	};
	static const char *const different[] = {
		"a\n\nb\n", " a\nb\n", "a\nb\nc\n", "ab\n", "a\n b\n", "a\rb\n", "A\nb\n",
	};
	struct upn_relay_keys keys = { (struct upn_relay_key *)&key1, 1 };
	char hdr[UPN_RELAY_SIG_MAX], id[UPN_RELAY_KEYID_MAX + 1];

	assert_int_equal(
		upn_relay_sign(&key1, NOW, same[0], strlen(same[0]), true, hdr, sizeof(hdr)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(same); i++)
		check(upn_relay_verify(&keys, hdr, same[i], strlen(same[i]), true, NOW, DAY, id) ==
			      UPN_RELAY_OK,
		      "same %zu", i);
	for (size_t i = 0; i < ARRAY_SIZE(different); i++)
		check(upn_relay_verify(&keys, hdr, different[i], strlen(different[i]), true, NOW,
				       DAY, id) == UPN_RELAY_FORGED,
		      "different %zu", i);
	/* Not canonicalised when it is not mail. */
	assert_int_equal(upn_relay_verify(&keys, hdr, same[1], strlen(same[1]), false, NOW, DAY,
					  id),
			 UPN_RELAY_FORGED);
	/* Empty and blank-only payloads are all "\n". */
	assert_int_equal(upn_relay_sign(&key1, NOW, "", 0, true, hdr, sizeof(hdr)), 0);
	assert_int_equal(upn_relay_verify(&keys, hdr, "\r\n \n", 4, true, NOW, DAY, id),
			 UPN_RELAY_OK);
	assert_int_equal(upn_relay_verify(&keys, hdr, "\n", 1, true, NOW, DAY, id), UPN_RELAY_OK);
}

static void test_malformed_header(void **state)
{
	static const char *const bad[] = {
		"",
		"v=1",
		"v=2; k=k1; t=1795352400; s=" /* 64 hex */
		"00000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=1795352400; s=abc",
		"v=1; k=k1; t=1795352400; s=zz00000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k/1; t=1795352400; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=17953524x0; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=-; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=99999999999999999999; "
		"s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; k=k1; t=1; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=1; x=1; s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=1; s=0000000000000000000000000000000000000000000000000000000000000000; "
		"s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1 k=k1 t=1 s=0000000000000000000000000000000000000000000000000000000000000000",
		"v=1; k=k1; t=1; s=000000000000000000000000000000000000000000000000000000000000000A",
	};
	struct upn_relay_keys keys = { (struct upn_relay_key *)&key1, 1 };
	char id[UPN_RELAY_KEYID_MAX + 1], hdr[UPN_RELAY_SIG_MAX], folded[UPN_RELAY_SIG_MAX + 8];
	char huge[400];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		check(upn_relay_verify(&keys, bad[i], "x\n", 2, true, NOW, DAY, id) ==
			      UPN_RELAY_MALFORMED,
		      "bad %zu", i);
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	assert_int_equal(upn_relay_verify(&keys, huge, "x\n", 2, true, NOW, DAY, id),
			 UPN_RELAY_MALFORMED);
	/* A folded header (as an MTA may leave it) still verifies; so do other orders. */
	assert_int_equal(upn_relay_sign(&key1, NOW, "x\n", 2, true, hdr, sizeof(hdr)), 0);
	snprintf(folded, sizeof(folded), "%.*s\r\n\t%s", 24, hdr, hdr + 25);
	assert_int_equal(upn_relay_verify(&keys, folded, "x\n", 2, true, NOW, DAY, id),
			 UPN_RELAY_OK);
	snprintf(folded, sizeof(folded), "%s; v=1", hdr + 5);
	assert_int_equal(upn_relay_verify(&keys, folded, "x\n", 2, true, NOW, DAY, id),
			 UPN_RELAY_OK);
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_OK), "ok");
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_UNSIGNED), "unsigned");
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_MALFORMED), "malformed");
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_UNKNOWN_KEY), "unknown-key");
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_FORGED), "forged");
	assert_string_equal(upn_relay_verdict_name(UPN_RELAY_EXPIRED), "expired");
}

/* A big list: sizes and the duplicate check scale. */
static void test_big_list(void **state)
{
	struct upn_relay_list l = sample(), back;
	enum { N = 100000 };
	char err[128], *body;

	l.clients = calloc(N, sizeof(*l.clients));
	l.nclients = N;
	for (size_t i = 0; i < N; i++) {
		uint8_t raw[16] = { 0x20, 0x01, 0x0d, 0xb8 };

		raw[12] = (uint8_t)(i >> 24);
		raw[13] = (uint8_t)(i >> 16);
		raw[14] = (uint8_t)(i >> 8);
		raw[15] = (uint8_t)i;
		upn_addr_set(&l.clients[i].client, AF_INET6, raw);
		l.clients[i].first = NOW - 600;
		l.clients[i].last = NOW - 60;
		l.clients[i].attempts = (uint32_t)i;
		l.clients[i].port = 443;
	}
	body = upn_relay_body(&l);
	assert_non_null(body);
	assert_int_equal(upn_relay_parse(body, strlen(body), &back, err, sizeof(err)), 0);
	assert_same_list(&l, &back);
	upn_relay_list_free(&back);
	free(body);
	free(l.clients);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/keys", dir);
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_round_trip),
		cmocka_unit_test(test_parse_surroundings),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_big_list),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
