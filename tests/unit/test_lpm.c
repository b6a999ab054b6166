// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Longest-prefix match, and the arena and hash index under it. The random cases
 * compare upn_lpm_match with a linear scan over the same prefixes, the way
 * WireGuard's allowedips selftest checks its trie: nested prefixes around a few
 * base addresses, so most lookups have several candidates of different lengths.
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

#include "arena.h"
#include "ihash.h"
#include "lpm.h"

static const char *fmt(const struct upn_prefix *p)
{
	static char buf[4][UPN_ADDRSTRLEN];
	static int n;

	return upn_prefix_fmt(p, buf[n++ & 3]);
}

/* ---- the linear reference ------------------------------------------------------ */

#define REF_MAX 8192

struct ref {
	struct upn_prefix p[REF_MAX];
	uint32_t v[REF_MAX];
	size_t n;
};

static bool same_prefix(const struct upn_prefix *x, const struct upn_prefix *y)
{
	return x->len == y->len && upn_addr_eq(&x->addr, &y->addr);
}

static ssize_t ref_find(const struct ref *r, const struct upn_prefix *p)
{
	for (size_t i = 0; i < r->n; i++)
		if (same_prefix(&r->p[i], p))
			return (ssize_t)i;
	return -1;
}

static void ref_set(struct ref *r, const struct upn_prefix *p, uint32_t v)
{
	ssize_t i = ref_find(r, p);

	if (i < 0) {
		assert_true(r->n < REF_MAX);
		i = (ssize_t)r->n++;
		r->p[i] = *p;
	}
	r->v[i] = v;
}

static bool ref_del(struct ref *r, const struct upn_prefix *p, uint32_t *old)
{
	ssize_t i = ref_find(r, p);

	if (i < 0)
		return false;
	*old = r->v[i];
	r->n--;
	r->p[i] = r->p[r->n];
	r->v[i] = r->v[r->n];
	return true;
}

static ssize_t ref_match(const struct ref *r, const struct upn_addr *a)
{
	ssize_t best = -1;

	for (size_t i = 0; i < r->n; i++)
		if (upn_prefix_contains(&r->p[i], a) && (best < 0 || r->p[i].len > r->p[best].len))
			best = (ssize_t)i;
	return best;
}

/* A few base addresses per family; prefixes and lookups stay near them. */
static struct upn_addr bases[2][6];

static void make_bases(void)
{
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < ARRAY_SIZE(bases[f]); i++) {
			uint8_t raw[16];

			for (size_t b = 0; b < sizeof(raw); b++)
				raw[b] = (uint8_t)rnd();
			upn_addr_set(&bases[f][i], f ? AF_INET6 : AF_INET, raw);
		}
}

/* A base with a few random bits flipped, mostly far down where prefixes end. */
static void near_addr(struct upn_addr *a)
{
	int f = (int)(rnd() & 1);
	unsigned int max = f ? 128 : 32;

	*a = bases[f][rnd() % ARRAY_SIZE(bases[f])];
	for (int n = (int)(rnd() % 3); n > 0; n--) {
		unsigned int b = (unsigned int)(rnd() % max);

		a->a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
	}
}

static void random_prefix(struct upn_prefix *p)
{
	unsigned int max;

	near_addr(&p->addr);
	max = upn_addr_maxlen(p->addr.family);
	/* Half the lengths from a short list, so several prefixes share a length. */
	if (rnd() & 1) {
		static const unsigned int common[] = { 0, 8, 16, 24, 32, 48, 64, 96, 128 };

		do
			p->len = (uint8_t)common[rnd() % ARRAY_SIZE(common)];
		while (p->len > max);
	} else {
		p->len = (uint8_t)(rnd() % (max + 1));
	}
	upn_addr_mask(&p->addr, p->len);
}

