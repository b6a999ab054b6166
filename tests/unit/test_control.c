// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The control socket's request handler, without a socket: a daemon state with
 * the config defaults, a journal without a store, the client table, the waitlist
 * and detection, and no control socket (d->ctl = NULL). Each table line is one
 * request and the reply it must get; a request that fails must change nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "timefmt.h"

static void no_emit(void *ctx, const struct upn_event *ev)
{
}

static int setup(void **state)
{
	struct upn_daemon *d = calloc(1, sizeof(*d));
	struct upn_prefix p;

	if (!d)
		return -1;
	upn_config_defaults(&d->cfg);
	upn_journal_init(&d->journal, NULL);
	if (upn_clients_init(&d->clients, UPN_CLIENTS_MAX, &d->journal) ||
	    upn_waitlist_init(&d->wl, d->cfg.total_max, d->cfg.per_server_max, &d->journal) ||
	    upn_detect_init(&d->detect, &d->cfg, &d->wl, no_emit, d))
		return -1;
	d->wl.clients = &d->clients;
	if (upn_srvmap_init(&d->srvmap, UPN_SRVMAP_MAX, &d->journal))
		return -1;
	d->source = UPN_SOURCE_NFQUEUE;
	d->started = (int64_t)(upn_now_real_ns() / 1000000000ull);
	/* One entry from the config file. */
	if (upn_prefix_parse("10.0.0.0/8", &p) ||
	    upn_clients_set(&d->clients, &p, "campus@example.org", d->started, true))
		return -1;
	/* And one of the server mail table, signed with the first of two keys. */
	if (upn_prefix_parse("10.1.0.0/16", &p) ||
	    upn_srvmap_set(&d->srvmap, &p, UPN_RELAY_NMS, "cfg@example.org", "k1", d->started,
			   true))
		return -1;
	d->cfg.mail.relay_keys.v = calloc(2, sizeof(struct upn_relay_key));
	if (!d->cfg.mail.relay_keys.v)
		return -1;
	d->cfg.mail.relay_keys.n = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(d->cfg.mail.relay_keys.v[i].id, sizeof(d->cfg.mail.relay_keys.v[i].id),
			 "k%d", i + 1);
		memset(d->cfg.mail.relay_keys.v[i].key, 'a' + i, 32);
		d->cfg.mail.relay_keys.v[i].len = 32;
	}
	strcpy(d->cfg.relay_key_file, "/etc/upnotify/relay.keys");
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct upn_daemon *d = *state;

	upn_detect_destroy(&d->detect);
	upn_waitlist_destroy(&d->wl);
	upn_srvmap_destroy(&d->srvmap);
	upn_clients_destroy(&d->clients);
	upn_store_ops_free_bodies(d->journal.ops, d->journal.n);
	upn_journal_destroy(&d->journal);
	upn_config_free(&d->cfg);
	free(d);
	return 0;
}

static json_t *handle(struct upn_daemon *d, const char *line, int *durable)
{
	json_t *r;

	*durable = -1;
	r = upn_control_handle(d, line, strlen(line), durable);
	assert_non_null(r);
	check(*durable == 0 || *durable == 1, "%s: needs_durable %d", line, *durable);
	return r;
}

/* The reply to @line must be {"ok": true, "result": ...}; returns the result, owned
 * by *reply. */
static json_t *ok(struct upn_daemon *d, const char *line, json_t **reply, int *durable)
{
	json_t *r = handle(d, line, durable), *res = json_object_get(r, "result");

	check(json_is_true(json_object_get(r, "ok")) && res && json_object_size(r) == 2, "%s: %s",
	      line, json_dumps(r, JSON_COMPACT));
	*reply = r;
	return res;
}

/* ---- requests that must fail -------------------------------------------------------- */

