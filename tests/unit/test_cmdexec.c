// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Mail commands run against a daemon state (cmdexec.h): config defaults with two
 * allow lines, a journal without a store, the client table and the waitlist with
 * 10.0.2.2 down and 10.0.3.3 refusing. Each test checks what a command mail changed,
 * the reply it queued (a PUT_MAIL op of kind reply in the journal), and the counters.
 * The last test commits the ops to a real store to see the outbox keep one reply
 * for a command mail received twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdexec.h"
#include "control.h"
#include "daemon.h"
#include "mailer.h"

#define NOW 1795341792
#define OPS_SECRET "correct horse battery staple"
#define HD_SECRET "helpdesk secret 1234"
#define DOWN "10.0.2.2"
#define REFUSING "10.0.3.3"

struct fx {
	struct upn_daemon d;
	struct upn_cmdexec x;
	int64_t mono;
};

static void inject(struct upn_daemon *d, uint8_t cause, const char *client, const char *server,
		   int64_t t)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = cause,
		.proto = IPPROTO_TCP,
		.port = 443,
		.client = addr(client),
		.server = addr(server),
		.ts_ns = (uint64_t)t * 1000000000ull,
	};

	upn_waitlist_event(&d->wl, &ev);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct upn_daemon *d = &f->d;
	struct upn_cmd_allow *a;

	if (!f)
		return -1;
	upn_config_defaults(&d->cfg);
	strcpy(d->cfg.mail.from, "upnotify@gw.example.test");
	a = calloc(2, sizeof(*a));
	strcpy(a[0].addr, "ops@example.test");
	strcpy(a[0].secret, OPS_SECRET);
	a[0].secret_len = strlen(OPS_SECRET);
	a[0].verbs = UPN_CMD_ALL;
	strcpy(a[1].addr, "helpdesk@example.test");
	strcpy(a[1].secret, HD_SECRET);
	a[1].secret_len = strlen(HD_SECRET);
	a[1].verbs = (1u << UPN_CMD_SUBSCRIBE) | (1u << UPN_CMD_UNSUBSCRIBE) |
		     (1u << UPN_CMD_STATUS);
	d->cfg.commands.allow = a;
	d->cfg.commands.nallow = 2;
	upn_journal_init(&d->journal, NULL);
	if (upn_clients_init(&d->clients, UPN_CLIENTS_MAX, &d->journal) ||
	    upn_waitlist_init(&d->wl, d->cfg.total_max, d->cfg.per_server_max, &d->journal) ||
	    upn_cmdexec_init(&f->x, d))
		return -1;
	d->wl.clients = &d->clients;
	d->cmds = &f->x;
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.10", DOWN, NOW - 600);
	inject(d, UPNOTIFY_CAUSE_SYN_TIMEOUT, "192.0.2.11", DOWN, NOW - 500);
	inject(d, UPNOTIFY_CAUSE_REFUSED, "192.0.2.12", REFUSING, NOW - 400);
	f->mono = 1000000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct upn_daemon *d = &f->d;

	upn_cmdexec_destroy(&f->x);
	upn_waitlist_destroy(&d->wl);
	upn_clients_destroy(&d->clients);
	upn_journal_destroy(&d->journal);
	upn_config_free(&d->cfg);
	free(f);
	return 0;
}

/* A parsed message from @from with @text. */
static struct upn_mailmsg msg(const char *from, const char *id, const char *text)
{
	struct upn_mailmsg m = { 0 };

	snprintf(m.from, sizeof(m.from), "%s", from);
	snprintf(m.message_id, sizeof(m.message_id), "%s", id);
	strcpy(m.subject, "commands");
	m.text = (char *)text;
	m.text_len = strlen(text);
	return m;
}

