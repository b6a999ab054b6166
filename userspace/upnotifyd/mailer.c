// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The mailer thread. Each round it takes up to BATCH_MAX queued messages that are
 * due, lets the rate limits hold some of them back, renders the rest and sends them
 * in one SMTP session to the best relay that works, falling back relay by relay.
 *
 * Durability: a message is marked sent by its own commit the moment the relay
 * accepts it (SMTP_EV_MESSAGESENT, during the session), so a kill -9 at any point
 * re-sends only what the relay had not accepted yet. The one window that cannot be
 * closed (RFC 1047) opens when the end of the message data leaves us and closes when
 * our commit of the relay's 250 returns: a relay that has the whole message takes
 * it even if we die before reading its reply (Postfix does). At most one message is
 * ever in that window, since libesmtp waits for that reply before it starts the
 * next message; a crash there sends that one message again after the restart, with
 * the same Message-ID, so the receiving side can tell. The window is most of the
 * relay's time per message, so a kill -9 in a busy session usually costs exactly
 * one duplicate (tests/scenarios/11-mail-crash.sh counts them). The other way round
 * never happens: nothing is marked sent before the relay said so.
 *
 * Temporary failures (4xx, a broken connection, no relay at all) are retried after
 * retry_min_ms, doubling up to retry_max_ms; a message still failing give_up_ms
 * after it was queued is failed. Permanent failures (5xx at RCPT or after the data)
 * fail the message at once, with the relay's reply as last_error.
 *
 * Unsubscribed recipients are looked up with the due rows, in the same read: a
 * recovery mail to one is failed ("unsubscribed") before it takes a rate slot.
 * Links are made here, none is stored: a recovery mail's unsubscribe link from its
 * recipient, a confirmation mail's link from its row (client, server, recipient,
 * and the expiry the portal put in last), both with the portal's key and link base.
 * A confirmation mail whose link expired while it waited for a relay is failed, not
 * sent; so is one when there is no link base (no gateway_url) to make it with.
 * Whoever could edit a row to get a link for another address can read the key in
 * the same file, so a stored, signed link protected nothing.
 *
 * Relay mails and replies are rendered from their stored body (relaymail.c), a
 * relay mail signed with its key as it goes, so that the signature's time is the
 * sending time. Webhooks are POSTed after the round's SMTP session, one by one,
 * each recorded by its own commit as it is answered; they need no SMTP relay. The
 * bodies of one round are bounded (ROUND_BODY_MAX): a list may be megabytes.
 */
#include "mailer.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "mailrate.h"
#include "mailrelay.h"
#include "mailsend.h"
#include "mailtext.h"
#include "outbox.h"
#include "relaymail.h"
#include "relaymsg.h"
#include "token.h"
#include "webhook.h"

enum {
	/* Messages per SMTP session, and per round: a session this long amortises
	 * the connection well. A stop never waits for the rest of a session, only for
	 * the message in flight (mailsend.c). */
	BATCH_MAX = 200,
	/* The outbox is looked at this often without a kick: retries come due. */
	POLL_MS = 1000,
	/* Floor of the retry backoff: next_try has a resolution of a second. */
	RETRY_FLOOR_MS = 1000,
	/* Reverse DNS names are kept this long: one recovery's mails, one lookup. */
	DNS_TTL_S = 300,
	DNS_CACHE = 64,
	/* Accepted messages whose "sent" did not commit (a locked or full disk): kept
	 * here, retried each round and never sent again meanwhile. */
	UNRECORDED_MAX = 4096,
	/* Bytes of relay and reply texts rendered in one round; the rest wait for the
	 * next. A 100,000-client list is some 12 MB. */
	ROUND_BODY_MAX = 64 << 20,
};

struct dns_entry {
	char addr[UPN_ADDRSTRLEN];
	char name[NI_MAXHOST]; /* "" when it has none */
	int64_t at;
};

struct unrecorded {
	int64_t id;
	int64_t at;
	char relay[sizeof(((struct upn_mailrelay *)0)->name)];
	char message_id[UPN_MAIL_MAX + 1];
};

/* One message of the round being sent. */
struct job {
	struct upn_outbox_row *row;
	char message_id[UPN_MAIL_MAX + 1];
	char *text;
};

struct upn_mailer {
	struct upn_mail_config cfg; /* a copy: the caller's may be reloaded */
	char *tmpl;
	struct upn_outbox *ob;
	struct upn_mailsend *send;
	struct upn_mailrelays relays;
	struct upn_mailrate rate;