#define LONG_CMD "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct err_case {
	const char *line;
	const char *error; /* a substring of "error" */
} err_cases[] = {
	{ "", "malformed JSON" },
	{ "{", "malformed JSON" },
	{ "not json", "malformed JSON" },
	{ "42", "malformed JSON" },
	{ "\"status\"", "malformed JSON" },
	{ "{\"cmd\": \"status\"} {}", "malformed JSON" },
	{ "{\"cmd\": \"status\", \"cmd\": \"status\"}", "malformed JSON" },
	{ "[]", "a request is an object with a string \"cmd\"" },
	{ "[{\"cmd\": \"status\"}]", "a request is an object" },
	{ "{}", "a request is an object" },
	{ "{\"cmd\": 5}", "a request is an object" },
	{ "{\"cmd\": null}", "a request is an object" },
	{ "{\"cmd\": [\"status\"]}", "a request is an object" },
	{ "{\"command\": \"status\"}", "a request is an object" },
	{ "{\"cmd\": \"nope\"}", "unknown command 'nope'" },
	{ "{\"cmd\": \"STATUS\"}", "unknown command 'STATUS'" },
	{ "{\"cmd\": \"\"}", "unknown command ''" },
	{ "{\"cmd\": \"" LONG_CMD "\"}", "unknown command 'aaaaaaaaaaaaaaaa" },
	{ "{\"cmd\": \"waitlist\", \"server\": \"bogus\"}", "'bogus' is not an IP address" },
	{ "{\"cmd\": \"waitlist\", \"server\": \"10.0.0.0/8\"}", "is not an IP address" },
	{ "{\"cmd\": \"waitlist\", \"server\": \"\"}", "is not an IP address" },
	{ "{\"cmd\": \"waitlist\", \"server\": 5}", "server must be a string" },
	{ "{\"cmd\": \"waitlist\", \"server\": [\"192.0.2.1\"]}", "server must be a string" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\"}",
	  "expected {\"prefix\": ..., \"mail\": ...}" },
	{ "{\"cmd\": \"clients.add\", \"mail\": \"a@example.org\"}", "expected {\"prefix\"" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": 5, \"mail\": \"a@example.org\"}",
	  "expected {\"prefix\"" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.1/24\", \"mail\": \"a@example.org\"}",
	  "'192.0.2.1/24' has host bits set beyond its prefix length" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"banana\", \"mail\": \"a@example.org\"}",
	  "'banana' is not an IP address or prefix" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/33\", \"mail\": \"a@example.org\"}",
	  "is not an IP address or prefix" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"nope\"}",
	  "'nope' is not a usable mail address" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"\"}",
	  "is not a usable mail address" },
	/* Header injection: the address ends up in a mail header. */
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"a@b.c\\r\\nBcc: x@y.z\"}",
	  "is not a usable mail address" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"a@b.c\\nBcc:x@y.z\"}",
	  "is not a usable mail address" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"a@b.c, x@y.z\"}",
	  "is not a usable mail address" },
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"<a@b.c>\"}",
	  "is not a usable mail address" },
	/* A NUL would cut the address short behind the check's back. */
	{ "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\", \"mail\": \"a@b.c\\u0000x\"}",
	  "malformed JSON" },
	{ "{\"cmd\": \"clients.import\"}", "entries must be an array" },
	{ "{\"cmd\": \"clients.import\", \"entries\": {\"prefix\": \"192.0.2.0/24\"}}",
	  "entries must be an array" },
	/* All or nothing: the good entries before the bad one are not added. */
	{ "{\"cmd\": \"clients.import\", \"entries\": ["
	  "{\"prefix\": \"192.0.2.0/24\", \"mail\": \"a@example.org\"},"
	  "{\"prefix\": \"198.51.100.0/24\", \"mail\": \"a@b.c\\r\\nBcc: x@y.z\"},"
	  "{\"prefix\": \"203.0.113.0/24\", \"mail\": \"c@example.org\"}]}",
	  "entry 2: " },
	{ "{\"cmd\": \"clients.import\", \"entries\": ["
	  "{\"prefix\": \"192.0.2.0/24\", \"mail\": \"a@example.org\"},"
	  "{\"prefix\": \"2001:db8::1/32\", \"mail\": \"b@example.org\"}]}",
	  "entry 2: '2001:db8::1/32' has host bits set" },
	{ "{\"cmd\": \"clients.import\", \"entries\": [\"192.0.2.0/24\"]}",
	  "entry 1: expected {\"prefix\"" },
	{ "{\"cmd\": \"clients.del\", \"prefix\": \"192.0.2.0/24\"}",
	  "192.0.2.0/24 is not in the client mail table" },
	{ "{\"cmd\": \"clients.del\", \"prefix\": \"10.0.0.0/8\"}",
	  "10.0.0.0/8 comes from the config file" },
	{ "{\"cmd\": \"clients.del\", \"prefix\": \"10.0.0.0/33\"}",
	  "is not an IP address or prefix" },
	{ "{\"cmd\": \"clients.del\", \"prefix\": \"10.0.0.1/8\"}",
	  "is not an IP address or prefix" },
	{ "{\"cmd\": \"clients.del\"}", "expected {\"prefix\": ...}" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\"}",
	  "expected {\"prefix\": ..., \"mode\": ..." },
	{ "{\"cmd\": \"servers.add\", \"mode\": \"direct\"}", "expected {\"prefix\"" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"direct\","
	  " \"target\": 5}",
	  "expected {\"prefix\"" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"banana\", \"mode\": \"direct\"}",
	  "'banana' is not an IP address or prefix" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.1/24\", \"mode\": \"direct\"}",
	  "'192.0.2.1/24' has host bits set beyond its prefix length" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"smtp\"}",
	  "mode: expected direct, server, nms or webhook, got 'smtp'" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"server\"}",
	  "server: needs the agent's mail address" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"nms\","
	  " \"target\": \"a@b.c\\r\\nBcc: x@y.z\"}",
	  "nms: the target is not a usable mail address" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"webhook\","
	  " \"target\": \"ftp://example.org/\"}",
	  "webhook: the target is not an http:// or https:// URL" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"webhook\","
	  " \"target\": \"http://example.org/\\r\\nX: y\"}",
	  "webhook: the target is not an http:// or https:// URL" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"direct\","
	  " \"target\": \"a@example.org\"}",
	  "direct: direct takes no target" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"direct\","
	  " \"key_id\": \"k1\"}",
	  "direct takes no key id" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"server\","
	  " \"target\": \"a@example.org\", \"key_id\": \"k3\"}",
	  "no key 'k3' in /etc/upnotify/relay.keys" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"server\","
	  " \"target\": \"a@example.org\", \"key_id\": \"k 1\"}",
	  "'k 1' is not a key id" },
	{ "{\"cmd\": \"servers.add\", \"prefix\": \"10.1.0.0/16\", \"mode\": \"server\","
	  " \"target\": \"a@example.org\"}",
	  "10.1.0.0/16 comes from the config file; change it there" },
	{ "{\"cmd\": \"servers.del\", \"prefix\": \"192.0.2.0/24\"}",
	  "192.0.2.0/24 is not in the server mail table" },
	{ "{\"cmd\": \"servers.del\", \"prefix\": \"10.1.0.0/16\"}",
	  "10.1.0.0/16 comes from the config file; remove it there" },
	{ "{\"cmd\": \"servers.del\", \"prefix\": \"nope\"}", "'nope' is not an IP address" },
	{ "{\"cmd\": \"servers.del\"}", "expected {\"prefix\": ...}" },
};

