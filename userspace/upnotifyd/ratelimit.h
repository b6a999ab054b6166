/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Keyed rate limits for the portal: so many actions per key (a client address, a mail
 * address) per hour, with the whole hour's allowance usable at once.
 *
 * Each key is one GCRA bucket ("theoretical arrival time", as in mailrate.h) in a
 * fixed table, found by a keyed hash: the keys come from strangers, so the table never
 * grows and its layout cannot be predicted. A bucket whose time has passed is as good
 * as empty and its slot is reused. When every slot a key may use is busy, the one that
 * frees soonest is taken over and counted: a flood of spoofed sources can then give a
 * real key a fresh allowance early, but never grow memory or deny service to it. */
#ifndef UPN_RATELIMIT_H
#define UPN_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct upn_ratelimit_slot;

struct upn_ratelimit {
	struct upn_ratelimit_slot *slots;
	uint32_t mask;	       /* slots - 1, a power of two */
	int64_t t_ms, tau_ms;  /* emission interval and burst tolerance */
	unsigned char key[16]; /* SipHash key */
	uint64_t evicted;      /* buckets taken over while still running */
};

/* @per_hour actions per key per hour (0: no limit), @slots rounded up to a power of
 * two. 0 or -ENOMEM. */
int upn_ratelimit_init(struct upn_ratelimit *rl, uint32_t per_hour, uint32_t slots);
void upn_ratelimit_destroy(struct upn_ratelimit *rl);
/* Takes one action for @key at @now_ms (any clock that only grows). false: over the
 * limit, nothing taken. */
bool upn_ratelimit_take(struct upn_ratelimit *rl, const void *key, size_t len, int64_t now_ms);

#endif
