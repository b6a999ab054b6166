// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The waitlist, the journal that records its changes, and the client mail table.
 * The journal runs without a store (store = NULL), so each test reads the batch
 * straight from j.ops[0 .. j.n) before anything flushes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "event.h"
#include "journal.h"
#include "waitlist.h"

#define NS 1000000000ull

static struct upn_event failed(uint8_t cause, const char *client, const char *server, uint16_t port,
			       uint64_t ts)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = cause,
		.proto = IPPROTO_TCP,
		.port = port,
		.client = addr(client),
		.server = addr(server),
		.ts_ns = ts * NS + 123456789, /* sub-second part is dropped */
	};

	return ev;
}

static struct upn_event unreach(uint8_t code, const char *client, const char *server, uint64_t ts)
{
	struct upn_event ev = failed(UPNOTIFY_CAUSE_ICMP_UNREACH, client, server, 53, ts);

	ev.proto = IPPROTO_UDP;
	ev.icmp_type = strchr(server, ':') ? 1 : 3;
	ev.icmp_code = code;
	return ev;
}

static struct upn_event server_ev(uint8_t type, uint8_t cause, const char *server, uint64_t ts)
{
	struct upn_event ev = {
		.type = type,
		.cause = cause,
		.server = addr(server),
		.ts_ns = ts * NS,
	};

	return ev;
}

static struct upn_wl_entry *find_entry(const struct upn_waitlist *wl, const char *server,
				       const char *client)
{
	struct upn_addr s = addr(server), c = addr(client);
	const struct upn_wl_server *srv = upn_waitlist_server(wl, &s);

	if (!srv)
		return NULL;
	for (uint32_t i = srv->head; i != UPN_NIL; i = upn_waitlist_entry(wl, i)->next)
		if (upn_addr_eq(&upn_waitlist_entry(wl, i)->client, &c))
			return upn_waitlist_entry(wl, i);
	return NULL;
}

/* Walks the list both ways: the count, next and prev links must agree. */
static uint32_t list_len(const struct upn_waitlist *wl, const struct upn_wl_server *s)
{
	uint32_t n = 0, prev = UPN_NIL;

	for (uint32_t i = s->head; i != UPN_NIL; i = upn_waitlist_entry(wl, i)->next) {
		check(upn_waitlist_entry(wl, i)->prev == prev, "prev link of %u", i);
		prev = i;
		n++;
	}
	check(s->tail == prev, "tail %u, last %u", s->tail, prev);
	check(s->count == n, "count %u, list %u", s->count, n);
	return n;
}

struct fx {
	struct upn_journal j;
	struct upn_waitlist wl;
	struct upn_clients cl;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	upn_journal_init(&f->j, NULL);
	if (upn_waitlist_init(&f->wl, 1000, 100, &f->j) || upn_clients_init(&f->cl, 100, &f->j))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	upn_clients_destroy(&f->cl);
	upn_waitlist_destroy(&f->wl);
	upn_journal_destroy(&f->j);
	free(f);
	return 0;
}

/* ---- FAILED_ACCESS ------------------------------------------------------------- */

static void test_failed_access_creates(void **state)
{
	struct fx *f = *state;
	struct upn_event ev =
		failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "198.51.100.80", 443, 1795341792);
	struct upn_addr s = addr("198.51.100.80");
	const struct upn_wl_server *srv;
	const struct upn_wl_entry *e;

	assert_null(upn_waitlist_server(&f->wl, &s));
	assert_int_equal(upn_waitlist_state(&f->wl, &s), UPN_SERVER_UP);
	upn_waitlist_event(&f->wl, &ev);
	srv = upn_waitlist_server(&f->wl, &s);
	assert_non_null(srv);
	assert_int_equal(srv->state, UPN_SERVER_DOWN);
	assert_int_equal(srv->cause, UPNOTIFY_CAUSE_SYN_TIMEOUT);
	assert_int_equal(srv->since, 1795341792);
	assert_int_equal(list_len(&f->wl, srv), 1);
	e = find_entry(&f->wl, "198.51.100.80", "192.0.2.10");
	assert_non_null(e);
	assert_int_equal(e->first, 1795341792);
	assert_int_equal(e->last, 1795341792);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->cause, UPNOTIFY_CAUSE_SYN_TIMEOUT);
	assert_int_equal(e->proto, IPPROTO_TCP);
	assert_int_equal(e->port, 443);
	assert_int_equal(upn_waitlist_count(&f->wl), 1);
	assert_int_equal(f->wl.stats.failed_access, 1);
	assert_int_equal(f->wl.stats.new_entries, 1);
	assert_int_equal(f->wl.stats.repeat_attempts, 0);
}