static void test_errors(void **state)
{
	struct upn_daemon *d = *state;

	for (size_t i = 0; i < ARRAY_SIZE(err_cases); i++) {
		const struct err_case *c = &err_cases[i];
		uint32_t clients = upn_clients_count(&d->clients);
		uint32_t servers = upn_srvmap_count(&d->srvmap);
		size_t ops = d->journal.n;
		int durable;
		json_t *r = handle(d, c->line, &durable);
		const char *err = json_string_value(json_object_get(r, "error"));

		check(json_is_false(json_object_get(r, "ok")) && err && json_object_size(r) == 2,
		      "'%s': %s", c->line, json_dumps(r, JSON_COMPACT));
		check(strstr(err, c->error), "'%s': error '%s', want '%s'", c->line, err, c->error);
		check(upn_clients_count(&d->clients) == clients && d->journal.n == ops &&
			      upn_srvmap_count(&d->srvmap) == servers,
		      "'%s': a failed request changed something", c->line);
		json_decref(r);
	}
}

/* An unknown command is echoed, but only so much of it. */
static void test_error_bounded(void **state)
{
	struct upn_daemon *d = *state;
	char line[512];
	int durable;
	json_t *r;

	snprintf(line, sizeof(line), "{\"cmd\": \"%s%s%s\"}", LONG_CMD, LONG_CMD, LONG_CMD);
	r = handle(d, line, &durable);
	assert_true(strlen(json_string_value(json_object_get(r, "error"))) < 100);
	json_decref(r);
}

/* ---- status ------------------------------------------------------------------------ */

