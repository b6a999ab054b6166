// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The mailer thread by kind of mail, against a minimal SMTP responder in a thread
 * of this test: recovery mails with their unsubscribe link, confirmation mails
 * with the link the mailer makes from the outbox row, and the suppressed list; relay
 * mails and replies, and webhooks against a minimal HTTP server here too. Postfix and
 * the real relays are the scenarios' (tests/scenarios/10-mail.sh and after). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "config.h"
#include "mailer.h"
#include "mailtext.h"
#include "relaymail.h"
#include "relaymsg.h"
#include "store.h"
#include "timefmt.h"
#include "token.h"

#define BASE "http://10.0.1.1:8080"

/* ---- a relay that takes everything ---- */

/* A TCP listener on 127.0.0.1 whose thread runs @session for each connection, one at
 * a time: the fake SMTP relay's and the webhook receiver's. */
struct lo_server {
	int lfd;
	uint16_t port;
	pthread_t thread;
	void (*session)(void *ctx, int fd);
	void *ctx;
};

static void *lo_main(void *arg)
{
	struct lo_server *s = arg;
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		s->session(s->ctx, fd);
		close(fd);
	}
	return NULL;
}

static void lo_start(struct lo_server *s, void (*session)(void *ctx, int fd), void *ctx)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	s->session = session;
	s->ctx = ctx;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, lo_main, s), 0);
}

static void lo_stop(struct lo_server *s)
{
	/* Wakes the accept() with an error. */
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

struct relay {
	struct lo_server srv;
	pthread_mutex_t lock;
	char *data; /* every message's text, each followed by "\n=====\n" */
	size_t len;
	unsigned int messages;
};

static int send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

static void add_data(struct relay *r, const char *s, size_t n)
{
	pthread_mutex_lock(&r->lock);
	r->data = realloc(r->data, r->len + n + 1);
	assert_non_null(r->data);
	memcpy(r->data + r->len, s, n);
	r->len += n;
	r->data[r->len] = '\0';
	pthread_mutex_unlock(&r->lock);
}

/* One session: line by line, no PIPELINING offered, DATA up to the lone dot. */
static void relay_session(void *ctx, int fd)
{
	struct relay *r = ctx;
	char buf[65536];
	size_t have = 0;
	bool data = false;

	if (send_str(fd, "220 fake ESMTP\r\n"))
		return;
	for (;;) {
		char *eol;
		ssize_t n;

		while ((eol = memmem(buf, have, "\r\n", 2))) {
			size_t ll = (size_t)(eol - buf) + 2;
			const char *reply = NULL;

			if (data) {
				if (ll == 3 && buf[0] == '.') {
					data = false;
					add_data(r, "\n=====\n", 7);
					pthread_mutex_lock(&r->lock);
					r->messages++;
					pthread_mutex_unlock(&r->lock);
					reply = "250 2.0.0 queued\r\n";
				} else {
					add_data(r, buf, ll);
				}
			} else if (!strncasecmp(buf, "EHLO", 4) || !strncasecmp(buf, "HELO", 4)) {
				reply = "250 fake\r\n";
			} else if (!strncasecmp(buf, "DATA", 4)) {
				data = true;
				reply = "354 go on\r\n";
			} else if (!strncasecmp(buf, "QUIT", 4)) {
				send_str(fd, "221 bye\r\n");
				return;
			} else {
				reply = "250 ok\r\n";
			}
			if (reply && send_str(fd, reply))
				return;
			memmove(buf, buf + ll, have - ll);
			have -= ll;
		}
		if (have == sizeof(buf))
			return;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return;
		have += (size_t)n;
	}
}

static void relay_start(struct relay *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	lo_start(&r->srv, relay_session, r);
}

static void relay_stop(struct relay *r)
{
	lo_stop(&r->srv);
	free(r->data);
	pthread_mutex_destroy(&r->lock);
}

/* ---- fixture ---- */

struct fixture {
	char dir[64];
	char path[128];
	struct relay relay;
	struct upn_relay rcfg;
	struct upn_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/upn-mailer-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/upnotify.db", f->dir);
	relay_start(&f->relay);
	upn_config_defaults(&f->cfg);
	snprintf(f->rcfg.host, sizeof(f->rcfg.host), "127.0.0.1");
	f->rcfg.port = f->relay.srv.port;
	f->cfg.mail.relays = &f->rcfg;
	f->cfg.mail.nrelays = 1;
	f->cfg.mail.starttls = UPN_STARTTLS_NO;
	f->cfg.mail.rate = 0;
	f->cfg.mail.rate_per_domain = 0;
	snprintf(f->cfg.mail.from, sizeof(f->cfg.mail.from), "upnotify@gw.example.org");
	snprintf(f->cfg.mail.link_base, sizeof(f->cfg.mail.link_base), "%s", BASE);
	memset(f->cfg.mail.link_key, 0x42, sizeof(f->cfg.mail.link_key));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	relay_stop(&f->relay);
	/* The relays are ours, not the config's to free. */
	f->cfg.mail.relays = NULL;
	f->cfg.mail.nrelays = 0;
	upn_config_free(&f->cfg);
	rm_scratch(f->dir);
	free(f);
	return 0;
}

static struct upn_store_op recovery(const char *cli, const char *to)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.kind = UPN_MAIL_RECOVERY;
	op.mail.server = addr("192.0.2.80");
	op.mail.client = addr(cli);
	op.mail.outage = 1700000000;
	op.mail.recovered = 1700000600;
	op.mail.cause = UPNOTIFY_CAUSE_SYNACK;
	op.mail.port = 80;
	op.mail.proto = 6;
	op.mail.first = 1700000005;
	op.mail.last = 1700000050;
	op.mail.attempts = 2;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	return op;
}

