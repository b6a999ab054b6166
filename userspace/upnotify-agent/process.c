// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* What the agent does with one message. Nothing is trusted before the signature
 * checks out: a forged list would make us mail every client in [clients]. */
#include "process.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mailmsg.h"

const char *const upn_agent_counter_names[] = {
	"accepted",
	"clients",
	"mails",
	"no_address",
	"rejected.unsigned",
	"rejected.malformed",
	"rejected.unknown-key",
	"rejected.forged",
	"rejected.expired",
	"rejected.replayed",
	"rejected.unreadable",
	NULL,
};

static void put_counter(struct upn_store_op *op, const char *name, int64_t delta)
{
	memset(op, 0, sizeof(*op));
	op->kind = UPN_STORE_ADD_COUNTER;
	snprintf(op->counter.name, sizeof(op->counter.name), "%s", name);
	op->counter.delta = delta;
}

int upn_agent_count(struct upn_agent *a, const char *name, int64_t delta)
{
	struct upn_store_op op;

	put_counter(&op, name, delta);
	return upn_store_apply(a->store, &op, 1);
}

/* A rejection is counted; only a store that cannot count makes us keep the message. */
static enum upn_agent_outcome reject(struct upn_agent *a, const struct upn_mailmsg *m,
				     const char *counter, const char *why)
{
	int ret;

	upn_warn("rejected message from <%s> Message-ID <%s>: %s", m && m->from[0] ? m->from : "",
		 m && m->message_id[0] ? m->message_id : "", why);
	ret = upn_agent_count(a, counter, 1);
	if (ret) {
		upn_err("store: cannot count %s: %s", counter, strerror(-ret));
		return UPN_AGENT_TEMPFAIL;
	}
	return UPN_AGENT_REJECTED;
}

static void put_mail(struct upn_store_op *op, const struct upn_relay_list *l,
		     const struct upn_relay_client *c, const char *mail)
{
	struct upn_store_mail *m = &op->mail;

	memset(op, 0, sizeof(*op));
	op->kind = UPN_STORE_PUT_MAIL;
	m->kind = UPN_MAIL_RECOVERY;
	m->server = l->server;
	m->client = c->client;
	m->outage = l->down_since;
	m->recovered = l->recovered;
	m->cause = l->cause;
	m->port = c->port;
	m->proto = IPPROTO_TCP;
	m->first = c->first;
	m->last = c->last;
	m->attempts = c->attempts;
	snprintf(m->recipient, sizeof(m->recipient), "%s", mail);
}

/* Queues the list's mails, its relay_seen row and the counters. */
static enum upn_agent_outcome queue(struct upn_agent *a, const struct upn_mailmsg *m,
				    const struct upn_relay_list *l, const char *key_id, int64_t now,
				    size_t *queued)
{
	size_t cap = UPN_AGENT_OPS_PER_APPLY + 5, n = 0, mails = 0, no_address = 0;
	struct upn_store_op *ops = calloc(cap, sizeof(*ops));
	enum upn_agent_outcome out = UPN_AGENT_ACCEPTED;
	char s[UPN_ADDRSTRLEN];
	int ret = 0;

	if (!ops)
		return UPN_AGENT_TEMPFAIL;
	for (size_t i = 0; i <= l->nclients; i++) {
		const struct upn_client *cl = NULL;

		if (i < l->nclients) {
			cl = upn_clients_lookup(a->clients, &l->clients[i].client);
			if (!cl) {
				no_address++;
				continue;
			}
			put_mail(&ops[n++], l, &l->clients[i], cl->mail);
			mails++;
			if (n < UPN_AGENT_OPS_PER_APPLY)
				continue;
		} else {
			struct upn_store_op *op = &ops[n++];

			memset(op, 0, sizeof(*op));
			op->kind = UPN_STORE_PUT_SEEN;
			memcpy(op->seen.id, l->id, sizeof(op->seen.id));
			snprintf(op->seen.key_id, sizeof(op->seen.key_id), "%s", key_id);
			op->seen.server = l->server;
			op->seen.received = now;
			put_counter(&ops[n++], "accepted", 1);
			put_counter(&ops[n++], "clients", (int64_t)l->nclients);
			put_counter(&ops[n++], "mails", (int64_t)mails);
			put_counter(&ops[n++], "no_address", (int64_t)no_address);
		}
		ret = upn_store_apply(a->store, ops, n);
		n = 0;
		if (ret)
			break;
	}
	free(ops);
	if (ret == -EEXIST)
		return reject(a, m, "rejected.replayed", "relay list already seen");
	if (ret == -EINVAL) {
		/* The parser let through something the store will not take: retrying
		 * cannot help. */
		return reject(a, m, "rejected.malformed", "the store refused the list");
	}
	if (ret) {
		upn_err("store: cannot queue relay %s: %s", l->id, strerror(-ret));
		return UPN_AGENT_TEMPFAIL;
	}
	upn_info("relay %s for %s from <%s> (key %s): %zu clients, %zu mails queued, %zu "
		 "without an address",
		 l->id, upn_addr_fmt(&l->server, s), m->from, key_id, l->nclients, mails,
		 no_address);
	if (queued)
		*queued = mails;
	return out;
}

enum upn_agent_outcome upn_agent_process(struct upn_agent *a, const char *raw, size_t len,
					 int64_t now, size_t *queued)
{
	char err[256], key_id[UPN_RELAY_KEYID_MAX + 1] = "", why[320], counter[48];
	struct upn_relay_list l = { 0 };
	enum upn_relay_verdict v;
	enum upn_agent_outcome out;
	struct upn_mailmsg m = { 0 };
	int ret;

	if (queued)
		*queued = 0;
	ret = upn_mailmsg_parse(raw, len, &m, err, sizeof(err));
	if (ret == -ENOMEM) {
		upn_mailmsg_free(&m);
		return UPN_AGENT_TEMPFAIL;
	}
	if (ret) {
		upn_mailmsg_free(&m);
		out = reject(a, NULL, "rejected.unreadable", err);
		return out == UPN_AGENT_REJECTED ? UPN_AGENT_UNREADABLE : out;
	}
	v = upn_relay_verify(a->keys, m.signature, m.text ? m.text : "", m.text ? m.text_len : 0,
			     true, now, a->max_age_s, key_id);
	if (v != UPN_RELAY_OK) {
		snprintf(counter, sizeof(counter), "rejected.%s", upn_relay_verdict_name(v));
		snprintf(why, sizeof(why), "signature: %s%s%s", upn_relay_verdict_name(v),
			 key_id[0] ? ", key " : "", key_id);
		out = reject(a, &m, counter, why);
		goto out;
	}
	ret = upn_relay_parse(m.text, m.text_len, &l, err, sizeof(err));
	if (ret == -ENOMEM) {
		out = UPN_AGENT_TEMPFAIL;
		goto out;
	}
	if (ret) {
		/* Signed by a key we trust, yet not a list: the sender is broken. */
		snprintf(why, sizeof(why), "relay list: %s", err);
		out = reject(a, &m, "rejected.malformed", why);
		goto out;
	}
	ret = upn_store_seen(a->store, l.id);
	if (ret < 0) {
		upn_err("store: cannot look up relay %s: %s", l.id, strerror(-ret));
		out = UPN_AGENT_TEMPFAIL;
	} else if (ret) {
		snprintf(why, sizeof(why), "relay %s already seen (a replay)", l.id);
		out = reject(a, &m, "rejected.replayed", why);
	} else {
		out = queue(a, &m, &l, key_id, now, queued);
	}
out:
	upn_relay_list_free(&l);
	upn_mailmsg_free(&m);
	return out;
}
