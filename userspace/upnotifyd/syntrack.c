// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "syntrack.h"

#include <stddef.h>

struct syn {
	struct upn_syn_key key;
	uint32_t seq;
	bool reported;
	uint32_t hnext;
	uint32_t prev, next;
	int64_t deadline_ms;
};

static struct syn *get(const struct upn_syntrack *t, uint32_t idx)
{
	return upn_arena_get(&t->arena, idx);
}

int upn_syntrack_init(struct upn_syntrack *t, uint32_t max, uint32_t timeout_ms)
{
	int ret;

	upn_arena_init(&t->arena, sizeof(struct syn), max);
	ret = upn_ihash_init(&t->index, &t->arena, offsetof(struct syn, key),
			     sizeof(struct upn_syn_key), offsetof(struct syn, hnext));
	if (ret)
		upn_arena_destroy(&t->arena);
	t->head = t->tail = UPN_NIL;
	t->timeout_ms = timeout_ms;
	return ret;
}

void upn_syntrack_destroy(struct upn_syntrack *t)
{
	upn_ihash_destroy(&t->index);
	upn_arena_destroy(&t->arena);
}

static void unlink_entry(struct upn_syntrack *t, uint32_t idx)
{
	struct syn *s = get(t, idx);

	if (s->prev != UPN_NIL)
		get(t, s->prev)->next = s->next;
	else
		t->head = s->next;
	if (s->next != UPN_NIL)
		get(t, s->next)->prev = s->prev;
	else
		t->tail = s->prev;
	upn_ihash_remove(&t->index, idx);
	upn_arena_free(&t->arena, idx);
}

enum upn_syn_result upn_syntrack_syn(struct upn_syntrack *t, const struct upn_syn_key *k,
				     uint32_t seq, int64_t now_ms, bool reported)
{
	uint32_t idx = upn_ihash_lookup(&t->index, k);
	struct syn *s;

	if (idx != UPN_NIL) {
		/* A retransmission, or a new attempt reusing the ports: the client has been
		 * waiting since the first SYN either way, so the deadline stays. */
		get(t, idx)->seq = seq;
		return UPN_SYN_RETRANSMIT;
	}
	idx = upn_arena_alloc(&t->arena);
	if (idx == UPN_NIL)
		return UPN_SYN_FULL;
	s = get(t, idx);
	s->key = *k;
	s->seq = seq;
	s->reported = reported;
	s->deadline_ms = now_ms + t->timeout_ms;
	s->prev = t->tail;
	s->next = UPN_NIL;
	if (t->tail != UPN_NIL)
		get(t, t->tail)->next = idx;
	else
		t->head = idx;
	t->tail = idx;
	upn_ihash_insert(&t->index, idx);
	return UPN_SYN_NEW;
}

enum upn_syn_report upn_syntrack_answer(struct upn_syntrack *t, const struct upn_syn_key *k,
					uint32_t ack)
{
	uint32_t idx = upn_ihash_lookup(&t->index, k);
	bool reported;

	if (idx == UPN_NIL || get(t, idx)->seq + 1 != ack)
		return UPN_SYN_UNKNOWN;
	reported = get(t, idx)->reported;
	unlink_entry(t, idx);
	return reported ? UPN_SYN_AGAIN : UPN_SYN_FIRST;
}

enum upn_syn_report upn_syntrack_report(struct upn_syntrack *t, const struct upn_syn_key *k)
{
	uint32_t idx = upn_ihash_lookup(&t->index, k);
	struct syn *s;

	if (idx == UPN_NIL)
		return UPN_SYN_UNKNOWN;
	s = get(t, idx);
	if (s->reported)
		return UPN_SYN_AGAIN;
	s->reported = true;
	return UPN_SYN_FIRST;
}

uint32_t upn_syntrack_report_server(struct upn_syntrack *t, const struct upn_addr *server,
				    void (*fn)(void *ctx, const struct upn_syn_key *k), void *ctx)
{
	uint32_t n = 0;

	for (uint32_t idx = t->head; idx != UPN_NIL; idx = get(t, idx)->next) {
		struct syn *s = get(t, idx);

		if (s->reported || !upn_addr_eq(&s->key.server, server))
			continue;
		s->reported = true;
		fn(ctx, &s->key);
		n++;
	}
	return n;
}

uint32_t upn_syntrack_expire(struct upn_syntrack *t, int64_t now_ms,
			     void (*fn)(void *ctx, const struct upn_syn_key *k), void *ctx)
{
	uint32_t n = 0;

	while (t->head != UPN_NIL && get(t, t->head)->deadline_ms <= now_ms) {
		struct upn_syn_key k = get(t, t->head)->key;
		bool reported = get(t, t->head)->reported;

		unlink_entry(t, t->head);
		if (!reported)
			fn(ctx, &k);
		n++;
	}
	return n;
}

int64_t upn_syntrack_next_deadline(const struct upn_syntrack *t)
{
	return t->head == UPN_NIL ? -1 : get(t, t->head)->deadline_ms;
}

uint32_t upn_syntrack_count(const struct upn_syntrack *t)
{
	return t->arena.live;
}
