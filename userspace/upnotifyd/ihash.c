// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "ihash.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64u

static uint32_t *link_of(const struct upn_ihash *h, uint32_t idx)
{
	return (uint32_t *)((uint8_t *)upn_arena_get(h->arena, idx) + h->next_off);
}

static uint32_t hash_key(const struct upn_ihash *h, const void *key)
{
	uint64_t out;

	crypto_shorthash((unsigned char *)&out, key, h->key_len, h->seed);
	return (uint32_t)out;
}

static const void *key_of(const struct upn_ihash *h, uint32_t idx)
{
	return (const uint8_t *)upn_arena_get(h->arena, idx) + h->key_off;
}

int upn_ihash_init(struct upn_ihash *h, struct upn_arena *arena, size_t key_off, size_t key_len,
		   size_t next_off)
{
	memset(h, 0, sizeof(*h));
	if (sodium_init() < 0)
		return -EIO;
	h->arena = arena;
	h->key_off = (uint16_t)key_off;
	h->key_len = (uint16_t)key_len;
	h->next_off = (uint16_t)next_off;
	h->bucket = calloc(INITIAL_BUCKETS, sizeof(*h->bucket));
	if (!h->bucket)
		return -ENOMEM;
	h->mask = INITIAL_BUCKETS - 1;
	randombytes_buf(h->seed, sizeof(h->seed));
	return 0;
}

void upn_ihash_destroy(struct upn_ihash *h)
{
	free(h->bucket);
	h->bucket = NULL;
}

uint32_t upn_ihash_lookup(const struct upn_ihash *h, const void *key)
{
	uint32_t idx = h->bucket[hash_key(h, key) & h->mask];

	while (idx != UPN_NIL && memcmp(key_of(h, idx), key, h->key_len))
		idx = *link_of(h, idx);
	return idx;
}

static void grow(struct upn_ihash *h)
{
	uint32_t nmask = h->mask * 2 + 1;
	uint32_t *nb = calloc((size_t)nmask + 1, sizeof(*nb));

	if (!nb)
		return;
	for (uint32_t b = 0; b <= h->mask; b++) {
		uint32_t idx = h->bucket[b];

		while (idx != UPN_NIL) {
			uint32_t next = *link_of(h, idx);
			uint32_t *head = &nb[hash_key(h, key_of(h, idx)) & nmask];

			*link_of(h, idx) = *head;
			*head = idx;
			idx = next;
		}
	}
	free(h->bucket);
	h->bucket = nb;
	h->mask = nmask;
}

void upn_ihash_insert(struct upn_ihash *h, uint32_t idx)
{
	uint32_t *head;

	if (h->count > h->mask && h->mask < (1u << 31) - 1)
		grow(h);
	head = &h->bucket[hash_key(h, key_of(h, idx)) & h->mask];
	*link_of(h, idx) = *head;
	*head = idx;
	h->count++;
}

void upn_ihash_remove(struct upn_ihash *h, uint32_t idx)
{
	uint32_t *p = &h->bucket[hash_key(h, key_of(h, idx)) & h->mask];

	while (*p != UPN_NIL) {
		if (*p == idx) {
			*p = *link_of(h, idx);
			h->count--;
			return;
		}
		p = link_of(h, *p);
	}
}

size_t upn_ihash_bytes(const struct upn_ihash *h)
{
	return ((size_t)h->mask + 1) * sizeof(*h->bucket);
}