	pthread_t thread;
	int efd;
	atomic_bool stop;

	pthread_mutex_t lock; /* guards stats */
	struct upn_mailer_stats stats;

	/* The thread's own. */
	struct upn_outbox_row rows[BATCH_MAX];
	struct job jobs[BATCH_MAX];
	struct upn_outbox_row *hooks[BATCH_MAX]; /* this round's webhooks */
	size_t nhooks;
	bool more; /* rows left due for want of room in this round */
	struct upn_mailsend_msg msgs[BATCH_MAX];
	size_t *order;		/* relays to try, best first */
	const char *relay_name; /* of the session in progress */
	struct dns_entry dns[DNS_CACHE];
	size_t dns_next;
	struct unrecorded *unrec;
	size_t nunrec;
	int64_t last_gauge;
	char lasterr[600];
};

#define mail_log(level, fmt, ...) upn_log(level, "mailer: " fmt, ##__VA_ARGS__)

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#define COUNT(m, field, n)                        \
	do {                                      \
		pthread_mutex_lock(&(m)->lock);   \
		(m)->stats.field += (n);          \
		pthread_mutex_unlock(&(m)->lock); \
	} while (0)

/* ---- reverse DNS, in this thread because it blocks ---- */

static const char *server_name(struct upn_mailer *m, const char *addr, int64_t now)
{
	struct sockaddr_storage ss = { 0 };
	struct dns_entry *e;
	struct upn_addr a;
	socklen_t len;

	for (size_t i = 0; i < DNS_CACHE; i++)
		if (!strcmp(m->dns[i].addr, addr) && now - m->dns[i].at < DNS_TTL_S)
			return m->dns[i].name;
	e = &m->dns[m->dns_next++ % DNS_CACHE];
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	e->name[0] = '\0';
	e->at = now;
	if (upn_addr_parse(addr, &a))
		return e->name;
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a.a, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a.a, 16);
		len = sizeof(*sin6);
	}
	/* A PTR record is whatever its zone's owner typed: only a host name's characters
	 * go into a mail, anything else and the address stands alone. */
	if (getnameinfo((struct sockaddr *)&ss, len, e->name, sizeof(e->name), NULL, 0,
			NI_NAMEREQD) ||
	    !upn_relay_name_chars_ok(e->name))
		e->name[0] = '\0';
	return e->name;
}

/* ---- accepted but not recorded ---- */

static bool is_unrecorded(struct upn_mailer *m, int64_t id)
{
	for (size_t i = 0; i < m->nunrec; i++)
		if (m->unrec[i].id == id)
			return true;
	return false;
}

static void flush_unrecorded(struct upn_mailer *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->nunrec; i++) {
		struct unrecorded *u = &m->unrec[i];

		if (upn_outbox_sent(m->ob, u->id, u->at, u->relay, u->message_id))
			m->unrec[k++] = *u;
	}
	m->nunrec = k;
}

/* The relay (or the webhook's receiver) has it: recorded at once, or kept in memory
 * until the database takes it. */
static void record_sent(struct upn_mailer *m, int64_t id, const char *relay, const char *message_id)
{
	int64_t now = time(NULL);
	struct unrecorded *u;

	if (!upn_outbox_sent(m->ob, id, now, relay, message_id))
		return;
	COUNT(m, db_errors, 1);
	if (m->nunrec == UNRECORDED_MAX) {
		mail_log(LOG_ERR, "cannot record message %lld as sent (%s); it will be sent again",
			 (long long)id, upn_outbox_error(m->ob));
		return;
	}
	u = &m->unrec[m->nunrec++];
	u->id = id;
	u->at = now;
	snprintf(u->relay, sizeof(u->relay), "%s", relay);
	snprintf(u->message_id, sizeof(u->message_id), "%s", message_id);
}

/* libesmtp's SMTP_EV_MESSAGESENT, in the middle of the session. */
static void on_accepted(void *arg, struct upn_mailsend_msg *msg)
{
	struct upn_mailer *m = arg;
	struct job *j = &m->jobs[msg - m->msgs];

	COUNT(m, sent, 1);
	record_sent(m, msg->id, m->relay_name, j->message_id);
}

/* ---- outcomes ---- */

