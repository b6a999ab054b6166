// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "lpm.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

struct rec {
	struct upn_prefix key;
	uint8_t live;
	uint32_t next;
	uint32_t value;
};

static unsigned int fam(int family)
{
	return family == AF_INET6;
}

int upn_lpm_init(struct upn_lpm *m, uint32_t max)
{
	int ret;

	memset(m, 0, sizeof(*m));
	upn_arena_init(&m->arena, sizeof(struct rec), max);
	ret = upn_ihash_init(&m->index, &m->arena, offsetof(struct rec, key),
			     sizeof(struct upn_prefix), offsetof(struct rec, next));
	if (ret)
		upn_arena_destroy(&m->arena);
	return ret;
}

void upn_lpm_destroy(struct upn_lpm *m)
{
	upn_ihash_destroy(&m->index);
	upn_arena_destroy(&m->arena);
}

static uint32_t find(const struct upn_lpm *m, const struct upn_prefix *p)
{
	return upn_ihash_lookup(&m->index, p);
}

int upn_lpm_set(struct upn_lpm *m, const struct upn_prefix *p, uint32_t value)
{
	uint32_t idx = find(m, p);
	struct rec *r;

	if (idx == UPN_NIL) {
		idx = upn_arena_alloc(&m->arena);
		if (idx == UPN_NIL)
			return -ENOSPC;
		r = upn_arena_get(&m->arena, idx);
		r->key = *p;
		r->live = 1;
		upn_ihash_insert(&m->index, idx);
		m->nlen[fam(p->addr.family)][p->len]++;
	}
	r = upn_arena_get(&m->arena, idx);
	r->value = value;
	return 0;
}

int upn_lpm_del(struct upn_lpm *m, const struct upn_prefix *p, uint32_t *old)
{
	uint32_t idx = find(m, p);

	if (idx == UPN_NIL)
		return -ENOENT;
	if (old)
		*old = ((struct rec *)upn_arena_get(&m->arena, idx))->value;
	upn_ihash_remove(&m->index, idx);
	((struct rec *)upn_arena_get(&m->arena, idx))->live = 0;
	upn_arena_free(&m->arena, idx);
	m->nlen[fam(p->addr.family)][p->len]--;
	return 0;
}

bool upn_lpm_get(const struct upn_lpm *m, const struct upn_prefix *p, uint32_t *value)
{
	uint32_t idx = find(m, p);

	if (idx == UPN_NIL)
		return false;
	if (value)
		*value = ((struct rec *)upn_arena_get(&m->arena, idx))->value;
	return true;
}

bool upn_lpm_match(const struct upn_lpm *m, const struct upn_addr *a, uint32_t *value,
		   struct upn_prefix *matched)
{
	const uint32_t *nlen = m->nlen[fam(a->family)];
	struct upn_prefix p;

	if (!m->arena.live)
		return false;
	for (int len = (int)upn_addr_maxlen(a->family); len >= 0; len--) {
		if (!nlen[len])
			continue;
		memset(&p, 0, sizeof(p));
		p.addr = *a;
		p.len = (uint8_t)len;
		upn_addr_mask(&p.addr, p.len);
		if (upn_lpm_get(m, &p, value)) {
			if (matched)
				*matched = p;
			return true;
		}
	}
	return false;
}

uint32_t upn_lpm_count(const struct upn_lpm *m)
{
	return m->arena.live;
}

void upn_lpm_foreach(const struct upn_lpm *m,
		     void (*fn)(void *ctx, const struct upn_prefix *p, uint32_t value), void *ctx)
{
	for (uint32_t i = 1; i < m->arena.used; i++) {
		const struct rec *r = upn_arena_get(&m->arena, i);

		if (r->live)
			fn(ctx, &r->key, r->value);
	}
}
