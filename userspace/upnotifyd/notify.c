// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailtext.h"
#include "relaymsg.h"

void upn_notify_init(struct upn_notify *n, struct upn_waitlist *wl,
		     const struct upn_clients *clients, struct upn_journal *journal,
		     uint32_t max_wait_s)
{
	memset(n, 0, sizeof(*n));
	n->wl = wl;
	n->clients = clients;
	n->journal = journal;
	n->max_wait_s = max_wait_s;
}

void upn_notify_set_relay(struct upn_notify *n, const struct upn_srvmap *map, uint32_t max_clients)
{
	n->srvmap = map;
	n->relay_max_clients = max_clients;
}

void upn_notify_set_subscriber(struct upn_notify *n, const struct upn_prefix *p)
{
	n->subscriber = *p;
}

static bool queue_mail(struct upn_notify *n, const struct upn_wl_server *s,
		       const struct upn_wl_entry *e, const char *mail, uint8_t cause, int64_t now)
{
	/* Mail ops have no record to fold into: a fresh marker appends every time. */
	uint32_t marker = 0;
	struct upn_store_op *op = upn_journal_op(n->journal, &marker);

	if (!op)
		return false;
	op->kind = UPN_STORE_PUT_MAIL;
	op->mail.server = s->addr;
	op->mail.client = e->client;
	op->mail.outage = s->since;
	op->mail.recovered = now;
	op->mail.cause = cause;
	op->mail.port = e->port;
	op->mail.proto = e->proto;
	op->mail.first = e->first;
	op->mail.last = e->last;
	op->mail.attempts = e->attempts;
	snprintf(op->mail.recipient, sizeof(op->mail.recipient), "%s", mail);
	upn_journal_disown(n->journal, &marker);
	return true;
}

/* The list's id names it everywhere (Message-ID, the agent's replay table): the same
 * hash as a Message-ID over (relay, server, target, outage), so a list queued again
 * after a crash is the same list. */
static void relay_id(const struct upn_wl_server *s, const struct upn_srv *srv, char *id)
{
	char a[UPN_ADDRSTRLEN], mid[UPN_MAIL_MAX + 1];

	upn_mail_message_id(UPN_MAIL_RELAY, upn_addr_fmt(&s->addr, a), srv->target, s->since, NULL,
			    mid);
	/* "upn-" then the 32 hex digits. */
	memcpy(id, mid + 4, UPN_RELAY_ID_LEN);
	id[UPN_RELAY_ID_LEN] = '\0';
}

static bool queue_relay(struct upn_notify *n, const struct upn_wl_server *s,
			const struct upn_srv *srv, struct upn_relay_list *l, uint8_t cause,
			int64_t now)
{
	bool webhook = srv->mode == UPN_RELAY_WEBHOOK;
	uint32_t marker = 0;
	struct upn_store_op *op;
	char *body;

	relay_id(s, srv, l->id);
	l->server = s->addr;
	l->down_since = s->since;
	l->recovered = now;
	l->cause = cause;
	body = webhook ? upn_relay_json(l) : upn_relay_body(l);
	if (!body)
		return false;
	op = upn_journal_op(n->journal, &marker);
	if (!op) {
		free(body);
		return false;
	}
	op->kind = UPN_STORE_PUT_MAIL;
	op->mail.kind = webhook ? UPN_MAIL_WEBHOOK : UPN_MAIL_RELAY;
	op->mail.server = s->addr;
	/* The unspecified address of the server's family: the list is for no one client. */
	op->mail.client.family = s->addr.family;
	op->mail.outage = s->since;
	op->mail.recovered = now;
	op->mail.cause = cause;
	upn_relay_span(l, &op->mail.first, &op->mail.last);
	op->mail.attempts = (uint32_t)l->nclients;
	snprintf(op->mail.recipient, sizeof(op->mail.recipient), "%s", srv->target);
	snprintf(op->mail.key_id, sizeof(op->mail.key_id), "%s", srv->key_id);
	op->mail.body = body;
	upn_journal_disown(n->journal, &marker);
	return true;
}