static void test_status(void **state)
{
	static const char *const counters[] = {
		"packets",
		"truncated",
		"malformed",
		"syn",
		"synack",
		"rst",
		"unreach",
		"other",
		"not_watched",
		"ignored_client",
		"icmp_code_ignored",
		"syn_answered",
		"syn_timeouts",
		"refused",
		"refused_ignored",
		"syn_retransmits",
		"unreach_repeats",
		"events.failed_access",
		"events.server_down",
		"events.server_up",
		"waitlist.new_entries",
		"waitlist.repeat_attempts",
		"waitlist.failed_access",
		"waitlist.server_down",
		"waitlist.load_over_cap",
		"drops.pending_full",
		"drops.server_full",
		"drops.total_full",
		"drops.unknown_client",
		"nfq.received",
		"nfq.verdicts",
		"nfq.errors",
		"store.load_skipped",
		"store.commits",
		"store.writes",
		"store.errors",
		"ctl.requests",
		"ctl.errors",
		"ctl.refused",
		"ctl.timeouts",
		"relay.queued",
		"relay.clients",
		"relay.truncated",
		"webhook.queued",
	};
	static const char *const gauges[] = {
		"pending",	  "servers",	   "waiting",	 "clients",
		"waitlist_bytes", "store_backlog", "server_map",
	};
	struct upn_daemon *d = *state;
	struct upn_control_stats cs;
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = UPNOTIFY_CAUSE_SYN_TIMEOUT,
		.proto = IPPROTO_TCP,
		.port = 80,
		.ts_ns = 1795341792ull * 1000000000ull,
	};
	json_t *reply, *res, *c, *g;
	int durable;

	/* Without a control socket the stats read as zero. */
	memset(&cs, 0xff, sizeof(cs));
	upn_control_get_stats(NULL, &cs);
	assert_int_equal(cs.requests + cs.errors + cs.accepted + cs.refused + cs.timeouts, 0);

	assert_int_equal(upn_addr_parse("192.0.2.10", &ev.client), 0);
	assert_int_equal(upn_addr_parse("198.51.100.80", &ev.server), 0);
	upn_waitlist_event(&d->wl, &ev);
	upn_waitlist_event(&d->wl, &ev);
	d->detect.stats.packets = 1234;
	d->nfq.stats.recv_errors = 2;
	d->nfq.stats.bad_messages = 3;

	res = ok(d, "{\"cmd\": \"status\"}", &reply, &durable);
	assert_int_equal(durable, 0);
	assert_string_equal(json_string_value(json_object_get(res, "source")), "nfqueue");
	assert_true(json_is_integer(json_object_get(res, "uptime")));
	assert_true(json_integer_value(json_object_get(res, "uptime")) >= 0);
	assert_true(json_integer_value(json_object_get(res, "uptime")) < 60);
	c = json_object_get(res, "counters");
	g = json_object_get(res, "gauges");
	assert_true(json_is_object(c) && json_is_object(g));
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
		check(json_is_integer(json_object_get(c, counters[i])), "counter %s missing",
		      counters[i]);
	for (size_t i = 0; i < ARRAY_SIZE(gauges); i++)
		check(json_is_integer(json_object_get(g, gauges[i])), "gauge %s missing",
		      gauges[i]);
	assert_int_equal(json_integer_value(json_object_get(c, "packets")), 1234);
	assert_int_equal(json_integer_value(json_object_get(c, "nfq.errors")), 5);
	assert_int_equal(json_integer_value(json_object_get(c, "waitlist.new_entries")), 1);
	assert_int_equal(json_integer_value(json_object_get(c, "waitlist.repeat_attempts")), 1);
	assert_int_equal(json_integer_value(json_object_get(c, "waitlist.failed_access")), 2);
	assert_int_equal(json_integer_value(json_object_get(c, "ctl.requests")), 0);
	assert_int_equal(json_integer_value(json_object_get(g, "servers")), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "waiting")), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "clients")), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "store_backlog")), d->journal.n);
	assert_true(json_integer_value(json_object_get(g, "waitlist_bytes")) > 0);
	json_decref(reply);
}

/* ---- waitlist ---------------------------------------------------------------------- */

static void inject(struct upn_daemon *d, uint8_t cause, const char *client, const char *server,
		   uint8_t proto, uint16_t port, uint8_t icmp_code, uint64_t ts)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = cause,
		.proto = proto,
		.port = port,
		.icmp_type = icmp_code ? 1 : 0,
		.icmp_code = icmp_code,
		.ts_ns = ts * 1000000000ull,
	};

	assert_int_equal(upn_addr_parse(client, &ev.client), 0);
	assert_int_equal(upn_addr_parse(server, &ev.server), 0);
	upn_waitlist_event(&d->wl, &ev);
}

static void expect_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

	check(want, "bad expected JSON: %s", jerr.text);
	check(json_equal(got, want), "got %s\nwant %s", g, want_text);
	free(g);
	json_decref(want);
}

