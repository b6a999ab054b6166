// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The server mail table: the longest prefix wins, config entries are memory-only and
 * outrank stored ones, stored ones are journaled (PUT and DEL ops), and a target
 * must suit its mode. The journal runs without a store, so each test reads the batch
 * from j.ops[0 .. j.n).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvmap.h"

#define T0 1800000000

struct fixture {
	struct upn_journal j;
	struct upn_srvmap m;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	upn_journal_init(&f->j, NULL);
	assert_int_equal(upn_srvmap_init(&f->m, 16, &f->j), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upn_srvmap_destroy(&f->m);
	upn_journal_destroy(&f->j);
	free(f);
	return 0;
}

static int set(struct fixture *f, const char *prefix, uint8_t mode, const char *target,
	       bool from_config)
{
	struct upn_prefix p = pfx(prefix);

	return upn_srvmap_set(&f->m, &p, mode, target, mode ? "k1" : "", T0, from_config);
}

/* The mode and target @server maps to, or "none". */
static const char *lookup(struct fixture *f, const char *server)
{
	static char buf[UPN_URL_MAX + 16];
	struct upn_addr a = addr(server);
	const struct upn_srv *s = upn_srvmap_lookup(&f->m, &a);

	if (!s)
		return "none";
	snprintf(buf, sizeof(buf), "%s %s", upn_relay_mode_name(s->mode), s->target);
	return buf;
}

static void test_longest_prefix(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *server, *want;
	} cases[] = {
		{ "10.0.2.2", "server agent@srv.example.test" },
		{ "10.0.2.3", "nms nms@example.test" },
		{ "10.0.9.1", "webhook https://status.example.test/hook" },
		{ "10.1.0.1", "none" },
		{ "192.0.2.1", "direct " },
		{ "2001:db8:2::1", "nms nms6@example.test" },
		{ "2001:db8:2::2", "server agent6@example.test" },
		{ "2001:db8:3::1", "none" },
	};

	assert_int_equal(set(f, "10.0.0.0/16", UPN_RELAY_WEBHOOK,
			     "https://status.example.test/hook", true),
			 0);
	assert_int_equal(set(f, "10.0.2.0/24", UPN_RELAY_NMS, "nms@example.test", true), 0);
	assert_int_equal(set(f, "10.0.2.2", UPN_RELAY_SERVER, "agent@srv.example.test", false), 0);
	assert_int_equal(set(f, "192.0.2.0/24", UPN_RELAY_DIRECT, "", false), 0);
	assert_int_equal(set(f, "2001:db8:2::/64", UPN_RELAY_NMS, "nms6@example.test", false), 0);
	assert_int_equal(
		set(f, "2001:db8:2::2/128", UPN_RELAY_SERVER, "agent6@example.test", false), 0);
	assert_int_equal(upn_srvmap_count(&f->m), 6);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check(!strcmp(lookup(f, cases[i].server), cases[i].want), "%s: got '%s', want '%s'",
		      cases[i].server, lookup(f, cases[i].server), cases[i].want);
}

static void test_config_vs_stored(void **state)
{
	struct fixture *f = *state;
	struct upn_prefix p = pfx("10.0.2.0/24");
	const struct upn_srv *s;

	/* Stored first (as at start, before the config is applied), then the config's. */
	assert_int_equal(set(f, "10.0.2.0/24", UPN_RELAY_SERVER, "old@example.test", false), 0);
	assert_int_equal(f->j.n, 1);
	upn_journal_flush(&f->j);
	assert_int_equal(set(f, "10.0.2.0/24", UPN_RELAY_NMS, "nms@example.test", true), 0);
	/* The config's entry is memory only. */
	assert_int_equal(f->j.n, 0);
	s = upn_srvmap_get(&f->m, &p);
	assert_non_null(s);
	assert_true(s->from_config);
	assert_string_equal(s->target, "nms@example.test");
	/* A stored entry may not replace it, nor may it be deleted while we run. */
	assert_int_equal(set(f, "10.0.2.0/24", UPN_RELAY_SERVER, "new@example.test", false),
			 -EPERM);
	assert_int_equal(upn_srvmap_del(&f->m, &p), -EPERM);
	assert_string_equal(upn_srvmap_get(&f->m, &p)->target, "nms@example.test");
	assert_int_equal(f->j.n, 0);
	assert_int_equal(upn_srvmap_count(&f->m), 1);
}

static void test_stored_put_del(void **state)
{
	struct fixture *f = *state;
	struct upn_prefix p = pfx("2001:db8:2::/64");
	const struct upn_store_op *op;

	assert_int_equal(
		set(f, "2001:db8:2::/64", UPN_RELAY_WEBHOOK, "http://192.0.2.9:8080/h", false), 0);
	assert_int_equal(f->j.n, 1);
	op = &f->j.ops[0];
	assert_int_equal(op->kind, UPN_STORE_PUT_SRVMAP);
	assert_true(upn_addr_eq(&op->srvmap.prefix.addr, &p.addr));
	assert_int_equal(op->srvmap.prefix.len, 64);
	assert_int_equal(op->srvmap.mode, UPN_RELAY_WEBHOOK);
	assert_string_equal(op->srvmap.target, "http://192.0.2.9:8080/h");
	assert_string_equal(op->srvmap.key_id, "k1");
	assert_int_equal(op->srvmap.registered, T0);
	/* A change before the flush folds into the same op. */
	assert_int_equal(set(f, "2001:db8:2::/64", UPN_RELAY_SERVER, "a@example.test", false), 0);
	assert_int_equal(f->j.n, 1);
	assert_string_equal(f->j.ops[0].srvmap.target, "a@example.test");
	upn_journal_flush(&f->j);

	assert_int_equal(upn_srvmap_del(&f->m, &p), 0);
	assert_int_equal(f->j.n, 1);
	assert_int_equal(f->j.ops[0].kind, UPN_STORE_DEL_SRVMAP);
	assert_true(upn_addr_eq(&f->j.ops[0].srvmap.prefix.addr, &p.addr));
	assert_null(upn_srvmap_get(&f->m, &p));
	assert_string_equal(lookup(f, "2001:db8:2::1"), "none");
	assert_int_equal(upn_srvmap_del(&f->m, &p), -ENOENT);
	assert_int_equal(upn_srvmap_count(&f->m), 0);

	/* Without a journal (loading from the store) nothing is written back. */
	f->m.journal = NULL;
	upn_journal_flush(&f->j);
	assert_int_equal(set(f, "10.0.0.0/8", UPN_RELAY_NMS, "n@example.test", false), 0);
	assert_int_equal(f->j.n, 0);
	assert_string_equal(lookup(f, "10.1.2.3"), "nms n@example.test");
	f->m.journal = &f->j;
}