static uint32_t backoff_ms(const struct upn_mail_config *c, uint32_t tries)
{
	uint64_t d = c->retry_min_ms > RETRY_FLOOR_MS ? c->retry_min_ms : RETRY_FLOOR_MS;
	uint64_t max = c->retry_max_ms > d ? c->retry_max_ms : d;

	while (tries-- && d < max)
		d *= 2;
	return (uint32_t)(d < max ? d : max);
}

static void db_failed(struct upn_mailer *m, const char *what)
{
	COUNT(m, db_errors, 1);
	mail_log(LOG_WARNING, "%s: %s", what, upn_outbox_error(m->ob));
}

/* A 4xx, a broken connection or no relay: later, unless it is too late already. */
static void temp_failure(struct upn_mailer *m, const struct job *j, const char *error,
			 const char *relay, int64_t now)
{
	const struct upn_outbox_row *r = j->row;
	char why[320];

	COUNT(m, temp_failures, 1);
	if (m->cfg.give_up_ms && (now - r->created) * 1000 >= (int64_t)m->cfg.give_up_ms) {
		snprintf(why, sizeof(why), "gave up after %u tries: %s", r->tries + 1, error);
		COUNT(m, perm_failures, 1);
		mail_log(LOG_INFO, "message %lld to %s failed: %s", (long long)r->id, r->recipient,
			 why);
		if (upn_outbox_fail(m->ob, r->id, 1, why, relay, j->message_id))
			db_failed(m, "recording a failure");
		return;
	}
	if (upn_outbox_retry(m->ob, r->id, now + (backoff_ms(&m->cfg, r->tries) + 999) / 1000,
			     error, relay, j->message_id))
		db_failed(m, "recording a retry");
}

static void perm_failure(struct upn_mailer *m, const struct job *j, uint32_t tries_add,
			 const char *error, const char *relay)
{
	COUNT(m, perm_failures, 1);
	mail_log(LOG_INFO, "message %lld to %s failed: %s", (long long)j->row->id,
		 j->row->recipient, error);
	if (upn_outbox_fail(m->ob, j->row->id, tries_add, error, relay, j->message_id))
		db_failed(m, "recording a failure");
}

/* ---- a round ---- */

/* Rate limits: which rows go now (into jobs), which are held for a later slot. The
 * holds are written in @ob's open transaction. Returns the number of jobs. */
static size_t admit(struct upn_mailer *m, size_t n, int64_t now, bool *changed)
{
	struct timespec mono, real;
	int64_t mono_us, real_us;
	size_t k = 0;

	/* The limits run on the monotonic clock; next_try is wall clock seconds, and
	 * rounded up, so that a held message never goes before its slot. */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	mono_us = (int64_t)mono.tv_sec * 1000000 + mono.tv_nsec / 1000;
	real_us = (int64_t)real.tv_sec * 1000000 + real.tv_nsec / 1000;

	for (size_t i = 0; i < n; i++) {
		struct upn_outbox_row *r = &m->rows[i];
		int64_t slot;

		if (is_unrecorded(m, r->id))
			continue;
		if (r->bad) {
			struct job bad = { .row = r };

			*changed = true;
			perm_failure(m, &bad, 0,
				     "the outbox row does not read back (edited by hand?)", NULL);
			continue;
		}
		/* No SMTP, no mail rate: sent after the session. */
		if (r->kind == UPN_MAIL_WEBHOOK) {
			m->hooks[m->nhooks++] = r;
			continue;
		}
		/* Only recovery mails: a confirmation is the way back in. */
		if (r->suppressed && r->kind == UPN_MAIL_RECOVERY) {
			*changed = true;
			COUNT(m, suppressed, 1);
			mail_log(LOG_INFO, "message %lld to %s not sent: unsubscribed",
				 (long long)r->id, r->recipient);
			if (upn_outbox_fail(m->ob, r->id, 0, "unsubscribed", NULL, NULL))
				db_failed(m, "recording an unsubscribed recipient");
			continue;
		}
		slot = r->held ? mono_us : upn_mailrate_reserve(&m->rate, r->recipient, mono_us);
		if (slot == mono_us) {
			memset(&m->jobs[k], 0, sizeof(m->jobs[k]));
			m->jobs[k++].row = r;
			continue;
		}
		/* Its own slot, whole seconds away; or, with the domain table full of
		 * busy domains, no slot yet: ask again in a second. */
		COUNT(m, rate_limited, 1);
		if (upn_outbox_hold(m->ob, r->id,
				    slot < 0 ? now + 1 :
					       (real_us + slot - mono_us + 999999) / 1000000,
				    slot >= 0))
			db_failed(m, "holding a message");
		else
			*changed = true;
	}
	return k;
}