static void test_waitlist(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *res;
	int durable;

	res = ok(d, "{\"cmd\": \"waitlist\"}", &reply, &durable);
	assert_true(json_is_array(res) && json_array_size(res) == 0);
	assert_int_equal(durable, 1);
	json_decref(reply);

	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "198.51.100.80", IPPROTO_TCP, 443, 0,
	       1795341792);
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "198.51.100.80", IPPROTO_TCP, 443, 0,
	       1795341852);
	inject(d, UPNOTIFY_CAUSE_SERVER_DOWN, "192.0.2.11", "198.51.100.80", IPPROTO_TCP, 8443, 0,
	       1795341900);
	inject(d, UPNOTIFY_CAUSE_REFUSED, "192.0.2.11", "203.0.113.5", IPPROTO_TCP, 25, 0,
	       1795341800);
	inject(d, UPNOTIFY_CAUSE_ICMP_UNREACH, "2001:db8::10", "2001:db8:1::80", IPPROTO_UDP, 53, 3,
	       1795341801);

	res = ok(d, "{\"cmd\": \"waitlist\", \"server\": \"198.51.100.80\"}", &reply, &durable);
	assert_int_equal(durable, 1);
	expect_json(res, "[{\"server\": \"198.51.100.80\", \"state\": \"down\","
			 " \"since\": \"2026-11-22T10:03:12Z\", \"cause\": \"syn-timeout\","
			 " \"clients\": ["
			 "  {\"client\": \"192.0.2.10\", \"first\": \"2026-11-22T10:03:12Z\","
			 "   \"last\": \"2026-11-22T10:04:12Z\", \"attempts\": 2,"
			 "   \"cause\": \"syn-timeout\", \"port\": 443, \"proto\": 6},"
			 "  {\"client\": \"192.0.2.11\", \"first\": \"2026-11-22T10:05:00Z\","
			 "   \"last\": \"2026-11-22T10:05:00Z\", \"attempts\": 1,"
			 "   \"cause\": \"server-down\", \"port\": 8443, \"proto\": 6}]}]");
	json_decref(reply);

	res = ok(d, "{\"cmd\": \"waitlist\", \"server\": \"203.0.113.5\"}", &reply, &durable);
	expect_json(res, "[{\"server\": \"203.0.113.5\", \"state\": \"refusing\","
			 " \"since\": \"2026-11-22T10:03:20Z\", \"cause\": \"refused\","
			 " \"clients\": ["
			 "  {\"client\": \"192.0.2.11\", \"first\": \"2026-11-22T10:03:20Z\","
			 "   \"last\": \"2026-11-22T10:03:20Z\", \"attempts\": 1,"
			 "   \"cause\": \"refused\", \"port\": 25, \"proto\": 6}]}]");
	json_decref(reply);

	/* Any spelling of the address finds the server. */
	res = ok(d, "{\"cmd\": \"waitlist\", \"server\": \"2001:DB8:1:0:0::80\"}", &reply,
		 &durable);
	expect_json(res, "[{\"server\": \"2001:db8:1::80\", \"state\": \"down\","
			 " \"since\": \"2026-11-22T10:03:21Z\", \"cause\": \"icmp-unreachable\","
			 " \"clients\": ["
			 "  {\"client\": \"2001:db8::10\", \"first\": \"2026-11-22T10:03:21Z\","
			 "   \"last\": \"2026-11-22T10:03:21Z\", \"attempts\": 1,"
			 "   \"cause\": \"icmp-unreachable\", \"port\": 53, \"proto\": 17}]}]");
	json_decref(reply);

	/* A server not in the waitlist: an empty list, not an error. */
	res = ok(d, "{\"cmd\": \"waitlist\", \"server\": \"192.0.2.99\"}", &reply, &durable);
	expect_json(res, "[]");
	json_decref(reply);

	/* All of them, in no particular order. */
	res = ok(d, "{\"cmd\": \"waitlist\"}", &reply, &durable);
	assert_int_equal(json_array_size(res), 3);
	{
		const char *want[] = { "198.51.100.80", "203.0.113.5", "2001:db8:1::80" };
		int seen[3] = { 0 };
		size_t i;
		json_t *s;

		json_array_foreach(res, i, s) {
			const char *name = json_string_value(json_object_get(s, "server"));

			for (int k = 0; k < 3; k++)
				seen[k] += name && !strcmp(name, want[k]);
		}
		for (int k = 0; k < 3; k++)
			check(seen[k] == 1, "%s listed %d times", want[k], seen[k]);
	}
	json_decref(reply);

	/* A recovered server is listed as up until its clients are told. */
	{
		struct upn_event ev = {
			.type = UPNOTIFY_CMD_SERVER_UP_NTF,
			.cause = UPNOTIFY_CAUSE_SYNACK,
			.ts_ns = 1795342000ull * 1000000000ull,
		};

		assert_int_equal(upn_addr_parse("198.51.100.80", &ev.server), 0);
		upn_waitlist_event(&d->wl, &ev);
	}
	res = ok(d, "{\"cmd\": \"waitlist\", \"server\": \"198.51.100.80\"}", &reply, &durable);
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "state")),
			    "up");
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "cause")),
			    "syn-ack");
	assert_int_equal(json_array_size(json_object_get(json_array_get(res, 0), "clients")), 2);
	json_decref(reply);
}

