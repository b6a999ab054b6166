// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Recovery and purge: who gets a mail, who does not, and that the mails and the
 * removal from the waitlist land in the same batch, in that order. The journal runs
 * without a store, so each test reads the batch from j.ops[0 .. j.n).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clients.h"
#include "notify.h"
#include "relaymsg.h"
#include "srvmap.h"
#include "waitlist.h"

#define NS 1000000000ull
#define T0 1800000000

struct fixture {
	struct upn_journal j;
	struct upn_clients clients;
	struct upn_srvmap srvmap;
	struct upn_waitlist wl;
	struct upn_notify n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	upn_journal_init(&f->j, NULL);
	assert_int_equal(upn_clients_init(&f->clients, 100, &f->j), 0);
	assert_int_equal(upn_srvmap_init(&f->srvmap, 100, &f->j), 0);
	assert_int_equal(upn_waitlist_init(&f->wl, 1000, 1000, &f->j), 0);
	f->wl.clients = &f->clients;
	upn_notify_init(&f->n, &f->wl, &f->clients, &f->j, 3600);
	upn_notify_set_relay(&f->n, &f->srvmap, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upn_waitlist_destroy(&f->wl);
	upn_srvmap_destroy(&f->srvmap);
	upn_clients_destroy(&f->clients);
	/* The relay bodies the batch still holds. */
	upn_store_ops_free_bodies(f->j.ops, f->j.n);
	upn_journal_destroy(&f->j);
	free(f);
	return 0;
}

static void fail_at(struct fixture *f, const char *client, const char *server, uint16_t port,
		    int64_t t)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = UPNOTIFY_CAUSE_SYN_TIMEOUT,
		.proto = IPPROTO_TCP,
		.port = port,
		.client = addr(client),
		.server = addr(server),
		.ts_ns = (uint64_t)t * NS,
	};

	upn_waitlist_event(&f->wl, &ev);
}

static void add_mail(struct fixture *f, const char *prefix, const char *mail)
{
	struct upn_prefix p = pfx(prefix);

	assert_int_equal(upn_clients_set(&f->clients, &p, mail, T0, true), 0);
}

static void test_recovery_mails_exactly_the_waiting(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("203.0.113.2");
	struct upn_wl_server *s;
	size_t mails = 0, del_at = 0;

	add_mail(f, "198.51.100.2", "sato@example.test");
	add_mail(f, "198.51.100.0/24", "lab@example.test");
	fail_at(f, "198.51.100.2", "203.0.113.2", 80, T0);
	fail_at(f, "198.51.100.3", "203.0.113.2", 443, T0 + 5);
	fail_at(f, "192.0.2.9", "203.0.113.2", 80, T0 + 6);	  /* no address */
	fail_at(f, "198.51.100.4", "203.0.113.2", 80, T0 - 7200); /* stale */
	fail_at(f, "198.51.100.5", "203.0.113.3", 80, T0);	  /* another server */
	upn_journal_flush(&f->j);

	s = upn_waitlist_server(&f->wl, &server);
	assert_non_null(s);
	assert_int_equal(upn_notify_recovered(&f->n, s, UPNOTIFY_CAUSE_TRAP, T0 + 60), 2);
	assert_int_equal(f->n.stats.queued, 2);
	assert_int_equal(f->n.stats.stale, 1);
	assert_int_equal(f->n.stats.no_address, 1);
	assert_null(upn_waitlist_server(&f->wl, &server));
	/* The other server is untouched. */
	assert_int_equal(upn_waitlist_count(&f->wl), 1);

	for (size_t i = 0; i < f->j.n; i++) {
		const struct upn_store_op *op = &f->j.ops[i];

		if (op->kind == UPN_STORE_PUT_MAIL) {
			char c[UPN_ADDRSTRLEN];

			assert_int_equal(del_at, 0);
			assert_true(upn_addr_eq(&op->mail.server, &server));
			assert_int_equal(op->mail.recovered, T0 + 60);
			assert_int_equal(op->mail.cause, UPNOTIFY_CAUSE_TRAP);
			upn_addr_fmt(&op->mail.client, c);
			if (!strcmp(c, "198.51.100.2")) {
				assert_string_equal(op->mail.recipient, "sato@example.test");
				assert_int_equal(op->mail.port, 80);
				assert_int_equal(op->mail.first, T0);
			} else {
				assert_string_equal(c, "198.51.100.3");
				assert_string_equal(op->mail.recipient, "lab@example.test");
				assert_int_equal(op->mail.port, 443);
			}
			mails++;
		} else if (op->kind == UPN_STORE_DEL_SERVER) {
			assert_true(upn_addr_eq(&op->server.addr, &server));
			del_at = i + 1;
		}
	}
	assert_int_equal(mails, 2);
	/* The delete comes after every mail: one transaction, mails first. */
	assert_int_equal(del_at, f->j.n);
}

