// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "journal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"

void upn_journal_init(struct upn_journal *j, struct upn_store *store)
{
	memset(j, 0, sizeof(*j));
	j->store = store;
}

void upn_journal_destroy(struct upn_journal *j)
{
	upn_store_ops_free_bodies(j->ops, j->n);
	free(j->ops);
	free(j->owner);
	memset(j, 0, sizeof(*j));
}

static int reserve(struct upn_journal *j)
{
	size_t cap = j->cap ? j->cap * 2 : 256;
	struct upn_store_op *ops;
	uint32_t **owner;

	ops = realloc(j->ops, cap * sizeof(*ops));
	if (!ops)
		return -1;
	j->ops = ops;
	owner = realloc(j->owner, cap * sizeof(*owner));
	if (!owner)
		return -1;
	j->owner = owner;
	j->cap = cap;
	return 0;
}

struct upn_store_op *upn_journal_op(struct upn_journal *j, uint32_t *marker)
{
	if (*marker)
		return &j->ops[*marker - 1];
	if (j->n == j->cap && reserve(j))
		return NULL;
	if (!j->n)
		j->first_ms = upn_now_mono_ms();
	j->owner[j->n] = marker;
	*marker = (uint32_t)++j->n;
	memset(&j->ops[j->n - 1], 0, sizeof(j->ops[0]));
	return &j->ops[j->n - 1];
}

void upn_journal_disown(struct upn_journal *j, uint32_t *marker)
{
	if (*marker)
		j->owner[*marker - 1] = NULL;
	*marker = 0;
}

uint64_t upn_journal_flush(struct upn_journal *j)
{
	int ret;

	if (!j->n)
		return 0;
	if (!j->store) {
		/* Dropped, so nobody else will free them. */
		upn_store_ops_free_bodies(j->ops, j->n);
		for (size_t i = 0; i < j->n; i++)
			if (j->owner[i])
				*j->owner[i] = 0;
		j->n = 0;
		return ++j->seq;
	}
	if (!upn_store_idle(j->store))
		return 0;
	ret = upn_store_submit(j->store, j->ops, j->n, j->seq + 1);
	if (ret) {
		upn_warn("store: cannot hand over %zu changes: %s", j->n, strerror(-ret));
		return 0;
	}
	for (size_t i = 0; i < j->n; i++)
		if (j->owner[i])
			*j->owner[i] = 0;
	j->submitted_ops += j->n;
	/* The store owns the old array now. */
	j->ops = NULL;
	free(j->owner);
	j->owner = NULL;
	j->n = j->cap = 0;
	return ++j->seq;
}

bool upn_journal_due(const struct upn_journal *j, int64_t now_ms)
{
	return j->n && (j->n >= UPN_STORE_BATCH_MAX || now_ms - j->first_ms >= UPN_STORE_FLUSH_MS);
}

int64_t upn_journal_deadline(const struct upn_journal *j)
{
	return j->n ? j->first_ms + UPN_STORE_FLUSH_MS : -1;
}

uint64_t upn_journal_barrier(const struct upn_journal *j)
{
	return j->n ? j->seq + 1 : j->seq;
}