static void test_repeats_update(void **state)
{
	struct fx *f = *state;
	const struct upn_wl_server *srv;
	struct upn_wl_entry *e;
	struct upn_event ev;
	struct upn_addr s = addr("2001:db8:1::80");

	for (int i = 0; i < 5; i++) {
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "2001:db8::10", "2001:db8:1::80",
			    (uint16_t)(8000 + i), 1000 + (uint64_t)i * 10);
		upn_waitlist_event(&f->wl, &ev);
	}
	ev = unreach(1, "2001:db8::10", "2001:db8:1::80", 2000);
	upn_waitlist_event(&f->wl, &ev);
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "2001:db8::11", "2001:db8:1::80", 22, 2100);
	upn_waitlist_event(&f->wl, &ev);

	srv = upn_waitlist_server(&f->wl, &s);
	assert_non_null(srv);
	assert_int_equal(list_len(&f->wl, srv), 2); /* never a duplicate pair */
	assert_int_equal(upn_waitlist_count(&f->wl), 2);
	e = find_entry(&f->wl, "2001:db8:1::80", "2001:db8::10");
	assert_non_null(e);
	assert_int_equal(e->first, 1000);
	assert_int_equal(e->last, 2000);
	assert_int_equal(e->attempts, 6);
	/* The entry describes the latest attempt. */
	assert_int_equal(e->cause, UPNOTIFY_CAUSE_ICMP_UNREACH);
	assert_int_equal(e->proto, IPPROTO_UDP);
	assert_int_equal(e->port, 53);
	assert_int_equal(e->icmp_type, 1);
	assert_int_equal(e->icmp_code, 1);
	/* Oldest first. */
	assert_ptr_equal(upn_waitlist_entry(&f->wl, srv->head), e);
	assert_int_equal(f->wl.stats.failed_access, 7);
	assert_int_equal(f->wl.stats.new_entries, 2);
	assert_int_equal(f->wl.stats.repeat_attempts, 5);
	/* The same client on another server is another pair. */
	ev = failed(UPNOTIFY_CAUSE_REFUSED, "2001:db8::10", "2001:db8:1::81", 22, 2200);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(upn_waitlist_count(&f->wl), 3);
}

/* ---- state rules --------------------------------------------------------------- */

enum { FA, FA_ICMP, DOWN, UP };

struct step {
	int kind;
	uint8_t cause; /* or ICMP code for FA_ICMP */
};

struct state_case {
	const char *name;
	const char *server;
	struct step steps[4];
	int nsteps;
	bool exists;
	uint8_t state, cause;
	int since_step; /* index of the step that made the last change */
	uint64_t downs, ups;
};

/* Each case: the steps, then the server afterwards. */
/* clang-format off */
static const struct state_case state_cases[] = {
	{ "refused", "198.51.100.1", { { FA, UPNOTIFY_CAUSE_REFUSED } }, 1,
	  true, UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_REFUSED, 0, 0, 0 },
	{ "syn-timeout", "198.51.100.1", { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 0, 0, 0 },
	{ "refused then timeout", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_REFUSED }, { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT } }, 2,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1, 0, 0 },
	{ "refused after down stays down", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT }, { FA, UPNOTIFY_CAUSE_REFUSED } }, 2,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 0, 0, 0 },
	{ "a second timeout keeps since", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT }, { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT } }, 2,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 0, 0, 0 },
	{ "syn to a down server", "198.51.100.1", { { FA, UPNOTIFY_CAUSE_SERVER_DOWN } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SERVER_DOWN, 0, 0, 0 },
	{ "v4 net unreachable", "198.51.100.1", { { FA_ICMP, 0 } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v4 host unreachable", "198.51.100.1", { { FA_ICMP, 1 } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v4 protocol unreachable", "198.51.100.1", { { FA_ICMP, 2 } }, 1,
	  true, UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v4 port unreachable", "198.51.100.1", { { FA_ICMP, 3 } }, 1,
	  true, UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v4 prohibited", "198.51.100.1", { { FA_ICMP, 13 } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v6 address unreachable", "2001:db8::80", { { FA_ICMP, 3 } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v6 port unreachable", "2001:db8::80", { { FA_ICMP, 4 } }, 1,
	  true, UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_ICMP_UNREACH, 0, 0, 0 },
	{ "v6 code 3 is not v4 port unreachable", "2001:db8::80",
	  { { FA_ICMP, 4 }, { FA_ICMP, 3 } }, 2,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 1, 0, 0 },
	{ "down then up", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT }, { UP, UPNOTIFY_CAUSE_SYNACK } }, 2,
	  true, UPN_SERVER_UP, UPNOTIFY_CAUSE_SYNACK, 1, 0, 1 },
	{ "refusing then up", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_REFUSED }, { UP, UPNOTIFY_CAUSE_MANUAL } }, 2,
	  true, UPN_SERVER_UP, UPNOTIFY_CAUSE_MANUAL, 1, 0, 1 },
	{ "up, then refused again", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT }, { UP, UPNOTIFY_CAUSE_SYNACK },
	    { FA, UPNOTIFY_CAUSE_REFUSED } }, 3,
	  true, UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_REFUSED, 2, 0, 1 },
	{ "up twice counts once", "198.51.100.1",
	  { { FA, UPNOTIFY_CAUSE_SYN_TIMEOUT }, { UP, UPNOTIFY_CAUSE_SYNACK },
	    { UP, UPNOTIFY_CAUSE_PROBE } }, 3,
	  true, UPN_SERVER_UP, UPNOTIFY_CAUSE_SYNACK, 1, 0, 1 },
	{ "SERVER_DOWN alone", "198.51.100.1", { { DOWN, UPNOTIFY_CAUSE_NEIGH } }, 1,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_NEIGH, 0, 1, 0 },
	{ "SERVER_DOWN over refusing", "2001:db8::80",
	  { { FA, UPNOTIFY_CAUSE_REFUSED }, { DOWN, UPNOTIFY_CAUSE_MANUAL } }, 2,
	  true, UPN_SERVER_DOWN, UPNOTIFY_CAUSE_MANUAL, 1, 1, 0 },
	{ "SERVER_UP for an unknown server", "198.51.100.1", { { UP, UPNOTIFY_CAUSE_SYNACK } }, 1,
	  false, UPN_SERVER_UP, 0, 0, 0, 0 },
};
/* clang-format on */