/* A confirmation mail's link, made into @buf from the row: the token carries the
 * row's client, server, recipient and expiry, which is what the portal checks when
 * it is clicked. NULL, or why there is none. */
static const char *confirm_link(struct upn_mailer *m, const struct upn_outbox_row *r, int64_t now,
				char *buf, size_t size)
{
	struct upn_token_confirm c = { .expires = r->expires };

	if (now > r->expires)
		return "the confirmation link expired before it could be sent";
	if (!m->cfg.link_base[0])
		return "no confirmation link can be made: the portal has no gateway_url";
	if (upn_addr_parse(r->client, &c.client) || upn_addr_parse(r->server, &c.server) ||
	    snprintf(c.mail, sizeof(c.mail), "%s", r->recipient) >= (int)sizeof(c.mail) ||
	    upn_token_confirm_url(m->cfg.link_key, m->cfg.link_base, &c, buf, size))
		return "no confirmation link can be made from the outbox row (edited by hand?)";
	return NULL;
}

/* A recovery or confirmation mail, from its template. NULL when it is not sent this
 * round: failed and recorded, or (out of memory) left queued. */
static char *render_template(struct upn_mailer *m, struct job *j, int64_t now, bool *changed)
{
	/* The unsubscribe or the confirmation link. */
	char link[UPN_TOKEN_URL_MAX + 1];
	struct upn_outbox_row *r = j->row;
	bool confirm = r->kind == UPN_MAIL_CONFIRM;
	struct upn_mail_fields f = {
		.from = m->cfg.from,
		.to = r->recipient,
		.server = r->server,
		.client = r->client,
		.message_id = j->message_id,
		.recovered = r->recovered,
		.first = r->first,
		.now = now,
		.port = r->port,
	};
	const char *bad;
	char why[160], *text;

	upn_mail_message_id(r->kind, r->server, r->client, r->outage, m->cfg.from, j->message_id);
	if (confirm) {
		bad = confirm_link(m, r, now, link, sizeof(link));
		if (bad) {
			COUNT(m, bad_links, 1);
			perm_failure(m, j, 0, bad, NULL);
			*changed = true;
			return NULL;
		}
		f.link = link;
		f.expires = r->expires;
	} else if (m->cfg.link_base[0] && !upn_token_unsub_url(m->cfg.link_key, m->cfg.link_base,
							       r->recipient, link, sizeof(link))) {
		/* It fails only for a recipient the store would not take. */
		f.unsubscribe = link;
	}
	bad = upn_mail_fields_check(&f);
	if (!bad) {
		f.server_name = server_name(m, r->server, now);
		bad = upn_mail_fields_check(&f);
	}
	if (bad) {
		snprintf(why, sizeof(why),
			 "refused: the %s value holds a control or non-ASCII character "
			 "(header injection)",
			 bad);
		COUNT(m, header_rejected, 1);
		mail_log(LOG_WARNING, "message %lld: %s", (long long)r->id, why);
		if (upn_outbox_fail(m->ob, r->id, 0, why, NULL, j->message_id))
			db_failed(m, "recording a refusal");
		*changed = true;
		return NULL;
	}
	text = upn_mail_render(confirm ? upn_mail_confirm_template : m->tmpl, &f);
	if (!text)
		/* Out of memory: the row stays queued for the next round. */
		mail_log(LOG_WARNING, "message %lld: rendering: %s", (long long)r->id,
			 strerror(errno));
	return text;
}

/* The stored body of row @j, or NULL: a row without one is failed and recorded, a
 * database error leaves it queued. */
static char *stored_body(struct upn_mailer *m, struct job *j, size_t *len, bool *changed)
{
	char *body = upn_outbox_body(m->ob, j->row->id, len);

	if (body)
		return body;
	if (errno == ENOENT || errno == EINVAL) {
		perm_failure(m, j, 0, "the outbox row has no usable body (edited by hand?)", NULL);
		*changed = true;
	} else {
		db_failed(m, "reading a body");
	}
	return NULL;
}

