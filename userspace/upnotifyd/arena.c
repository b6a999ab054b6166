// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << UPN_ARENA_CHUNK_SHIFT)

int upn_arena_init(struct upn_arena *a, size_t esize, uint32_t max)
{
	memset(a, 0, sizeof(*a));
	/* A free record holds the next free index in its first four bytes. */
	a->esize = esize < sizeof(uint32_t) ? sizeof(uint32_t) : esize;
	a->used = 1;
	a->max = max;
	return 0;
}

void upn_arena_destroy(struct upn_arena *a)
{
	for (uint32_t i = 0; i < a->nchunks; i++)
		free(a->chunk[i]);
	free(a->chunk);
	memset(a, 0, sizeof(*a));
}

uint32_t upn_arena_alloc(struct upn_arena *a)
{
	uint32_t idx;
	void *p;

	if (a->live >= a->max)
		return UPN_NIL;
	if (a->free_head != UPN_NIL) {
		idx = a->free_head;
		p = upn_arena_get(a, idx);
		memcpy(&a->free_head, p, sizeof(uint32_t));
	} else {
		if (a->used == UINT32_MAX)
			return UPN_NIL;
		if ((a->used >> UPN_ARENA_CHUNK_SHIFT) >= a->nchunks) {
			uint8_t **nc = realloc(a->chunk, (a->nchunks + 1) * sizeof(*nc));

			if (!nc)
				return UPN_NIL;
			a->chunk = nc;
			a->chunk[a->nchunks] = malloc(CHUNK * a->esize);
			if (!a->chunk[a->nchunks])
				return UPN_NIL;
			a->nchunks++;
		}
		idx = a->used++;
		p = upn_arena_get(a, idx);
	}
	memset(p, 0, a->esize);
	a->live++;
	return idx;
}

void upn_arena_free(struct upn_arena *a, uint32_t idx)
{
	void *p = upn_arena_get(a, idx);

	memcpy(p, &a->free_head, sizeof(uint32_t));
	a->free_head = idx;
	a->live--;
}

size_t upn_arena_bytes(const struct upn_arena *a)
{
	return (size_t)a->nchunks * (CHUNK * a->esize + sizeof(*a->chunk));
}
