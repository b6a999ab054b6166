// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * One control request line, as a client may send it, to upn_control_handle() on a
 * daemon state built once: config defaults, a journal without a store, a waitlist
 * with a few servers, and the client table rebuilt for every input so that inputs
 * do not depend on each other and every allocation is freed. The reply must be an
 * object with a boolean "ok" and either a "result" or an "error" string, and it
 * must serialise.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "control.h"
#include "daemon.h"

static struct upn_daemon daemon_state;

static void no_emit(void *ctx, const struct upn_event *ev)
{
}

static void inject(struct upn_daemon *d, uint8_t cause, const char *client, const char *server,
		   uint16_t port, uint64_t ts)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = cause,
		.proto = IPPROTO_TCP,
		.port = port,
		.ts_ns = ts * 1000000000ull,
	};

	CHECK(!upn_addr_parse(client, &ev.client) && !upn_addr_parse(server, &ev.server));
	upn_waitlist_event(&d->wl, &ev);
}

static void build_once(struct upn_daemon *d)
{
	upn_config_defaults(&d->cfg);
	upn_journal_init(&d->journal, NULL);
	CHECK(!upn_waitlist_init(&d->wl, 64, 16, &d->journal));
	CHECK(!upn_detect_init(&d->detect, &d->cfg, &d->wl, no_emit, d));
	d->source = UPN_SOURCE_NFQUEUE;
	d->started = 1795341792;
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "198.51.100.80", 443, 1795341792);
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.11", "198.51.100.80", 443, 1795341800);
	inject(d, UPNOTIFY_CAUSE_REFUSED, "192.0.2.10", "203.0.113.5", 25, 1795341801);
	inject(d, UPNOTIFY_CAUSE_SERVER_DOWN, "2001:db8::10", "2001:db8:1::80", 22, 1795341802);
	/* The waitlist's journal markers must not outlive the batch they point into. */
	upn_journal_flush(&d->journal);
	d->wl.journal = NULL;
}

static void clients_up(struct upn_daemon *d)
{
	struct upn_prefix p;

	upn_journal_init(&d->journal, NULL);
	CHECK(!upn_clients_init(&d->clients, UPN_CLIENTS_MAX, &d->journal));
	d->wl.clients = &d->clients;
	CHECK(!upn_prefix_parse("10.0.0.0/8", &p));
	CHECK(!upn_clients_set(&d->clients, &p, "campus@example.org", d->started, true));
	CHECK(!upn_prefix_parse("2001:db8::/32", &p));
	CHECK(!upn_clients_set(&d->clients, &p, "v6@example.org", d->started, false));
	CHECK(!upn_srvmap_init(&d->srvmap, UPN_SRVMAP_MAX, &d->journal));
	CHECK(!upn_prefix_parse("192.0.2.0/24", &p));
	CHECK(!upn_srvmap_set(&d->srvmap, &p, UPN_RELAY_WEBHOOK, "https://hooks.example.org/u", "",
			      d->started, true));
}

static void clients_down(struct upn_daemon *d)
{
	upn_srvmap_destroy(&d->srvmap);
	upn_clients_destroy(&d->clients);
	upn_journal_destroy(&d->journal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool built;
	struct upn_daemon *d = &daemon_state;
	json_t *r, *okv, *res, *err;
	int durable = -1;
	char *text;

	if (!built) {
		build_once(d);
		upn_journal_destroy(&d->journal);
		built = true;
	}
	clients_up(d);
	r = upn_control_handle(d, (const char *)data, size, &durable);
	CHECK(r && json_is_object(r));
	CHECK(durable == 0 || durable == 1);
	okv = json_object_get(r, "ok");
	res = json_object_get(r, "result");
	err = json_object_get(r, "error");
	CHECK(json_is_boolean(okv));
	if (json_is_true(okv))
		CHECK(res && !err);
	else
		CHECK(json_is_string(err) && !res);
	text = json_dumps(r, JSON_COMPACT);
	CHECK(text);
	/* A reply is one line: nothing a client sent may break it. */
	CHECK(!strchr(text, '\n'));
	free(text);
	json_decref(r);
	/* Whatever the request changed, the table still answers lookups. */
	{
		struct upn_addr a;

		CHECK(!upn_addr_parse("10.1.2.3", &a));
		CHECK(upn_clients_lookup(&d->clients, &a));
	}
	clients_down(d);
	return 0;
}
