// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Slots a key may use, from its hash on. */
#define PROBES 8

struct upn_ratelimit_slot {
	uint64_t hash; /* 0: never used */
	int64_t tat;   /* ms; <= now: the bucket is full again */
};

int upn_ratelimit_init(struct upn_ratelimit *rl, uint32_t per_hour, uint32_t slots)
{
	uint32_t n = PROBES;

	memset(rl, 0, sizeof(*rl));
	if (!per_hour)
		return 0;
	while (n < slots && n < (1u << 30))
		n <<= 1;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (!rl->slots)
		return -ENOMEM;
	rl->mask = n - 1;
	rl->t_ms = 3600000 / per_hour;
	if (!rl->t_ms)
		rl->t_ms = 1;
	rl->tau_ms = rl->t_ms * ((int64_t)per_hour - 1);
	randombytes_buf(rl->key, sizeof(rl->key));
	return 0;
}

void upn_ratelimit_destroy(struct upn_ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
}

bool upn_ratelimit_take(struct upn_ratelimit *rl, const void *key, size_t len, int64_t now_ms)
{
	struct upn_ratelimit_slot *s, *victim = NULL;
	unsigned char h8[8];
	uint64_t h;
	int64_t tat;

	if (!rl->slots)
		return true;
	crypto_shorthash(h8, key, len, rl->key);
	memcpy(&h, h8, sizeof(h));
	h |= 1; /* never 0, the empty slot's mark */
	for (uint32_t i = 0; i < PROBES; i++) {
		s = &rl->slots[(h + i) & rl->mask];
		if (s->hash == h)
			goto found;
		if (!victim || s->tat < victim->tat)
			victim = s;
	}
	/* A new key: the slot that frees soonest, counted if it had not freed yet. */
	s = victim;
	if (s->hash && s->tat > now_ms)
		rl->evicted++;
	s->hash = h;
	s->tat = now_ms;
found:
	tat = s->tat > now_ms ? s->tat : now_ms;
	if (tat - now_ms > rl->tau_ms)
		return false;
	s->tat = tat + rl->t_ms;
	return true;
}