static void test_state_rules(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_cases); i++) {
		const struct state_case *c = &state_cases[i];
		struct upn_addr s = addr(c->server);
		const char *client = strchr(c->server, ':') ? "2001:db8::10" : "192.0.2.10";
		const struct upn_wl_server *srv;
		struct upn_waitlist wl;
		struct upn_journal j;

		upn_journal_init(&j, NULL);
		assert_int_equal(upn_waitlist_init(&wl, 100, 100, &j), 0);
		for (int n = 0; n < c->nsteps; n++) {
			const struct step *st = &c->steps[n];
			uint64_t ts = 5000 + (uint64_t)n * 60;
			struct upn_event ev;

			if (st->kind == FA)
				ev = failed(st->cause, client, c->server, 443, ts);
			else if (st->kind == FA_ICMP)
				ev = unreach(st->cause, client, c->server, ts);
			else
				ev = server_ev(st->kind == UP ? UPNOTIFY_CMD_SERVER_UP_NTF :
								UPNOTIFY_CMD_SERVER_DOWN_NTF,
					       st->cause, c->server, ts);
			upn_waitlist_event(&wl, &ev);
		}
		srv = upn_waitlist_server(&wl, &s);
		check(!!srv == c->exists, "%s: server %s", c->name, srv ? "exists" : "missing");
		check(upn_waitlist_state(&wl, &s) == c->state, "%s: state %d, want %d", c->name,
		      upn_waitlist_state(&wl, &s), c->state);
		if (srv) {
			check(srv->cause == c->cause, "%s: cause %s, want %s", c->name,
			      upn_cause_name(srv->cause), upn_cause_name(c->cause));
			check(srv->since == 5000 + c->since_step * 60, "%s: since %lld", c->name,
			      (long long)srv->since);
		}
		check(wl.stats.server_down == c->downs && wl.stats.server_up == c->ups,
		      "%s: %llu downs, %llu ups", c->name, (unsigned long long)wl.stats.server_down,
		      (unsigned long long)wl.stats.server_up);
		upn_waitlist_destroy(&wl);
		upn_journal_destroy(&j);
	}
}

/* ---- caps ------------------------------------------------------------------------ */

static void test_per_server_cap(void **state)
{
	struct upn_waitlist wl;
	struct upn_journal j;
	struct upn_addr a = addr("198.51.100.1"), b = addr("198.51.100.2");
	char client[32];

	upn_journal_init(&j, NULL);
	assert_int_equal(upn_waitlist_init(&wl, 1000, 3, &j), 0);
	for (int i = 0; i < 5; i++) {
		struct upn_event ev;

		snprintf(client, sizeof(client), "192.0.2.%d", i + 1);
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, client, "198.51.100.1", 80, 100);
		upn_waitlist_event(&wl, &ev);
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, client, "198.51.100.1", 80, 101);
		upn_waitlist_event(&wl, &ev);
	}
	assert_int_equal(list_len(&wl, upn_waitlist_server(&wl, &a)), 3);
	assert_int_equal(wl.stats.drop_server_full, 4); /* two clients, twice each */
	assert_int_equal(wl.stats.new_entries, 3);
	assert_int_equal(wl.stats.repeat_attempts, 3);
	assert_int_equal(wl.stats.drop_total_full, 0);
	/* The first three are the ones kept, and still counted. */
	assert_non_null(find_entry(&wl, "198.51.100.1", "192.0.2.3"));
	assert_null(find_entry(&wl, "198.51.100.1", "192.0.2.4"));
	assert_int_equal(find_entry(&wl, "198.51.100.1", "192.0.2.1")->attempts, 2);
	/* Another server has its own room. */
	for (int i = 0; i < 3; i++) {
		struct upn_event ev;

		snprintf(client, sizeof(client), "192.0.2.%d", i + 1);
		ev = failed(UPNOTIFY_CAUSE_REFUSED, client, "198.51.100.2", 80, 100);
		upn_waitlist_event(&wl, &ev);
	}
	assert_int_equal(list_len(&wl, upn_waitlist_server(&wl, &b)), 3);
	assert_int_equal(wl.stats.drop_server_full, 4);
	upn_waitlist_destroy(&wl);
	upn_journal_destroy(&j);
}

static void test_total_cap(void **state)
{
	struct upn_waitlist wl;
	struct upn_journal j;
	char client[32], server[32];
	uint64_t drops;

	upn_journal_init(&j, NULL);
	assert_int_equal(upn_waitlist_init(&wl, 4, 100, &j), 0);
	/* Two servers, three clients each: six pairs, room for four. */
	for (int s = 0; s < 2; s++)
		for (int c = 0; c < 3; c++) {
			struct upn_event ev;

			snprintf(client, sizeof(client), "192.0.2.%d", c + 1);
			snprintf(server, sizeof(server), "198.51.100.%d", s + 1);
			ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, client, server, 80, 100);
			upn_waitlist_event(&wl, &ev);
		}
	assert_int_equal(upn_waitlist_count(&wl), 4);
	assert_int_equal(wl.stats.drop_total_full, 2);
	assert_int_equal(wl.stats.drop_server_full, 0);
	assert_int_equal(wl.stats.new_entries, 4);
	/* The cap holds for server records too: the fifth server is not taken. */
	for (int s = 2; s < 5; s++) {
		struct upn_event ev = server_ev(UPNOTIFY_CMD_SERVER_DOWN_NTF, UPNOTIFY_CAUSE_MANUAL,
						"203.0.113.1", 100);

		snprintf(server, sizeof(server), "198.51.100.%d", s + 1);
		ev.server = addr(server);
		upn_waitlist_event(&wl, &ev);
	}
	drops = wl.stats.drop_total_full;
	assert_int_equal(wl.servers.live, 4);
	assert_int_equal(drops, 3);
	/* A repeat of a listed pair is never dropped. */
	{
		struct upn_event ev =
			failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.1", "198.51.100.1", 80, 200);

		upn_waitlist_event(&wl, &ev);
		assert_int_equal(wl.stats.drop_total_full, drops);
		assert_int_equal(find_entry(&wl, "198.51.100.1", "192.0.2.1")->attempts, 2);
	}
	upn_waitlist_destroy(&wl);
	upn_journal_destroy(&j);
}