/* Is @s relayed: the server mail table sends its clients' list elsewhere? */
static const struct upn_srv *relayed(const struct upn_notify *n, const struct upn_wl_server *s)
{
	const struct upn_srv *srv = n->srvmap ? upn_srvmap_lookup(n->srvmap, &s->addr) : NULL;

	return srv && srv->mode != UPN_RELAY_DIRECT ? srv : NULL;
}

static bool subscriber(const struct upn_notify *n, const struct upn_addr *a)
{
	return n->subscriber.addr.family && upn_prefix_contains(&n->subscriber, a);
}

uint32_t upn_notify_recovered(struct upn_notify *n, struct upn_wl_server *s, uint8_t cause,
			      int64_t now)
{
	const struct upn_srv *srv = relayed(n, s);
	struct upn_relay_list list = { 0 };
	uint32_t queued = 0, cap = 0;

	n->stats.recoveries++;
	if (srv) {
		cap = n->relay_max_clients && n->relay_max_clients < UPN_RELAY_CLIENTS_MAX ?
			      n->relay_max_clients :
			      UPN_RELAY_CLIENTS_MAX;
		if (cap > s->count)
			cap = s->count;
		list.clients = calloc(cap ? cap : 1, sizeof(*list.clients));
	}
	for (uint32_t i = s->head; i != UPN_NIL;) {
		const struct upn_wl_entry *e = upn_waitlist_entry(n->wl, i);
		const struct upn_client *cl;

		i = e->next;
		if ((int64_t)e->last + n->max_wait_s < now) {
			n->stats.stale++;
			continue;
		}
		if (srv && !subscriber(n, &e->client)) {
			struct upn_relay_client *rc;

			if (!list.clients || list.nclients == cap) {
				n->stats.relay_truncated++;
				continue;
			}
			rc = &list.clients[list.nclients];
			rc->client = e->client;
			rc->first = e->first;
			rc->last = e->last;
			rc->attempts = e->attempts;
			rc->port = e->port;
			list.nclients++;
			continue;
		}
		cl = upn_clients_lookup(n->clients, &e->client);
		if (!cl)
			n->stats.no_address++;
		else if (!n->journal || queue_mail(n, s, e, cl->mail, cause, now))
			queued++;
		else
			n->stats.unqueued++;
	}
	n->stats.queued += queued;
	if (list.nclients) {
		if (!n->journal || queue_relay(n, s, srv, &list, cause, now)) {
			queued++;
			n->stats.relay_clients += list.nclients;
			if (srv->mode == UPN_RELAY_WEBHOOK)
				n->stats.webhook_queued++;
			else
				n->stats.relay_queued++;
		} else {
			n->stats.unqueued++;
		}
	} else if (srv && !list.clients) {
		n->stats.unqueued++;
	}
	free(list.clients);
	/* After the mails in the batch, so one transaction holds both. */
	upn_waitlist_remove_server(n->wl, s);
	return queued;
}

struct purge {
	struct upn_notify *n;
	int64_t cutoff;
};

/* Removing the server in hand is safe: the walk goes by record index, and a freed
 * record is no longer in the index it checks. */
static void purge_server(void *ctx, const struct upn_wl_server *cs)
{
	struct purge *p = ctx;
	struct upn_wl_server *s = upn_waitlist_server(p->n->wl, &cs->addr);

	for (uint32_t i = s->head; i != UPN_NIL;) {
		const struct upn_wl_entry *e = upn_waitlist_entry(p->n->wl, i);
		uint32_t next = e->next;

		if ((int64_t)e->last < p->cutoff) {
			upn_waitlist_remove_entry(p->n->wl, i);
			p->n->stats.purged++;
		}
		i = next;
	}
	if (!s->count && s->since < p->cutoff) {
		upn_waitlist_remove_server(p->n->wl, s);
		p->n->stats.purged_servers++;
	}
}

void upn_notify_purge(struct upn_notify *n, int64_t now)
{
	struct purge p = { .n = n, .cutoff = now - (int64_t)n->max_wait_s };

	upn_waitlist_foreach_server(n->wl, purge_server, &p);
}
