// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "cmdexec.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "daemon.h"
#include "log.h"
#include "timefmt.h"

/* Sender buckets for error replies: senders are strangers, so the table is fixed. */
#define ERROR_REPLY_SLOTS 4096
/* Lines of a STATUS or WAITLIST answer: a reply stays a mail, not a database dump. */
#define LIST_MAX 100
/* Of the original Subject kept in "Re: ...". */
#define SUBJECT_KEEP 200

static const char *const outcomes[] = {
	[UPN_CMDEXEC_ACCEPTED] = "accepted",
	[UPN_CMDEXEC_REJECTED_SENDER] = "rejected-sender",
	[UPN_CMDEXEC_REJECTED_SECRET] = "rejected-secret",
	[UPN_CMDEXEC_REJECTED_COMMAND] = "rejected-command",
	[UPN_CMDEXEC_MALFORMED] = "malformed",
};

const char *upn_cmdexec_outcome_name(unsigned int outcome)
{
	return outcome < sizeof(outcomes) / sizeof(outcomes[0]) ? outcomes[outcome] : "?";
}

int upn_cmdexec_init(struct upn_cmdexec *x, struct upn_daemon *d)
{
	uint32_t rate_s = d->cfg.commands.reply_rate_s;
	int ret;

	memset(x, 0, sizeof(*x));
	x->d = d;
	/* One per reply_rate with no burst: the GCRA of ratelimit.c with its interval
	 * set to the whole period. 0: no limit (no table at all). */
	ret = upn_ratelimit_init(&x->error_replies, rate_s ? 1 : 0, ERROR_REPLY_SLOTS);
	if (ret)
		return ret;
	if (rate_s) {
		x->error_replies.t_ms = (int64_t)rate_s * 1000;
		x->error_replies.tau_ms = 0;
	}
	return 0;
}

void upn_cmdexec_destroy(struct upn_cmdexec *x)
{
	upn_ratelimit_destroy(&x->error_replies);
}

void upn_cmdexec_result_free(struct upn_cmdexec_result *res)
{
	free(res->text);
	res->text = NULL;
}

static void lower(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

void upn_cmdexec_pseudo_client(const struct upn_prefix *prefix, const char *mail,
			       struct upn_addr *out)
{
	char low[UPN_MAIL_MAX + 1];
	unsigned char h[crypto_hash_sha256_BYTES];

	lower(low, sizeof(low), mail);
	crypto_hash_sha256(h, (const unsigned char *)low, strlen(low));
	*out = prefix->addr;
	out->family = AF_INET6;
	memcpy(out->a + 8, h, 8);
}

/* Names the reply in the outbox: the same command mail (Message-ID and sender) always
 * gives the same value, so a second copy of it adds no second reply. A mail without
 * a Message-ID is named by its text as well. Kept positive, like the times that
 * stand in this column for every other kind. */
static int64_t reply_key(const struct upn_mailmsg *m)
{
	static const char tag[] = "upnotify-reply";
	char low[UPN_MAIL_MAX + 1];
	unsigned char h[8];
	crypto_generichash_state st;
	uint64_t v;

	lower(low, sizeof(low), m->from);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)tag, sizeof(tag));
	crypto_generichash_update(&st, (const unsigned char *)m->message_id,
				  strlen(m->message_id) + 1);
	crypto_generichash_update(&st, (const unsigned char *)low, strlen(low) + 1);
	if (!m->message_id[0] && m->text)
		crypto_generichash_update(&st, (const unsigned char *)m->text, m->text_len);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(&v, h, sizeof(v));
	return (int64_t)(v >> 1);
}

static bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* "Re: SUBJECT" as a header value: printable ASCII as it is, anything else as RFC
 * 2047 encoded-words of whole UTF-8 characters, each within the 75 characters
 * allowed. */
