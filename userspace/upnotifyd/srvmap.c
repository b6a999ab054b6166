// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "srvmap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

int upn_srvmap_init(struct upn_srvmap *m, uint32_t max, struct upn_journal *journal)
{
	int ret = upn_lpm_init(&m->lpm, max);

	if (ret)
		return ret;
	upn_arena_init(&m->recs, sizeof(struct upn_srv), max);
	m->journal = journal;
	return 0;
}

void upn_srvmap_destroy(struct upn_srvmap *m)
{
	upn_arena_destroy(&m->recs);
	upn_lpm_destroy(&m->lpm);
}

static struct upn_srv *rec(const struct upn_srvmap *m, uint32_t idx)
{
	return upn_arena_get(&m->recs, idx);
}

static bool url_ok(const char *url)
{
	size_t n = strlen(url), scheme;

	if (!strncmp(url, "http://", 7))
		scheme = 7;
	else if (!strncmp(url, "https://", 8))
		scheme = 8;
	else
		return false;
	if (n <= scheme || n > UPN_URL_MAX || url[scheme] == '/')
		return false;
	/* Printable ASCII only: it goes into a request line and the outbox as it is. */
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '"' ||
		    *c == '<' || *c == '>' || *c == '\\')
			return false;
	return true;
}

const char *upn_srvmap_target_error(uint8_t mode, const char *target)
{
	switch (mode) {
	case UPN_RELAY_DIRECT:
		return target && *target ? "direct takes no target" : NULL;
	case UPN_RELAY_SERVER:
	case UPN_RELAY_NMS:
		if (!target || !*target)
			return "needs the agent's mail address";
		return upn_mail_valid(target) ? NULL : "the target is not a usable mail address";
	case UPN_RELAY_WEBHOOK:
		if (!target || !*target)
			return "needs a URL";
		if (strlen(target) > UPN_URL_MAX)
			return "the URL is too long";
		return url_ok(target) ? NULL : "the target is not an http:// or https:// URL";
	}
	return "unknown mode";
}

static void journal_put(struct upn_srvmap *m, struct upn_srv *s)
{
	struct upn_store_op *op = upn_journal_op(m->journal, &s->marker);

	if (!op)
		return;
	op->kind = UPN_STORE_PUT_SRVMAP;
	op->srvmap.prefix = s->prefix;
	op->srvmap.mode = s->mode;
	op->srvmap.registered = s->registered;
	snprintf(op->srvmap.target, sizeof(op->srvmap.target), "%s", s->target);
	snprintf(op->srvmap.key_id, sizeof(op->srvmap.key_id), "%s", s->key_id);
}

int upn_srvmap_set(struct upn_srvmap *m, const struct upn_prefix *p, uint8_t mode,
		   const char *target, const char *key_id, int64_t registered, bool from_config)
{
	struct upn_srv *s;
	uint32_t idx;

	if (!target)
		target = "";
	if (!key_id)
		key_id = "";
	if (mode > UPN_RELAY_WEBHOOK || (mode == UPN_RELAY_DIRECT && *target) ||
	    strlen(target) > UPN_URL_MAX || strlen(key_id) > UPN_RELAY_KEYID_MAX)
		return -EINVAL;
	if (upn_lpm_get(&m->lpm, p, &idx)) {
		s = rec(m, idx);
		/* The config file owns its entries while we run. */
		if (s->from_config && !from_config)
			return -EPERM;
	} else {
		idx = upn_arena_alloc(&m->recs);
		if (idx == UPN_NIL || upn_lpm_set(&m->lpm, p, idx)) {
			if (idx != UPN_NIL)
				upn_arena_free(&m->recs, idx);
			return -ENOSPC;
		}
		s = rec(m, idx);
		s->prefix = *p;
	}
	s->mode = mode;
	strcpy(s->target, target);
	strcpy(s->key_id, key_id);
	s->registered = registered;
	s->from_config = from_config;
	if (!from_config && m->journal)
		journal_put(m, s);
	return 0;
}

int upn_srvmap_del(struct upn_srvmap *m, const struct upn_prefix *p)
{
	struct upn_store_op *op;
	struct upn_srv *s;
	uint32_t idx;

	if (!upn_lpm_get(&m->lpm, p, &idx))
		return -ENOENT;
	s = rec(m, idx);
	if (s->from_config)
		return -EPERM;
	if (m->journal) {
		op = upn_journal_op(m->journal, &s->marker);
		if (op) {
			op->kind = UPN_STORE_DEL_SRVMAP;
			op->srvmap.prefix = *p;
		}
		upn_journal_disown(m->journal, &s->marker);
	}
	upn_lpm_del(&m->lpm, p, NULL);
	upn_arena_free(&m->recs, idx);
	return 0;
}

const struct upn_srv *upn_srvmap_get(const struct upn_srvmap *m, const struct upn_prefix *p)
{
	uint32_t idx;

	return upn_lpm_get(&m->lpm, p, &idx) ? rec(m, idx) : NULL;
}

const struct upn_srv *upn_srvmap_lookup(const struct upn_srvmap *m, const struct upn_addr *a)
{
	uint32_t idx;

	return upn_lpm_match(&m->lpm, a, &idx, NULL) ? rec(m, idx) : NULL;
}

uint32_t upn_srvmap_count(const struct upn_srvmap *m)
{
	return upn_lpm_count(&m->lpm);
}

struct each {
	const struct upn_srvmap *m;
	void (*fn)(void *ctx, const struct upn_srv *s);
	void *ctx;
};

static void each_prefix(void *ctx, const struct upn_prefix *p, uint32_t idx)
{
	struct each *e = ctx;

	e->fn(e->ctx, rec(e->m, idx));
}

void upn_srvmap_foreach(const struct upn_srvmap *m, void (*fn)(void *ctx, const struct upn_srv *s),
			void *ctx)
{
	struct each e = { m, fn, ctx };

	upn_lpm_foreach(&m->lpm, each_prefix, &e);
}