static void test_outage_is_the_down_since(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("2001:db8:2::2");
	struct upn_wl_server *s;

	add_mail(f, "2001:db8:1::/64", "v6@example.test");
	fail_at(f, "2001:db8:1::2", "2001:db8:2::2", 22, T0 + 1);
	upn_journal_flush(&f->j);
	s = upn_waitlist_server(&f->wl, &server);
	assert_int_equal(s->since, T0 + 1);
	assert_int_equal(upn_notify_recovered(&f->n, s, UPNOTIFY_CAUSE_MANUAL, T0 + 2), 1);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_PUT_MAIL);
	assert_int_equal(f->j.ops[0].mail.outage, T0 + 1);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	struct upn_addr old = addr("203.0.113.9"), live = addr("203.0.113.2");

	fail_at(f, "198.51.100.2", "203.0.113.2", 80, T0);
	fail_at(f, "198.51.100.3", "203.0.113.2", 80, T0 + 4000);
	fail_at(f, "198.51.100.4", "203.0.113.9", 80, T0);
	upn_notify_purge(&f->n, T0 + 3600);
	assert_int_equal(f->n.stats.purged, 0);
	upn_notify_purge(&f->n, T0 + 3700);
	/* Both entries from T0 go; the server left empty and old goes with them. */
	assert_int_equal(f->n.stats.purged, 2);
	assert_int_equal(f->n.stats.purged_servers, 1);
	assert_null(upn_waitlist_server(&f->wl, &old));
	assert_non_null(upn_waitlist_server(&f->wl, &live));
	assert_int_equal(upn_waitlist_server(&f->wl, &live)->count, 1);
	assert_int_equal(upn_waitlist_count(&f->wl), 1);
}

static void map(struct fixture *f, const char *prefix, uint8_t mode, const char *target)
{
	struct upn_prefix p = pfx(prefix);

	assert_int_equal(upn_srvmap_set(&f->srvmap, &p, mode, target,
					mode == UPN_RELAY_DIRECT ? "" : "agent-1", T0, true),
			 0);
}

/* The ops of the batch: the PUT_MAILs in @mails (at most @max), and checks that the
 * server's DEL_SERVER is the last op. Returns the number of PUT_MAILs. */
static size_t batch_mails(struct fixture *f, const struct upn_addr *server,
			  const struct upn_store_op **mails, size_t max)
{
	size_t n = 0, del_at = 0;

	for (size_t i = 0; i < f->j.n; i++) {
		const struct upn_store_op *op = &f->j.ops[i];

		if (op->kind == UPN_STORE_PUT_MAIL) {
			assert_int_equal(del_at, 0);
			assert_true(n < max);
			mails[n++] = op;
		} else if (op->kind == UPN_STORE_DEL_SERVER &&
			   upn_addr_eq(&op->server.addr, server)) {
			del_at = i + 1;
		}
	}
	/* One transaction: the list first, then the server goes. */
	assert_int_equal(del_at, f->j.n);
	return n;
}

static bool listed(const struct upn_relay_list *l, const char *client)
{
	struct upn_addr a = addr(client);

	for (size_t i = 0; i < l->nclients; i++)
		if (upn_addr_eq(&l->clients[i].client, &a))
			return true;
	return false;
}