static void reply_subject(FILE *o, const char *subject)
{
	char keep[SUBJECT_KEEP + 1];
	size_t n = strlen(subject);

	while (n && subject[n - 1] == ' ')
		n--;
	if (n > SUBJECT_KEEP) {
		n = SUBJECT_KEEP;
		/* Not in the middle of a UTF-8 character. */
		while (n && ((unsigned char)subject[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(keep, subject, n);
	keep[n] = '\0';
	fputs("Subject: ", o);
	if (!n) {
		fputs("Re: upnotify commands\n", o);
		return;
	}
	if (strncasecmp(keep, "re:", 3))
		fputs("Re: ", o);
	if (ascii_printable(keep)) {
		fprintf(o, "%s\n", keep);
		return;
	}
	for (size_t i = 0; i < n;) {
		char b64[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
		size_t take = n - i > 45 ? 45 : n - i;

		while (i + take < n && take > 1 && ((unsigned char)keep[i + take] & 0xc0) == 0x80)
			take--;
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)keep + i, take,
				  sodium_base64_VARIANT_ORIGINAL);
		fprintf(o, "%s=?UTF-8?B?%s?=", i ? " " : "", b64);
		i += take;
	}
	fputc('\n', o);
}

/* A Message-ID we can quote back in In-Reply-To: anything odd is left out. */
static bool message_id_ok(const char *id)
{
	return id[0] && ascii_printable(id) && !strpbrk(id, " <>") && strchr(id, '@');
}

static bool sender_ok(const char *from)
{
	return ascii_printable(from) && upn_mail_valid(from);
}

/* Queues the reply: a PUT_MAIL of kind reply, with the text the mailer sends. */
static int queue_reply(struct upn_cmdexec *x, const struct upn_mailmsg *m, const char *text,
		       int64_t now)
{
	struct upn_daemon *d = x->d;
	struct upn_store_op *op;
	uint32_t marker = 0;
	char *body = NULL;
	size_t blen = 0;
	FILE *o = open_memstream(&body, &blen);

	if (!o)
		return -ENOMEM;
	reply_subject(o, m->subject);
	if (message_id_ok(m->message_id))
		fprintf(o, "In-Reply-To: <%s>\n", m->message_id);
	fprintf(o, "\n%s", text);
	if (fclose(o) || !body) {
		free(body);
		return -ENOMEM;
	}
	op = upn_journal_op(&d->journal, &marker);
	if (!op) {
		free(body);
		x->stats.unqueued++;
		return -ENOMEM;
	}
	memset(op, 0, sizeof(*op));
	op->kind = UPN_STORE_PUT_MAIL;
	op->mail.kind = UPN_MAIL_REPLY;
	op->mail.server.family = AF_INET;
	op->mail.client.family = AF_INET;
	op->mail.outage = reply_key(m);
	op->mail.recovered = now;
	op->mail.first = op->mail.last = now;
	snprintf(op->mail.recipient, sizeof(op->mail.recipient), "%s", m->from);
	op->mail.body = body;
	upn_journal_disown(&d->journal, &marker);
	d->mail_barrier = upn_journal_barrier(&d->journal);
	x->stats.replies++;
	return 0;
}

/* ---- the commands ---------------------------------------------------------------- */

static const char *state_word(uint8_t state)
{
	return state == UPN_SERVER_REFUSING ? "refusing connections" : "down";
}

static void do_subscribe(struct upn_cmdexec *x, FILE *o, const struct upn_cmd *c,
			 const char *sender, int64_t now)
{
	struct upn_daemon *d = x->d;
	const char *mail = c->address[0] ? c->address : sender;
	char srv[UPN_ADDRSTRLEN], since[UPN_TIMESTRLEN];
	struct upn_prefix pfx = { .len = 128 };
	const struct upn_wl_server *s = upn_waitlist_server(&d->wl, &c->server);
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = UPNOTIFY_CAUSE_MANUAL,
		.server = c->server,
		.ts_ns = (uint64_t)now * 1000000000ull,
	};
	bool already;
	int ret;

	upn_addr_fmt(&c->server, srv);
	if (!s || s->state == UPN_SERVER_UP) {
		fprintf(o, "ERROR: %s is not down; nothing to wait for, nothing stored\n", srv);
		return;
	}
	upn_cmdexec_pseudo_client(&d->cfg.commands.subscriber_prefix, mail, &pfx.addr);
	ret = upn_clients_set(&d->clients, &pfx, mail, now, false);
	if (ret) {
		fprintf(o, "ERROR: the client mail table has no room (%s)\n", strerror(-ret));
		return;
	}
	already = upn_waitlist_find(&d->wl, &c->server, &pfx.addr) != UPN_NIL;
	ev.client = pfx.addr;
	upn_waitlist_event(&d->wl, &ev);
	if (upn_waitlist_find(&d->wl, &c->server, &pfx.addr) == UPN_NIL) {
		fprintf(o, "ERROR: the waitlist of %s is full\n", srv);
		return;
	}
	s = upn_waitlist_server(&d->wl, &c->server);
	fprintf(o, "OK: %s %s told when %s is back (%s since %s)\n", mail,
		already ? "was already going to be" : "will be", srv, state_word(s->state),
		upn_time_fmt(s->since, 0, since));
}

struct unsub_all {
	struct upn_waitlist *wl;
	struct upn_addr client;
	uint32_t removed;
};

static void unsub_server(void *ctx, const struct upn_wl_server *s)
{
	struct unsub_all *u = ctx;
	uint32_t idx = upn_waitlist_find(u->wl, &s->addr, &u->client);

	if (idx != UPN_NIL) {
		upn_waitlist_remove_entry(u->wl, idx);
		u->removed++;
	}
}

static void do_unsubscribe(struct upn_cmdexec *x, FILE *o, const struct upn_cmd *c,
			   const char *sender)
{
	struct upn_daemon *d = x->d;
	struct upn_prefix pfx = { .len = 128 };
	struct unsub_all u = { .wl = &d->wl };
	char srv[UPN_ADDRSTRLEN];
	bool had_address;

	upn_cmdexec_pseudo_client(&d->cfg.commands.subscriber_prefix, sender, &pfx.addr);
	if (c->has_server) {
		uint32_t idx = upn_waitlist_find(&d->wl, &c->server, &pfx.addr);

		upn_addr_fmt(&c->server, srv);
		if (idx == UPN_NIL) {
			fprintf(o, "OK: %s was not subscribed to %s\n", sender, srv);
			return;
		}
		upn_waitlist_remove_entry(&d->wl, idx);
		fprintf(o, "OK: %s will not be told about %s any more\n", sender, srv);
		return;
	}
	u.client = pfx.addr;
	upn_waitlist_foreach_server(&d->wl, unsub_server, &u);
	had_address = !upn_clients_del(&d->clients, &pfx);
	if (!u.removed && !had_address)
		fprintf(o, "OK: %s was not subscribed\n", sender);
	else
		fprintf(o, "OK: %s removed from %u waitlist%s%s\n", sender, u.removed,
			u.removed == 1 ? "" : "s",
			had_address ? ", and from the client mail table" : "");
}

static void server_line(FILE *o, const char *lead, const struct upn_wl_server *s)
{
	char srv[UPN_ADDRSTRLEN], since[UPN_TIMESTRLEN];

	fprintf(o, "%s%s %s since %s (%s), %u client%s waiting\n", lead,
		upn_addr_fmt(&s->addr, srv), state_word(s->state), upn_time_fmt(s->since, 0, since),
		upn_cause_name(s->cause), s->count, s->count == 1 ? "" : "s");
}

struct status_all {
	FILE *o;
	uint32_t down, listed;
};

static void count_down(void *ctx, const struct upn_wl_server *s)
{
	struct status_all *st = ctx;

	if (s->state != UPN_SERVER_UP)
		st->down++;
}

static void list_down(void *ctx, const struct upn_wl_server *s)
{
	struct status_all *st = ctx;

	if (s->state == UPN_SERVER_UP || st->listed >= LIST_MAX)
		return;
	st->listed++;
	server_line(st->o, "  ", s);
}

static void do_status(struct upn_cmdexec *x, FILE *o, const struct upn_cmd *c)
{
	struct upn_daemon *d = x->d;
	struct status_all st = { .o = o };
	char srv[UPN_ADDRSTRLEN];

	if (c->has_server) {
		const struct upn_wl_server *s = upn_waitlist_server(&d->wl, &c->server);

		if (!s || s->state == UPN_SERVER_UP)
			fprintf(o, "OK: %s is not down\n", upn_addr_fmt(&c->server, srv));
		else
			server_line(o, "OK: ", s);
		return;
	}
	upn_waitlist_foreach_server(&d->wl, count_down, &st);
	fprintf(o, "OK: %u server%s down\n", st.down, st.down == 1 ? "" : "s");
	upn_waitlist_foreach_server(&d->wl, list_down, &st);
	if (st.down > st.listed)
		fprintf(o, "  ... and %u more\n", st.down - st.listed);
}

static void do_waitlist(struct upn_cmdexec *x, FILE *o, const struct upn_cmd *c)
{
	struct upn_daemon *d = x->d;
	const struct upn_wl_server *s = upn_waitlist_server(&d->wl, &c->server);
	char srv[UPN_ADDRSTRLEN], cl[UPN_ADDRSTRLEN], first[UPN_TIMESTRLEN], last[UPN_TIMESTRLEN];
	uint32_t listed = 0;

	if (!s || s->state == UPN_SERVER_UP) {
		fprintf(o, "OK: %s is not down; no one is waiting\n",
			upn_addr_fmt(&c->server, srv));
		return;
	}
	server_line(o, "OK: ", s);
	for (uint32_t i = s->head; i != UPN_NIL && listed < LIST_MAX; listed++) {
		const struct upn_wl_entry *e = upn_waitlist_entry(&d->wl, i);

		fprintf(o, "  %s first=%s last=%s attempts=%u\n", upn_addr_fmt(&e->client, cl),
			upn_time_fmt(e->first, 0, first), upn_time_fmt(e->last, 0, last),
			e->attempts);
		i = e->next;
	}
	if (s->count > listed)
		fprintf(o, "  ... and %u more\n", s->count - listed);
}

static void run(struct upn_cmdexec *x, FILE *o, const struct upn_cmd_mail *cm, const char *sender,
		int64_t now)
{
	for (size_t i = 0; i < cm->n; i++) {
		const struct upn_cmd *c = &cm->cmds[i];

		fprintf(o, "%s> %s\n", i ? "\n" : "", c->line);
		switch (c->verb) {
		case UPN_CMD_SUBSCRIBE:
			do_subscribe(x, o, c, sender, now);
			break;
		case UPN_CMD_UNSUBSCRIBE:
			do_unsubscribe(x, o, c, sender);
			break;
		case UPN_CMD_STATUS:
			do_status(x, o, c);
			break;
		case UPN_CMD_WAITLIST:
			do_waitlist(x, o, c);
			break;
		}
	}
}

/* The short answer to a refused mail: no detail a stranger could learn from beyond
 * "not like this". */
static void refusal(FILE *o, enum upn_cmd_verdict v, const struct upn_cmd_mail *cm, size_t bad,
		    const char *sender)
{
	switch (v) {
	case UPN_CMD_BAD_SENDER:
		fprintf(o, "ERROR: %s may not send commands here; nothing was done\n", sender);
		break;
	case UPN_CMD_BAD_SECRET:
		fprintf(o, "ERROR: missing or wrong SECRET line; nothing was done\n");
		break;
	case UPN_CMD_MALFORMED:
		if (cm->bad_line[0])
			fprintf(o, "> %s\n", cm->bad_line);
		fprintf(o, "ERROR: %s; nothing was done\n", cm->error);
		break;
	case UPN_CMD_NOT_ALLOWED:
		fprintf(o, "> %s\nERROR: %s is not allowed for %s; nothing was done\n",
			cm->cmds[bad].line, upn_cmd_verb_name(cm->cmds[bad].verb), sender);
		break;
	case UPN_CMD_OK:
		break;
	}
}

static const uint8_t verdict_outcome[] = {
	[UPN_CMD_OK] = UPN_CMDEXEC_ACCEPTED,
	[UPN_CMD_BAD_SENDER] = UPN_CMDEXEC_REJECTED_SENDER,
	[UPN_CMD_BAD_SECRET] = UPN_CMDEXEC_REJECTED_SECRET,
	[UPN_CMD_MALFORMED] = UPN_CMDEXEC_MALFORMED,
	[UPN_CMD_NOT_ALLOWED] = UPN_CMDEXEC_REJECTED_COMMAND,
};

static void count(struct upn_cmdexec *x, uint8_t outcome)
{
	uint64_t *c[] = {
		[UPN_CMDEXEC_ACCEPTED] = &x->stats.accepted,
		[UPN_CMDEXEC_REJECTED_SENDER] = &x->stats.rejected_sender,
		[UPN_CMDEXEC_REJECTED_SECRET] = &x->stats.rejected_secret,
		[UPN_CMDEXEC_REJECTED_COMMAND] = &x->stats.rejected_command,
		[UPN_CMDEXEC_MALFORMED] = &x->stats.malformed,
	};

	(*c[outcome])++;
}

/* Whether to answer at all: never a robot or ourselves; refusals once per period. */
static bool may_reply(struct upn_cmdexec *x, const struct upn_mailmsg *m, bool refused,
		      int64_t mono_ms, const char **why)
{
	char low[UPN_MAIL_MAX + 1];

	if (!sender_ok(m->from))
		*why = "no usable sender";
	else if (m->auto_submitted)
		*why = "an automatic message";
	else if (!strcasecmp(m->from, x->d->cfg.mail.from))
		*why = "our own address";
	else if (refused && (lower(low, sizeof(low), m->from),
			     !upn_ratelimit_take(&x->error_replies, low, strlen(low), mono_ms)))
		*why = "reply_rate";
	else
		return true;
	return false;
}

/* For the log: a stranger's string, made harmless. */
static const char *clean(const char *s, char *buf, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++)
		buf[n++] = (*s > ' ' && *s < 0x7f) ? *s : '?';
	buf[n] = '\0';
	return buf;
}

int upn_cmdexec_message(struct upn_cmdexec *x, const struct upn_mailmsg *m, int64_t now,
			int64_t mono_ms, struct upn_cmdexec_result *res)
{
	const struct upn_commands_config *cc = &x->d->cfg.commands;
	struct upn_cmd_mail *cm = malloc(sizeof(*cm));
	char *text = NULL, from[80], mid[80];
	const char *why = NULL;
	enum upn_cmd_verdict v;
	size_t tlen = 0, bad = 0;
	FILE *o;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!cm)
		return -ENOMEM;
	x->stats.received++;
	upn_cmd_parse(m->text ? m->text : "", m->text ? m->text_len : 0, cm);
	v = upn_cmd_authorise(cc->allow, cc->nallow, m->from, cm, &bad);
	res->outcome = verdict_outcome[v];
	count(x, res->outcome);
	o = open_memstream(&text, &tlen);
	if (!o) {
		free(cm);
		return -ENOMEM;
	}
	if (v == UPN_CMD_OK)
		run(x, o, cm, m->from, now);
	else
		refusal(o, v, cm, bad, m->from);
	if (fclose(o) || !text) {
		free(text);
		free(cm);
		return -ENOMEM;
	}
	res->text = text;
	upn_info("mail command from %s (%s): %s, %zu command%s",
		 clean(m->from[0] ? m->from : "-", from, sizeof(from)),
		 clean(m->message_id[0] ? m->message_id : "no Message-ID", mid, sizeof(mid)),
		 upn_cmdexec_outcome_name(res->outcome), cm->n, cm->n == 1 ? "" : "s");
	if (may_reply(x, m, v != UPN_CMD_OK, mono_ms, &why)) {
		ret = queue_reply(x, m, text, now);
		res->replied = !ret;
	} else {
		x->stats.replies_suppressed++;
		upn_dbg("mail command from %s: no reply: %s", from, why);
	}
	sodium_memzero(cm, sizeof(*cm));
	free(cm);
	return ret;
}

