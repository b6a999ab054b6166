// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The portal's keyed rate limits: an hour's allowance at once, then its rate; keys
 * apart; a full table never grows and never refuses a key it has no room for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "testlib.h"

static void test_unlimited(void **state)
{
	struct upn_ratelimit rl;

	assert_int_equal(upn_ratelimit_init(&rl, 0, 64), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(upn_ratelimit_take(&rl, "k", 1, 0));
	upn_ratelimit_destroy(&rl);
}

static void test_burst_then_rate(void **state)
{
	struct upn_ratelimit rl;

	/* 3 an hour: three at once, the fourth waits 20 minutes. */
	assert_int_equal(upn_ratelimit_init(&rl, 3, 64), 0);
	for (int i = 0; i < 3; i++)
		check(upn_ratelimit_take(&rl, "a", 1, 1000), "take %d of the burst", i);
	assert_false(upn_ratelimit_take(&rl, "a", 1, 1000));
	assert_false(upn_ratelimit_take(&rl, "a", 1, 1000 + 20 * 60000 - 1));
	assert_true(upn_ratelimit_take(&rl, "a", 1, 1000 + 20 * 60000));
	assert_false(upn_ratelimit_take(&rl, "a", 1, 1000 + 20 * 60000));
	/* An idle hour refills it whole. */
	for (int i = 0; i < 3; i++)
		assert_true(upn_ratelimit_take(&rl, "a", 1, 1000 + 200 * 60000));
	assert_false(upn_ratelimit_take(&rl, "a", 1, 1000 + 200 * 60000));
	upn_ratelimit_destroy(&rl);
}

static void test_keys_apart(void **state)
{
	struct upn_ratelimit rl;

	assert_int_equal(upn_ratelimit_init(&rl, 1, 64), 0);
	assert_true(upn_ratelimit_take(&rl, "alice@example.test", 18, 0));
	assert_false(upn_ratelimit_take(&rl, "alice@example.test", 18, 0));
	assert_true(upn_ratelimit_take(&rl, "bob@example.test", 16, 0));
	/* A key is its bytes: a prefix of another is another key. */
	assert_true(upn_ratelimit_take(&rl, "alice@example.tes", 17, 0));
	upn_ratelimit_destroy(&rl);
}

static void test_flood(void **state)
{
	struct upn_ratelimit rl;
	char key[32];
	uint32_t refused = 0;

	/* 100,000 distinct keys through 64 slots: each new key is served (its slot
	 * taken over, counted), and the table stays 64 slots. */
	assert_int_equal(upn_ratelimit_init(&rl, 1, 64), 0);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);

		refused += !upn_ratelimit_take(&rl, key, (size_t)n, 0);
	}
	assert_int_equal(refused, 0);
	assert_true(rl.evicted >= 100000 - 64);
	assert_int_equal(rl.mask, 63);
	upn_ratelimit_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