/* Returns how many lookups matched, and sets a bit in @lens per matched length. */
static int compare_lookups(const struct upn_lpm *m, const struct ref *r, int n, uint8_t *lens)
{
	int hits = 0;

	for (int i = 0; i < n; i++) {
		struct upn_prefix got;
		struct upn_addr a;
		uint32_t v = 0xdeadbeef;
		ssize_t want;
		bool hit;

		if (rnd() % 4)
			near_addr(&a);
		else {
			uint8_t raw[16];

			for (size_t b = 0; b < sizeof(raw); b++)
				raw[b] = (uint8_t)rnd();
			upn_addr_set(&a, rnd() & 1 ? AF_INET6 : AF_INET, raw);
		}
		want = ref_match(r, &a);
		hit = upn_lpm_match(m, &a, &v, &got);
		check(hit == (want >= 0), "%s: match %d, reference %s",
		      upn_addr_fmt(&a, (char[UPN_ADDRSTRLEN]){ 0 }), hit,
		      want >= 0 ? fmt(&r->p[want]) : "none");
		if (!hit)
			continue;
		check(same_prefix(&got, &r->p[want]) && v == r->v[want],
		      "%s: matched %s = %u, reference %s = %u",
		      upn_addr_fmt(&a, (char[UPN_ADDRSTRLEN]){ 0 }), fmt(&got), v, fmt(&r->p[want]),
		      r->v[want]);
		hits++;
		lens[got.len / 8] |= (uint8_t)(1u << (got.len % 8));
	}
	return hits;
}

static void test_lpm_random_vs_linear(void **state)
{
	static struct ref r;
	uint8_t lens[17] = { 0 };
	int hits = 0, nlens = 0;
	struct upn_lpm m;

	rng_state = 0x5eed5eed5eed5eedull;
	make_bases();
	r.n = 0;
	assert_int_equal(upn_lpm_init(&m, 100000), 0);
	for (int round = 0; round < 12; round++) {
		/* Grow, replace and delete, then compare thousands of lookups. */
		for (int i = 0; i < 150; i++) {
			struct upn_prefix p;
			uint32_t v = (uint32_t)rnd(), old, rold;

			random_prefix(&p);
			if (rnd() % 4 == 0) {
				bool had = ref_del(&r, &p, &rold);
				int ret = upn_lpm_del(&m, &p, &old);

				check(ret == (had ? 0 : -ENOENT), "del %s: %d", fmt(&p), ret);
				check(!had || old == rold, "del %s: old %u, want %u", fmt(&p), old,
				      rold);
			} else {
				assert_int_equal(upn_lpm_set(&m, &p, v), 0);
				ref_set(&r, &p, v);
			}
		}
		/* And delete a few that certainly exist. */
		for (int i = 0; i < 20 && r.n; i++) {
			struct upn_prefix p = r.p[rnd() % r.n];
			uint32_t old, rold;

			assert_true(ref_del(&r, &p, &rold));
			assert_int_equal(upn_lpm_del(&m, &p, &old), 0);
			assert_int_equal(old, rold);
		}
		assert_int_equal(upn_lpm_count(&m), r.n);
		hits += compare_lookups(&m, &r, 1500, lens);
	}
	/* The comparison is only as good as the table is full and the lookups hit. */
	for (int i = 0; i < 129; i++)
		nlens += (lens[i / 8] >> (i % 8)) & 1;
	check(r.n > 500 && hits > 12 * 1500 / 2 && nlens > 40, "%zu prefixes, %d hits, %d lengths",
	      r.n, hits, nlens);
	upn_lpm_destroy(&m);
}

/* ---- set / replace / del / get --------------------------------------------------- */