/* ---- clients ----------------------------------------------------------------------- */

/* The clients.list entry for @prefix, or NULL; owned by *reply. */
static json_t *listed(struct upn_daemon *d, const char *prefix, json_t **reply)
{
	int durable;
	json_t *res = ok(d, "{\"cmd\": \"clients.list\"}", reply, &durable), *e, *found = NULL;
	size_t i;

	assert_int_equal(durable, 1);
	assert_true(json_is_array(res));
	json_array_foreach(res, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "prefix")), prefix)) {
			check(!found, "%s listed twice", prefix);
			found = e;
		}
	}
	return found;
}

static void test_clients_add_del(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *list, *res, *e;
	int64_t t;
	int durable;

	e = listed(d, "10.0.0.0/8", &list);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "mail")), "campus@example.org");
	assert_string_equal(json_string_value(json_object_get(e, "source")), "config");
	json_decref(list);

	res = ok(d,
		 "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\","
		 " \"mail\": \"ops@example.org\"}",
		 &reply, &durable);
	expect_json(res, "{\"added\": 1}");
	assert_int_equal(durable, 1);
	json_decref(reply);
	assert_int_equal(upn_clients_count(&d->clients), 2);
	assert_int_equal(d->journal.n, 1);
	assert_int_equal(d->journal.ops[0].kind, UPN_STORE_PUT_CLIENT);
	assert_string_equal(d->journal.ops[0].client.mail, "ops@example.org");

	e = listed(d, "192.0.2.0/24", &list);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "mail")), "ops@example.org");
	assert_string_equal(json_string_value(json_object_get(e, "source")), "store");
	assert_int_equal(upn_time_parse(json_string_value(json_object_get(e, "registered")), &t),
			 0);
	assert_true(t >= d->started && t < d->started + 60);
	json_decref(list);

	/* A single address is a /32; a v6 prefix in any spelling. */
	res = ok(d,
		 "{\"cmd\": \"clients.add\", \"prefix\": \"198.51.100.7\","
		 " \"mail\": \"alice@example.org\"}",
		 &reply, &durable);
	json_decref(reply);
	res = ok(d,
		 "{\"cmd\": \"clients.add\", \"prefix\": \"2001:DB8:0::/48\","
		 " \"mail\": \"v6@example.org\"}",
		 &reply, &durable);
	json_decref(reply);
	e = listed(d, "198.51.100.7/32", &list);
	assert_non_null(e);
	json_decref(list);
	e = listed(d, "2001:db8::/48", &list);
	assert_non_null(e);
	json_decref(list);

	/* Add again: replaced, not doubled. */
	res = ok(d,
		 "{\"cmd\": \"clients.add\", \"prefix\": \"192.0.2.0/24\","
		 " \"mail\": \"noc@example.org\"}",
		 &reply, &durable);
	json_decref(reply);
	assert_int_equal(upn_clients_count(&d->clients), 4);
	e = listed(d, "192.0.2.0/24", &list);
	assert_string_equal(json_string_value(json_object_get(e, "mail")), "noc@example.org");
	json_decref(list);

	res = ok(d, "{\"cmd\": \"clients.del\", \"prefix\": \"192.0.2.0/24\"}", &reply, &durable);
	expect_json(res, "{\"deleted\": 1}");
	assert_int_equal(durable, 1);
	json_decref(reply);
	assert_int_equal(upn_clients_count(&d->clients), 3);
	assert_null(listed(d, "192.0.2.0/24", &list));
	json_decref(list);
}