/* A relay mail (signed now) or a reply, from its stored body. NULL as for
 * render_template; @budget counts the round's bytes. */
static char *render_stored(struct upn_mailer *m, struct job *j, int64_t now, size_t *budget,
			   bool *changed)
{
	struct upn_outbox_row *r = j->row;
	char why[300], *body, *text;
	size_t len = 0;

	if (*budget >= ROUND_BODY_MAX) {
		m->more = true;
		return NULL;
	}
	body = stored_body(m, j, &len, changed);
	if (!body)
		return NULL;
	if (r->kind == UPN_MAIL_RELAY) {
		struct upn_relay_mail rm = {
			.from = m->cfg.from,
			.to = r->recipient,
			.server = r->server,
			.body = body,
			.len = len,
			.key = upn_relay_key_find(&m->cfg.relay_keys, r->key_id),
			.now = now,
		};

		if (!rm.key) {
			free(body);
			snprintf(why, sizeof(why), "no key %s", r->key_id);
			perm_failure(m, j, 0, why, NULL);
			*changed = true;
			return NULL;
		}
		text = upn_relay_mail_render(&rm, j->message_id, why, sizeof(why));
	} else {
		struct upn_reply_mail rp = {
			.from = m->cfg.from,
			.to = r->recipient,
			.message_id = j->message_id,
			.body = body,
			.now = now,
		};

		upn_mail_message_id(r->kind, r->server, r->client, r->outage, m->cfg.from,
				    j->message_id);
		text = upn_reply_mail_render(&rp, why, sizeof(why));
	}
	free(body);
	if (text) {
		*budget += strlen(text);
	} else if (errno == EINVAL) {
		/* Nothing stored may become a header: fail it, as for a template's. */
		if (r->kind == UPN_MAIL_REPLY)
			COUNT(m, header_rejected, 1);
		perm_failure(m, j, 0, why, NULL);
		*changed = true;
	} else {
		mail_log(LOG_WARNING, "message %lld: rendering: %s", (long long)r->id,
			 strerror(errno));
	}
	return text;
}

/* Renders the jobs' texts; refused ones are failed (header injection, a
 * confirmation link that cannot be sent, no key) and dropped. Returns the jobs
 * left, packed, with their msgs set up. */
static size_t render(struct upn_mailer *m, size_t n, int64_t now, bool *changed)
{
	size_t k = 0, budget = 0;

	for (size_t i = 0; i < n; i++) {
		struct job *j = &m->jobs[i];
		struct upn_outbox_row *r = j->row;

		if (r->kind == UPN_MAIL_RELAY || r->kind == UPN_MAIL_REPLY)
			j->text = render_stored(m, j, now, &budget, changed);
		else
			j->text = render_template(m, j, now, changed);
		if (!j->text)
			continue;
		m->jobs[k] = *j;
		m->msgs[k] = (struct upn_mailsend_msg){
			.id = r->id,
			.recipient = r->recipient,
			.text = j->text,
		};
		k++;
	}
	return k;
}

/* ---- webhooks ---- */

static void webhook_failed(struct upn_mailer *m, struct job *j, bool temporary, const char *why,
			   const char *host, int64_t now)
{
	COUNT(m, webhook_failures, 1);
	if (temporary)
		temp_failure(m, j, why, host, now);
	else
		perm_failure(m, j, 1, why, host);
}