/* ---- only_known_clients ----------------------------------------------------------- */

static void test_only_known_clients(void **state)
{
	struct fx *f = *state;
	struct upn_prefix p8 = pfx("10.0.0.0/8"), p16 = pfx("10.1.0.0/16");
	struct upn_addr s = addr("198.51.100.9");
	struct upn_event ev;

	assert_int_equal(upn_clients_set(&f->cl, &p8, "campus@example.org", 1, true), 0);
	assert_int_equal(upn_clients_set(&f->cl, &p16, "lab@example.org", 1, false), 0);
	f->wl.clients = &f->cl;
	f->wl.only_known_clients = true;

	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.168.1.1", "198.51.100.9", 80, 100);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->wl.stats.drop_unknown_client, 1);
	assert_null(upn_waitlist_server(&f->wl, &s)); /* not even the server */
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "2001:db8::1", "198.51.100.9", 80, 100);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->wl.stats.drop_unknown_client, 2);

	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "10.1.2.3", "198.51.100.9", 80, 100);
	upn_waitlist_event(&f->wl, &ev);
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "10.200.0.1", "198.51.100.9", 80, 100);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(upn_waitlist_count(&f->wl), 2);
	assert_int_equal(f->wl.stats.drop_unknown_client, 2);
	assert_int_equal(f->wl.stats.failed_access, 4);
	assert_int_equal(upn_waitlist_state(&f->wl, &s), UPN_SERVER_DOWN);

	/* Switched off, anyone is listed. */
	f->wl.only_known_clients = false;
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.168.1.1", "198.51.100.9", 80, 100);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(upn_waitlist_count(&f->wl), 3);
}

/* ---- the journal ------------------------------------------------------------------ */

static void test_journal_coalesces(void **state)
{
	struct fx *f = *state;
	struct upn_event ev;
	const struct upn_store_op *op;
	char buf[UPN_ADDRSTRLEN];

	/* A SYN flood on one pair: a thousand events, one server op and one entry op. */
	for (int i = 0; i < 1000; i++) {
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", "198.51.100.80", (uint16_t)i,
			    1000 + (uint64_t)i);
		upn_waitlist_event(&f->wl, &ev);
	}
	assert_int_equal(f->j.n, 2);
	op = &f->j.ops[0];
	assert_int_equal(op->kind, UPN_STORE_PUT_SERVER);
	assert_string_equal(upn_addr_fmt(&op->server.addr, buf), "198.51.100.80");
	assert_int_equal(op->server.state, UPN_SERVER_DOWN);
	assert_int_equal(op->server.since, 1000);
	op = &f->j.ops[1];
	assert_int_equal(op->kind, UPN_STORE_PUT_ENTRY);
	assert_string_equal(upn_addr_fmt(&op->entry.server, buf), "198.51.100.80");
	assert_string_equal(upn_addr_fmt(&op->entry.client, buf), "192.0.2.10");
	/* The one op holds the latest state. */
	assert_int_equal(op->entry.attempts, 1000);
	assert_int_equal(op->entry.first, 1000);
	assert_int_equal(op->entry.last, 1999);
	assert_int_equal(op->entry.port, 999);
	assert_int_equal(upn_journal_barrier(&f->j), 1);

	/* Interleaved pairs: one op each. */
	for (int i = 0; i < 300; i++) {
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, i % 3 ? "192.0.2.11" : "192.0.2.12",
			    "198.51.100.80", 80, 3000);
		upn_waitlist_event(&f->wl, &ev);
	}
	assert_int_equal(f->j.n, 4);

	/* After a flush the markers are clear: the next change is a new op, and only the
	 * entry's, since the server did not change. */
	assert_int_equal(upn_journal_flush(&f->j), 1);
	assert_int_equal(f->j.n, 0);
	assert_int_equal(upn_journal_barrier(&f->j), 1);
	assert_int_equal(upn_journal_flush(&f->j), 0); /* nothing to hand over */
	ev = failed(UPNOTIFY_CAUSE_REFUSED, "192.0.2.10", "198.51.100.80", 80, 4000);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->j.n, 1);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_PUT_ENTRY);
	assert_int_equal(f->j.ops[0].entry.attempts, 1001);
	assert_int_equal(upn_journal_barrier(&f->j), 2);
	ev = server_ev(UPNOTIFY_CMD_SERVER_UP_NTF, UPNOTIFY_CAUSE_SYNACK, "198.51.100.80", 4001);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->j.n, 2);
	assert_int_equal(f->j.ops[1].kind, UPN_STORE_PUT_SERVER);
	assert_int_equal(f->j.ops[1].server.state, UPN_SERVER_UP);
	assert_int_equal(f->j.ops[1].server.cause, UPNOTIFY_CAUSE_SYNACK);
	assert_int_equal(upn_journal_flush(&f->j), 2);
}

/* Many records: the batch grows past its first allocation and stays one op each. */
static void test_journal_grows(void **state)
{
	struct fx *f = *state;
	char client[32];

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 900; i++) {
			struct upn_event ev;

			snprintf(client, sizeof(client), "10.0.%d.%d", i / 250, i % 250 + 1);
			ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, client, "198.51.100.80", 80,
				    100 + (uint64_t)round);
			upn_waitlist_event(&f->wl, &ev);
		}
	/* 100 per server by the fixture: the rest are dropped, not journaled. */
	assert_int_equal(f->j.n, 1 + 100);
	for (size_t i = 1; i < f->j.n; i++)
		check(f->j.ops[i].kind == UPN_STORE_PUT_ENTRY && f->j.ops[i].entry.attempts == 2,
		      "op %zu", i);
}

