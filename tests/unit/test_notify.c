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

#include "clients.h"
#include "notify.h"
#include "waitlist.h"

#define NS 1000000000ull
#define T0 1800000000

struct fixture {
	struct upn_journal j;
	struct upn_clients clients;
	struct upn_waitlist wl;
	struct upn_notify n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	upn_journal_init(&f->j, NULL);
	assert_int_equal(upn_clients_init(&f->clients, 100, &f->j), 0);
	assert_int_equal(upn_waitlist_init(&f->wl, 1000, 1000, &f->j), 0);
	f->wl.clients = &f->clients;
	upn_notify_init(&f->n, &f->wl, &f->clients, &f->j, 3600);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upn_waitlist_destroy(&f->wl);
	upn_clients_destroy(&f->clients);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recovery_mails_exactly_the_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outage_is_the_down_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
	};

	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