/* One webhook: its JSON, signed now, POSTed. Recorded by its own commit. */
static void send_webhook(struct upn_mailer *m, struct upn_outbox_row *r, int64_t now, bool *changed)
{
	struct job j = { .row = r };
	char sig[UPN_RELAY_SIG_MAX], why[300];
	const struct upn_relay_key *key;
	struct upn_webhook_result res;
	char *body;
	size_t len = 0;
	int ret;

	*changed = true;
	body = stored_body(m, &j, &len, changed);
	if (!body)
		return;
	key = upn_relay_key_find(&m->cfg.relay_keys, r->key_id);
	if (!key) {
		snprintf(why, sizeof(why), "no key %s", r->key_id);
		COUNT(m, webhook_failures, 1);
		perm_failure(m, &j, 0, why, NULL);
		goto out;
	}
	if (upn_relay_json_id(body, len, j.message_id)) {
		COUNT(m, webhook_failures, 1);
		perm_failure(m, &j, 0, "the webhook body has no list id", NULL);
		goto out;
	}
	ret = upn_relay_sign(key, now, body, len, false, sig, sizeof(sig));
	if (ret) {
		snprintf(why, sizeof(why), "signing: %s", strerror(-ret));
		webhook_failed(m, &j, ret == -ENOMEM, why, NULL, now);
		goto out;
	}
	upn_webhook_send(
		&(struct upn_webhook_post){
			.url = r->recipient,
			.body = body,
			.len = len,
			.signature = sig,
			.id = j.message_id,
			.timeout_ms = m->cfg.webhook_timeout_ms,
			.stop = &m->stop,
		},
		&res);
	switch (res.state) {
	case UPN_WEBHOOK_SENT:
		COUNT(m, webhooks_sent, 1);
		record_sent(m, r->id, res.host, j.message_id);
		break;
	case UPN_WEBHOOK_TEMP:
	case UPN_WEBHOOK_PERM:
		mail_log(LOG_INFO, "webhook %lld to %s: %s", (long long)r->id, res.host, res.error);
		webhook_failed(m, &j, res.state == UPN_WEBHOOK_TEMP, res.error, res.host, now);
		break;
	case UPN_WEBHOOK_STOPPED:
		/* Still queued: it goes after the restart. */
		break;
	}
out:
	free(body);
}

static void send_webhooks(struct upn_mailer *m, int64_t now, bool *changed)
{
	for (size_t i = 0; i < m->nhooks && !atomic_load(&m->stop); i++)
		send_webhook(m, m->hooks[i], i ? time(NULL) : now, changed);
	m->nhooks = 0;
}

static void record(struct upn_mailer *m, size_t n, const char *relay, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct upn_mailsend_msg *msg = &m->msgs[i];

		switch (msg->state) {
		case UPN_MAILSEND_TEMP:
			temp_failure(m, &m->jobs[i], msg->error, relay, now);
			break;
		case UPN_MAILSEND_PERM:
			perm_failure(m, &m->jobs[i], 1, msg->error, relay);
			break;
		case UPN_MAILSEND_SENT:
			/* Committed the moment it happened (on_accepted). */
		case UPN_MAILSEND_PENDING:
			/* Not tried: still queued and due, for the next round. */
			break;
		}
	}
}

/* One session per relay, best first, until one takes part. */
static void send_jobs(struct upn_mailer *m, size_t n, size_t nrel, int64_t now)
{
	char err[256] = "no relay";

	for (size_t i = 0; i < nrel; i++) {
		struct upn_mailrelay *r = &m->relays.r[m->order[i]];
		enum upn_mailsend_result res;
		int64_t t0 = mono_ms();

		m->relay_name = r->name;
		COUNT(m, sessions, 1);
		res = upn_mailsend_session(m->send, r, m->msgs, n, on_accepted, m, err,
					   sizeof(err));
		if (res == UPN_MAILSEND_RELAY_FAILED) {
			COUNT(m, relay_failures, 1);
			mail_log(LOG_WARNING, "relay %s: %s; not used for %u ms", r->name, err,
				 m->cfg.relay_retry_ms);
			upn_mailrelays_dead(&m->relays, m->order[i], mono_ms());
			snprintf(m->lasterr, sizeof(m->lasterr), "relay %s: %s", r->name, err);
			continue;
		}
		upn_mailrelays_used(&m->relays, m->order[i], mono_ms(), n, mono_ms() - t0);
		if (upn_outbox_begin(m->ob)) {
			db_failed(m, "recording a session");
			return;
		}
		record(m, n, r->name, now);
		if (upn_outbox_commit(m->ob))
			db_failed(m, "recording a session");
		return;
	}
	/* Every relay failed: the whole batch waits, each message on its own backoff. */
	if (upn_outbox_begin(m->ob)) {
		db_failed(m, "recording a retry");
		return;
	}
	for (size_t i = 0; i < n; i++)
		temp_failure(m, &m->jobs[i], m->lasterr, NULL, now);
	if (upn_outbox_commit(m->ob))
		db_failed(m, "recording a retry");
}