static void test_relay_one_list(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("10.0.2.2");
	const struct upn_store_op *mails[4], *m;
	struct upn_relay_list l = { 0 };
	struct upn_wl_server *s;
	char err[128];

	map(f, "10.0.2.0/24", UPN_RELAY_SERVER, "agent@srv.example.test");
	add_mail(f, "198.51.100.2", "sato@example.test");
	fail_at(f, "198.51.100.2", "10.0.2.2", 80, T0 + 10); /* has an address */
	fail_at(f, "192.0.2.9", "10.0.2.2", 443, T0);	     /* has none: listed all the same */
	fail_at(f, "192.0.2.10", "10.0.2.2", 80, T0 + 20);
	fail_at(f, "192.0.2.10", "10.0.2.2", 80, T0 + 30);   /* a second attempt */
	fail_at(f, "192.0.2.11", "10.0.2.2", 80, T0 - 7200); /* stale: left out */
	fail_at(f, "192.0.2.12", "10.0.3.3", 80, T0);	     /* another server */
	upn_journal_flush(&f->j);

	s = upn_waitlist_server(&f->wl, &server);
	assert_non_null(s);
	assert_int_equal(upn_notify_recovered(&f->n, s, UPNOTIFY_CAUSE_TRAP, T0 + 60), 1);
	assert_int_equal(batch_mails(f, &server, mails, ARRAY_SIZE(mails)), 1);
	m = mails[0];
	assert_int_equal(m->mail.kind, UPN_MAIL_RELAY);
	assert_string_equal(m->mail.recipient, "agent@srv.example.test");
	assert_string_equal(m->mail.key_id, "agent-1");
	assert_true(upn_addr_eq(&m->mail.server, &server));
	/* For no one client: the unspecified address of the server's family. */
	assert_int_equal(m->mail.client.family, server.family);
	assert_true(upn_addr_eq(&m->mail.client, &(struct upn_addr){ .family = server.family }));
	assert_int_equal(m->mail.outage, T0 + 10); /* the first failure seen */
	assert_int_equal(m->mail.recovered, T0 + 60);
	assert_int_equal(m->mail.cause, UPNOTIFY_CAUSE_TRAP);
	assert_int_equal(m->mail.first, T0);
	assert_int_equal(m->mail.last, T0 + 30);
	assert_int_equal(m->mail.attempts, 3);
	assert_non_null(m->mail.body);

	assert_int_equal(upn_relay_parse(m->mail.body, strlen(m->mail.body), &l, err, sizeof(err)),
			 0);
	assert_true(upn_addr_eq(&l.server, &server));
	assert_int_equal(l.nclients, 3);
	assert_true(listed(&l, "198.51.100.2"));
	assert_true(listed(&l, "192.0.2.9"));
	assert_true(listed(&l, "192.0.2.10"));
	assert_false(listed(&l, "192.0.2.11"));
	assert_int_equal(l.down_since, T0 + 10);
	assert_int_equal(l.recovered, T0 + 60);
	assert_int_equal(strlen(l.id), UPN_RELAY_ID_LEN);
	assert_int_equal(strspn(l.id, "0123456789abcdef"), UPN_RELAY_ID_LEN);
	for (size_t i = 0; i < l.nclients; i++)
		if (l.clients[i].attempts == 2) {
			assert_int_equal(l.clients[i].first, T0 + 20);
			assert_int_equal(l.clients[i].last, T0 + 30);
			assert_int_equal(l.clients[i].port, 80);
		}
	upn_relay_list_free(&l);

	assert_int_equal(f->n.stats.relay_queued, 1);
	assert_int_equal(f->n.stats.relay_clients, 3);
	assert_int_equal(f->n.stats.webhook_queued, 0);
	assert_int_equal(f->n.stats.queued, 0);
	assert_int_equal(f->n.stats.stale, 1);
	assert_int_equal(f->n.stats.no_address, 0);
	assert_null(upn_waitlist_server(&f->wl, &server));
	assert_int_equal(upn_waitlist_count(&f->wl), 1);
}

/* The id names the list: the same server, target and outage give the same one, so a
 * list queued again after a crash is recognised as the same list. */
