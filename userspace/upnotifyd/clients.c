// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "clients.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int upn_clients_init(struct upn_clients *c, uint32_t max, struct upn_journal *journal)
{
	int ret = upn_lpm_init(&c->lpm, max);

	if (ret)
		return ret;
	upn_arena_init(&c->recs, sizeof(struct upn_client), max);
	c->journal = journal;
	return 0;
}

static struct upn_client *rec(const struct upn_clients *c, uint32_t idx)
{
	return upn_arena_get(&c->recs, idx);
}

void upn_clients_destroy(struct upn_clients *c)
{
	for (uint32_t i = 1; i < c->recs.used; i++)
		if (rec(c, i)->mail)
			free(rec(c, i)->mail);
	upn_arena_destroy(&c->recs);
	upn_lpm_destroy(&c->lpm);
}

static void journal_put(struct upn_clients *c, struct upn_client *cl)
{
	struct upn_store_op *op = upn_journal_op(c->journal, &cl->marker);

	if (!op)
		return;
	op->kind = UPN_STORE_PUT_CLIENT;
	op->client.prefix = cl->prefix;
	op->client.registered = cl->registered;
	snprintf(op->client.mail, sizeof(op->client.mail), "%s", cl->mail);
}

int upn_clients_set(struct upn_clients *c, const struct upn_prefix *p, const char *mail,
		    int64_t registered, bool from_config)
{
	struct upn_client *cl;
	uint32_t idx;
	char *copy = strdup(mail);

	if (!copy)
		return -ENOMEM;
	if (upn_lpm_get(&c->lpm, p, &idx)) {
		cl = rec(c, idx);
		/* The config file owns its entries while we run. */
		if (cl->from_config && !from_config) {
			free(copy);
			return -EPERM;
		}
		free(cl->mail);
	} else {
		idx = upn_arena_alloc(&c->recs);
		if (idx == UPN_NIL || upn_lpm_set(&c->lpm, p, idx)) {
			if (idx != UPN_NIL)
				upn_arena_free(&c->recs, idx);
			free(copy);
			return -ENOSPC;
		}
		cl = rec(c, idx);
		cl->prefix = *p;
	}
	cl->mail = copy;
	cl->registered = registered;
	cl->from_config = from_config;
	if (!from_config && c->journal)
		journal_put(c, cl);
	return 0;
}

int upn_clients_del(struct upn_clients *c, const struct upn_prefix *p)
{
	struct upn_client *cl;
	struct upn_store_op *op;
	uint32_t idx;

	if (!upn_lpm_get(&c->lpm, p, &idx))
		return -ENOENT;
	cl = rec(c, idx);
	if (cl->from_config)
		return -EPERM;
	if (c->journal) {
		op = upn_journal_op(c->journal, &cl->marker);
		if (op) {
			op->kind = UPN_STORE_DEL_CLIENT;
			op->client.prefix = *p;
		}
		upn_journal_disown(c->journal, &cl->marker);
	}
	upn_lpm_del(&c->lpm, p, NULL);
	free(cl->mail);
	cl->mail = NULL;
	upn_arena_free(&c->recs, idx);
	return 0;
}

const struct upn_client *upn_clients_get(const struct upn_clients *c, const struct upn_prefix *p)
{
	uint32_t idx;

	return upn_lpm_get(&c->lpm, p, &idx) ? rec(c, idx) : NULL;
}

const struct upn_client *upn_clients_lookup(const struct upn_clients *c, const struct upn_addr *a)
{
	uint32_t idx;

	return upn_lpm_match(&c->lpm, a, &idx, NULL) ? rec(c, idx) : NULL;
}

uint32_t upn_clients_count(const struct upn_clients *c)
{
	return upn_lpm_count(&c->lpm);
}

struct each {
	const struct upn_clients *c;
	void (*fn)(void *ctx, const struct upn_client *cl);
	void *ctx;
};

static void each_prefix(void *ctx, const struct upn_prefix *p, uint32_t idx)
{
	struct each *e = ctx;

	e->fn(e->ctx, rec(e->c, idx));
}

void upn_clients_foreach(const struct upn_clients *c,
			 void (*fn)(void *ctx, const struct upn_client *cl), void *ctx)
{
	struct each e = { c, fn, ctx };

	upn_lpm_foreach(&c->lpm, each_prefix, &e);
}
