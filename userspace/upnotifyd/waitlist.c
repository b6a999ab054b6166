// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "waitlist.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define KEY_LEN (offsetof(struct upn_wl_entry, client) + sizeof(struct upn_addr))

_Static_assert(sizeof(struct upn_wl_entry) <= 56, "waitlist entries must stay small");

static struct upn_wl_server *srv(const struct upn_waitlist *wl, uint32_t idx)
{
	return upn_arena_get(&wl->servers, idx);
}

int upn_waitlist_init(struct upn_waitlist *wl, uint32_t total_max, uint32_t per_server_max,
		      struct upn_journal *journal)
{
	int ret;

	memset(wl, 0, sizeof(*wl));
	upn_arena_init(&wl->servers, sizeof(struct upn_wl_server), total_max);
	upn_arena_init(&wl->entries, sizeof(struct upn_wl_entry), total_max);
	ret = upn_ihash_init(&wl->sindex, &wl->servers, offsetof(struct upn_wl_server, addr),
			     sizeof(struct upn_addr), offsetof(struct upn_wl_server, hnext));
	if (!ret)
		ret = upn_ihash_init(&wl->eindex, &wl->entries, 0, KEY_LEN,
				     offsetof(struct upn_wl_entry, hnext));
	if (ret) {
		upn_waitlist_destroy(wl);
		return ret;
	}
	wl->per_server_max = per_server_max;
	wl->journal = journal;
	return 0;
}

void upn_waitlist_destroy(struct upn_waitlist *wl)
{
	upn_ihash_destroy(&wl->eindex);
	upn_ihash_destroy(&wl->sindex);
	upn_arena_destroy(&wl->entries);
	upn_arena_destroy(&wl->servers);
}

static uint32_t server_idx(const struct upn_waitlist *wl, const struct upn_addr *addr)
{
	return upn_ihash_lookup(&wl->sindex, addr);
}

struct upn_wl_server *upn_waitlist_server(const struct upn_waitlist *wl,
					  const struct upn_addr *addr)
{
	uint32_t idx = server_idx(wl, addr);

	return idx == UPN_NIL ? NULL : srv(wl, idx);
}

enum upn_server_state upn_waitlist_state(const struct upn_waitlist *wl, const struct upn_addr *addr)
{
	const struct upn_wl_server *s = upn_waitlist_server(wl, addr);

	return s ? s->state : UPN_SERVER_UP;
}

static void journal_server(struct upn_waitlist *wl, struct upn_wl_server *s)
{
	struct upn_store_op *op;

	if (!wl->journal || !(op = upn_journal_op(wl->journal, &s->marker)))
		return;
	op->kind = UPN_STORE_PUT_SERVER;
	op->server.addr = s->addr;
	op->server.state = s->state;
	op->server.cause = s->cause;
	op->server.since = s->since;
}

static void journal_entry(struct upn_waitlist *wl, struct upn_wl_entry *e)
{
	struct upn_store_op *op;

	if (!wl->journal || !(op = upn_journal_op(wl->journal, &e->marker)))
		return;
	op->kind = UPN_STORE_PUT_ENTRY;
	op->entry.server = srv(wl, e->server)->addr;
	op->entry.client = e->client;
	op->entry.first = e->first;
	op->entry.last = e->last;
	op->entry.attempts = e->attempts;
	op->entry.cause = e->cause;
	op->entry.proto = e->proto;
	op->entry.icmp_type = e->icmp_type;
	op->entry.icmp_code = e->icmp_code;
	op->entry.port = e->port;
}

static uint32_t server_get(struct upn_waitlist *wl, const struct upn_addr *addr)
{
	uint32_t idx = server_idx(wl, addr);
	struct upn_wl_server *s;

	if (idx != UPN_NIL)
		return idx;
	idx = upn_arena_alloc(&wl->servers);
	if (idx == UPN_NIL)
		return UPN_NIL;
	s = srv(wl, idx);
	s->addr = *addr;
	s->state = UPN_SERVER_UP;
	upn_ihash_insert(&wl->sindex, idx);
	return idx;
}

static void set_state(struct upn_waitlist *wl, struct upn_wl_server *s, uint8_t state,
		      uint8_t cause, int64_t now)
{
	uint8_t old = s->state;

	if (old == state && s->since)
		return;
	s->state = state;
	if (wl->on_state && old != state)
		wl->on_state(wl->on_state_ctx, &s->addr, old, state);
	s->cause = cause;
	s->since = now;
	journal_server(wl, s);
}

static void note_port(struct upn_wl_server *s, uint16_t port)
{
	for (size_t i = 0; i < UPN_WAITLIST_PORTS; i++) {
		if (s->ports[i] == port)
			return;
		if (!s->ports[i]) {
			s->ports[i] = port;
			return;
		}
	}
}

bool upn_waitlist_server_port(const struct upn_wl_server *s, uint16_t port)
{
	for (size_t i = 0; i < UPN_WAITLIST_PORTS && s->ports[i]; i++)
		if (s->ports[i] == port)
			return true;
	return false;
}

