/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* A hash index over the records of an arena. The key is a byte range inside each
 * record and the chain link a u32 inside it, so an index costs one u32 bucket per
 * record. Keys are hashed with SipHash under a random key: clients choose their
 * addresses and ports, so they must not be able to choose collisions. */
#ifndef UPN_IHASH_H
#define UPN_IHASH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct upn_ihash {
	struct upn_arena *arena;
	uint32_t *bucket;
	uint32_t mask;
	uint32_t count;
	uint16_t key_off, key_len, next_off;
	unsigned char seed[16];
};

int upn_ihash_init(struct upn_ihash *h, struct upn_arena *arena, size_t key_off, size_t key_len,
		   size_t next_off);
void upn_ihash_destroy(struct upn_ihash *h);
/* The record whose key bytes equal @key, or UPN_NIL. */
uint32_t upn_ihash_lookup(const struct upn_ihash *h, const void *key);
/* @idx must not be indexed yet. Grows the bucket array as needed; if that fails the
 * table just gets slower. */
void upn_ihash_insert(struct upn_ihash *h, uint32_t idx);
void upn_ihash_remove(struct upn_ihash *h, uint32_t idx);
size_t upn_ihash_bytes(const struct upn_ihash *h);

#endif