int upn_cmdexec_raw(struct upn_cmdexec *x, const char *raw, size_t len, int64_t now,
		    int64_t mono_ms, struct upn_cmdexec_result *res)
{
	struct upn_mailmsg m;
	char err[256];
	int ret;

	memset(res, 0, sizeof(*res));
	ret = upn_mailmsg_parse(raw, len, &m, err, sizeof(err));
	if (ret == -ENOMEM) {
		upn_mailmsg_free(&m);
		return ret;
	}
	if (ret) {
		/* No sender to answer: counted and dropped. */
		x->stats.received++;
		x->stats.malformed++;
		x->stats.replies_suppressed++;
		res->outcome = UPN_CMDEXEC_MALFORMED;
		upn_info("mail command: not a message: %s", err);
		upn_mailmsg_free(&m);
		return 0;
	}
	ret = upn_cmdexec_message(x, &m, now, mono_ms, res);
	upn_mailmsg_free(&m);
	return ret;
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

void upn_cmdexec_stats_json(const struct upn_cmdexec *x, json_t *c)
{
	const struct upn_cmdexec_stats *s = &x->stats;

	COUNTER(c, "commands.received", s->received);
	COUNTER(c, "commands.accepted", s->accepted);
	COUNTER(c, "commands.rejected_sender", s->rejected_sender);
	COUNTER(c, "commands.rejected_secret", s->rejected_secret);
	COUNTER(c, "commands.rejected_command", s->rejected_command);
	COUNTER(c, "commands.malformed", s->malformed);
	COUNTER(c, "commands.replies", s->replies);
	COUNTER(c, "commands.replies_suppressed", s->replies_suppressed);
	COUNTER(c, "commands.unqueued", s->unqueued);
}