static void test_clients_import(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *res, *list;
	int durable;

	res = ok(d, "{\"cmd\": \"clients.import\", \"entries\": []}", &reply, &durable);
	expect_json(res, "{\"added\": 0}");
	json_decref(reply);

	res = ok(d,
		 "{\"cmd\": \"clients.import\", \"entries\": ["
		 "{\"prefix\": \"192.0.2.0/24\", \"mail\": \"a@example.org\"},"
		 "{\"prefix\": \"2001:db8::/32\", \"mail\": \"b@example.org\"},"
		 "{\"prefix\": \"203.0.113.9\", \"mail\": \"c@example.org\"}]}",
		 &reply, &durable);
	expect_json(res, "{\"added\": 3}");
	assert_int_equal(durable, 1);
	json_decref(reply);
	assert_int_equal(upn_clients_count(&d->clients), 4);
	assert_int_equal(d->journal.n, 3);
	assert_non_null(listed(d, "2001:db8::/32", &list));
	json_decref(list);

	/* One bad entry, and none of the good ones around it goes in. */
	reply = handle(d,
		       "{\"cmd\": \"clients.import\", \"entries\": ["
		       "{\"prefix\": \"198.51.100.0/24\", \"mail\": \"d@example.org\"},"
		       "{\"prefix\": \"192.0.2.0/24\", \"mail\": \"replaced@example.org\"},"
		       "{\"prefix\": \"203.0.113.0/24\", \"mail\": \"e@example.org\"},"
		       "{\"prefix\": \"198.51.100.128/24\", \"mail\": \"f@example.org\"}]}",
		       &durable);
	assert_true(json_is_false(json_object_get(reply, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(reply, "error")), "entry 4: "));
	json_decref(reply);
	assert_int_equal(upn_clients_count(&d->clients), 4);
	assert_int_equal(d->journal.n, 3);
	assert_null(listed(d, "198.51.100.0/24", &list));
	json_decref(list);
	assert_string_equal(
		json_string_value(json_object_get(listed(d, "192.0.2.0/24", &list), "mail")),
		"a@example.org");
	json_decref(list);
}

/* ---- the server mail table ----------------------------------------------------------- */

/* The servers.list entry for @prefix, or NULL; *list owns it. */
static json_t *srv_listed(struct upn_daemon *d, const char *prefix, json_t **list)
{
	json_t *reply, *res, *e;
	size_t i;
	int durable;

	res = ok(d, "{\"cmd\": \"servers.list\"}", &reply, &durable);
	assert_int_equal(durable, 1);
	assert_true(json_is_array(res));
	*list = reply;
	json_array_foreach(res, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "prefix")), prefix))
			return e;
	return NULL;
}

static void test_servers_add_list_del(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *list, *res, *e;
	int durable;

	e = srv_listed(d, "10.1.0.0/16", &list);
	assert_non_null(e);
	expect_json(e, "{\"prefix\": \"10.1.0.0/16\", \"mode\": \"nms\", \"target\": "
		       "\"cfg@example.org\", \"key_id\": \"k1\", \"source\": \"config\"}");
	json_decref(list);

	/* No key id: the first key. */
	res = ok(d,
		 "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.2\", \"mode\": \"server\","
		 " \"target\": \"agent@srv.example.org\"}",
		 &reply, &durable);
	expect_json(res, "{\"added\": 1}");
	assert_int_equal(durable, 1);
	json_decref(reply);
	assert_int_equal(d->journal.n, 1);
	assert_int_equal(d->journal.ops[0].kind, UPN_STORE_PUT_SRVMAP);
	assert_int_equal(d->journal.ops[0].srvmap.mode, UPN_RELAY_SERVER);
	assert_string_equal(d->journal.ops[0].srvmap.target, "agent@srv.example.org");
	assert_string_equal(d->journal.ops[0].srvmap.key_id, "k1");
	e = srv_listed(d, "192.0.2.2/32", &list);
	expect_json(e, "{\"prefix\": \"192.0.2.2/32\", \"mode\": \"server\", \"target\": "
		       "\"agent@srv.example.org\", \"key_id\": \"k1\", \"source\": \"stored\"}");
	json_decref(list);

	res = ok(
		d,
		"{\"cmd\": \"servers.add\", \"prefix\": \"2001:DB8:2::/64\", \"mode\": "
		"\"webhook\", \"target\": \"https://status.example.org/hook\", \"key_id\": \"k2\"}",
		&reply, &durable);
	json_decref(reply);
	res = ok(d, "{\"cmd\": \"servers.add\", \"prefix\": \"10.1.2.0/24\", \"mode\": \"direct\"}",
		 &reply, &durable);
	json_decref(reply);
	e = srv_listed(d, "2001:db8:2::/64", &list);
	expect_json(e, "{\"prefix\": \"2001:db8:2::/64\", \"mode\": \"webhook\", \"target\": "
		       "\"https://status.example.org/hook\", \"key_id\": \"k2\", \"source\": "
		       "\"stored\"}");
	json_decref(list);
	e = srv_listed(d, "10.1.2.0/24", &list);
	expect_json(e, "{\"prefix\": \"10.1.2.0/24\", \"mode\": \"direct\", \"target\": \"\", "
		       "\"key_id\": \"\", \"source\": \"stored\"}");
	json_decref(list);
	assert_int_equal(upn_srvmap_count(&d->srvmap), 4);

	/* Again: replaced, not doubled. */
	res = ok(d,
		 "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.2\", \"mode\": \"nms\","
		 " \"target\": \"nms@example.org\", \"key_id\": \"k2\"}",
		 &reply, &durable);
	json_decref(reply);
	assert_int_equal(upn_srvmap_count(&d->srvmap), 4);
	e = srv_listed(d, "192.0.2.2/32", &list);
	assert_string_equal(json_string_value(json_object_get(e, "target")), "nms@example.org");
	json_decref(list);

	res = ok(d, "{\"cmd\": \"servers.del\", \"prefix\": \"192.0.2.2\"}", &reply, &durable);
	expect_json(res, "{\"deleted\": 1}");
	assert_int_equal(durable, 1);
	json_decref(reply);
	/* The entry's pending PUT turns into the DEL: one op per entry and batch. */
	assert_int_equal(d->journal.ops[0].kind, UPN_STORE_DEL_SRVMAP);
	assert_int_equal(d->journal.ops[0].srvmap.prefix.len, 32);
	assert_null(srv_listed(d, "192.0.2.2/32", &list));
	json_decref(list);
	assert_int_equal(upn_srvmap_count(&d->srvmap), 3);

	res = ok(d, "{\"cmd\": \"status\"}", &reply, &durable);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(res, "gauges"), "server_map")),
		3);
	json_decref(reply);
}