static void test_relay_id_stable(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("2001:db8:2::2");
	struct upn_relay_list l = { 0 };
	char id[3][UPN_RELAY_ID_LEN + 1], err[128];

	map(f, "2001:db8:2::/64", UPN_RELAY_NMS, "nms@example.test");
	for (int i = 0; i < 3; i++) {
		const struct upn_store_op *m;

		upn_store_ops_free_bodies(f->j.ops, f->j.n);
		upn_journal_flush(&f->j);
		/* The third time the server went down later: another outage. */
		fail_at(f, "2001:db8:1::2", "2001:db8:2::2", 22, i == 2 ? T0 + 100 : T0);
		upn_journal_flush(&f->j);
		assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &server),
						      UPNOTIFY_CAUSE_MANUAL, T0 + 200 + i),
				 1);
		assert_int_equal(batch_mails(f, &server, &m, 1), 1);
		assert_int_equal(m->mail.kind, UPN_MAIL_RELAY);
		assert_int_equal(upn_relay_parse(m->mail.body, strlen(m->mail.body), &l, err,
						 sizeof(err)),
				 0);
		strcpy(id[i], l.id);
		upn_relay_list_free(&l);
	}
	assert_string_equal(id[0], id[1]);
	assert_string_not_equal(id[0], id[2]);
}

static void test_webhook(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("10.0.9.1");
	const struct upn_store_op *m;
	json_t *doc, *clients;
	json_error_t jerr;

	map(f, "10.0.0.0/16", UPN_RELAY_WEBHOOK, "https://status.example.test/hook");
	fail_at(f, "192.0.2.9", "10.0.9.1", 443, T0);
	fail_at(f, "2001:db8:1::9", "10.0.9.1", 443, T0 + 1);
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &server),
					      UPNOTIFY_CAUSE_PROBE, T0 + 60),
			 1);
	assert_int_equal(batch_mails(f, &server, &m, 1), 1);
	assert_int_equal(m->mail.kind, UPN_MAIL_WEBHOOK);
	assert_string_equal(m->mail.recipient, "https://status.example.test/hook");
	assert_string_equal(m->mail.key_id, "agent-1");
	doc = json_loads(m->mail.body, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "server")), "10.0.9.1");
	clients = json_object_get(doc, "clients");
	assert_int_equal(json_array_size(clients), 2);
	json_decref(doc);
	assert_int_equal(f->n.stats.webhook_queued, 1);
	assert_int_equal(f->n.stats.relay_queued, 0);
	assert_int_equal(f->n.stats.relay_clients, 2);
}

/* direct, or no entry: each client by mail, as before. */
static void test_direct_unchanged(void **state)
{
	struct fixture *f = *state;
	struct upn_addr direct = addr("10.0.2.7"), unmapped = addr("10.9.0.1");
	const struct upn_store_op *m[4];

	map(f, "10.0.2.0/24", UPN_RELAY_SERVER, "agent@srv.example.test");
	map(f, "10.0.2.7", UPN_RELAY_DIRECT, "");
	add_mail(f, "198.51.100.0/24", "lab@example.test");
	fail_at(f, "198.51.100.2", "10.0.2.7", 80, T0);
	fail_at(f, "198.51.100.3", "10.0.2.7", 80, T0);
	fail_at(f, "192.0.2.9", "10.0.2.7", 80, T0); /* no address */
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &direct),
					      UPNOTIFY_CAUSE_TRAP, T0 + 60),
			 2);
	assert_int_equal(batch_mails(f, &direct, m, ARRAY_SIZE(m)), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(m[i]->mail.kind, UPN_MAIL_RECOVERY);
		assert_string_equal(m[i]->mail.recipient, "lab@example.test");
		assert_null(m[i]->mail.body);
	}
	assert_int_equal(f->n.stats.no_address, 1);

	upn_journal_flush(&f->j);
	fail_at(f, "198.51.100.4", "10.9.0.1", 80, T0);
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &unmapped),
					      UPNOTIFY_CAUSE_TRAP, T0 + 60),
			 1);
	assert_int_equal(batch_mails(f, &unmapped, m, ARRAY_SIZE(m)), 1);
	assert_int_equal(m[0]->mail.kind, UPN_MAIL_RECOVERY);
	assert_int_equal(f->n.stats.relay_queued + f->n.stats.webhook_queued, 0);
	assert_int_equal(f->n.stats.queued, 3);
}

