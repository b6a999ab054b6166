// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "mailrate.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
	/* Slots looked at for a domain before giving up: the table is a cache of busy
	 * domains, not a registry, so a short probe is enough. */
	PROBE = 64,
	DOMAIN_MAX = 255,
};

struct upn_mailrate_bucket {
	int64_t tat; /* 0: never used */
	char name[DOMAIN_MAX + 1];
};

static void limit_init(uint32_t rate, int64_t *t, int64_t *tau)
{
	if (!rate) {
		*t = *tau = 0;
		return;
	}
	/* A burst of one second: rate tokens, the first of them free. */
	*t = 1000000 / rate;
	if (!*t)
		*t = 1;
	*tau = 1000000 - *t;
}

int upn_mailrate_init(struct upn_mailrate *r, uint32_t rate, uint32_t per_domain)
{
	memset(r, 0, sizeof(*r));
	limit_init(rate, &r->all_t, &r->all_tau);
	limit_init(per_domain, &r->dom_t, &r->dom_tau);
	if (!per_domain)
		return 0;
	if (sodium_init() < 0)
		return -ENOMEM;
	randombytes_buf(r->key, sizeof(r->key));
	r->dom = calloc(UPN_MAILRATE_DOMAINS, sizeof(*r->dom));
	return r->dom ? 0 : -ENOMEM;
}

void upn_mailrate_destroy(struct upn_mailrate *r)
{
	free(r->dom);
	r->dom = NULL;
}

static int64_t earliest(int64_t tat, int64_t tau, int64_t now)
{
	return tat - tau > now ? tat - tau : now;
}

static void take(int64_t *tat, int64_t t, int64_t at)
{
	*tat = (*tat > at ? *tat : at) + t;
}

/* The domain's bucket: the one with its name, else one that is back to a full
 * burst (tat in the past, as good as new), else NULL. */
static struct upn_mailrate_bucket *domain_bucket(struct upn_mailrate *r, const char *recipient,
						 int64_t now)
{
	const char *at = strrchr(recipient, '@');
	struct upn_mailrate_bucket *free_b = NULL;
	char name[DOMAIN_MAX + 1];
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t idx;
	size_t n = 0;

	/* Domains are case-insensitive; ASCII folding is all a mail domain needs. */
	for (const char *p = at ? at + 1 : recipient; *p && n < DOMAIN_MAX; p++)
		name[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	name[n] = '\0';
	crypto_shorthash(h, (const unsigned char *)name, n, r->key);
	memcpy(&idx, h, sizeof(idx));
	for (size_t i = 0; i < PROBE; i++) {
		struct upn_mailrate_bucket *b = &r->dom[(idx + i) % UPN_MAILRATE_DOMAINS];

		if (b->tat && !strcmp(b->name, name))
			return b;
		if (!free_b && b->tat <= now)
			free_b = b;
		/* Slots are never emptied, only reused: a never used one ends the chain. */
		if (!b->tat)
			break;
	}
	if (free_b) {
		memcpy(free_b->name, name, n + 1);
		free_b->tat = 0;
	}
	return free_b;
}

int64_t upn_mailrate_reserve(struct upn_mailrate *r, const char *recipient, int64_t now_us)
{
	struct upn_mailrate_bucket *b = NULL;
	int64_t slot = now_us;

	if (r->all_t)
		slot = earliest(r->all_tat, r->all_tau, now_us);
	if (r->dom_t) {
		b = domain_bucket(r, recipient, now_us);
		if (!b)
			return -1;
		if (earliest(b->tat, r->dom_tau, now_us) > slot)
			slot = earliest(b->tat, r->dom_tau, now_us);
	}
	if (r->all_t)
		take(&r->all_tat, r->all_t, slot);
	if (b)
		take(&b->tat, r->dom_t, slot);
	return slot;
}
