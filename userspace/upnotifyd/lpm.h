/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Longest-prefix match from IPv4/IPv6 prefixes to u32 values: one exact-match hash
 * probed once per prefix length in use, longest first. Tables here have a handful of
 * distinct lengths, so a lookup is a few hash probes whatever their size. */
#ifndef UPN_LPM_H
#define UPN_LPM_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "ihash.h"

struct upn_lpm {
	struct upn_arena arena;
	struct upn_ihash index;
	uint32_t nlen[2][129]; /* prefixes of each length, [0] IPv4, [1] IPv6 */
};

int upn_lpm_init(struct upn_lpm *m, uint32_t max);
void upn_lpm_destroy(struct upn_lpm *m);
/* Insert or replace. 0, or -ENOSPC when full. */
int upn_lpm_set(struct upn_lpm *m, const struct upn_prefix *p, uint32_t value);
/* 0 and the old value in @old (may be NULL), or -ENOENT. */
int upn_lpm_del(struct upn_lpm *m, const struct upn_prefix *p, uint32_t *old);
bool upn_lpm_get(const struct upn_lpm *m, const struct upn_prefix *p, uint32_t *value);
/* The longest prefix containing @a: its value and, if @matched, the prefix. */
bool upn_lpm_match(const struct upn_lpm *m, const struct upn_addr *a, uint32_t *value,
		   struct upn_prefix *matched);
uint32_t upn_lpm_count(const struct upn_lpm *m);
void upn_lpm_foreach(const struct upn_lpm *m,
		     void (*fn)(void *ctx, const struct upn_prefix *p, uint32_t value), void *ctx);

#endif
