/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* What a recovery does to the waitlist (patent ¶0095-0098): every waiting client with a
 * mail address and a recent enough attempt gets one mail queued in the outbox, in the
 * same store transaction that takes the server and its clients off the waitlist. The
 * others are dropped and counted. Entries older than max_wait are purged whether or not
 * their server recovers.
 *
 * A server the server mail table relays (server, nms, webhook; ¶0101-0146) gets one
 * signed list of all its recent clients instead, mail address or not (the agent has
 * its own table), queued the same way in the same transaction. Clients inside the
 * mail commands' subscriber prefix are mailed directly all the same: their
 * addresses are ours, no agent could map them. */
#ifndef UPN_NOTIFY_H
#define UPN_NOTIFY_H

#include <stdint.h>

#include "clients.h"
#include "journal.h"
#include "srvmap.h"
#include "waitlist.h"

struct upn_notify_stats {
	uint64_t recoveries; /* servers that came back with clients waiting or not */
	uint64_t queued;     /* mails queued */
	uint64_t stale;	     /* clients whose last attempt was older than max_wait */
	uint64_t no_address; /* clients with no mail address */
	uint64_t reached;    /* the client whose own connection showed the recovery */
	uint64_t unqueued;   /* mails that could not be queued (no memory) */
	uint64_t purged;     /* entries purged for age */
	uint64_t purged_servers;
	uint64_t relay_queued;	  /* lists queued for an agent (server, nms) */
	uint64_t relay_clients;	  /* clients in those lists and in webhooks */
	uint64_t relay_truncated; /* clients left out of a list over max_clients */
	uint64_t webhook_queued;  /* lists queued for a webhook */
};

struct upn_notify {
	struct upn_waitlist *wl;
	const struct upn_clients *clients;
	struct upn_journal *journal;
	uint32_t max_wait_s;
	const struct upn_srvmap *srvmap; /* NULL: every server is direct */
	uint32_t relay_max_clients;	 /* per list; 0: UPN_RELAY_CLIENTS_MAX */
	struct upn_prefix subscriber;	 /* always direct; addr.family 0: none */
	struct upn_notify_stats stats;
};

void upn_notify_init(struct upn_notify *n, struct upn_waitlist *wl,
		     const struct upn_clients *clients, struct upn_journal *journal,
		     uint32_t max_wait_s);
/* Relay through @map ([servers], upnotifyctl servers), at most @max_clients a list. */
void upn_notify_set_relay(struct upn_notify *n, const struct upn_srvmap *map, uint32_t max_clients);
/* Clients inside @p (the mail commands' pseudo-clients) are mailed directly even
 * when their server relays. */
void upn_notify_set_subscriber(struct upn_notify *n, const struct upn_prefix *p);
/* @s recovered at @now for @cause: queue its mails, forget it. Returns the mails queued. */
uint32_t upn_notify_recovered(struct upn_notify *n, struct upn_wl_server *s, uint8_t cause,
			      int64_t now);
/* Drops entries whose last attempt is older than max_wait, and servers left with no
 * clients whose outage is that old. O(entries): run it every few minutes. */
void upn_notify_purge(struct upn_notify *n, int64_t now);

#endif