/* As the portal queues one: no link, only its expiry in last. */
static struct upn_store_op confirm(const char *cli, const char *to, int64_t issued, int64_t expires)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.kind = UPN_MAIL_CONFIRM;
	op.mail.server = addr("192.0.2.80");
	op.mail.client = addr(cli);
	op.mail.outage = issued;
	op.mail.last = expires;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	return op;
}

/* The link the portal will take for @op: made from the op's fields with @key. */
static void confirm_url(const unsigned char *key, const struct upn_store_op *op, char *url,
			size_t size)
{
	struct upn_token_confirm c = {
		.client = op->mail.client,
		.server = op->mail.server,
		.expires = op->mail.last,
	};

	snprintf(c.mail, sizeof(c.mail), "%s", op->mail.recipient);
	assert_int_equal(upn_token_confirm_url(key, BASE, &c, url, size), 0);
}

static struct upn_store_op suppress(const char *mail)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_SUPPRESS };

	snprintf(op.suppress.mail, sizeof(op.suppress.mail), "%s", mail);
	op.suppress.since = 1;
	return op;
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Until nothing is queued, at most 10 s. */
static void wait_drained(const char *path)
{
	for (int i = 0; i < 1000; i++) {
		if (!raw_int(path, "SELECT count(*) FROM outbox WHERE state = 'queued'"))
			return;
		usleep(10000);
	}
	fail_msg("the outbox was not drained");
}