/* Runs one mail; returns the reply text (the result's, to free). */
static char *run(struct fx *f, struct upn_mailmsg *m, uint8_t outcome, bool replied)
{
	struct upn_cmdexec_result res;

	assert_int_equal(upn_cmdexec_message(&f->x, m, NOW, f->mono, &res), 0);
	check(res.outcome == outcome, "outcome %s, expected %s",
	      upn_cmdexec_outcome_name(res.outcome), upn_cmdexec_outcome_name(outcome));
	check(res.replied == replied, "replied %d: %s", res.replied, res.text);
	assert_non_null(res.text);
	return res.text;
}

static char *run_text(struct fx *f, const char *from, const char *text, uint8_t outcome)
{
	struct upn_mailmsg m = msg(from, "c1@mua.example.test", text);

	return run(f, &m, outcome, true);
}

/* The reply ops in the journal, in order. */
static size_t replies(struct fx *f, const struct upn_store_mail **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < f->d.journal.n; i++) {
		const struct upn_store_op *op = &f->d.journal.ops[i];

		if (op->kind == UPN_STORE_PUT_MAIL && op->mail.kind == UPN_MAIL_REPLY && n < max)
			out[n++] = &op->mail;
	}
	return n;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static json_t *ctl(struct fx *f, const char *line, int *durable)
{
	return upn_control_handle(&f->d, line, strlen(line), durable);
}

static void pseudo(struct fx *f, const char *mail, struct upn_addr *a)
{
	upn_cmdexec_pseudo_client(&f->d.cfg.commands.subscriber_prefix, mail, a);
}

static bool waiting(struct fx *f, const char *server, const char *mail)
{
	struct upn_addr s = addr(server), c;

	pseudo(f, mail, &c);
	return upn_waitlist_find(&f->d.wl, &s, &c) != UPN_NIL;
}

static void test_pseudo_client(void **state)
{
	struct fx *f = *state;
	struct upn_addr a, b;
	struct upn_prefix p = pfx("fd75:706e:6d61:696c::/64");
	char buf[UPN_ADDRSTRLEN];

	pseudo(f, "Ops@Example.TEST", &a);
	pseudo(f, "ops@example.test", &b);
	assert_true(upn_addr_eq(&a, &b));
	assert_true(upn_prefix_contains(&p, &a));
	pseudo(f, "other@example.test", &b);
	assert_false(upn_addr_eq(&a, &b));
	/* SHA-256("ops@example.test") begins 2e 2a ... : a stable, documented mapping. */
	upn_addr_fmt(&a, buf);
	assert_int_equal(strncmp(buf, "fd75:706e:6d61:696c:", 20), 0);
}

static void test_subscribe_down(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[4];
	struct upn_addr c;
	const struct upn_client *cl;
	const struct upn_wl_entry *e;
	char *t;

	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\n",
		     UPN_CMDEXEC_ACCEPTED);
	check(starts(t, "> SUBSCRIBE " DOWN "\nOK: ops@example.test will be told when " DOWN
			" is back (down since 2026-11-22T09:53:12Z)\n"),
	      "%s", t);
	free(t);
	pseudo(f, "ops@example.test", &c);
	cl = upn_clients_lookup(&f->d.clients, &c);
	assert_non_null(cl);
	assert_string_equal(cl->mail, "ops@example.test");
	assert_int_equal(cl->prefix.len, 128);
	assert_int_equal(cl->registered, NOW);
	assert_true(waiting(f, DOWN, "ops@example.test"));
	{
		struct upn_addr s = addr(DOWN);
		uint32_t idx = upn_waitlist_find(&f->d.wl, &s, &c);

		e = upn_waitlist_entry(&f->d.wl, idx);
		assert_int_equal(e->cause, UPNOTIFY_CAUSE_MANUAL);
		assert_int_equal(e->port, 0);
		assert_int_equal(upn_waitlist_server(&f->d.wl, &s)->count, 3);
		assert_int_equal(upn_waitlist_state(&f->d.wl, &s), UPN_SERVER_DOWN);
	}
	/* The reply: to the sender, with the headers the mailer takes from the body. */
	assert_int_equal(replies(f, r, 4), 1);
	assert_string_equal(r[0]->recipient, "ops@example.test");
	assert_int_equal(r[0]->server.family, AF_INET);
	assert_int_equal(r[0]->client.family, AF_INET);
	assert_true(upn_addr_eq(&r[0]->server, &r[0]->client));
	assert_int_equal(r[0]->recovered, NOW);
	assert_true(r[0]->outage > 0);
	check(starts(r[0]->body, "Subject: Re: commands\nIn-Reply-To: <c1@mua.example.test>\n\n"
				 "> SUBSCRIBE " DOWN "\nOK: "),
	      "%s", r[0]->body);
	assert_null(strstr(r[0]->body, OPS_SECRET));
	assert_int_equal(f->x.stats.received, 1);
	assert_int_equal(f->x.stats.accepted, 1);
	assert_int_equal(f->x.stats.replies, 1);
	assert_true(f->d.mail_barrier > 0 || !f->d.journal.store);

	/* Twice: already on the list, still one entry. */
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_non_null(strstr(t, "was already going to be told"));
	free(t);
	assert_int_equal(upn_waitlist_count(&f->d.wl), 4);
}

