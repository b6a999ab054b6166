// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The mail rate limits: a burst of one second, then the rate; domains apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <cmocka.h>

#include "testlib.h"

#include "mailrate.h"

#define SEC 1000000LL
#define T0 (1000 * SEC) /* any monotonic time */

static void test_unlimited(void **state)
{
	struct upn_mailrate r;

	assert_int_equal(upn_mailrate_init(&r, 0, 0), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(upn_mailrate_reserve(&r, "a@example.org", T0), T0);
	upn_mailrate_destroy(&r);
}

static void test_overall(void **state)
{
	struct upn_mailrate r;
	int64_t slot, last = 0;

	assert_int_equal(upn_mailrate_init(&r, 10, 0), 0);
	/* A full bucket: ten go at once. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(upn_mailrate_reserve(&r, "a@example.org", T0), T0);
	/* Then one every 100 ms, each its own slot, whatever the domain. */
	for (int i = 1; i <= 1000; i++) {
		slot = upn_mailrate_reserve(&r, i & 1 ? "a@example.org" : "b@example.net", T0);
		assert_int_equal(slot, T0 + i * SEC / 10);
		last = slot;
	}
	/* 1,010 messages: the last one 100 s out, as 10/s says. */
	assert_int_equal(last, T0 + 100 * SEC);
	/* After a quiet spell the bucket is full again. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(upn_mailrate_reserve(&r, "a@example.org", last + 2 * SEC),
				 last + 2 * SEC);
	upn_mailrate_destroy(&r);
}

static void test_per_domain(void **state)
{
	struct upn_mailrate r;

	assert_int_equal(upn_mailrate_init(&r, 0, 5), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(upn_mailrate_reserve(&r, "x@busy.example", T0), T0);
	assert_int_equal(upn_mailrate_reserve(&r, "y@BUSY.example", T0), T0 + SEC / 5);
	assert_int_equal(upn_mailrate_reserve(&r, "z@busy.example", T0), T0 + 2 * SEC / 5);
	/* Another domain does not wait behind the busy one. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(upn_mailrate_reserve(&r, "a@idle.example", T0), T0);
	upn_mailrate_destroy(&r);
}

static void test_both(void **state)
{
	struct upn_mailrate r;

	/* 4/s in all, 2/s per domain: the tighter of the two decides. */
	assert_int_equal(upn_mailrate_init(&r, 4, 2), 0);
	assert_int_equal(upn_mailrate_reserve(&r, "a@one.example", T0), T0);
	assert_int_equal(upn_mailrate_reserve(&r, "a@one.example", T0), T0);
	assert_int_equal(upn_mailrate_reserve(&r, "a@one.example", T0), T0 + SEC / 2);
	assert_int_equal(upn_mailrate_reserve(&r, "a@two.example", T0), T0);
	assert_int_equal(upn_mailrate_reserve(&r, "a@two.example", T0), T0 + SEC / 4);
	upn_mailrate_destroy(&r);
}

static void test_domain_table_full(void **state)
{
	struct upn_mailrate r;
	char to[64];
	int refused = 0;

	assert_int_equal(upn_mailrate_init(&r, 0, 1), 0);
	/* Two messages per domain keep every bucket busy for a second. */
	for (int i = 0; i < 2 * UPN_MAILRATE_DOMAINS; i++) {
		snprintf(to, sizeof(to), "u@d%d.example", i);
		if (upn_mailrate_reserve(&r, to, T0) < 0)
			refused++;
		else
			assert_true(upn_mailrate_reserve(&r, to, T0) == T0 + SEC);
	}
	/* Refused, not mixed up with another domain's bucket. */
	assert_true(refused >= UPN_MAILRATE_DOMAINS);
	/* A second later every bucket is as good as new and may be reused. */
	snprintf(to, sizeof(to), "u@new.example");
	assert_int_equal(upn_mailrate_reserve(&r, to, T0 + 3 * SEC), T0 + 3 * SEC);
	upn_mailrate_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),	  cmocka_unit_test(test_overall),
		cmocka_unit_test(test_per_domain),	  cmocka_unit_test(test_both),
		cmocka_unit_test(test_domain_table_full),
	};

	return cmocka_run_group_tests_name("mailrate", tests, NULL, NULL);
}
