// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Pending SYNs: the rules one at a time, then a long random run of SYNs, answers,
 * reports and expiries checked step by step against a plain array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syntrack.h"

static struct upn_syn_key key(const char *client, uint16_t cport, const char *server,
			      uint16_t sport)
{
	struct upn_syn_key k;

	memset(&k, 0, sizeof(k));
	assert_int_equal(upn_addr_parse(client, &k.client), 0);
	assert_int_equal(upn_addr_parse(server, &k.server), 0);
	k.cport = cport;
	k.sport = sport;
	return k;
}

static bool key_eq(const struct upn_syn_key *x, const struct upn_syn_key *y)
{
	return !memcmp(x, y, sizeof(*x));
}

/* Expired keys, in callback order. */
struct expired {
	struct upn_syn_key k[256];
	unsigned int n;
};

static void on_expire(void *ctx, const struct upn_syn_key *k)
{
	struct expired *e = ctx;

	assert_true(e->n < ARRAY_SIZE(e->k));
	e->k[e->n++] = *k;
}

static void test_new_retransmit_answer(void **state)
{
	struct upn_syn_key k = key("192.0.2.10", 40000, "198.51.100.80", 443);
	struct upn_syntrack t;

	assert_int_equal(upn_syntrack_init(&t, 16, 1000), 0);
	assert_int_equal(upn_syntrack_next_deadline(&t), -1);
	assert_int_equal(upn_syntrack_syn(&t, &k, 1000, 5, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_count(&t), 1);
	assert_int_equal(upn_syntrack_next_deadline(&t), 1005);
	assert_int_equal(upn_syntrack_syn(&t, &k, 1000, 600, false), UPN_SYN_RETRANSMIT);
	assert_int_equal(upn_syntrack_count(&t), 1);
	/* The deadline of the first SYN stands. */
	assert_int_equal(upn_syntrack_next_deadline(&t), 1005);

	/* Only ack == seq + 1 answers; anything else leaves the SYN pending. */
	assert_false(upn_syntrack_answer(&t, &k, 1000));
	assert_false(upn_syntrack_answer(&t, &k, 1002));
	assert_false(upn_syntrack_answer(&t, &k, 0));
	assert_int_equal(upn_syntrack_count(&t), 1);
	assert_true(upn_syntrack_answer(&t, &k, 1001));
	assert_int_equal(upn_syntrack_count(&t), 0);
	assert_int_equal(upn_syntrack_next_deadline(&t), -1);
	/* Answered once is answered. */
	assert_false(upn_syntrack_answer(&t, &k, 1001));

	/* seq + 1 wraps. */
	assert_int_equal(upn_syntrack_syn(&t, &k, UINT32_MAX, 700, false), UPN_SYN_NEW);
	assert_false(upn_syntrack_answer(&t, &k, UINT32_MAX));
	assert_true(upn_syntrack_answer(&t, &k, 0));

	/* A new attempt on the same ports takes the new seq: the old ack no longer
	 * answers it. */
	assert_int_equal(upn_syntrack_syn(&t, &k, 5000, 800, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_syn(&t, &k, 9000, 900, false), UPN_SYN_RETRANSMIT);
	assert_false(upn_syntrack_answer(&t, &k, 5001));
	assert_true(upn_syntrack_answer(&t, &k, 9001));
	upn_syntrack_destroy(&t);
}

/* Each field of the key tells entries apart, and so does the family. */
static void test_keys_distinct(void **state)
{
	const struct upn_syn_key keys[] = {
		key("192.0.2.10", 40000, "198.51.100.80", 443),
		key("192.0.2.11", 40000, "198.51.100.80", 443),
		key("192.0.2.10", 40001, "198.51.100.80", 443),
		key("192.0.2.10", 40000, "198.51.100.81", 443),
		key("192.0.2.10", 40000, "198.51.100.80", 80),
		key("198.51.100.80", 443, "192.0.2.10", 40000), /* reversed */
		key("::c000:20a", 40000, "::c633:6450", 443),	/* same bytes, IPv6 */
		key("2001:db8::10", 40000, "2001:db8:1::80", 443),
	};
	struct upn_syntrack t;

	assert_int_equal(upn_syntrack_init(&t, 64, 1000), 0);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		check(upn_syntrack_syn(&t, &keys[i], (uint32_t)i * 10, 0, false) == UPN_SYN_NEW,
		      "key %zu taken for an earlier one", i);
	assert_int_equal(upn_syntrack_count(&t), ARRAY_SIZE(keys));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		check(upn_syntrack_answer(&t, &keys[i], (uint32_t)i * 10 + 1), "key %zu", i);
	assert_int_equal(upn_syntrack_count(&t), 0);
	upn_syntrack_destroy(&t);
}

static void test_full(void **state)
{
	struct upn_syn_key a = key("192.0.2.1", 1, "198.51.100.1", 80),
			   b = key("192.0.2.2", 1, "198.51.100.1", 80),
			   c = key("192.0.2.3", 1, "198.51.100.1", 80);
	struct upn_syntrack t;

	assert_int_equal(upn_syntrack_init(&t, 2, 1000), 0);
	assert_int_equal(upn_syntrack_syn(&t, &a, 1, 0, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_syn(&t, &b, 1, 0, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_syn(&t, &c, 1, 0, false), UPN_SYN_FULL);
	assert_int_equal(upn_syntrack_count(&t), 2);
	/* Full, a retransmission of what is tracked is still recognised. */
	assert_int_equal(upn_syntrack_syn(&t, &a, 1, 10, false), UPN_SYN_RETRANSMIT);
	assert_false(upn_syntrack_answer(&t, &c, 2)); /* never tracked */
	assert_true(upn_syntrack_answer(&t, &a, 2));
	assert_int_equal(upn_syntrack_syn(&t, &c, 1, 20, false), UPN_SYN_NEW);
	upn_syntrack_destroy(&t);
}

/* An ICMP error reports an attempt once: it stays tracked, its retransmissions and
 * further errors are not new, and its expiry is silent. */
static void test_report(void **state)
{
	struct upn_syn_key a = key("192.0.2.1", 1, "198.51.100.1", 80),
			   b = key("192.0.2.2", 1, "198.51.100.1", 80),
			   c = key("192.0.2.3", 1, "198.51.100.1", 80),
			   d = key("192.0.2.4", 1, "198.51.100.1", 80);
	struct upn_syntrack t;
	struct expired e = { .n = 0 };

	assert_int_equal(upn_syntrack_init(&t, 8, 1000), 0);
	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_UNKNOWN);
	assert_int_equal(upn_syntrack_syn(&t, &a, 1, 0, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_syn(&t, &b, 1, 10, false), UPN_SYN_NEW);
	/* A SYN to a server known down is reported as it is tracked. */
	assert_int_equal(upn_syntrack_syn(&t, &c, 1, 20, true), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_syn(&t, &d, 1, 30, false), UPN_SYN_NEW);

	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_FIRST);
	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_AGAIN);
	assert_int_equal(upn_syntrack_report(&t, &c), UPN_SYN_AGAIN);
	assert_int_equal(upn_syntrack_count(&t), 4);
	/* Reported is still pending: a retransmission is recognised, and the deadline
	 * and the answer work as before. */
	assert_int_equal(upn_syntrack_syn(&t, &a, 5, 500, false), UPN_SYN_RETRANSMIT);
	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_AGAIN);
	assert_int_equal(upn_syntrack_next_deadline(&t), 1000);
	assert_false(upn_syntrack_answer(&t, &d, 5));
	assert_true(upn_syntrack_answer(&t, &d, 2));
	assert_int_equal(upn_syntrack_report(&t, &d), UPN_SYN_UNKNOWN);

	/* All three expire and are counted; only b, never reported, is called back. */
	assert_int_equal(upn_syntrack_expire(&t, 5000, on_expire, &e), 3);
	assert_int_equal(e.n, 1);
	assert_true(key_eq(&e.k[0], &b));
	assert_int_equal(upn_syntrack_count(&t), 0);
	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_UNKNOWN);
	/* Tracked afresh, an attempt is unreported again. */
	assert_int_equal(upn_syntrack_syn(&t, &a, 9, 6000, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_report(&t, &a), UPN_SYN_FIRST);
	upn_syntrack_destroy(&t);
}

/* Oldest first, exactly those due, whichever of head, middle or tail went early. */
static void test_expire_order(void **state)
{
	struct upn_syn_key k[6];
	struct upn_syntrack t;
	struct expired e = { .n = 0 };
	char buf[32];

	for (int i = 0; i < 6; i++) {
		snprintf(buf, sizeof(buf), "192.0.2.%d", i + 1);
		k[i] = key(buf, (uint16_t)(1000 + i), "2001:db8::80", 443);
	}
	assert_int_equal(upn_syntrack_init(&t, 16, 1000), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(upn_syntrack_syn(&t, &k[i], (uint32_t)i, i * 100, false),
				 UPN_SYN_NEW);
	/* Deadlines 1000, 1100, ... 1500. Answer the head, one in the middle, the tail. */
	assert_true(upn_syntrack_answer(&t, &k[0], 1));
	assert_true(upn_syntrack_answer(&t, &k[3], 4));
	assert_true(upn_syntrack_answer(&t, &k[5], 6));
	assert_int_equal(upn_syntrack_next_deadline(&t), 1100);
	/* A retransmission does not move an entry back. */
	assert_int_equal(upn_syntrack_syn(&t, &k[1], 1, 1099, false), UPN_SYN_RETRANSMIT);

	assert_int_equal(upn_syntrack_expire(&t, 1099, on_expire, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(upn_syntrack_expire(&t, 1200, on_expire, &e), 2); /* <= now */
	assert_int_equal(e.n, 2);
	assert_true(key_eq(&e.k[0], &k[1]));
	assert_true(key_eq(&e.k[1], &k[2]));
	assert_int_equal(upn_syntrack_count(&t), 1);
	assert_int_equal(upn_syntrack_next_deadline(&t), 1400);

	/* Emptied and refilled, the list still links up. */
	assert_int_equal(upn_syntrack_syn(&t, &k[0], 7, 1300, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_expire(&t, 1000000, on_expire, &e), 2);
	assert_true(key_eq(&e.k[2], &k[4]));
	assert_true(key_eq(&e.k[3], &k[0]));
	assert_int_equal(upn_syntrack_count(&t), 0);
	assert_int_equal(upn_syntrack_next_deadline(&t), -1);
	assert_int_equal(upn_syntrack_expire(&t, 2000000, on_expire, &e), 0);
	assert_int_equal(upn_syntrack_syn(&t, &k[5], 1, 2000000, false), UPN_SYN_NEW);
	assert_int_equal(upn_syntrack_next_deadline(&t), 2001000);
	upn_syntrack_destroy(&t);
}

/* ---- random run against a plain array ---------------------------------------------- */

#define POOL 300
#define CAP 120

struct ref_syn {
	int key; /* index into the pool */
	uint32_t seq;
	int64_t deadline;
	bool reported;
};

struct ref {
	struct ref_syn v[CAP]; /* in insertion order = expiry order */
	int n;
};

static int ref_find(const struct ref *r, int key)
{
	for (int i = 0; i < r->n; i++)
		if (r->v[i].key == key)
			return i;
	return -1;
}

static void ref_remove(struct ref *r, int i)
{
	memmove(&r->v[i], &r->v[i + 1], (size_t)(r->n - i - 1) * sizeof(r->v[0]));
	r->n--;
}

enum {
	P_NEW,
	P_RETRANSMIT,
	P_FULL,
	P_ANSWER,
	P_REPORT_FIRST,
	P_REPORT_AGAIN,
	P_EXPIRED,
	P_SILENT,
	P_MAX
};

static void test_random_vs_reference(void **state)
{
	static struct upn_syn_key pool[POOL];
	static struct ref r;
	static struct expired e;
	const uint32_t timeout = 500;
	struct upn_syntrack t;
	int64_t now = 1000;
	unsigned int stats[P_MAX] = { 0 };

	rng_state = 0xabcdef0123456789ull;
	for (int i = 0; i < POOL; i++) {
		uint8_t raw[16];

		memset(&pool[i], 0, sizeof(pool[i]));
		for (size_t b = 0; b < sizeof(raw); b++)
			raw[b] = (uint8_t)rnd();
		upn_addr_set(&pool[i].client, i & 1 ? AF_INET6 : AF_INET, raw);
		raw[0] ^= 0xff;
		upn_addr_set(&pool[i].server, i & 1 ? AF_INET6 : AF_INET, raw);
		pool[i].cport = (uint16_t)rnd();
		pool[i].sport = (uint16_t)(rnd() % 4 ? 443 : 80);
	}
	r.n = 0;
	assert_int_equal(upn_syntrack_init(&t, CAP, timeout), 0);
	for (int step = 0; step < 40000; step++) {
		int op = (int)(rnd() % 10), k = (int)(rnd() % POOL), i = ref_find(&r, k);

		/* Bursts fill the table to its cap; calm spells let it drain by expiry. */
		now += (int64_t)(rnd() % ((step / 2000) & 1 ? 2 : 16));
		if (op < 5) {
			uint32_t seq = (uint32_t)rnd();
			bool reported = rnd() % 5 == 0;
			enum upn_syn_result want, got;

			if (i >= 0) {
				want = UPN_SYN_RETRANSMIT;
				r.v[i].seq = seq;
			} else if (r.n == CAP) {
				want = UPN_SYN_FULL;
			} else {
				want = UPN_SYN_NEW;
				r.v[r.n++] = (struct ref_syn){ k, seq, now + timeout, reported };
			}
			got = upn_syntrack_syn(&t, &pool[k], seq, now, reported);
			check(got == want, "step %d: syn %d gave %d, want %d", step, k, got, want);
			stats[want == UPN_SYN_NEW  ? P_NEW :
			      want == UPN_SYN_FULL ? P_FULL :
						     P_RETRANSMIT]++;
		} else if (op < 7) {
			/* Answer right half the time, with a near miss otherwise. */
			uint32_t ack = i >= 0 ? r.v[i].seq + 1 : (uint32_t)rnd();
			bool want, got;

			if (rnd() & 1)
				ack += (uint32_t)(rnd() & 1 ? 1 : -1);
			want = i >= 0 && ack == r.v[i].seq + 1;
			got = upn_syntrack_answer(&t, &pool[k], ack);
			check(got == want, "step %d: answer %d gave %d", step, k, got);
			if (want) {
				ref_remove(&r, i);
				stats[P_ANSWER]++;
			}
		} else if (op < 8) {
			enum upn_syn_report want = i < 0	   ? UPN_SYN_UNKNOWN :
						   r.v[i].reported ? UPN_SYN_AGAIN :
								     UPN_SYN_FIRST,
					    got = upn_syntrack_report(&t, &pool[k]);

			check(got == want, "step %d: report %d gave %d, want %d", step, k, got,
			      want);
			if (i >= 0) {
				stats[r.v[i].reported ? P_REPORT_AGAIN : P_REPORT_FIRST]++;
				r.v[i].reported = true;
			}
		} else {
			uint32_t n, want = 0, calls = 0;

			e.n = 0;
			n = upn_syntrack_expire(&t, now, on_expire, &e);
			while (r.n && r.v[0].deadline <= now) {
				if (!r.v[0].reported) {
					check(calls < e.n && key_eq(&e.k[calls], &pool[r.v[0].key]),
					      "step %d: expiry %u is not key %d", step, calls,
					      r.v[0].key);
					calls++;
					stats[P_EXPIRED]++;
				} else {
					stats[P_SILENT]++;
				}
				ref_remove(&r, 0);
				want++;
			}
			check(n == want && e.n == calls,
			      "step %d: %u expired with %u calls, want %u and %u", step, n, e.n,
			      want, calls);
		}
		check(upn_syntrack_count(&t) == (uint32_t)r.n, "step %d: count %u, want %d", step,
		      upn_syntrack_count(&t), r.n);
		check(upn_syntrack_next_deadline(&t) == (r.n ? r.v[0].deadline : -1),
		      "step %d: next deadline %lld", step,
		      (long long)upn_syntrack_next_deadline(&t));
	}
	/* Every path was taken many times. */
	for (int i = 0; i < P_MAX; i++)
		check(stats[i] > 200, "path %d taken %u times", i, stats[i]);
	upn_syntrack_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_retransmit_answer),
		cmocka_unit_test(test_keys_distinct),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_expire_order),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests_name("syntrack", tests, NULL, NULL);
}