static void test_remove_server(void **state)
{
	struct fx *f = *state;
	struct upn_addr s = addr("198.51.100.80"), t = addr("198.51.100.81");
	struct upn_wl_server *srv;
	struct upn_event ev;
	char buf[UPN_ADDRSTRLEN];

	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "192.0.2.%d", i + 1);
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, buf, "198.51.100.80", 80, 100);
		upn_waitlist_event(&f->wl, &ev);
	}
	ev = failed(UPNOTIFY_CAUSE_REFUSED, "192.0.2.1", "198.51.100.81", 25, 100);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->j.n, 6); /* S, 3 entries, T, 1 entry */

	srv = upn_waitlist_server(&f->wl, &s);
	upn_waitlist_remove_server(&f->wl, srv);
	assert_null(upn_waitlist_server(&f->wl, &s));
	assert_int_equal(upn_waitlist_state(&f->wl, &s), UPN_SERVER_UP);
	assert_int_equal(upn_waitlist_count(&f->wl), 1);
	assert_int_equal(f->wl.servers.live, 1);
	/* The delete is appended after the puts of the server's clients, never folded
	 * into the server's put at the front. */
	assert_int_equal(f->j.n, 7);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_PUT_SERVER);
	assert_int_equal(f->j.ops[1].kind, UPN_STORE_PUT_ENTRY);
	assert_int_equal(f->j.ops[6].kind, UPN_STORE_DEL_SERVER);
	assert_string_equal(upn_addr_fmt(&f->j.ops[6].server.addr, buf), "198.51.100.80");
	/* Nothing in the batch points back into the freed records any more. */
	for (int i = 0; i <= 3; i++)
		check(f->j.owner[i] == NULL, "op %d still owned by a freed record", i);
	check(f->j.owner[6] == NULL, "the delete is owned");
	check(f->j.owner[4] && f->j.owner[5], "the other server's ops lost their owners");
	/* The other server is untouched. */
	assert_int_equal(upn_waitlist_state(&f->wl, &t), UPN_SERVER_REFUSING);
	assert_non_null(find_entry(&f->wl, "198.51.100.81", "192.0.2.1"));

	/* The server comes back: new ops after the delete, the old ones unchanged, even
	 * though the new records reuse the freed ones. */
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.9", "198.51.100.80", 80, 200);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(f->j.n, 9);
	assert_int_equal(f->j.ops[6].kind, UPN_STORE_DEL_SERVER);
	assert_int_equal(f->j.ops[7].kind, UPN_STORE_PUT_SERVER);
	assert_int_equal(f->j.ops[8].kind, UPN_STORE_PUT_ENTRY);
	assert_int_equal(f->j.ops[8].entry.attempts, 1);
	for (int i = 1; i <= 3; i++)
		check(f->j.ops[i].entry.attempts == 1 && f->j.ops[i].entry.last == 100,
		      "op %d rewritten", i);
	assert_int_equal(list_len(&f->wl, upn_waitlist_server(&f->wl, &s)), 1);

	/* Disowned ops are safe to flush; after it, a removal is one op. */
	assert_int_equal(upn_journal_flush(&f->j), 1);
	upn_waitlist_remove_server(&f->wl, upn_waitlist_server(&f->wl, &s));
	assert_int_equal(f->j.n, 1);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_DEL_SERVER);
	assert_int_equal(upn_waitlist_count(&f->wl), 1);
}

struct visited {
	struct upn_addr a[16];
	int n;
};

static void visit_server(void *ctx, const struct upn_wl_server *s)
{
	struct visited *v = ctx;

	assert_true(v->n < 16);
	v->a[v->n++] = s->addr;
}

static void test_foreach_server(void **state)
{
	struct fx *f = *state;
	struct visited v = { .n = 0 };
	char buf[32];

	for (int i = 0; i < 10; i++) {
		struct upn_event ev;

		snprintf(buf, sizeof(buf), "198.51.100.%d", i + 1);
		ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.1", buf, 80, 100);
		upn_waitlist_event(&f->wl, &ev);
	}
	for (int i = 0; i < 10; i += 3) {
		struct upn_addr a;

		snprintf(buf, sizeof(buf), "198.51.100.%d", i + 1);
		a = addr(buf);
		upn_waitlist_remove_server(&f->wl, upn_waitlist_server(&f->wl, &a));
	}
	upn_waitlist_foreach_server(&f->wl, visit_server, &v);
	assert_int_equal(v.n, 6);
	for (int i = 0; i < 10; i++) {
		struct upn_addr a;
		int seen = 0;

		snprintf(buf, sizeof(buf), "198.51.100.%d", i + 1);
		a = addr(buf);
		for (int k = 0; k < v.n; k++)
			seen += upn_addr_eq(&v.a[k], &a);
		check(seen == (i % 3 ? 1 : 0), "%s visited %d times", buf, seen);
	}
}

/* ---- load ----------------------------------------------------------------------- */

