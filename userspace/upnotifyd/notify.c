// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "notify.h"

#include <stdio.h>
#include <string.h>

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

uint32_t upn_notify_recovered(struct upn_notify *n, struct upn_wl_server *s, uint8_t cause,
			      int64_t now)
{
	uint32_t queued = 0;

	n->stats.recoveries++;
	for (uint32_t i = s->head; i != UPN_NIL;) {
		const struct upn_wl_entry *e = upn_waitlist_entry(n->wl, i);
		const struct upn_client *cl = upn_clients_lookup(n->clients, &e->client);

		i = e->next;
		if ((int64_t)e->last + n->max_wait_s < now)
			n->stats.stale++;
		else if (!cl)
			n->stats.no_address++;
		else if (!n->journal || queue_mail(n, s, e, cl->mail, cause, now))
			queued++;
		else
			n->stats.unqueued++;
	}
	n->stats.queued += queued;
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