/* `upnotifyctl recover` of a relayed server queues one list, counted in status. */
static void test_servers_recover_relays(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *res, *c;
	size_t lists = 0;
	int durable;

	upn_notify_init(&d->notify, &d->wl, &d->clients, &d->journal, 86400);
	upn_notify_set_relay(&d->notify, &d->srvmap, 0);
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "10.1.7.7", IPPROTO_TCP, 80, 0,
	       (uint64_t)d->started);
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "10.9.9.9", "10.1.7.7", IPPROTO_TCP, 80, 0,
	       (uint64_t)d->started);
	res = ok(d, "{\"cmd\": \"recover\", \"server\": \"10.1.7.7\"}", &reply, &durable);
	assert_int_equal(json_integer_value(json_object_get(res, "queued")), 1);
	json_decref(reply);
	for (size_t i = 0; i < d->journal.n; i++) {
		const struct upn_store_op *op = &d->journal.ops[i];

		if (op->kind != UPN_STORE_PUT_MAIL)
			continue;
		assert_int_equal(op->mail.kind, UPN_MAIL_RELAY);
		assert_string_equal(op->mail.recipient, "cfg@example.org");
		assert_string_equal(op->mail.key_id, "k1");
		assert_non_null(strstr(op->mail.body, "CLIENT IP ADDRESS\t: 192.0.2.10\t"));
		assert_non_null(strstr(op->mail.body, "CLIENT IP ADDRESS\t: 10.9.9.9\t"));
		lists++;
	}
	assert_int_equal(lists, 1);
	res = ok(d, "{\"cmd\": \"status\"}", &reply, &durable);
	c = json_object_get(res, "counters");
	assert_int_equal(json_integer_value(json_object_get(c, "relay.queued")), 1);
	assert_int_equal(json_integer_value(json_object_get(c, "relay.clients")), 2);
	assert_int_equal(json_integer_value(json_object_get(c, "webhook.queued")), 0);
	json_decref(reply);
}

/* Without [relay] key_file only direct entries can be added. */
static void test_servers_no_keys(void **state)
{
	struct upn_daemon *d = *state;
	json_t *reply, *r;
	int durable;

	upn_relay_keys_free(&d->cfg.mail.relay_keys);
	d->cfg.relay_key_file[0] = '\0';
	r = handle(d,
		   "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": "
		   "\"webhook\", \"target\": \"http://192.0.2.1/\"}",
		   &durable);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "webhook needs [relay] key_file"));
	json_decref(r);
	ok(d, "{\"cmd\": \"servers.add\", \"prefix\": \"192.0.2.0/24\", \"mode\": \"direct\"}",
	   &reply, &durable);
	json_decref(reply);
	assert_int_equal(upn_srvmap_count(&d->srvmap), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_errors),
		T(test_error_bounded),
		T(test_status),
		T(test_waitlist),
		T(test_clients_add_del),
		T(test_clients_import),
		T(test_servers_add_list_del),
		T(test_servers_recover_relays),
		T(test_servers_no_keys),
	};
#undef T

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