static void test_lpm_semantics(void **state)
{
	struct upn_prefix p8 = pfx("10.0.0.0/8"), p16 = pfx("10.1.0.0/16"), p32 = pfx("10.1.2.3"),
			  v6 = pfx("2001:db8::/32"), any4 = pfx("0.0.0.0/0"), any6 = pfx("::/0"),
			  got;
	struct upn_addr a = addr("10.1.2.3"), b = addr("10.1.9.9"), c = addr("10.9.9.9"),
			d = addr("11.0.0.1"), e = addr("2001:db8:1::1"), f = addr("::a01:203");
	struct upn_lpm m;
	uint32_t v;

	assert_int_equal(upn_lpm_init(&m, 100), 0);
	assert_false(upn_lpm_match(&m, &a, &v, NULL)); /* empty */

	assert_int_equal(upn_lpm_set(&m, &p8, 8), 0);
	assert_int_equal(upn_lpm_set(&m, &p16, 16), 0);
	assert_int_equal(upn_lpm_set(&m, &p32, 32), 0);
	assert_int_equal(upn_lpm_set(&m, &v6, 6), 0);
	assert_int_equal(upn_lpm_count(&m), 4);

	assert_true(upn_lpm_match(&m, &a, &v, &got));
	assert_int_equal(v, 32);
	assert_true(same_prefix(&got, &p32));
	assert_true(upn_lpm_match(&m, &b, &v, &got));
	assert_int_equal(v, 16);
	assert_true(same_prefix(&got, &p16));
	assert_true(upn_lpm_match(&m, &c, &v, NULL));
	assert_int_equal(v, 8);
	assert_false(upn_lpm_match(&m, &d, &v, NULL));
	assert_true(upn_lpm_match(&m, &e, &v, NULL));
	assert_int_equal(v, 6);
	/* ::a01:203 has the bytes of 10.1.2.3 but is IPv6. */
	assert_false(upn_lpm_match(&m, &f, &v, NULL));

	/* Replace: same prefix, new value, no new entry. */
	assert_int_equal(upn_lpm_set(&m, &p16, 1600), 0);
	assert_int_equal(upn_lpm_count(&m), 4);
	assert_true(upn_lpm_get(&m, &p16, &v));
	assert_int_equal(v, 1600);
	assert_true(upn_lpm_match(&m, &b, &v, NULL));
	assert_int_equal(v, 1600);

	/* get is exact: a containing or contained prefix is not the prefix. */
	assert_false(upn_lpm_get(&m, &(struct upn_prefix){ .addr = p16.addr, .len = 15 }, &v));
	assert_true(upn_lpm_get(&m, &p8, NULL));

	/* Delete the longest: the lookup falls back to the next one. */
	v = 0;
	assert_int_equal(upn_lpm_del(&m, &p32, &v), 0);
	assert_int_equal(v, 32);
	assert_int_equal(upn_lpm_del(&m, &p32, &v), -ENOENT);
	assert_int_equal(upn_lpm_del(&m, &p32, NULL), -ENOENT);
	assert_false(upn_lpm_get(&m, &p32, NULL));
	assert_true(upn_lpm_match(&m, &a, &v, &got));
	assert_int_equal(v, 1600);
	assert_true(same_prefix(&got, &p16));
	assert_int_equal(upn_lpm_count(&m), 3);

	/* /0 per family. */
	assert_int_equal(upn_lpm_set(&m, &any4, 40), 0);
	assert_true(upn_lpm_match(&m, &d, &v, &got));
	assert_int_equal(v, 40);
	assert_int_equal(got.len, 0);
	assert_false(upn_lpm_match(&m, &f, &v, NULL));
	assert_int_equal(upn_lpm_set(&m, &any6, 60), 0);
	assert_true(upn_lpm_match(&m, &f, &v, NULL));
	assert_int_equal(v, 60);

	/* Delete everything: nothing matches, and the table takes entries again. */
	assert_int_equal(upn_lpm_del(&m, &p8, NULL), 0);
	assert_int_equal(upn_lpm_del(&m, &p16, NULL), 0);
	assert_int_equal(upn_lpm_del(&m, &v6, NULL), 0);
	assert_int_equal(upn_lpm_del(&m, &any4, NULL), 0);
	assert_int_equal(upn_lpm_del(&m, &any6, NULL), 0);
	assert_int_equal(upn_lpm_count(&m), 0);
	assert_false(upn_lpm_match(&m, &a, &v, NULL));
	assert_false(upn_lpm_match(&m, &e, &v, NULL));
	assert_int_equal(upn_lpm_set(&m, &p32, 3), 0);
	assert_true(upn_lpm_match(&m, &a, &v, NULL));
	assert_int_equal(v, 3);
	upn_lpm_destroy(&m);
}