static void test_load(void **state)
{
	struct fx *f = *state;
	struct upn_store_server s = {
		.addr = addr("2001:db8::80"),
		.state = UPN_SERVER_DOWN,
		.cause = UPNOTIFY_CAUSE_ICMP_UNREACH,
		.since = 12345,
	};
	struct upn_store_entry e1 = {
		.server = addr("2001:db8::80"), .client = addr("2001:db8::10"), .first = 100,
		.last = 200, .attempts = 7, .cause = UPNOTIFY_CAUSE_ICMP_UNREACH,
		.proto = IPPROTO_TCP, .icmp_type = 1, .icmp_code = 3, .port = 443,
	}, e2 = e1;
	const struct upn_wl_server *srv;
	struct upn_wl_entry *e;
	struct upn_event ev;

	e2.client = addr("2001:db8::11");
	e2.attempts = 1;
	assert_int_equal(upn_waitlist_load_server(&f->wl, &s), 0);
	assert_int_equal(upn_waitlist_load_entry(&f->wl, &e1), 0);
	assert_int_equal(upn_waitlist_load_entry(&f->wl, &e2), 0);
	assert_int_equal(f->j.n, 0); /* already stored: not journaled again */
	srv = upn_waitlist_server(&f->wl, &s.addr);
	assert_non_null(srv);
	assert_int_equal(srv->state, UPN_SERVER_DOWN);
	assert_int_equal(srv->cause, UPNOTIFY_CAUSE_ICMP_UNREACH);
	assert_int_equal(srv->since, 12345);
	assert_int_equal(list_len(&f->wl, srv), 2);
	e = find_entry(&f->wl, "2001:db8::80", "2001:db8::10");
	assert_ptr_equal(upn_waitlist_entry(&f->wl, srv->head), e);
	assert_int_equal(e->first, 100);
	assert_int_equal(e->last, 200);
	assert_int_equal(e->attempts, 7);
	assert_int_equal(e->icmp_type, 1);
	assert_int_equal(e->icmp_code, 3);
	assert_int_equal(e->port, 443);
	assert_int_equal(e->proto, IPPROTO_TCP);
	/* Loading the pair again replaces it, never duplicates it. */
	e1.attempts = 8;
	assert_int_equal(upn_waitlist_load_entry(&f->wl, &e1), 0);
	assert_int_equal(list_len(&f->wl, srv), 2);
	assert_int_equal(e->attempts, 8);
	/* New attempts carry on from what was loaded. */
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "2001:db8::10", "2001:db8::80", 443, 300);
	upn_waitlist_event(&f->wl, &ev);
	assert_int_equal(e->attempts, 9);
	assert_int_equal(e->first, 100);
	assert_int_equal(e->last, 300);
	assert_int_equal(f->wl.stats.repeat_attempts, 1);
	assert_int_equal(f->wl.stats.new_entries, 0);
	/* A down server stays down with the cause it was loaded with. */
	assert_int_equal(srv->cause, UPNOTIFY_CAUSE_ICMP_UNREACH);
	assert_int_equal(srv->since, 12345);
}

/* Rows stored under larger caps all load, counted, and the caps hold again after. */
static void test_load_over_cap(void **state)
{
	struct upn_waitlist wl;
	struct upn_store_entry e = {
		.server = addr("198.51.100.1"),
		.attempts = 1,
		.first = 10,
		.last = 10,
	};
	struct upn_store_server s = { .addr = addr("198.51.100.2"), .state = UPN_SERVER_DOWN };
	struct upn_event ev;
	char client[32];

	assert_int_equal(upn_waitlist_init(&wl, 2, 1, NULL), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(client, sizeof(client), "192.0.2.%d", i + 1);
		e.client = addr(client);
		assert_int_equal(upn_waitlist_load_entry(&wl, &e), 0);
	}
	assert_int_equal(upn_waitlist_load_server(&wl, &s), 0);
	assert_int_equal(upn_waitlist_count(&wl), 3);
	assert_int_equal(list_len(&wl, upn_waitlist_server(&wl, &e.server)), 3);
	assert_int_equal(wl.servers.live, 2);
	assert_int_equal(wl.stats.load_over_cap, 1); /* the third entry */
	s.addr = addr("198.51.100.3");
	assert_int_equal(upn_waitlist_load_server(&wl, &s), 0);
	assert_int_equal(wl.stats.load_over_cap, 2);
	assert_int_equal(wl.stats.drop_server_full + wl.stats.drop_total_full, 0);

	/* Live events find the table full, per server and in all. */
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.9", "198.51.100.1", 80, 100);
	upn_waitlist_event(&wl, &ev);
	assert_int_equal(wl.stats.drop_server_full, 1);
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.9", "198.51.100.2", 80, 100);
	upn_waitlist_event(&wl, &ev);
	assert_int_equal(wl.stats.drop_total_full, 1);
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.9", "198.51.100.4", 80, 100);
	upn_waitlist_event(&wl, &ev);
	assert_int_equal(wl.stats.drop_total_full, 2);
	assert_null(upn_waitlist_server(&wl, &ev.server));
	assert_int_equal(upn_waitlist_count(&wl), 3);
	/* A repeat of a loaded pair still counts. */
	ev = failed(UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.3", "198.51.100.1", 80, 100);
	upn_waitlist_event(&wl, &ev);
	assert_int_equal(find_entry(&wl, "198.51.100.1", "192.0.2.3")->attempts, 2);
	upn_waitlist_destroy(&wl);
}

/* The first few ports clients failed on, for telling when a refusing service is back;
 * rebuilt from the entries when they are loaded. */
static void test_server_ports(void **state)
{
	struct fx *f = *state;
	static const uint16_t ports[] = { 443, 80, 443, 0, 25, 8080, 22 };
	struct upn_addr a = addr("198.51.100.1");
	const struct upn_wl_server *s;
	struct upn_store_entry e = {
		.server = addr("198.51.100.2"),
		.client = addr("192.0.2.1"),
		.attempts = 1,
		.port = 993,
		.proto = IPPROTO_TCP,
	};
	/* A UDP port cannot be probed with a TCP connect: not noted. */
	struct upn_event udp = unreach(3, "192.0.2.9", "198.51.100.1", 100);

	upn_waitlist_event(&f->wl, &udp);
	for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
		struct upn_event ev =
			failed(UPNOTIFY_CAUSE_REFUSED, "192.0.2.1", "198.51.100.1", ports[i], 100);

		upn_waitlist_event(&f->wl, &ev);
	}
	s = upn_waitlist_server(&f->wl, &a);
	assert_non_null(s);
	assert_true(upn_waitlist_server_port(s, 443));
	assert_true(upn_waitlist_server_port(s, 80));
	assert_true(upn_waitlist_server_port(s, 25));
	assert_true(upn_waitlist_server_port(s, 8080));
	assert_false(upn_waitlist_server_port(s, 22)); /* past UPN_WAITLIST_PORTS */
	assert_false(upn_waitlist_server_port(s, 0));
	assert_false(upn_waitlist_server_port(s, 53));

	assert_int_equal(upn_waitlist_load_entry(&f->wl, &e), 0);
	s = upn_waitlist_server(&f->wl, &e.server);
	assert_true(upn_waitlist_server_port(s, 993));
	assert_false(upn_waitlist_server_port(s, 443));
}

