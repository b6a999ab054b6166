// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "mailrelay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Weight of the newest session in the average: a few sessions make a trend. */
#define EWMA_NEW 0.3

int upn_mailrelays_init(struct upn_mailrelays *set, const struct upn_mail_config *cfg)
{
	set->n = cfg->nrelays;
	set->order = cfg->order;
	set->retry_ms = cfg->relay_retry_ms;
	set->r = calloc(set->n ? set->n : 1, sizeof(*set->r));
	if (!set->r)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		set->r[i].cfg = &cfg->relays[i];
		snprintf(set->r[i].name, sizeof(set->r[i].name), "%s:%u", cfg->relays[i].host,
			 cfg->relays[i].port);
	}
	return 0;
}

void upn_mailrelays_destroy(struct upn_mailrelays *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

static double load(const struct upn_mailrelay *r, int64_t now)
{
	return now - r->last_used > UPN_MAILRELAY_FORGET_MS ? 0 : r->ms_per_msg;
}

size_t upn_mailrelays_pick(struct upn_mailrelays *set, int64_t now, size_t *order)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		if (set->r[i].dead_until <= now)
			order[n++] = i;
	if (set->order != UPN_RELAY_LEAST_LOADED)
		return n;
	/* Insertion sort, stable: equal loads keep the configured order. */
	for (size_t i = 1; i < n; i++) {
		size_t k = order[i], j = i;

		while (j > 0 && load(&set->r[order[j - 1]], now) > load(&set->r[k], now)) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = k;
	}
	return n;
}

void upn_mailrelays_dead(struct upn_mailrelays *set, size_t i, int64_t now)
{
	/* Never 0, which means alive. */
	set->r[i].dead_until = now + set->retry_ms + 1;
}

void upn_mailrelays_used(struct upn_mailrelays *set, size_t i, int64_t now, size_t n, int64_t ms)
{
	struct upn_mailrelay *r = &set->r[i];
	double per = n ? (double)ms / (double)n : (double)ms;

	r->dead_until = 0;
	r->ms_per_msg = load(r, now) ? (1 - EWMA_NEW) * r->ms_per_msg + EWMA_NEW * per : per;
	/* A relay that took no time at all still has a figure, or it would win for ever. */
	if (r->ms_per_msg <= 0)
		r->ms_per_msg = 0.001;
	r->last_used = now;
}