/* The message to @to in what the relay got, as a malloc'ed string. */
static char *message_to(struct relay *r, const char *to)
{
	char needle[300], *start, *end, *out;

	snprintf(needle, sizeof(needle), "\r\nTo: %s\r\n", to);
	pthread_mutex_lock(&r->lock);
	start = r->data ? strstr(r->data, needle) : NULL;
	if (!start) {
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	while (start > r->data && strncmp(start, "\n=====\n", 7))
		start--;
	if (!strncmp(start, "\n=====\n", 7))
		start += 7;
	end = strstr(start, "\n=====\n");
	out = strndup(start, (size_t)(end - start));
	pthread_mutex_unlock(&r->lock);
	return out;
}

static void test_kinds_and_suppression(void **state)
{
	struct fixture *f = *state;
	int64_t now = time(NULL);
	struct upn_store_op ops[] = {
		recovery("198.51.100.1", "a@example.org"),
		recovery("198.51.100.2", "gone@example.org"),
		suppress("Gone@example.org"),
		confirm("198.51.100.3", "gone@example.org", now, now + 3600),
		confirm("198.51.100.4", "late@example.org", now - 7200, now - 3600),
		confirm("2001:db8:1::5", "v6@example.org", now, now + 60),
	};
	struct upn_mailer_stats ms;
	struct upn_mailer *m;
	struct upn_store *st;
	char err[256] = "", *msg, *p;
	char url[UPN_TOKEN_URL_MAX + 1], body[UPN_TOKEN_URL_MAX + 64], when[UPN_TIMESTRLEN];
	struct upn_token_confirm c;
	const char *t;

	st = upn_store_open(f->path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(upn_store_apply(st, ops, ARRAY_SIZE(ops)), 0);
	m = upn_mailer_start(&f->cfg.mail, f->path, err, sizeof(err));
	if (!m)
		fail_msg("upn_mailer_start: %s", err);
	upn_mailer_kick(m);
	wait_drained(f->path);
	upn_mailer_get_stats(m, &ms);
	upn_mailer_stop(m);
	upn_store_close(st);

	/* Sent: the recovery mail, and the confirmations but the expired one (one to
	 * an unsubscribed address: asking again is the way back). */
	assert_int_equal(f->relay.messages, 3);
	assert_int_equal(ms.sent, 3);
	assert_int_equal(ms.suppressed, 1);
	assert_int_equal(ms.bad_links, 1);
	assert_int_equal(raw_int(f->path,
				 "SELECT count(*) FROM outbox WHERE state = 'failed'"
				 " AND kind = 'recovery' AND recipient = 'gone@example.org'"
				 " AND last_error = 'unsubscribed' AND tries = 0"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND recipient = 'late@example.org' AND last_error ="
					  " 'the confirmation link expired before it could be sent'"
					  " AND tries = 0"),
			 1);

	/* The recovery mail: RFC 8058 headers, and the link in the body. */
	msg = message_to(&f->relay, "a@example.org");
	assert_non_null(msg);
	p = strstr(msg, "\r\nList-Unsubscribe: <" BASE "/.upnotify/unsubscribe?t=u.");
	assert_non_null(p);
	assert_int_equal(upn_token_unsub_url(f->cfg.mail.link_key, BASE, "a@example.org", url,
					     sizeof(url)),
			 0);
	snprintf(body, sizeof(body), "\r\nList-Unsubscribe: <%s>\r\n", url);
	assert_non_null(strstr(msg, body));
	snprintf(body, sizeof(body), "\r\nTo stop these notices: %s\r\n", url);
	assert_non_null(strstr(msg, body));
	assert_non_null(strstr(msg, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: Server "));
	free(msg);

	/* The confirmation: the link made from the row with the portal's key, on a
	 * line of its own, and no unsubscribe header. */
	msg = message_to(&f->relay, "gone@example.org");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\nSubject: Confirm: tell you when "));
	confirm_url(f->cfg.mail.link_key, &ops[3], url, sizeof(url));
	snprintf(body, sizeof(body), "\r\n%s\r\n", url);
	assert_non_null(strstr(msg, body));
	assert_non_null(strstr(msg, "Someone at 198.51.100.3 asked"));
	snprintf(body, sizeof(body), "The link expires at %s.", upn_time_fmt(now + 3600, 1, when));
	assert_non_null(strstr(msg, body));
	assert_null(strstr(msg, "List-Unsubscribe"));
	/* What the portal does with it when clicked: it names this row. */
	t = strstr(url, "/.upnotify/confirm?t=");
	assert_non_null(t);
	t += strlen("/.upnotify/confirm?t=");
	assert_int_equal(upn_token_confirm_open(f->cfg.mail.link_key, t, now, &c), 0);
	assert_true(upn_addr_eq(&c.client, &ops[3].mail.client));
	assert_true(upn_addr_eq(&c.server, &ops[3].mail.server));
	assert_string_equal(c.mail, "gone@example.org");
	assert_int_equal(c.expires, now + 3600);
	assert_int_equal(upn_token_confirm_open(f->cfg.mail.link_key, t, now + 3601, &c),
			 -ETIMEDOUT);
	free(msg);
	/* An IPv6 client's. */
	msg = message_to(&f->relay, "v6@example.org");
	assert_non_null(msg);
	confirm_url(f->cfg.mail.link_key, &ops[5], url, sizeof(url));
	snprintf(body, sizeof(body), "\r\n%s\r\n", url);
	assert_non_null(strstr(msg, body));
	free(msg);
	/* Different Message-IDs: recovery and confirmation are told apart. */
	assert_int_equal(raw_int(f->path, "SELECT count(DISTINCT message_id) FROM outbox"
					  " WHERE state = 'sent'"),
			 3);
}

/* Without a portal (no link base), recovery mails carry no unsubscribe link, and a
 * confirmation mail cannot be made. */
static void test_no_link_base(void **state)
{
	struct fixture *f = *state;
	int64_t now = time(NULL);
	struct upn_store_op ops[] = {
		recovery("198.51.100.1", "a@example.org"),
		confirm("198.51.100.2", "b@example.org", now, now + 3600),
	};
	struct upn_mailer_stats ms;
	struct upn_mailer *m;
	struct upn_store *st;
	char err[256] = "", *msg;

	f->cfg.mail.link_base[0] = '\0';
	st = upn_store_open(f->path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(upn_store_apply(st, ops, ARRAY_SIZE(ops)), 0);
	m = upn_mailer_start(&f->cfg.mail, f->path, err, sizeof(err));
	assert_non_null(m);
	upn_mailer_kick(m);
	wait_drained(f->path);
	upn_mailer_get_stats(m, &ms);
	upn_mailer_stop(m);
	upn_store_close(st);
	msg = message_to(&f->relay, "a@example.org");
	assert_non_null(msg);
	assert_null(strstr(msg, "List-Unsubscribe"));
	assert_null(strstr(msg, "To stop"));
	free(msg);
	assert_int_equal(f->relay.messages, 1);
	assert_int_equal(ms.sent, 1);
	assert_int_equal(ms.bad_links, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND recipient = 'b@example.org' AND kind = 'confirm'"
					  " AND last_error LIKE '%gateway_url%' AND tries = 0"),
			 1);

	/* A link base that cannot make a link is refused at start. */
	snprintf(f->cfg.mail.link_base, sizeof(f->cfg.mail.link_base), "http://a b/");
	assert_null(upn_mailer_start(&f->cfg.mail, f->path, err, sizeof(err)));
	assert_non_null(strstr(err, "link base"));
}

/* ---- relay mails, replies, webhooks ---- */

#define LIST_ID "0123456789abcdef0123456789abcdef"

static const char relay_body[] =
	"Server 192.0.2.80 is reachable again since 2026-11-22T13:00:00Z.\n"
	"2 clients tried to reach it while it was down, from 2026-11-22T12:51:00Z.\n"
	"\n"
	"-----BEGIN UPNOTIFY RELAY-----\n"
	"version: 1\n"
	"id: " LIST_ID "\n"
	"server: 192.0.2.80\n"
	"down-since: 2026-11-22T12:50:00Z\n"
	"recovered: 2026-11-22T13:00:00Z\n"
	"cause: snmp-trap\n"
	"clients: 2\n"
	"SERVER IP ADDRESS\t: 192.0.2.80\n"
	"CLIENT IP ADDRESS\t: 10.0.1.2\tfirst=2026-11-22T12:51:00Z last=2026-11-22T12:55:00Z"
	" attempts=4 port=80\n"
	"CLIENT IP ADDRESS\t: 10.0.1.3\tfirst=2026-11-22T12:52:00Z last=2026-11-22T12:52:00Z"
	" attempts=1 port=443\n"
	"-----END UPNOTIFY RELAY-----\n";

static void set_key(struct upn_relay_keys *keys, const char *id, unsigned char fill)
{
	keys->v = calloc(1, sizeof(*keys->v));
	assert_non_null(keys->v);
	keys->n = 1;
	snprintf(keys->v[0].id, sizeof(keys->v[0].id), "%s", id);
	memset(keys->v[0].key, fill, 32);
	keys->v[0].len = 32;
}

/* The value of header @name in @msg (up to its CRLF), malloc'ed, or NULL. */
static char *header(const char *msg, const char *name)
{
	char needle[128];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "\r\n%s: ", name);
	p = strstr(msg, needle);
	if (!p)
		return NULL;
	p += strlen(needle);
	end = strstr(p, "\r\n");
	return strndup(p, (size_t)(end - p));
}

static const char *body_of(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

static void test_relay_render(void **state)
{
	struct upn_relay_keys keys = { 0 };
	int64_t now = 1790000000;
	struct upn_relay_mail r = {
		.from = "upnotify@gw.example.org",
		.to = "agent@srv.example.org",
		.server = "192.0.2.80",
		.body = relay_body,
		.len = strlen(relay_body),
		.now = now,
	};
	char mid[UPN_MAIL_MAX + 1], err[256], key_id[UPN_RELAY_KEYID_MAX + 1];
	char *msg, *sig, *bad, *v;
	const char *body;

	(void)state;
	set_key(&keys, "k1", 0x11);
	r.key = &keys.v[0];
	msg = upn_relay_mail_render(&r, mid, err, sizeof(err));
	if (!msg)
		fail_msg("upn_relay_mail_render: %s", err);
	assert_string_equal(mid, "upn-relay-" LIST_ID "@gw.example.org");
	assert_int_equal(strncmp(msg, "Date: ", 6), 0);
	assert_non_null(strstr(msg, "\r\nFrom: upnotify@gw.example.org\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: agent@srv.example.org\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: upnotify: 2 clients waited for 192.0.2.80\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <upn-relay-" LIST_ID "@gw.example.org>\r\n"));
	assert_non_null(strstr(msg, "\r\nAuto-Submitted: auto-generated\r\n"));
	assert_non_null(strstr(msg, "\r\nContent-Type: text/plain; charset=us-ascii\r\n"));
	assert_null(strstr(msg, "List-Unsubscribe"));
	/* Every line end is CRLF, and the list is there as it was stored. */
	for (const char *p = msg; (p = strchr(p, '\n')); p++)
		assert_int_equal(p[-1], '\r');
	assert_non_null(strstr(msg, "\r\nid: " LIST_ID "\r\n"));

	/* What an agent does with it: the signature verifies over the body as sent. */
	sig = header(msg, UPN_RELAY_SIG_HEADER);
	assert_non_null(sig);
	assert_int_equal(strncmp(sig, "v=1; k=k1; t=1790000000; s=", 27), 0);
	body = body_of(msg);
	assert_int_equal(upn_relay_verify(&keys, sig, body, strlen(body), true, now + 10, 3600,
					  key_id),
			 UPN_RELAY_OK);
	assert_string_equal(key_id, "k1");
	/* And does not over another list. */
	bad = strdup(body);
	assert_non_null(bad);
	*strstr(bad, "attempts=4") = '5';
	assert_int_equal(upn_relay_verify(&keys, sig, bad, strlen(bad), true, now + 10, 3600,
					  key_id),
			 UPN_RELAY_FORGED);
	free(bad);
	free(sig);
	free(msg);

	/* A body that is no list, or that SMTP would not carry as it is. */
	r.body = "no list here\n";
	r.len = strlen(r.body);
	assert_null(upn_relay_mail_render(&r, mid, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	v = strdup(relay_body);
	assert_non_null(v);
	*strstr(v, "\ncause") = '\r';
	r.body = v;
	r.len = strlen(v);
	assert_null(upn_relay_mail_render(&r, mid, err, sizeof(err)));
	assert_non_null(strstr(err, "bare CR"));
	free(v);
	r.body = relay_body;
	r.len = strlen(relay_body);
	r.to = "agent@srv.example.org\r\nBcc: x@y";
	assert_null(upn_relay_mail_render(&r, mid, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	upn_relay_keys_free(&keys);
}

/* A list of one client says so in the singular. */
static void test_relay_subject_one(void **state)
{
	struct upn_relay_keys keys = { 0 };
	struct upn_relay_mail r = {
		.from = "upnotify@gw.example.org",
		.to = "agent@srv.example.org",
		.server = "192.0.2.80",
		.now = 1790000000,
	};
	char mid[UPN_MAIL_MAX + 1], err[256], *body, *msg, *c;

	(void)state;
	body = strdup(relay_body);
	assert_non_null(body);
	c = strstr(body, "clients: 2\n");
	assert_non_null(c);
	c[9] = '1';
	r.body = body;
	r.len = strlen(body);
	set_key(&keys, "k1", 0x11);
	r.key = &keys.v[0];
	msg = upn_relay_mail_render(&r, mid, err, sizeof(err));
	if (!msg)
		fail_msg("upn_relay_mail_render: %s", err);
	assert_non_null(strstr(msg, "\r\nSubject: upnotify: 1 client waited for 192.0.2.80\r\n"));
	free(msg);
	free(body);
	upn_relay_keys_free(&keys);
}

static void test_reply_render(void **state)
{
	struct upn_reply_mail r = {
		.from = "upnotify@gw.example.org",
		.to = "ops@example.org",
		.message_id = "upn-00ff@gw.example.org",
		.body = "Subject: Re: status please\n"
			"In-Reply-To: <cmd-1@example.org>\n"
			"\n"
			"> STATUS\n"
			"OK: 1 server down\n",
		.now = 1790000000,
	};
	static const char *const refused[] = {
		/* CR in the Subject: a header of its own for some readers. */
		"Subject: Re: x\rBcc: victim@example.org\n\ntext\n",
		/* An LF ends the line: what follows is refused as a header. */
		"Subject: Re: x\nBcc: victim@example.org\n\ntext\n",
		"Subject: Re: \x01x\n\ntext\n",
		"In-Reply-To: <a b@c>\n\ntext\n",
		"In-Reply-To: a@c\n\ntext\n",
		"Subject: one\nSubject: two\n\ntext\n",
		"Subject: no blank line after it\n",
		"Subject: x\n\nbare\rCR\n",
	};
	char err[256], *msg, *v;

	(void)state;
	msg = upn_reply_mail_render(&r, err, sizeof(err));
	if (!msg)
		fail_msg("upn_reply_mail_render: %s", err);
	assert_non_null(
		strstr(msg, "\r\nFrom: upnotify@gw.example.org\r\nTo: ops@example.org\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: Re: status please\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <upn-00ff@gw.example.org>\r\n"));
	assert_non_null(strstr(msg, "\r\nIn-Reply-To: <cmd-1@example.org>\r\n"));
	assert_non_null(strstr(msg, "\r\nReferences: <cmd-1@example.org>\r\n"));
	assert_non_null(strstr(msg, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_string_equal(body_of(msg), "> STATUS\r\nOK: 1 server down\r\n");
	free(msg);
	/* 8 bit: an encoded Subject and an 8bit body. */
	r.body = "Subject: Re: \xc3\xa9t\xc3\xa9\n\nd\xc3\xa9j\xc3\xa0\n";
	msg = upn_reply_mail_render(&r, err, sizeof(err));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(msg, "\r\nContent-Transfer-Encoding: 8bit\r\n"));
	assert_null(strstr(msg, "In-Reply-To"));
	v = header(msg, "Subject");
	assert_null(strchr(v, '\xc3'));
	free(v);
	free(msg);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		r.body = refused[i];
		errno = 0;
		check(!upn_reply_mail_render(&r, err, sizeof(err)) && errno == EINVAL,
		      "refused[%zu] was taken", i);
	}
	r.body = "Subject: x\n\ny\n";
	r.to = "ops@example.org>\r\nBcc: x@y";
	assert_null(upn_reply_mail_render(&r, err, sizeof(err)));
}

/* Mails of the two stored kinds through the mailer and the fake relay. */
static void test_relay_and_reply_mail(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[4] = { 0 };
	struct upn_mailer_stats ms;
	struct upn_mailer *m;
	struct upn_store *st;
	char err[256] = "", key_id[UPN_RELAY_KEYID_MAX + 1], *msg, *sig;
	const char *body;

	set_key(&f->cfg.mail.relay_keys, "k1", 0x22);
	for (int i = 0; i < 2; i++) {
		ops[i].kind = UPN_STORE_PUT_MAIL;
		ops[i].mail.kind = UPN_MAIL_RELAY;
		ops[i].mail.server = addr(i ? "192.0.2.81" : "192.0.2.80");
		ops[i].mail.client = addr("0.0.0.0");
		ops[i].mail.outage = 1700000000;
		ops[i].mail.recovered = 1700000600;
		snprintf(ops[i].mail.recipient, sizeof(ops[i].mail.recipient), "%s",
			 i ? "agent2@srv.example.org" : "agent@srv.example.org");
		/* The second names a key that is not there any more. */
		snprintf(ops[i].mail.key_id, sizeof(ops[i].mail.key_id), "%s", i ? "k9" : "k1");
		ops[i].mail.body = (char *)relay_body;
	}
	for (int i = 2; i < 4; i++) {
		ops[i].kind = UPN_STORE_PUT_MAIL;
		ops[i].mail.kind = UPN_MAIL_REPLY;
		ops[i].mail.server = addr("0.0.0.0");
		ops[i].mail.client = addr("0.0.0.0");
		ops[i].mail.outage = upn_mail_reply_key(i == 2 ? "cmd-1@x" : "cmd-2@x", "ops@x");
		ops[i].mail.recovered = time(NULL);
		snprintf(ops[i].mail.recipient, sizeof(ops[i].mail.recipient), "%s",
			 i == 2 ? "ops@example.org" : "evil@example.org");
		ops[i].mail.body =
			i == 2 ? (char *)"Subject: Re: hi\nIn-Reply-To: <cmd-1@x>\n\nOK\n" :
				 (char *)"Subject: Re: x\rBcc: victim@x\n\nOK\n";
	}
	assert_int_not_equal(ops[2].mail.outage, ops[3].mail.outage);
	st = upn_store_open(f->path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(upn_store_apply(st, ops, ARRAY_SIZE(ops)), 0);
	m = upn_mailer_start(&f->cfg.mail, f->path, err, sizeof(err));
	if (!m)
		fail_msg("upn_mailer_start: %s", err);
	upn_mailer_kick(m);
	wait_drained(f->path);
	upn_mailer_get_stats(m, &ms);
	upn_mailer_stop(m);
	upn_store_close(st);

	assert_int_equal(f->relay.messages, 2);
	assert_int_equal(ms.sent, 2);
	assert_int_equal(ms.header_rejected, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND kind = 'relay' AND last_error = 'no key k9'"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND kind = 'reply' AND recipient = 'evil@example.org'"
					  " AND last_error LIKE '%control character%'"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'sent'"
					  " AND kind = 'relay' AND message_id = 'upn-relay-" LIST_ID
					  "@gw.example.org'"),
			 1);

	/* The relay mail as the relay got it verifies with the agent's copy of the key. */
	msg = message_to(&f->relay, "agent@srv.example.org");
	assert_non_null(msg);
	sig = header(msg, UPN_RELAY_SIG_HEADER);
	assert_non_null(sig);
	body = body_of(msg);
	assert_int_equal(upn_relay_verify(&f->cfg.mail.relay_keys, sig, body, strlen(body), true,
					  time(NULL), 3600, key_id),
			 UPN_RELAY_OK);
	free(sig);
	free(msg);
	msg = message_to(&f->relay, "ops@example.org");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\nIn-Reply-To: <cmd-1@x>\r\n"));
	assert_non_null(strstr(msg, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_string_equal(body_of(msg), "OK\r\n");
	free(msg);
}

/* ---- a web server that answers by path ---- */

struct web {
	struct lo_server srv;
	pthread_mutex_t lock;
	unsigned int requests;
	char *ok_request; /* the last request to /ok, headers and body */
};

static void web_session(void *ctx, int fd)
{
	struct web *w = ctx;
	char buf[16384], reply[128];
	size_t have = 0, need;
	const char *end, *cl;
	int status;

	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "\r\nContent-Length: ");
		need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 18, NULL, 10) : 0);
		if (have >= need || have == sizeof(buf) - 1)
			break;
	}
	if (!strncmp(buf, "POST /ok ", 9))
		status = 200;
	else if (!strncmp(buf, "POST /busy ", 11))
		status = 503;
	else if (!strncmp(buf, "POST /moved ", 12))
		status = 302;
	else
		status = 404;
	pthread_mutex_lock(&w->lock);
	w->requests++;
	if (status == 200) {
		free(w->ok_request);
		w->ok_request = strdup(buf);
	}
	pthread_mutex_unlock(&w->lock);
	snprintf(reply, sizeof(reply),
		 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nLocation: /ok\r\nConnection: close\r\n"
		 "\r\nno",
		 status);
	send_str(fd, reply);
}

static void web_start(struct web *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	lo_start(&w->srv, web_session, w);
}

static void web_stop(struct web *w)
{
	lo_stop(&w->srv);
	free(w->ok_request);
	pthread_mutex_destroy(&w->lock);
}

/* Until @sql counts @want, at most 10 s. */
static void wait_count(const char *path, const char *sql, int64_t want)
{
	for (int i = 0; i < 1000; i++) {
		if (raw_int(path, sql) == want)
			return;
		usleep(10000);
	}
	fail_msg("never got %lld for %s", (long long)want, sql);
}

static void test_webhooks(void **state)
{
	static const char json[] = "{\"version\":1,\"id\":\"" LIST_ID
				   "\",\"server\":\"192.0.2.80\","
				   "\"clients\":[]}";
	static const char *const paths[] = { "ok", "busy", "gone", "moved", NULL };
	struct fixture *f = *state;
	struct upn_store_op ops[5] = { 0 };
	struct upn_mailer_stats ms;
	struct upn_mailer *m;
	struct upn_store *st;
	struct web w;
	char err[256] = "", key_id[UPN_RELAY_KEYID_MAX + 1], *sig;
	const char *body;

	web_start(&w);
	set_key(&f->cfg.mail.relay_keys, "hook-key", 0x33);
	/* No SMTP relay: webhooks go all the same. */
	f->cfg.mail.nrelays = 0;
	f->cfg.mail.retry_min_ms = 1000;
	f->cfg.mail.webhook_timeout_ms = 5000;
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		char srv[32];

		snprintf(srv, sizeof(srv), "192.0.2.%zu", 80 + i);
		ops[i].kind = UPN_STORE_PUT_MAIL;
		ops[i].mail.kind = UPN_MAIL_WEBHOOK;
		ops[i].mail.server = addr(srv);
		ops[i].mail.client = addr("0.0.0.0");
		ops[i].mail.outage = 1700000000;
		ops[i].mail.recovered = 1700000600;
		/* The last one: nobody listens there. */
		if (paths[i])
			snprintf(ops[i].mail.recipient, sizeof(ops[i].mail.recipient),
				 "http://127.0.0.1:%u/%s", w.srv.port, paths[i]);
		else
			snprintf(ops[i].mail.recipient, sizeof(ops[i].mail.recipient),
				 "http://127.0.0.1:1/x");
		snprintf(ops[i].mail.key_id, sizeof(ops[i].mail.key_id), "hook-key");
		ops[i].mail.body = (char *)json;
	}
	st = upn_store_open(f->path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(upn_store_apply(st, ops, ARRAY_SIZE(ops)), 0);
	m = upn_mailer_start(&f->cfg.mail, f->path, err, sizeof(err));
	if (!m)
		fail_msg("upn_mailer_start: %s", err);
	upn_mailer_kick(m);
	/* 200 sent, 404 and 302 failed, 503 and no connection retried (twice by now). */
	wait_count(f->path,
		   "SELECT count(*) FROM outbox WHERE state = 'sent' OR state = 'failed'"
		   " OR tries >= 2",
		   5);
	upn_mailer_get_stats(m, &ms);
	upn_mailer_stop(m);
	upn_store_close(st);

	assert_int_equal(ms.webhooks_sent, 1);
	assert_true(ms.webhook_failures >= 6);
	assert_int_equal(ms.sent, 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'sent'"
					  " AND recipient LIKE '%/ok' AND relay = '127.0.0.1'"
					  " AND message_id = '" LIST_ID "' AND tries = 1"),
			 1);
	assert_int_equal(raw_int(f->path,
				 "SELECT count(*) FROM outbox WHERE state = 'queued'"
				 " AND recipient LIKE '%/busy' AND last_error = 'HTTP 503'"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND recipient LIKE '%/gone' AND last_error = 'HTTP 404'"
					  " AND tries = 1"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'failed'"
					  " AND recipient LIKE '%/moved'"
					  " AND last_error LIKE 'HTTP 302%'"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'queued'"
					  " AND recipient LIKE '%:1/x' AND last_error IS NOT NULL"),
			 1);

	/* What the receiver got: the JSON as stored, signed over its exact bytes. */
	assert_non_null(w.ok_request);
	assert_non_null(strstr(w.ok_request, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(w.ok_request, "\r\nX-Upnotify-Id: " LIST_ID "\r\n"));
	assert_non_null(strstr(w.ok_request, "\r\nUser-Agent: upnotify/"));
	body = body_of(w.ok_request);
	assert_string_equal(body, json);
	sig = header(w.ok_request, UPN_RELAY_SIG_HEADER);
	assert_non_null(sig);
	assert_int_equal(upn_relay_verify(&f->cfg.mail.relay_keys, sig, body, strlen(body), false,
					  time(NULL), 3600, key_id),
			 UPN_RELAY_OK);
	assert_string_equal(key_id, "hook-key");
	free(sig);
	web_stop(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kinds_and_suppression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_link_base, setup, teardown),
		cmocka_unit_test(test_relay_render),
		cmocka_unit_test(test_relay_subject_one),
		cmocka_unit_test(test_reply_render),
		cmocka_unit_test_setup_teardown(test_relay_and_reply_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhooks, setup, teardown),
	};

	return cmocka_run_group_tests_name("mailer", tests, NULL, NULL);
}