/* @loading: entries read back from the store are never refused for a cap that was
 * lowered since they were written; they are counted instead. */
static uint32_t entry_get(struct upn_waitlist *wl, uint32_t sidx, const struct upn_addr *client,
			  bool *created, bool loading)
{
	struct upn_wl_server *s = srv(wl, sidx);
	struct upn_wl_entry key, *e;
	uint32_t idx;

	memset(&key, 0, sizeof(key));
	key.server = sidx;
	key.client = *client;
	idx = upn_ihash_lookup(&wl->eindex, &key);
	*created = false;
	if (idx != UPN_NIL)
		return idx;
	if (s->count >= wl->per_server_max && !loading) {
		wl->stats.drop_server_full++;
		return UPN_NIL;
	}
	if (loading && wl->entries.live >= wl->entries.max) {
		wl->entries.max++;
		wl->stats.load_over_cap++;
	}
	idx = upn_arena_alloc(&wl->entries);
	if (idx == UPN_NIL) {
		wl->stats.drop_total_full++;
		return UPN_NIL;
	}
	e = upn_waitlist_entry(wl, idx);
	e->server = sidx;
	e->client = *client;
	e->prev = s->tail;
	if (s->tail != UPN_NIL)
		upn_waitlist_entry(wl, s->tail)->next = idx;
	else
		s->head = idx;
	s->tail = idx;
	s->count++;
	upn_ihash_insert(&wl->eindex, idx);
	*created = true;
	return idx;
}

static void failed_access(struct upn_waitlist *wl, const struct upn_event *ev, int64_t now)
{
	bool host_down = upn_event_host_down(ev), created;
	struct upn_wl_server *s;
	struct upn_wl_entry *e;
	uint32_t sidx, eidx;

	wl->stats.failed_access++;
	if (wl->only_known_clients && !upn_clients_lookup(wl->clients, &ev->client)) {
		wl->stats.drop_unknown_client++;
		return;
	}
	sidx = server_get(wl, &ev->server);
	if (sidx == UPN_NIL) {
		wl->stats.drop_total_full++;
		return;
	}
	s = srv(wl, sidx);
	/* A refusal says the host is up; it does not undo a host-level outage. A client
	 * put on the list by hand (a mail command's subscriber, cause manual, only ever
	 * for a server already down or refusing) says nothing about the host at all. */
	if (ev->cause != UPNOTIFY_CAUSE_MANUAL || s->state == UPN_SERVER_UP) {
		if (host_down)
			set_state(wl, s, UPN_SERVER_DOWN, ev->cause, now);
		else if (s->state != UPN_SERVER_DOWN)
			set_state(wl, s, UPN_SERVER_REFUSING, ev->cause, now);
	}
	eidx = entry_get(wl, sidx, &ev->client, &created, false);
	if (eidx == UPN_NIL)
		return;
	e = upn_waitlist_entry(wl, eidx);
	if (created) {
		e->first = (uint32_t)now;
		wl->stats.new_entries++;
	} else {
		wl->stats.repeat_attempts++;
	}
	e->last = (uint32_t)now;
	if (e->attempts < UINT32_MAX)
		e->attempts++;
	e->cause = ev->cause;
	e->proto = ev->proto;
	e->port = ev->port;
	e->icmp_type = ev->icmp_type;
	e->icmp_code = ev->icmp_code;
	/* Probes are TCP connects: only a TCP port can show the service is back. */
	if (ev->port && ev->proto == IPPROTO_TCP)
		note_port(s, ev->port);
	journal_entry(wl, e);
}

void upn_waitlist_event(struct upn_waitlist *wl, const struct upn_event *ev)
{
	int64_t now = (int64_t)(ev->ts_ns / 1000000000ull);
	struct upn_wl_server *s;
	uint32_t sidx;

	switch (ev->type) {
	case UPNOTIFY_CMD_FAILED_ACCESS_NTF:
		failed_access(wl, ev, now);
		break;
	case UPNOTIFY_CMD_SERVER_DOWN_NTF:
		sidx = server_get(wl, &ev->server);
		if (sidx == UPN_NIL) {
			wl->stats.drop_total_full++;
			break;
		}
		wl->stats.server_down++;
		set_state(wl, srv(wl, sidx), UPN_SERVER_DOWN, ev->cause, now);
		break;
	case UPNOTIFY_CMD_SERVER_UP_NTF:
		s = upn_waitlist_server(wl, &ev->server);
		if (!s || s->state == UPN_SERVER_UP)
			break;
		wl->stats.server_up++;
		set_state(wl, s, UPN_SERVER_UP, ev->cause, now);
		break;
	}
}

uint32_t upn_waitlist_find(const struct upn_waitlist *wl, const struct upn_addr *server,
			   const struct upn_addr *client)
{
	struct upn_wl_entry key;

	memset(&key, 0, sizeof(key));
	key.server = server_idx(wl, server);
	key.client = *client;
	return key.server == UPN_NIL ? UPN_NIL : upn_ihash_lookup(&wl->eindex, &key);
}

