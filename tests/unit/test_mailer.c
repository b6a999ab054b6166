// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The mailer thread by kind of mail, against a minimal SMTP responder in a thread
 * of this test: recovery mails with their unsubscribe link, confirmation mails
 * with the link the mailer makes from the outbox row, and the suppressed list. Postfix and the real relays are the
 * scenarios' (tests/scenarios/10-mail.sh and after). */
#include <arpa/inet.h>
#include <dirent.h>
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
#include "store.h"
#include "timefmt.h"
#include "token.h"

#define BASE "http://10.0.1.1:8080"

/* ---- a relay that takes everything ---- */

struct relay {
	int lfd;
	uint16_t port;
	pthread_t thread;
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
static void session(struct relay *r, int fd)
{
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

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	int fd;

	while ((fd = accept(r->lfd, NULL, NULL)) >= 0) {
		session(r, fd);
		close(fd);
	}
	return NULL;
}

static void relay_start(struct relay *r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->lfd >= 0);
	assert_int_equal(bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(r->lfd, 4), 0);
	assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&sin, &len), 0);
	r->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, relay_main, r), 0);
}

static void relay_stop(struct relay *r)
{
	/* Wakes the accept() with an error. */
	shutdown(r->lfd, SHUT_RDWR);
	pthread_join(r->thread, NULL);
	close(r->lfd);
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
	f->rcfg.port = f->relay.port;
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
	struct dirent *d;
	char p[512];
	DIR *dir;

	relay_stop(&f->relay);
	/* The relays are ours, not the config's to free. */
	f->cfg.mail.relays = NULL;
	f->cfg.mail.nrelays = 0;
	upn_config_free(&f->cfg);
	dir = opendir(f->dir);
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, d->d_name);
		unlink(p);
	}
	if (dir)
		closedir(dir);
	rmdir(f->dir);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kinds_and_suppression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_link_base, setup, teardown),
	};

	return cmocka_run_group_tests_name("mailer", tests, NULL, NULL);
}