static void test_lpm_cap(void **state)
{
	struct upn_prefix p[4] = { pfx("10.0.0.0/8"), pfx("10.1.0.0/16"), pfx("::1"),
				   pfx("192.0.2.0/24") };
	struct upn_lpm m;
	uint32_t v;

	assert_int_equal(upn_lpm_init(&m, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(upn_lpm_set(&m, &p[i], (uint32_t)i), 0);
	assert_int_equal(upn_lpm_set(&m, &p[3], 3), -ENOSPC);
	assert_false(upn_lpm_get(&m, &p[3], NULL));
	assert_int_equal(upn_lpm_count(&m), 3);
	/* A full table still replaces values of what it has. */
	assert_int_equal(upn_lpm_set(&m, &p[1], 11), 0);
	assert_true(upn_lpm_get(&m, &p[1], &v));
	assert_int_equal(v, 11);
	/* A delete makes room again. */
	assert_int_equal(upn_lpm_del(&m, &p[0], NULL), 0);
	assert_int_equal(upn_lpm_set(&m, &p[3], 3), 0);
	assert_int_equal(upn_lpm_set(&m, &p[0], 0), -ENOSPC);
	upn_lpm_destroy(&m);

	/* A cap of zero holds nothing. */
	assert_int_equal(upn_lpm_init(&m, 0), 0);
	assert_int_equal(upn_lpm_set(&m, &p[0], 0), -ENOSPC);
	assert_int_equal(upn_lpm_count(&m), 0);
	upn_lpm_destroy(&m);
}

struct seen {
	struct ref *want;
	uint8_t hits[REF_MAX];
	int extra;
};

static void visit(void *ctx, const struct upn_prefix *p, uint32_t value)
{
	struct seen *s = ctx;
	ssize_t i = ref_find(s->want, p);

	if (i < 0 || s->want->v[i] != value) {
		s->extra++;
		return;
	}
	s->hits[i]++;
}

/* foreach visits each live entry once, and no freed one, after deletes that put
 * records on the free list and sets that take them off again. */
static void test_lpm_foreach(void **state)
{
	static struct ref r;
	static struct seen s;
	struct upn_lpm m;
	char buf[64];

	r.n = 0;
	assert_int_equal(upn_lpm_init(&m, 10000), 0);
	for (int i = 0; i < 5000; i++) {
		struct upn_prefix p;

		snprintf(buf, sizeof(buf), i & 1 ? "2001:db8:%x::/48" : "10.%d.%d.0/24", i >> 8,
			 i & 255);
		p = pfx(buf);
		assert_int_equal(upn_lpm_set(&m, &p, (uint32_t)i), 0);
		ref_set(&r, &p, (uint32_t)i);
	}
	for (size_t i = 0; i < r.n; i += 3) {
		uint32_t old;
		struct upn_prefix p = r.p[i];

		assert_int_equal(upn_lpm_del(&m, &p, NULL), 0);
		assert_true(ref_del(&r, &p, &old));
	}
	/* Reuse some of the freed records. */
	for (int i = 0; i < 300; i++) {
		struct upn_prefix p;

		snprintf(buf, sizeof(buf), "172.16.%d.%d", i >> 8, i & 255);
		p = pfx(buf);
		assert_int_equal(upn_lpm_set(&m, &p, 100000u + (uint32_t)i), 0);
		ref_set(&r, &p, 100000u + (uint32_t)i);
	}
	assert_int_equal(upn_lpm_count(&m), r.n);

	memset(&s, 0, sizeof(s));
	s.want = &r;
	upn_lpm_foreach(&m, visit, &s);
	assert_int_equal(s.extra, 0);
	for (size_t i = 0; i < r.n; i++)
		check(s.hits[i] == 1, "%s visited %d times", fmt(&r.p[i]), s.hits[i]);
	upn_lpm_destroy(&m);
}

/* ---- the arena ----------------------------------------------------------------- */

struct rec16 {
	uint32_t a, b, c, d;
};

static void test_arena(void **state)
{
	const uint32_t n = 3 * 4096 + 100; /* into the fourth chunk */
	struct upn_arena a;
	struct rec16 *first = NULL;
	uint32_t idx, *got = calloc(n + 1, sizeof(*got));

	assert_non_null(got);
	assert_int_equal(upn_arena_init(&a, sizeof(struct rec16), n), 0);
	assert_int_equal(upn_arena_bytes(&a), 0);
	for (uint32_t i = 1; i <= n; i++) {
		struct rec16 *r;

		idx = upn_arena_alloc(&a);
		check(idx == i, "alloc %u gave %u: indices are handed out in order from 1", i, idx);
		r = upn_arena_get(&a, idx);
		check(r->a == 0 && r->b == 0 && r->c == 0 && r->d == 0, "record %u not zeroed",
		      idx);
		r->a = r->b = r->c = r->d = idx * 7;
		got[i] = idx;
		if (i == 1)
			first = r;
	}
	assert_int_equal(a.live, n);
	assert_int_equal(a.nchunks, 4);
	assert_true(upn_arena_bytes(&a) >= 4 * 4096 * sizeof(struct rec16));
	/* At the cap. */
	assert_int_equal(upn_arena_alloc(&a), UPN_NIL);
	/* Records never move and keep their contents across growth. */
	assert_ptr_equal(first, upn_arena_get(&a, 1));
	for (uint32_t i = 1; i <= n; i++) {
		struct rec16 *r = upn_arena_get(&a, i);

		check(r->a == i * 7 && r->d == i * 7, "record %u changed", i);
	}

	/* Free across chunks; allocs reuse exactly the freed indices, last freed first. */
	static const uint32_t freed[] = { 5, 4096, 4097, 8191, 12000, 1 };

	for (size_t i = 0; i < ARRAY_SIZE(freed); i++)
		upn_arena_free(&a, freed[i]);
	assert_int_equal(a.live, n - ARRAY_SIZE(freed));
	for (size_t i = ARRAY_SIZE(freed); i-- > 0;) {
		struct rec16 *r;

		idx = upn_arena_alloc(&a);
		check(idx == freed[i], "reuse gave %u, want %u", idx, freed[i]);
		r = upn_arena_get(&a, idx);
		check(r->a == 0 && r->b == 0 && r->c == 0 && r->d == 0,
		      "reused record %u not zeroed", idx);
	}
	assert_int_equal(upn_arena_alloc(&a), UPN_NIL);
	assert_int_equal(a.nchunks, 4); /* reuse did not grow */
	upn_arena_destroy(&a);
	free(got);

	/* Records smaller than the free-list link are padded up to it. */
	assert_int_equal(upn_arena_init(&a, 1, 10), 0);
	assert_true(a.esize >= sizeof(uint32_t));
	idx = upn_arena_alloc(&a);
	upn_arena_free(&a, idx);
	assert_int_equal(upn_arena_alloc(&a), idx);
	upn_arena_destroy(&a);
}

/* ---- the hash index ------------------------------------------------------------ */

struct hrec {
	uint64_t key;
	uint32_t next;
	uint32_t val;
};

static void test_ihash(void **state)
{
	const uint32_t n = 20000; /* several bucket doublings, five arena chunks */
	struct upn_arena a;
	struct upn_ihash h;
	uint64_t key;

	assert_int_equal(upn_arena_init(&a, sizeof(struct hrec), n), 0);
	assert_int_equal(upn_ihash_init(&h, &a, offsetof(struct hrec, key), sizeof(uint64_t),
					offsetof(struct hrec, next)),
			 0);
	key = 1;
	assert_int_equal(upn_ihash_lookup(&h, &key), UPN_NIL);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = upn_arena_alloc(&a);
		struct hrec *r = upn_arena_get(&a, idx);

		r->key = (uint64_t)i * 0x100000001ull;
		r->val = i;
		upn_ihash_insert(&h, idx);
	}
	assert_int_equal(h.count, n);
	assert_true(h.mask + 1 >= n); /* grew with the count */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx;

		key = (uint64_t)i * 0x100000001ull;
		idx = upn_ihash_lookup(&h, &key);
		check(idx != UPN_NIL && ((struct hrec *)upn_arena_get(&a, idx))->val == i,
		      "key %u lost", i);
	}
	/* Remove the odd ones; the even ones stay findable, the odd ones are gone. */
	for (uint32_t i = 1; i < n; i += 2) {
		uint32_t idx;

		key = (uint64_t)i * 0x100000001ull;
		idx = upn_ihash_lookup(&h, &key);
		upn_ihash_remove(&h, idx);
		upn_arena_free(&a, idx);
	}
	assert_int_equal(h.count, n / 2);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx;

		key = (uint64_t)i * 0x100000001ull;
		idx = upn_ihash_lookup(&h, &key);
		if (i & 1)
			check(idx == UPN_NIL, "removed key %u still found", i);
		else
			check(idx != UPN_NIL && ((struct hrec *)upn_arena_get(&a, idx))->val == i,
			      "key %u lost after removals", i);
	}
	/* Removing what is not indexed changes nothing. */
	{
		uint32_t idx = upn_arena_alloc(&a);
		struct hrec *r = upn_arena_get(&a, idx);

		r->key = 0xffffffffffffull;
		upn_ihash_remove(&h, idx);
		assert_int_equal(h.count, n / 2);
		upn_arena_free(&a, idx);
	}
	upn_ihash_destroy(&h);
	upn_arena_destroy(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lpm_random_vs_linear),
		cmocka_unit_test(test_lpm_semantics),
		cmocka_unit_test(test_lpm_cap),
		cmocka_unit_test(test_lpm_foreach),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_ihash),
	};

	return cmocka_run_group_tests_name("lpm", tests, NULL, NULL);
}