/* Mail-command subscribers are ours: mailed directly, never put on an agent's list. */
static void test_subscriber_direct(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("10.0.2.2");
	struct upn_prefix sub = pfx("fd75:706e:6d61:696c::/64");
	const struct upn_store_op *m[4];
	struct upn_relay_list l = { 0 };
	size_t relay = 0, direct = 0;
	char err[128];

	upn_notify_set_subscriber(&f->n, &sub);
	map(f, "10.0.2.0/24", UPN_RELAY_SERVER, "agent@srv.example.test");
	add_mail(f, "fd75:706e:6d61:696c:1:2:3:4", "sub@example.test");
	fail_at(f, "fd75:706e:6d61:696c:1:2:3:4", "10.0.2.2", 0, T0);
	fail_at(f, "fd75:706e:6d61:696c:5:6:7:8", "10.0.2.2", 0, T0); /* unsubscribed since */
	fail_at(f, "192.0.2.9", "10.0.2.2", 80, T0);
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &server),
					      UPNOTIFY_CAUSE_TRAP, T0 + 60),
			 2);
	assert_int_equal(batch_mails(f, &server, m, ARRAY_SIZE(m)), 2);
	for (int i = 0; i < 2; i++) {
		if (m[i]->mail.kind == UPN_MAIL_RECOVERY) {
			assert_string_equal(m[i]->mail.recipient, "sub@example.test");
			direct++;
			continue;
		}
		assert_int_equal(m[i]->mail.kind, UPN_MAIL_RELAY);
		assert_int_equal(upn_relay_parse(m[i]->mail.body, strlen(m[i]->mail.body), &l, err,
						 sizeof(err)),
				 0);
		assert_int_equal(l.nclients, 1);
		assert_true(listed(&l, "192.0.2.9"));
		upn_relay_list_free(&l);
		relay++;
	}
	assert_int_equal(direct, 1);
	assert_int_equal(relay, 1);
	assert_int_equal(f->n.stats.no_address, 1);
	assert_int_equal(f->n.stats.relay_clients, 1);
}

/* Only subscribers and stale clients: no list at all. */
static void test_relay_nothing_to_send(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("10.0.2.2");
	const struct upn_store_op *m[2];

	map(f, "10.0.2.0/24", UPN_RELAY_SERVER, "agent@srv.example.test");
	fail_at(f, "192.0.2.11", "10.0.2.2", 80, T0 - 7200);
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &server),
					      UPNOTIFY_CAUSE_TRAP, T0 + 60),
			 0);
	assert_int_equal(batch_mails(f, &server, m, ARRAY_SIZE(m)), 0);
	assert_int_equal(f->n.stats.relay_queued, 0);
	assert_int_equal(f->n.stats.stale, 1);
}

static void test_relay_max_clients(void **state)
{
	struct fixture *f = *state;
	struct upn_addr server = addr("10.0.2.2");
	const struct upn_store_op *m;
	struct upn_relay_list l = { 0 };
	char err[128];

	upn_notify_set_relay(&f->n, &f->srvmap, 3);
	map(f, "10.0.2.0/24", UPN_RELAY_NMS, "nms@example.test");
	for (int i = 0; i < 5; i++) {
		char c[32];

		snprintf(c, sizeof(c), "192.0.2.%d", 10 + i);
		fail_at(f, c, "10.0.2.2", 80, T0 + i);
	}
	upn_journal_flush(&f->j);
	assert_int_equal(upn_notify_recovered(&f->n, upn_waitlist_server(&f->wl, &server),
					      UPNOTIFY_CAUSE_TRAP, T0 + 60),
			 1);
	assert_int_equal(batch_mails(f, &server, &m, 1), 1);
	assert_int_equal(upn_relay_parse(m->mail.body, strlen(m->mail.body), &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.nclients, 3);
	/* The oldest first: the list keeps the clients who waited longest. */
	assert_true(listed(&l, "192.0.2.10"));
	upn_relay_list_free(&l);
	assert_int_equal(f->n.stats.relay_clients, 3);
	assert_int_equal(f->n.stats.relay_truncated, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recovery_mails_exactly_the_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outage_is_the_down_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_one_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_id_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriber_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_nothing_to_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_max_clients, setup, teardown),
	};

	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