static void update_gauge(struct upn_mailer *m, int64_t now_ms, bool force)
{
	int64_t q;

	if (!force && now_ms - m->last_gauge < POLL_MS)
		return;
	m->last_gauge = now_ms;
	q = upn_outbox_queued(m->ob);
	if (q < 0) {
		db_failed(m, "counting the outbox");
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->stats.queued = (uint64_t)q;
	pthread_mutex_unlock(&m->lock);
}

/* Returns true when more may be due at once. */
static bool round_once(struct upn_mailer *m)
{
	int64_t now = time(NULL), now_ms = mono_ms();
	bool changed = false;
	size_t nrel, njobs;
	int n;

	if (m->nunrec)
		flush_unrecorded(m);
	update_gauge(m, now_ms, false);
	/* No relay configured, or all dead: mail stays queued as it is, webhooks go. */
	nrel = upn_mailrelays_pick(&m->relays, now_ms, m->order);
	m->nhooks = 0;
	m->more = false;
	if (nrel)
		n = upn_outbox_due(m->ob, now, m->rows, BATCH_MAX);
	else
		n = upn_outbox_due_webhooks(m->ob, now, m->rows, BATCH_MAX);
	if (n <= 0) {
		if (n < 0)
			db_failed(m, "reading the outbox");
		return false;
	}
	/* The holds in one transaction; rendering after it, since a reverse lookup may
	 * take seconds and the store's writer must not wait for it. */
	if (upn_outbox_begin(m->ob)) {
		db_failed(m, "holding messages");
		return false;
	}
	njobs = admit(m, (size_t)n, now, &changed);
	if (upn_outbox_commit(m->ob))
		db_failed(m, "holding messages");
	njobs = render(m, njobs, now, &changed);
	if (njobs) {
		changed = true;
		send_jobs(m, njobs, nrel, now);
	}
	for (size_t i = 0; i < njobs; i++)
		free(m->jobs[i].text);
	if (m->nhooks)
		send_webhooks(m, now, &changed);
	update_gauge(m, mono_ms(), false);
	/* A full batch means more may be due; a round that changed nothing must not
	 * spin (rows the database would not let us update). */
	return (n == BATCH_MAX || m->more) && changed && !atomic_load(&m->stop);
}

static void wait_kick(struct upn_mailer *m, int timeout_ms)
{
	struct pollfd p = { .fd = m->efd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, timeout_ms) > 0 && read(m->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		mail_log(LOG_WARNING, "eventfd: %s", strerror(errno));
}

/* Until the next message comes due, if that is sooner than the next poll: a held
 * message goes at its slot, not up to a poll later. */
static int idle_ms(struct upn_mailer *m)
{
	int64_t due = upn_outbox_next_due(m->ob), now_ms;
	struct timespec t;

	if (due <= 0)
		return POLL_MS;
	clock_gettime(CLOCK_REALTIME, &t);
	now_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
	if (due * 1000 - now_ms >= POLL_MS)
		return POLL_MS;
	/* A few ms late, never early: next_try has whole seconds. */
	return due * 1000 > now_ms ? (int)(due * 1000 - now_ms) + 5 : POLL_MS;
}

static void *mailer_main(void *arg)
{
	struct upn_mailer *m = arg;

	update_gauge(m, mono_ms(), true);
	while (!atomic_load(&m->stop)) {
		if (!round_once(m))
			wait_kick(m, idle_ms(m));
	}
	if (m->nunrec)
		flush_unrecorded(m);
	if (m->nunrec)
		mail_log(LOG_ERR,
			 "%zu messages accepted by a relay could not be recorded as sent; "
			 "they will be sent again",
			 m->nunrec);
	return NULL;
}

/* ---- start and stop ---- */

static int copy_config(struct upn_mailer *m, const struct upn_mail_config *cfg, char *err,
		       size_t errlen)
{
	m->cfg = *cfg;
	m->cfg.relays = NULL;
	m->cfg.relay_keys.v = NULL;
	m->cfg.relay_keys.n = 0;
	if (cfg->relay_keys.n) {
		m->cfg.relay_keys.v = calloc(cfg->relay_keys.n, sizeof(*cfg->relay_keys.v));
		if (!m->cfg.relay_keys.v) {
			upn_set_err(err, errlen, "out of memory");
			return -1;
		}
		memcpy(m->cfg.relay_keys.v, cfg->relay_keys.v,
		       cfg->relay_keys.n * sizeof(*cfg->relay_keys.v));
		m->cfg.relay_keys.n = cfg->relay_keys.n;
	}
	if (cfg->nrelays) {
		m->cfg.relays = calloc(cfg->nrelays, sizeof(*cfg->relays));
		if (!m->cfg.relays) {
			upn_set_err(err, errlen, "out of memory");
			return -1;
		}
		memcpy(m->cfg.relays, cfg->relays, cfg->nrelays * sizeof(*cfg->relays));
	}
	for (size_t i = 0; i < cfg->nrelays; i++) {
		/* libesmtp splits "host:port" at the first colon. */
		if (strchr(cfg->relays[i].host, ':')) {
			upn_set_err(err, errlen,
				    "relay %s: an IPv6 literal cannot be used (libesmtp); give a "
				    "host name",
				    cfg->relays[i].host);
			return -1;
		}
	}
	if (!upn_mail_valid(cfg->from)) {
		upn_set_err(err, errlen, "from: '%s' is not a usable mail address", cfg->from);
		return -1;
	}
	/* Every recovery mail's link is made from it: refuse it here, not per mail. */
	if (cfg->link_base[0]) {
		char url[UPN_TOKEN_URL_MAX + 1];

		if (upn_token_unsub_url(cfg->link_key, cfg->link_base, cfg->from, url,
					sizeof(url))) {
			upn_set_err(err, errlen, "the link base '%s' is not usable in a link",
				    cfg->link_base);
			return -1;
		}
	}
	return 0;
}

static void free_mailer(struct upn_mailer *m)
{
	upn_outbox_close(m->ob);
	upn_mailsend_free(m->send);
	upn_mailrelays_destroy(&m->relays);
	upn_mailrate_destroy(&m->rate);
	if (m->efd >= 0)
		close(m->efd);
	pthread_mutex_destroy(&m->lock);
	free(m->unrec);
	free(m->order);
	free(m->tmpl);
	free(m->cfg.relays);
	if (m->cfg.relay_keys.v)
		sodium_memzero(m->cfg.relay_keys.v,
			       m->cfg.relay_keys.n * sizeof(*m->cfg.relay_keys.v));
	free(m->cfg.relay_keys.v);
	sodium_memzero(m->cfg.link_key, sizeof(m->cfg.link_key));
	free(m);
}

struct upn_mailer *upn_mailer_start(const struct upn_mail_config *cfg, const char *db_path,
				    char *err, size_t errlen)
{
	struct upn_mailer *m = calloc(1, sizeof(*m));
	sigset_t all, old;
	int rc;

	if (!m) {
		upn_set_err(err, errlen, "out of memory");
		return NULL;
	}
	m->efd = -1;
	atomic_init(&m->stop, false);
	pthread_mutex_init(&m->lock, NULL);
	if (copy_config(m, cfg, err, errlen))
		goto fail;
	m->tmpl = upn_mail_template_load(cfg->template_path, err, errlen);
	if (!m->tmpl)
		goto fail;
	m->unrec = calloc(UNRECORDED_MAX, sizeof(*m->unrec));
	m->order = calloc(cfg->nrelays ? cfg->nrelays : 1, sizeof(*m->order));
	if (!m->unrec || !m->order || upn_mailrelays_init(&m->relays, &m->cfg) ||
	    upn_mailrate_init(&m->rate, cfg->rate, cfg->rate_per_domain)) {
		upn_set_err(err, errlen, "out of memory");
		goto fail;
	}
	m->send = upn_mailsend_new(&m->cfg, &m->stop, err, errlen);
	if (!m->send)
		goto fail;
	m->ob = upn_outbox_open(db_path, err, errlen);
	if (!m->ob)
		goto fail;
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0) {
		upn_set_err(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* Signals belong to the event loop's signalfd; the thread must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&m->thread, NULL, mailer_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		upn_set_err(err, errlen, "cannot start the mailer thread: %s", strerror(rc));
		goto fail;
	}
	if (!cfg->nrelays)
		mail_log(LOG_INFO, "no relay configured: mail is queued, not sent");
	return m;
fail:
	free_mailer(m);
	return NULL;
}

void upn_mailer_kick(struct upn_mailer *m)
{
	uint64_t one = 1;
	ssize_t n;

	if (!m)
		return;
	/* EAGAIN only when the counter would overflow: it is readable anyway. */
	n = write(m->efd, &one, sizeof(one));
	(void)n;
}

void upn_mailer_stop(struct upn_mailer *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	upn_mailer_kick(m);
	pthread_join(m->thread, NULL);
	free_mailer(m);
}

void upn_mailer_get_stats(struct upn_mailer *m, struct upn_mailer_stats *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->lock);
}