void upn_waitlist_remove_entry(struct upn_waitlist *wl, uint32_t idx)
{
	struct upn_wl_entry *e = upn_waitlist_entry(wl, idx);
	struct upn_wl_server *s = srv(wl, e->server);
	struct upn_store_op *op;

	if (e->prev != UPN_NIL)
		upn_waitlist_entry(wl, e->prev)->next = e->next;
	else
		s->head = e->next;
	if (e->next != UPN_NIL)
		upn_waitlist_entry(wl, e->next)->prev = e->prev;
	else
		s->tail = e->prev;
	s->count--;
	if (wl->journal && (op = upn_journal_op(wl->journal, &e->marker))) {
		/* Folding the delete into a pending put is safe: nothing later in the
		 * batch can depend on the entry. */
		op->kind = UPN_STORE_DEL_ENTRY;
		op->entry.server = s->addr;
		op->entry.client = e->client;
	}
	if (wl->journal)
		upn_journal_disown(wl->journal, &e->marker);
	upn_ihash_remove(&wl->eindex, idx);
	upn_arena_free(&wl->entries, idx);
}

void upn_waitlist_remove_server(struct upn_waitlist *wl, struct upn_wl_server *s)
{
	uint32_t sidx = server_idx(wl, &s->addr);
	uint32_t idx = s->head;
	struct upn_store_op *op;

	while (idx != UPN_NIL) {
		struct upn_wl_entry *e = upn_waitlist_entry(wl, idx);
		uint32_t next = e->next;

		/* The server's delete below removes the stored rows. */
		if (wl->journal)
			upn_journal_disown(wl->journal, &e->marker);
		upn_ihash_remove(&wl->eindex, idx);
		upn_arena_free(&wl->entries, idx);
		idx = next;
	}
	if (wl->journal) {
		/* Appended, never folded into an earlier op: the delete must come after
		 * every put of the server's clients still in the batch. */
		upn_journal_disown(wl->journal, &s->marker);
		op = upn_journal_op(wl->journal, &s->marker);
		if (op) {
			op->kind = UPN_STORE_DEL_SERVER;
			op->server.addr = s->addr;
		}
		upn_journal_disown(wl->journal, &s->marker);
	}
	if (wl->on_state && s->state != UPN_SERVER_UP)
		wl->on_state(wl->on_state_ctx, &s->addr, s->state, UPN_SERVER_UP);
	upn_ihash_remove(&wl->sindex, sidx);
	upn_arena_free(&wl->servers, sidx);
}

/* Loading: a server stored under a larger cap still gets its record. */
static void make_room(struct upn_waitlist *wl, const struct upn_addr *addr)
{
	if (server_idx(wl, addr) == UPN_NIL && wl->servers.live >= wl->servers.max) {
		wl->servers.max++;
		wl->stats.load_over_cap++;
	}
}

int upn_waitlist_load_server(struct upn_waitlist *wl, const struct upn_store_server *in)
{
	uint32_t sidx;

	make_room(wl, &in->addr);
	sidx = server_get(wl, &in->addr);
	struct upn_wl_server *s;

	if (sidx == UPN_NIL)
		return -ENOSPC;
	s = srv(wl, sidx);
	s->state = in->state;
	s->cause = in->cause;
	s->since = in->since;
	return 0;
}

int upn_waitlist_load_entry(struct upn_waitlist *wl, const struct upn_store_entry *in)
{
	uint32_t sidx, eidx;
	struct upn_wl_entry *e;
	bool created;

	make_room(wl, &in->server);
	sidx = server_get(wl, &in->server);
	if (sidx == UPN_NIL)
		return -ENOMEM;
	eidx = entry_get(wl, sidx, &in->client, &created, true);
	if (eidx == UPN_NIL)
		return -ENOMEM;
	e = upn_waitlist_entry(wl, eidx);
	e->first = (uint32_t)in->first;
	e->last = (uint32_t)in->last;
	e->attempts = in->attempts;
	e->cause = in->cause;
	e->proto = in->proto;
	e->port = in->port;
	e->icmp_type = in->icmp_type;
	e->icmp_code = in->icmp_code;
	if (in->port && in->proto == IPPROTO_TCP)
		note_port(srv(wl, sidx), in->port);
	return 0;
}

void upn_waitlist_foreach_server(const struct upn_waitlist *wl,
				 void (*fn)(void *ctx, const struct upn_wl_server *s), void *ctx)
{
	for (uint32_t i = 1; i < wl->servers.used; i++) {
		const struct upn_wl_server *s = srv(wl, i);

		/* The free-list link overwrites a freed record's first bytes, but a freed
		 * index is never in the hash. */
		if (upn_ihash_lookup(&wl->sindex, &s->addr) == i)
			fn(ctx, s);
	}
}

uint32_t upn_waitlist_count(const struct upn_waitlist *wl)
{
	return wl->entries.live;
}

size_t upn_waitlist_bytes(const struct upn_waitlist *wl)
{
	return upn_arena_bytes(&wl->servers) + upn_arena_bytes(&wl->entries) +
	       upn_ihash_bytes(&wl->sindex) + upn_ihash_bytes(&wl->eindex);
}
