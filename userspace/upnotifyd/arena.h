/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Fixed-size records addressed by 32-bit index, the "link numbers" of the patent's
 * linked address table (figure 4A): index 0 is the link end, freed records form the
 * empty-area list. Records live in chunks that never move, so a pointer to one stays
 * valid until it is freed, and a table of a million records costs no realloc copy. */
#ifndef UPN_ARENA_H
#define UPN_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define UPN_NIL 0u
#define UPN_ARENA_CHUNK_SHIFT 12 /* 4096 records a chunk */

struct upn_arena {
	uint8_t **chunk;
	size_t esize;
	uint32_t nchunks;
	uint32_t used; /* high-water mark; index 0 is never handed out */
	uint32_t free_head;
	uint32_t live;
	uint32_t max; /* cap on live records */
};

int upn_arena_init(struct upn_arena *a, size_t esize, uint32_t max);
void upn_arena_destroy(struct upn_arena *a);
/* A zeroed record, or UPN_NIL when the cap is reached or memory is short. */
uint32_t upn_arena_alloc(struct upn_arena *a);
void upn_arena_free(struct upn_arena *a, uint32_t idx);
/* Bytes held, for the memory figures of `upnotifyctl status` and the bench. */
size_t upn_arena_bytes(const struct upn_arena *a);

static inline void *upn_arena_get(const struct upn_arena *a, uint32_t idx)
{
	return a->chunk[idx >> UPN_ARENA_CHUNK_SHIFT] +
	       (size_t)(idx & ((1u << UPN_ARENA_CHUNK_SHIFT) - 1)) * a->esize;
}

#endif