static void test_subscribe_other_address_and_refusing(void **state)
{
	struct fx *f = *state;
	struct upn_addr s = addr(REFUSING);
	char *t;

	t = run_text(f, "ops@example.test",
		     "SECRET " OPS_SECRET "\nSUBSCRIBE " REFUSING " Jane@Example.test\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_non_null(strstr(t, "OK: Jane@Example.test will be told when " REFUSING
				  " is back (refusing connections since"));
	free(t);
	assert_true(waiting(f, REFUSING, "jane@example.test"));
	assert_false(waiting(f, REFUSING, "ops@example.test"));
	/* A subscriber says nothing about the host: still refusing, same since. */
	assert_int_equal(upn_waitlist_state(&f->d.wl, &s), UPN_SERVER_REFUSING);
	assert_int_equal(upn_waitlist_server(&f->d.wl, &s)->since, NOW - 400);
	assert_int_equal(upn_waitlist_server(&f->d.wl, &s)->cause, UPNOTIFY_CAUSE_REFUSED);
}

static void test_subscribe_up(void **state)
{
	struct fx *f = *state;
	uint32_t clients = upn_clients_count(&f->d.clients),
		 waiting_n = upn_waitlist_count(&f->d.wl);
	char *t;

	t = run_text(f, "ops@example.test",
		     "SECRET " OPS_SECRET "\nSUBSCRIBE 192.0.2.200\nSUBSCRIBE 2001:db8::5\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_string_equal(
		t, "> SUBSCRIBE 192.0.2.200\n"
		   "ERROR: 192.0.2.200 is not down; nothing to wait for, nothing stored\n"
		   "\n"
		   "> SUBSCRIBE 2001:db8::5\n"
		   "ERROR: 2001:db8::5 is not down; nothing to wait for, nothing stored\n");
	free(t);
	assert_int_equal(upn_clients_count(&f->d.clients), clients);
	assert_int_equal(upn_waitlist_count(&f->d.wl), waiting_n);
	assert_int_equal(f->d.wl.servers.live, 2);
}

