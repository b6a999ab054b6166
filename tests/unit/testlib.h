/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* What every cmocka unit test here uses: include after <cmocka.h>. */
#ifndef UPN_TESTLIB_H
#define UPN_TESTLIB_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "addr.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A failed table line names itself. */
#define check(cond, ...)                       \
	do {                                   \
		if (!(cond))                   \
			fail_msg(__VA_ARGS__); \
	} while (0)

/* xorshift64*: fixed seeds keep every run the same. */
static uint64_t rng_state __attribute__((unused));

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static inline struct upn_addr addr(const char *s)
{
	struct upn_addr a;

	assert_int_equal(upn_addr_parse(s, &a), 0);
	return a;
}

/* Removes a fixture's scratch directory: the files in it, then itself. */
static inline void rm_scratch(const char *dir)
{
	struct dirent *d;
	char p[512];
	DIR *dh = opendir(dir);

	while (dh && (d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		unlink(p);
	}
	if (dh)
		closedir(dh);
	rmdir(dir);
}

static inline struct upn_prefix pfx(const char *s)
{
	struct upn_prefix p;

	assert_int_equal(upn_prefix_parse(s, &p), 0);
	return p;
}

#endif