static void test_bad_entries(void **state)
{
	struct fixture *f = *state;
	struct upn_prefix p = pfx("10.0.0.0/8");
	char longest[UPN_URL_MAX + 2];

	assert_int_equal(upn_srvmap_set(&f->m, &p, 4, "x@example.test", "k", T0, false), -EINVAL);
	assert_int_equal(upn_srvmap_set(&f->m, &p, UPN_RELAY_DIRECT, "x@example.test", "", T0,
					false),
			 -EINVAL);
	memset(longest, 'x', sizeof(longest));
	longest[UPN_URL_MAX + 1] = '\0';
	assert_int_equal(upn_srvmap_set(&f->m, &p, UPN_RELAY_WEBHOOK, longest, "k", T0, false),
			 -EINVAL);
	assert_int_equal(upn_srvmap_count(&f->m), 0);
	assert_int_equal(f->j.n, 0);
	/* Full: the cap is 16. */
	for (int i = 0; i < 16; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "10.0.%d.0/24", i);
		assert_int_equal(set(f, buf, UPN_RELAY_NMS, "n@example.test", true), 0);
	}
	assert_int_equal(set(f, "10.0.99.0/24", UPN_RELAY_NMS, "n@example.test", true), -ENOSPC);
	assert_int_equal(upn_srvmap_count(&f->m), 16);
}

static void test_target_error(void **state)
{
	static const struct {
		uint8_t mode;
		const char *target;
		const char *why; /* NULL: fine; else a substring of the reason */
	} cases[] = {
		{ UPN_RELAY_DIRECT, "", NULL },
		{ UPN_RELAY_DIRECT, NULL, NULL },
		{ UPN_RELAY_DIRECT, "a@example.test", "no target" },
		{ UPN_RELAY_SERVER, "agent@srv.example.test", NULL },
		{ UPN_RELAY_SERVER, "", "mail address" },
		{ UPN_RELAY_SERVER, NULL, "mail address" },
		{ UPN_RELAY_NMS, "nms@example", "not a usable mail address" },
		{ UPN_RELAY_NMS, "http://example.test/", "not a usable mail address" },
		{ UPN_RELAY_WEBHOOK, "http://192.0.2.1:8080/hook", NULL },
		{ UPN_RELAY_WEBHOOK, "https://status.example.test/h?a=b", NULL },
		{ UPN_RELAY_WEBHOOK, "", "needs a URL" },
		{ UPN_RELAY_WEBHOOK, "ftp://example.test/", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "file:///etc/passwd", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "HTTP://example.test/", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "http://", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "http:///x", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "http://a b/", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "http://a/\r\nX-Evil: 1", "http:// or https://" },
		{ UPN_RELAY_WEBHOOK, "a@example.test", "http:// or https://" },
		{ 9, "a@example.test", "unknown mode" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = upn_srvmap_target_error(cases[i].mode, cases[i].target);

		if (!cases[i].why)
			check(!why, "%zu (%s): %s", i, cases[i].target, why);
		else
			check(why && strstr(why, cases[i].why), "%zu (%s): got '%s', want '%s'", i,
			      cases[i].target, why ? why : "(ok)", cases[i].why);
	}
}

static void count(void *ctx, const struct upn_srv *s)
{
	(*(int *)ctx)++;
}

static void test_foreach(void **state)
{
	struct fixture *f = *state;
	int n = 0;

	assert_int_equal(set(f, "10.0.0.0/8", UPN_RELAY_NMS, "n@example.test", true), 0);
	assert_int_equal(set(f, "10.0.0.0/16", UPN_RELAY_DIRECT, "", false), 0);
	assert_int_equal(set(f, "::/0", UPN_RELAY_SERVER, "s@example.test", false), 0);
	upn_srvmap_foreach(&f->m, count, &n);
	assert_int_equal(n, 3);
	/* A /0 catches every address of its family, and only that family. */
	assert_string_equal(lookup(f, "2001:db8::1"), "server s@example.test");
	assert_string_equal(lookup(f, "10.0.1.1"), "direct ");
	assert_string_equal(lookup(f, "10.1.1.1"), "nms n@example.test");
	assert_string_equal(lookup(f, "11.1.1.1"), "none");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_longest_prefix), T(test_config_vs_stored), T(test_stored_put_del),
		T(test_bad_entries),	T(test_target_error),	  T(test_foreach),
	};

	return cmocka_run_group_tests_name("srvmap", tests, NULL, NULL);
}