static void test_unsubscribe(void **state)
{
	struct fx *f = *state;
	struct upn_addr c;
	char *t;

	t = run_text(f, "ops@example.test",
		     "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\nSUBSCRIBE " REFUSING "\n",
		     UPN_CMDEXEC_ACCEPTED);
	free(t);
	assert_true(waiting(f, DOWN, "ops@example.test"));
	assert_true(waiting(f, REFUSING, "ops@example.test"));

	/* One server. */
	t = run_text(f, "OPS@example.test", "SECRET " OPS_SECRET "\nUNSUBSCRIBE " DOWN "\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_string_equal(t, "> UNSUBSCRIBE " DOWN "\n"
			       "OK: OPS@example.test will not be told about " DOWN " any more\n");
	free(t);
	assert_false(waiting(f, DOWN, "ops@example.test"));
	assert_true(waiting(f, REFUSING, "ops@example.test"));
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nunsubscribe " DOWN "\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_string_equal(t, "> UNSUBSCRIBE " DOWN "\n"
			       "OK: ops@example.test was not subscribed to " DOWN "\n");
	free(t);

	/* All: the other waitlist and the client table entry. */
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nUNSUBSCRIBE\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_string_equal(t, "> UNSUBSCRIBE\nOK: ops@example.test removed from 1 waitlist, "
			       "and from the client mail table\n");
	free(t);
	assert_false(waiting(f, REFUSING, "ops@example.test"));
	pseudo(f, "ops@example.test", &c);
	assert_null(upn_clients_lookup(&f->d.clients, &c));
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nUNSUBSCRIBE\n",
		     UPN_CMDEXEC_ACCEPTED);
	assert_string_equal(t, "> UNSUBSCRIBE\nOK: ops@example.test was not subscribed\n");
	free(t);
	/* The real clients stay. */
	assert_int_equal(upn_waitlist_count(&f->d.wl), 3);
}

static void test_status_and_waitlist(void **state)
{
	struct fx *f = *state;
	char *t;

	t = run_text(f, "ops@example.test",
		     "SECRET " OPS_SECRET "\nSTATUS\nSTATUS " DOWN "\nSTATUS 192.0.2.99\n"
		     "WAITLIST " DOWN "\nWAITLIST 192.0.2.99\n",
		     UPN_CMDEXEC_ACCEPTED);
	check(strstr(t, "> STATUS\nOK: 2 servers down\n") &&
		      strstr(t, "  " DOWN " down since 2026-11-22T09:53:12Z (syn-timeout), 2 "
				"clients waiting\n"),
	      "%s", t);
	assert_non_null(strstr(t, "  " REFUSING " refusing connections since "));
	assert_non_null(strstr(t, "\n\n> STATUS " DOWN "\nOK: " DOWN " down since "));
	assert_non_null(strstr(t, "\n\n> STATUS 192.0.2.99\nOK: 192.0.2.99 is not down\n"));
	assert_non_null(strstr(t, "\n\n> WAITLIST " DOWN "\nOK: " DOWN " down since "));
	assert_non_null(strstr(t, "  192.0.2.10 first=2026-11-22T09:53:12Z "
				  "last=2026-11-22T09:53:12Z attempts=1\n"
				  "  192.0.2.11 first="));
	assert_non_null(strstr(t, "\n\n> WAITLIST 192.0.2.99\nOK: 192.0.2.99 is not down; no one "
				  "is waiting\n"));
	free(t);
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[8];
	uint32_t clients = upn_clients_count(&f->d.clients);
	char *t;

	/* Each from a different sender, so the rate limit stays out of it. */
	t = run_text(f, "eve@example.test", "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\n",
		     UPN_CMDEXEC_REJECTED_SENDER);
	assert_string_equal(t, "ERROR: eve@example.test may not send commands here; nothing was "
			       "done\n");
	free(t);
	t = run_text(f, "ops@example.test", "SECRET wrong wrong wrong wrong\nSUBSCRIBE " DOWN "\n",
		     UPN_CMDEXEC_REJECTED_SECRET);
	assert_string_equal(t, "ERROR: missing or wrong SECRET line; nothing was done\n");
	free(t);
	t = run_text(f, "helpdesk@example.test",
		     "SECRET " HD_SECRET "\nSUBSCRIBE " DOWN "\nWAITLIST " DOWN "\n",
		     UPN_CMDEXEC_REJECTED_COMMAND);
	assert_string_equal(t, "> WAITLIST " DOWN "\nERROR: WAITLIST is not allowed for "
			       "helpdesk@example.test; nothing was done\n");
	free(t);
	f->mono += 3600 * 1000;
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\nFROB\n",
		     UPN_CMDEXEC_MALFORMED);
	assert_string_equal(t, "> FROB\nERROR: unknown command; expected SUBSCRIBE, UNSUBSCRIBE, "
			       "STATUS or WAITLIST; nothing was done\n");
	free(t);
	/* More than 20 commands. */
	{
		char text[2048];
		size_t n = (size_t)sprintf(text, "SECRET " HD_SECRET "\n");

		for (int i = 0; i < 21; i++)
			n += (size_t)sprintf(text + n, "SUBSCRIBE " DOWN "\n");
		f->mono += 3600 * 1000;
		t = run_text(f, "helpdesk@example.test", text, UPN_CMDEXEC_MALFORMED);
		assert_string_equal(t, "> SUBSCRIBE " DOWN "\nERROR: more than 20 commands; "
				       "nothing was done\n");
		free(t);
	}
	/* Nothing was run. */
	assert_int_equal(upn_clients_count(&f->d.clients), clients);
	assert_int_equal(upn_waitlist_count(&f->d.wl), 3);
	assert_int_equal(replies(f, r, 8), 5);
	assert_int_equal(f->x.stats.received, 5);
	assert_int_equal(f->x.stats.accepted, 0);
	assert_int_equal(f->x.stats.rejected_sender, 1);
	assert_int_equal(f->x.stats.rejected_secret, 1);
	assert_int_equal(f->x.stats.rejected_command, 1);
	assert_int_equal(f->x.stats.malformed, 2);
	assert_int_equal(f->x.stats.replies, 5);
	assert_int_equal(f->x.stats.replies_suppressed, 0);
}

