/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The waitlist: for each server that failed, the clients that tried and could not get
 * through. It is the patent's linked IP address table (figures 4A/4B): a server record
 * holds the head and tail link of its clients, each client record the next link, and
 * a hash over (server, client) keeps every pair unique. Every change is journaled so
 * the store can make it durable. */
#ifndef UPN_WAITLIST_H
#define UPN_WAITLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "clients.h"
#include "event.h"
#include "ihash.h"
#include "journal.h"
#include "store.h"

struct upn_wl_server {
	struct upn_addr addr; /* hash key */
	uint8_t state;	      /* enum upn_server_state */
	uint8_t cause;	      /* of the last state change */
	uint32_t hnext;
	uint32_t head, tail; /* its clients, oldest first */
	uint32_t count;
	uint32_t marker; /* journal */
	int64_t since;
	/* The first few ports its clients failed on: a SYN/ACK from one of them shows
	 * that a refusing service is back. Rebuilt from the entries at load. */
	uint16_t ports[UPN_WAITLIST_PORTS];
	/* Addresses registered through the portal in this outage (portal.server_max);
	 * memory only: a restart gives an outage a fresh allowance. */
	uint32_t registrations;
};

/* 56 bytes; (server, client) in the first 21 are the hash key. */
struct upn_wl_entry {
	uint32_t server; /* link number of the server record */
	struct upn_addr client;
	uint8_t cause, proto, icmp_type, icmp_code;
	uint16_t port;
	uint32_t first, last; /* unix seconds */
	uint32_t attempts;
	uint32_t hnext, prev, next;
	uint32_t marker; /* journal */
};

struct upn_wl_stats {
	uint64_t load_over_cap; /* stored entries loaded beyond a lowered cap */
	uint64_t failed_access; /* FAILED_ACCESS events applied */
	uint64_t new_entries;
	uint64_t repeat_attempts;     /* events for a pair already listed */
	uint64_t drop_server_full;    /* per-server cap reached */
	uint64_t drop_total_full;     /* global cap reached */
	uint64_t drop_unknown_client; /* only_known_clients and no mail address */
	uint64_t server_down, server_up;
};

struct upn_waitlist {
	struct upn_arena servers, entries;
	struct upn_ihash sindex, eindex;
	struct upn_journal *journal;
	const struct upn_clients *clients; /* for only_known_clients */
	uint32_t per_server_max;
	bool only_known_clients;
	struct upn_wl_stats stats;
	/* Told of every change of a server's state made by events and removals (not by
	 * loading): the portal keeps its nft set of down servers in step with it. */
	void (*on_state)(void *ctx, const struct upn_addr *server, uint8_t old, uint8_t now);
	void *on_state_ctx;
};

int upn_waitlist_init(struct upn_waitlist *wl, uint32_t total_max, uint32_t per_server_max,
		      struct upn_journal *journal);
void upn_waitlist_destroy(struct upn_waitlist *wl);
/* Applies one event from any source. */
void upn_waitlist_event(struct upn_waitlist *wl, const struct upn_event *ev);
struct upn_wl_server *upn_waitlist_server(const struct upn_waitlist *wl,
					  const struct upn_addr *addr);
/* Did clients of @s fail on @port? */
bool upn_waitlist_server_port(const struct upn_wl_server *s, uint16_t port);
/* UPN_SERVER_UP for a server the waitlist does not know. */
enum upn_server_state upn_waitlist_state(const struct upn_waitlist *wl,
					 const struct upn_addr *addr);
/* The entry of @client on @server's list, or UPN_NIL. */
uint32_t upn_waitlist_find(const struct upn_waitlist *wl, const struct upn_addr *server,
			   const struct upn_addr *client);
/* Forget one client of a server. */
void upn_waitlist_remove_entry(struct upn_waitlist *wl, uint32_t idx);
/* Forget a server and its clients. */
void upn_waitlist_remove_server(struct upn_waitlist *wl, struct upn_wl_server *s);

/* Start-up: records read back from the store, not journaled again. */
int upn_waitlist_load_server(struct upn_waitlist *wl, const struct upn_store_server *s);
int upn_waitlist_load_entry(struct upn_waitlist *wl, const struct upn_store_entry *e);

static inline struct upn_wl_entry *upn_waitlist_entry(const struct upn_waitlist *wl, uint32_t idx)
{
	return upn_arena_get(&wl->entries, idx);
}

/* Every server, in no particular order. */
void upn_waitlist_foreach_server(const struct upn_waitlist *wl,
				 void (*fn)(void *ctx, const struct upn_wl_server *s), void *ctx);
uint32_t upn_waitlist_count(const struct upn_waitlist *wl);
size_t upn_waitlist_bytes(const struct upn_waitlist *wl);

#endif