/* What the journal hands the store, loaded back, is the waitlist it came from. */
static void test_journal_load_roundtrip(void **state)
{
	struct fx *f = *state;
	static const char *const servers[] = { "198.51.100.1", "198.51.100.2", "2001:db8::80" };
	static const char *const clients[] = { "192.0.2.1", "192.0.2.2", "2001:db8::10",
					       "2001:db8::11" };
	static const uint8_t causes[] = { UPNOTIFY_CAUSE_SYN_TIMEOUT, UPNOTIFY_CAUSE_REFUSED,
					  UPNOTIFY_CAUSE_SERVER_DOWN };
	struct upn_waitlist copy;
	unsigned int n = 0;

	for (int round = 0; round < 4; round++)
		for (size_t s = 0; s < ARRAY_SIZE(servers); s++)
			for (size_t c = 0; c < ARRAY_SIZE(clients); c++) {
				struct upn_event ev;

				if ((s + c + (size_t)round) % 3 == 0)
					continue;
				ev = failed(causes[(s + c) % 3], clients[c], servers[s],
					    (uint16_t)(1000 + n), 100 + n);
				upn_waitlist_event(&f->wl, &ev);
				n++;
			}
	assert_int_equal(upn_waitlist_init(&copy, 1000, 100, NULL), 0);
	for (size_t i = 0; i < f->j.n; i++) {
		const struct upn_store_op *op = &f->j.ops[i];

		if (op->kind == UPN_STORE_PUT_SERVER)
			assert_int_equal(upn_waitlist_load_server(&copy, &op->server), 0);
		else if (op->kind == UPN_STORE_PUT_ENTRY)
			assert_int_equal(upn_waitlist_load_entry(&copy, &op->entry), 0);
		else
			fail_msg("op %zu: kind %u", i, op->kind);
	}
	assert_int_equal(upn_waitlist_count(&copy), upn_waitlist_count(&f->wl));
	assert_int_equal(copy.servers.live, f->wl.servers.live);
	for (size_t s = 0; s < ARRAY_SIZE(servers); s++) {
		struct upn_addr a = addr(servers[s]);
		const struct upn_wl_server *x = upn_waitlist_server(&f->wl, &a),
					   *y = upn_waitlist_server(&copy, &a);

		assert_non_null(x);
		assert_non_null(y);
		check(x->state == y->state && x->cause == y->cause && x->since == y->since,
		      "server %s differs", servers[s]);
		assert_int_equal(list_len(&copy, y), list_len(&f->wl, x));
		for (size_t c = 0; c < ARRAY_SIZE(clients); c++) {
			const struct upn_wl_entry *ex = find_entry(&f->wl, servers[s], clients[c]),
						  *ey = find_entry(&copy, servers[s], clients[c]);

			check(!ex == !ey, "%s %s: present in one only", servers[s], clients[c]);
			if (!ex)
				continue;
			check(ex->first == ey->first && ex->last == ey->last &&
				      ex->attempts == ey->attempts && ex->cause == ey->cause &&
				      ex->proto == ey->proto && ex->port == ey->port &&
				      ex->icmp_type == ey->icmp_type &&
				      ex->icmp_code == ey->icmp_code,
			      "%s %s differs", servers[s], clients[c]);
		}
	}
	upn_waitlist_destroy(&copy);
}

/* ---- the client mail table --------------------------------------------------------- */

static const char *mail_of(const struct upn_clients *c, const char *a)
{
	struct upn_addr x = addr(a);
	const struct upn_client *cl = upn_clients_lookup(c, &x);

	return cl ? cl->mail : NULL;
}