static void test_reply_rate(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[8];
	struct upn_mailmsg m = msg("eve@example.test", "e1@x.test", "SECRET x\nSTATUS\n");
	char *t;

	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, true));
	/* Within the hour: counted, not answered; the text is still made. */
	f->mono += 3599 * 1000;
	strcpy(m.message_id, "e2@x.test");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	strcpy(m.from, "EVE@example.test");
	strcpy(m.message_id, "e3@x.test");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	/* Another sender has its own allowance. */
	strcpy(m.from, "mallory@example.test");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, true));
	/* An accepted mail is always answered. */
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nSTATUS\n",
		     UPN_CMDEXEC_ACCEPTED);
	free(t);
	t = run_text(f, "ops@example.test", "SECRET " OPS_SECRET "\nSTATUS\n",
		     UPN_CMDEXEC_ACCEPTED);
	free(t);
	/* Once the hour is over, eve hears again. */
	f->mono += 2 * 1000;
	strcpy(m.from, "eve@example.test");
	strcpy(m.message_id, "e4@x.test");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, true));
	assert_int_equal(replies(f, r, 8), 5);
	assert_int_equal(f->x.stats.replies, 5);
	assert_int_equal(f->x.stats.replies_suppressed, 2);
}

static void test_reply_rate_zero(void **state)
{
	struct fx *f = *state;
	struct upn_mailmsg m = msg("eve@example.test", "e1@x.test", "STATUS\n");

	upn_cmdexec_destroy(&f->x);
	f->d.cfg.commands.reply_rate_s = 0;
	assert_int_equal(upn_cmdexec_init(&f->x, &f->d), 0);
	for (int i = 0; i < 5; i++)
		free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, true));
}

static void test_no_reply_to_robots(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[4];
	struct upn_mailmsg m =
		msg("ops@example.test", "a1@x.test", "SECRET " OPS_SECRET "\nSUBSCRIBE " DOWN "\n");

	/* Run all the same, but not answered. */
	m.auto_submitted = true;
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, false));
	assert_true(waiting(f, DOWN, "ops@example.test"));
	m = msg("eve@example.test", "a2@x.test", "STATUS\n");
	m.auto_submitted = true;
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	/* Our own From, in any case. */
	m = msg("UPNOTIFY@gw.example.test", "a3@x.test", "STATUS\n");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	/* No usable sender. */
	m = msg("", "a4@x.test", "STATUS\n");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	m = msg("bad address@x.test", "a5@x.test", "STATUS\n");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, false));
	assert_int_equal(replies(f, r, 4), 0);
	assert_int_equal(f->x.stats.replies_suppressed, 5);
	/* None of these used up eve's allowance. */
	m = msg("eve@example.test", "a6@x.test", "STATUS\n");
	free(run(f, &m, UPN_CMDEXEC_REJECTED_SENDER, true));
}

static void test_reply_headers(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[4];
	struct upn_mailmsg m = msg("ops@example.test", "", "SECRET " OPS_SECRET "\nSTATUS\n");

	/* Non-ASCII subject: encoded words; no Message-ID: no In-Reply-To. */
	strcpy(m.subject, "Status \xc3\xa4\xc3\xb6\xc3\xbc bitte");
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	/* Already "Re:"; a Message-ID that would break the header is left out. */
	m = msg("ops@example.test", "x y@z", "SECRET " OPS_SECRET "\nSTATUS\n");
	strcpy(m.subject, "RE: status");
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	m = msg("ops@example.test", "id@z", "SECRET " OPS_SECRET "\nSTATUS\n");
	m.subject[0] = '\0';
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	assert_int_equal(replies(f, r, 4), 3);
	check(starts(r[0]->body, "Subject: Re: =?UTF-8?B?U3RhdHVzIMOkw7bDvCBiaXR0ZQ==?=\n\n> "),
	      "%s", r[0]->body);
	check(starts(r[1]->body, "Subject: RE: status\n\n> STATUS\n"), "%s", r[1]->body);
	check(starts(r[2]->body, "Subject: Re: upnotify commands\nIn-Reply-To: <id@z>\n\n"), "%s",
	      r[2]->body);
}

static void test_same_mail_twice(void **state)
{
	struct fx *f = *state;
	const struct upn_store_mail *r[4];
	struct upn_mailmsg m =
		msg("ops@example.test", "same@mua.example.test", "SECRET " OPS_SECRET "\nSTATUS\n");

	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	strcpy(m.message_id, "other@mua.example.test");
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	assert_int_equal(replies(f, r, 4), 3);
	/* The outbox key (kind, server, client, outage) of the first two is the same. */
	assert_true(upn_addr_eq(&r[0]->server, &r[1]->server));
	assert_true(upn_addr_eq(&r[0]->client, &r[1]->client));
	assert_true(r[0]->outage == r[1]->outage);
	assert_true(r[0]->outage != r[2]->outage);
}