static void test_clients(void **state)
{
	struct fx *f = *state;
	struct upn_prefix p8 = pfx("10.0.0.0/8"), p16 = pfx("10.1.0.0/16"), p32 = pfx("10.1.2.3"),
			  v6 = pfx("2001:db8::/32"), none = pfx("192.0.2.0/24");

	assert_int_equal(upn_clients_set(&f->cl, &p8, "campus@example.org", 10, true), 0);
	assert_int_equal(f->j.n, 0); /* config entries are never stored */
	assert_int_equal(upn_clients_set(&f->cl, &p16, "lab@example.org", 11, false), 0);
	assert_int_equal(upn_clients_set(&f->cl, &p32, "alice@example.org", 12, false), 0);
	assert_int_equal(upn_clients_set(&f->cl, &v6, "v6@example.org", 13, false), 0);
	assert_int_equal(upn_clients_count(&f->cl), 4);
	assert_int_equal(f->j.n, 3);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_PUT_CLIENT);
	assert_string_equal(f->j.ops[0].client.mail, "lab@example.org");
	assert_int_equal(f->j.ops[0].client.registered, 11);
	assert_int_equal(f->j.ops[0].client.prefix.len, 16);

	/* Longest prefix wins. */
	assert_string_equal(mail_of(&f->cl, "10.1.2.3"), "alice@example.org");
	assert_string_equal(mail_of(&f->cl, "10.1.2.4"), "lab@example.org");
	assert_string_equal(mail_of(&f->cl, "10.2.0.1"), "campus@example.org");
	assert_string_equal(mail_of(&f->cl, "2001:db8:ffff::1"), "v6@example.org");
	assert_null(mail_of(&f->cl, "11.0.0.1"));
	assert_null(mail_of(&f->cl, "::a01:203"));

	/* Replace: new mail, same entry, same pending op. */
	assert_int_equal(upn_clients_set(&f->cl, &p32, "bob@example.org", 14, false), 0);
	assert_int_equal(upn_clients_count(&f->cl), 4);
	assert_string_equal(mail_of(&f->cl, "10.1.2.3"), "bob@example.org");
	assert_int_equal(f->j.n, 3);
	assert_string_equal(f->j.ops[1].client.mail, "bob@example.org");

	/* Delete: config entries are refused, unknown ones are not found. */
	assert_int_equal(upn_clients_del(&f->cl, &p8), -EPERM);
	assert_string_equal(mail_of(&f->cl, "10.2.0.1"), "campus@example.org");
	assert_int_equal(upn_clients_del(&f->cl, &none), -ENOENT);
	assert_int_equal(upn_clients_del(&f->cl, &p16), 0);
	assert_int_equal(upn_clients_del(&f->cl, &p16), -ENOENT);
	assert_string_equal(mail_of(&f->cl, "10.1.2.4"), "campus@example.org");
	assert_int_equal(upn_clients_count(&f->cl), 3);
	/* The pending put became the delete: still one op for the prefix. */
	assert_int_equal(f->j.n, 3);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_DEL_CLIENT);
	assert_int_equal(f->j.ops[0].client.prefix.len, 16);

	/* Set again after the delete: a new put after it, so the store ends with it. */
	assert_int_equal(upn_clients_set(&f->cl, &p16, "lab2@example.org", 15, false), 0);
	assert_int_equal(f->j.n, 4);
	assert_int_equal(f->j.ops[3].kind, UPN_STORE_PUT_CLIENT);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_DEL_CLIENT);

	/* After a flush, a delete is an op of its own. */
	upn_journal_flush(&f->j);
	assert_int_equal(upn_clients_del(&f->cl, &v6), 0);
	assert_int_equal(f->j.n, 1);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_DEL_CLIENT);
	assert_null(mail_of(&f->cl, "2001:db8::1"));
}

struct client_seen {
	int n, config;
};

static void visit_client(void *ctx, const struct upn_client *cl)
{
	struct client_seen *s = ctx;

	assert_non_null(cl->mail);
	s->n++;
	s->config += cl->from_config;
}

static void test_clients_cap_and_foreach(void **state)
{
	struct upn_clients c;
	struct upn_journal j;
	struct upn_prefix p[3] = { pfx("10.0.0.0/8"), pfx("192.0.2.0/24"), pfx("::1") };
	struct client_seen s = { 0, 0 };
	char mail[UPN_MAIL_MAX + 1];

	upn_journal_init(&j, NULL);
	assert_int_equal(upn_clients_init(&c, 2, &j), 0);
	assert_int_equal(upn_clients_set(&c, &p[0], "a@example.org", 1, true), 0);
	assert_int_equal(upn_clients_set(&c, &p[1], "b@example.org", 1, false), 0);
	assert_int_equal(upn_clients_set(&c, &p[2], "c@example.org", 1, false), -ENOSPC);
	assert_int_equal(upn_clients_count(&c), 2);
	/* Full, replacing still works; a mail of the longest length survives the op. */
	memset(mail, 'm', UPN_MAIL_MAX);
	memcpy(mail + UPN_MAIL_MAX - 12, "@example.org", 12);
	mail[UPN_MAIL_MAX] = '\0';
	assert_int_equal(upn_clients_set(&c, &p[1], mail, 2, false), 0);
	assert_string_equal(j.ops[0].client.mail, mail);
	upn_clients_foreach(&c, visit_client, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.config, 1);
	/* A delete makes room. */
	assert_int_equal(upn_clients_del(&c, &p[1]), 0);
	assert_int_equal(upn_clients_set(&c, &p[2], "c@example.org", 1, false), 0);
	upn_clients_destroy(&c);
	upn_journal_destroy(&j);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_failed_access_creates),
		T(test_repeats_update),
		cmocka_unit_test(test_state_rules),
		cmocka_unit_test(test_per_server_cap),
		cmocka_unit_test(test_total_cap),
		T(test_only_known_clients),
		T(test_journal_coalesces),
		T(test_journal_grows),
		T(test_remove_server),
		T(test_foreach_server),
		T(test_load),
		cmocka_unit_test(test_load_over_cap),
		T(test_server_ports),
		T(test_journal_load_roundtrip),
		T(test_clients),
		cmocka_unit_test(test_clients_cap_and_foreach),
	};
#undef T

	return cmocka_run_group_tests_name("waitlist", tests, NULL, NULL);
}