/* The same, committed: the outbox holds one reply for the two copies. */
static void test_same_mail_twice_stored(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/upn-cmdexec-XXXXXX", path[64], err[256];
	struct upn_mailmsg m =
		msg("ops@example.test", "same@mua.example.test", "SECRET " OPS_SECRET "\nSTATUS\n");
	struct upn_store *st;
	json_t *rows, *row;
	size_t i, n = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	st = upn_store_open(path, err, sizeof(err));
	check(st, "%s", err);
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	free(run(f, &m, UPN_CMDEXEC_ACCEPTED, true));
	assert_int_equal(upn_store_apply(st, f->d.journal.ops, f->d.journal.n), 0);
	upn_store_close(st);
	rows = upn_mailer_outbox(path, 10, err, sizeof(err));
	check(rows, "%s", err);
	json_array_foreach(rows, i, row)
		if (!strcmp(json_string_value(json_object_get(row, "kind")), "reply"))
			n++;
	json_decref(rows);
	assert_int_equal(n, 1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-shm", dir);
	unlink(path);
	rmdir(dir);
}

/* Through GMime: a real message, and input that is not one. */
static void test_raw(void **state)
{
	struct fx *f = *state;
	static const char raw[] = "From: Ops <ops@example.test>\r\n"
				  "To: upnotify@gw.example.test\r\n"
				  "Subject: please\r\n"
				  "Message-ID: <raw1@mua.example.test>\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "\r\n"
				  "SECRET " OPS_SECRET "\r\n"
				  "SUBSCRIBE " DOWN "\r\n"
				  "\r\n"
				  "-- \r\n"
				  "Ops team\r\n";
	const struct upn_store_mail *r[4];
	struct upn_cmdexec_result res;

	assert_int_equal(upn_cmdexec_raw(&f->x, raw, sizeof(raw) - 1, NOW, f->mono, &res), 0);
	assert_int_equal(res.outcome, UPN_CMDEXEC_ACCEPTED);
	assert_true(res.replied);
	upn_cmdexec_result_free(&res);
	assert_true(waiting(f, DOWN, "ops@example.test"));
	assert_int_equal(replies(f, r, 4), 1);
	check(starts(r[0]->body,
		     "Subject: Re: please\nIn-Reply-To: <raw1@mua.example.test>\n\n> SUBSCRIBE"),
	      "%s", r[0]->body);
	/* Garbage: counted as malformed, no one to answer. */
	assert_int_equal(upn_cmdexec_raw(&f->x, "", 0, NOW, f->mono, &res), 0);
	assert_int_equal(res.outcome, UPN_CMDEXEC_MALFORMED);
	assert_false(res.replied);
	upn_cmdexec_result_free(&res);
	assert_int_equal(f->x.stats.received, 2);
	assert_int_equal(f->x.stats.malformed, 1);
}

/* The control socket's "mail" command runs the same code. */
static void test_control_mail(void **state)
{
	struct fx *f = *state;
	int durable = -1;
	json_t *r = ctl(f,
			"{\"cmd\":\"mail\",\"raw\":\"From: ops@example.test\\nSubject: s\\n\\n"
			"SECRET " OPS_SECRET "\\nSTATUS\\n\"}",
			&durable);
	json_t *res = json_object_get(r, "result");

	check(json_is_true(json_object_get(r, "ok")), "%s", json_dumps(r, 0));
	assert_int_equal(durable, 1);
	assert_string_equal(json_string_value(json_object_get(res, "outcome")), "accepted");
	assert_true(json_is_true(json_object_get(res, "replied")));
	assert_non_null(strstr(json_string_value(json_object_get(res, "reply")),
			       "> STATUS\nOK: 2 servers down\n"));
	json_decref(r);
	/* base64 ("From: eve@x.test\n\nSTATUS\n"), and the errors. */
	r = ctl(f, "{\"cmd\":\"mail\",\"raw_base64\":\"RnJvbTogZXZlQHgudGVzdAoKU1RBVFVTCg==\"}",
		&durable);
	res = json_object_get(r, "result");
	check(res, "%s", json_dumps(r, 0));
	assert_string_equal(json_string_value(json_object_get(res, "outcome")), "rejected-sender");
	json_decref(r);
	r = ctl(f, "{\"cmd\":\"mail\"}", &durable);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	r = ctl(f, "{\"cmd\":\"mail\",\"raw\":\"x\",\"raw_base64\":\"eA==\"}", &durable);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	r = ctl(f, "{\"cmd\":\"mail\",\"raw_base64\":\"!!\"}", &durable);
	check(strstr(json_string_value(json_object_get(r, "error")), "not base64"), "%s",
	      json_dumps(r, 0));
	json_decref(r);
	f->d.cmds = NULL;
	r = ctl(f, "{\"cmd\":\"mail\",\"raw\":\"x\"}", &durable);
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "not enabled"));
	json_decref(r);
	f->d.cmds = &f->x;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_pseudo_client),
		T(test_subscribe_down),
		T(test_subscribe_other_address_and_refusing),
		T(test_subscribe_up),
		T(test_unsubscribe),
		T(test_status_and_waitlist),
		T(test_refusals),
		T(test_reply_rate),
		T(test_reply_rate_zero),
		T(test_no_reply_to_robots),
		T(test_reply_headers),
		T(test_same_mail_twice),
		T(test_same_mail_twice_stored),
		T(test_raw),
		T(test_control_mail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
