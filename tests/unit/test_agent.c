// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent: one message at a time (process.c) against a real store in a fresh
 * temporary directory, its configuration file (agentconf.c) and --status (status.c). */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "agentconf.h"
#include "agentloop.h"
#include "clients.h"
#include "event.h"
#include "log.h"
#include "process.h"
#include "relaymsg.h"
#include "status.h"
#include "store.h"

#define KEY1 "k1"
#define KEY1_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MAX_AGE (7 * 86400)

struct fixture {
	char dir[64];
	char db[128];
	char keyfile[128];
	struct upn_relay_keys keys;
	struct upn_clients clients;
	struct upn_agent agent;
	int64_t now;
};

static void write_file(const char *path, mode_t mode, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int add_client(struct fixture *f, const char *prefix, const char *mail, int64_t registered,
		      bool from_config)
{
	struct upn_prefix p = pfx(prefix);

	return upn_clients_set(&f->clients, &p, mail, registered, from_config);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	upn_log_open("test_agent", 1, LOG_CRIT);
	strcpy(f->dir, "/tmp/upn-agent-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/agent.db", f->dir);
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/keys", f->dir);
	write_file(f->keyfile, 0600, "# test keys\n" KEY1 " " KEY1_HEX "\n");
	if (upn_relay_keys_load(f->keyfile, &f->keys, err, sizeof(err)))
		fail_msg("%s", err);
	f->agent.store = upn_store_open(f->db, err, sizeof(err));
	if (!f->agent.store)
		fail_msg("%s", err);
	assert_int_equal(upn_clients_init(&f->clients, 1u << 20, NULL), 0);
	assert_int_equal(add_client(f, "10.0.1.0/24", "net1@example.test", 0, true), 0);
	assert_int_equal(add_client(f, "10.0.1.7", "seven@example.test", 0, true), 0);
	assert_int_equal(add_client(f, "2001:db8::/64", "v6@example.test", 0, true), 0);
	f->agent.keys = &f->keys;
	f->agent.clients = &f->clients;
	f->agent.max_age_s = MAX_AGE;
	f->now = time(NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upn_store_close(f->agent.store);
	upn_clients_destroy(&f->clients);
	upn_relay_keys_free(&f->keys);
	rm_scratch(f->dir);
	free(f);
	return 0;
}

/* A list of three clients of 10.0.2.2: two with an address, one without. */
static void make_list(struct upn_relay_list *l, struct upn_relay_client *c, const char *id,
		      int64_t now)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->server = addr("10.0.2.2");
	snprintf(l->server_name, sizeof(l->server_name), "srv1.example.test");
	l->down_since = now - 600;
	l->recovered = now - 10;
	l->cause = UPNOTIFY_CAUSE_TRAP;
	c[0] = (struct upn_relay_client){ addr("10.0.1.2"), now - 540, now - 300, 4, 80 };
	c[1] = (struct upn_relay_client){ addr("10.0.1.7"), now - 500, now - 400, 1, 443 };
	c[2] = (struct upn_relay_client){ addr("10.9.9.9"), now - 500, now - 400, 2, 80 };
	l->clients = c;
	l->nclients = 3;
}

/* A minimal RFC 5322 message around @body (LF line ends made CRLF), with the
 * signature header @sig unless NULL. @b64: base64 transfer encoding. */
static char *wrap(const char *body, const char *sig, bool b64)
{
	size_t cap = strlen(body) * 3 + 1024, n = 0;
	char *m = malloc(cap);

	assert_non_null(m);
	n += (size_t)snprintf(m + n, cap - n,
			      "From: upnotify@gw.example.test\r\n"
			      "To: agent@srv.example.test\r\n"
			      "Subject: upnotify: 3 clients waited for 10.0.2.2\r\n"
			      "Message-ID: <upn-relay-test@gw.example.test>\r\n"
			      "Date: Sun, 22 Nov 2026 13:00:00 +0000\r\n"
			      "Auto-Submitted: auto-generated\r\n");
	if (sig)
		n += (size_t)snprintf(m + n, cap - n, "X-Upnotify-Signature: %s\r\n", sig);
	n += (size_t)snprintf(
		m + n, cap - n,
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n");
	if (b64) {
		static const char tbl[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t len = strlen(body), col = 0;

		n += (size_t)snprintf(m + n, cap - n, "Content-Transfer-Encoding: base64\r\n\r\n");
		for (size_t i = 0; i < len; i += 3) {
			uint32_t v = (uint32_t)(unsigned char)body[i] << 16;

			if (i + 1 < len)
				v |= (uint32_t)(unsigned char)body[i + 1] << 8;
			if (i + 2 < len)
				v |= (unsigned char)body[i + 2];
			m[n++] = tbl[v >> 18];
			m[n++] = tbl[(v >> 12) & 63];
			m[n++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
			m[n++] = i + 2 < len ? tbl[v & 63] : '=';
			if ((col += 4) >= 76) {
				m[n++] = '\r';
				m[n++] = '\n';
				col = 0;
			}
		}
		m[n++] = '\r';
		m[n++] = '\n';
		m[n] = '\0';
		return m;
	}
	n += (size_t)snprintf(m + n, cap - n, "\r\n");
	for (const char *s = body; *s; s++) {
		if (*s == '\n')
			m[n++] = '\r';
		m[n++] = *s;
	}
	m[n] = '\0';
	return m;
}

/* The body of @l signed with @key_id at @t, as a message. */
static char *signed_message(const struct upn_relay_list *l, const char *key_hex_id, int64_t t,
			    bool b64)
{
	struct upn_relay_key k = { 0 };
	char sig[UPN_RELAY_SIG_MAX], *body = upn_relay_body(l), *m;

	assert_non_null(body);
	snprintf(k.id, sizeof(k.id), "%s", key_hex_id);
	/* Every key here has the same bytes: only its id makes it known or not. */
	for (size_t i = 0; i < 32; i++)
		sscanf(KEY1_HEX + 2 * i, "%2hhx", &k.key[i]);
	k.len = 32;
	assert_int_equal(upn_relay_sign(&k, t, body, strlen(body), true, sig, sizeof(sig)), 0);
	m = wrap(body, sig, b64);
	free(body);
	return m;
}

struct counter_query {
	const char *name;
	int64_t v;
};

static int counter_cb(void *ctx, const char *name, int64_t v)
{
	struct counter_query *q = ctx;

	if (!strcmp(name, q->name))
		q->v = v;
	return 0;
}

static int64_t counter(struct fixture *f, const char *name)
{
	struct counter_query q = { name, 0 };
	size_t i = 0;

	while (upn_agent_counter_names[i] && strcmp(name, upn_agent_counter_names[i]))
		i++;
	if (!upn_agent_counter_names[i])
		fail_msg("no counter %s", name);
	assert_int_equal(upn_store_counters(f->agent.store, counter_cb, &q), 0);
	return q.v;
}

static int64_t sql_int(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static enum upn_agent_outcome process(struct fixture *f, const char *msg, size_t *queued)
{
	return upn_agent_process(&f->agent, msg, strlen(msg), f->now, queued);
}

static void test_accept_and_replay(void **state)
{
	struct fixture *f = *state;
	struct upn_relay_client c[3];
	struct upn_relay_list l;
	size_t queued = 99;
	char *msg;

	make_list(&l, c, "0123456789abcdef0123456789abcdef", f->now);
	msg = signed_message(&l, KEY1, f->now, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(queued, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE kind = 'recovery' AND "
				    "state = 'queued' AND server = '10.0.2.2'"),
			 2);
	/* The longest prefix wins: .7 has its own entry. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE client = '10.0.1.2' AND "
				    "recipient = 'net1@example.test' AND port = 80"),
			 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE client = '10.0.1.7' AND "
				    "recipient = 'seven@example.test' AND port = 443"),
			 1);
	{
		char sql[256];

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM outbox WHERE outage = %lld AND recovered = %lld "
			 "AND first = %lld",
			 (long long)l.down_since, (long long)l.recovered, (long long)c[0].first);
		assert_int_equal(sql_int(f, sql), 1);
	}
	assert_int_equal(upn_store_seen(f->agent.store, l.id), 1);
	assert_int_equal(counter(f, "accepted"), 1);
	assert_int_equal(counter(f, "clients"), 3);
	assert_int_equal(counter(f, "mails"), 2);
	assert_int_equal(counter(f, "no_address"), 1);

	/* The same message again: nothing more is queued. */
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(queued, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 2);
	assert_int_equal(counter(f, "rejected.replayed"), 1);
	assert_int_equal(counter(f, "accepted"), 1);
	free(msg);

	/* Signed again later (a resend): the id is what makes it a replay. */
	msg = signed_message(&l, KEY1, f->now + 60, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.replayed"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 2);
	free(msg);
}

static void test_base64_and_v6(void **state)
{
	struct fixture *f = *state;
	struct upn_relay_client c[2];
	struct upn_relay_list l = { 0 };
	size_t queued = 0;
	char *msg;

	snprintf(l.id, sizeof(l.id), "%s", "fedcba9876543210fedcba9876543210");
	l.server = addr("2001:db8:1::1");
	l.down_since = f->now - 100;
	l.recovered = f->now - 5;
	l.cause = UPNOTIFY_CAUSE_PROBE;
	c[0] = (struct upn_relay_client){ addr("2001:db8::42"), f->now - 90, f->now - 80, 1, 80 };
	c[1] = (struct upn_relay_client){ addr("2001:db8:5::1"), f->now - 90, f->now - 80, 1, 80 };
	l.clients = c;
	l.nclients = 2;
	msg = signed_message(&l, KEY1, f->now, true);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(queued, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE client = '2001:db8::42' "
				    "AND recipient = 'v6@example.test'"),
			 1);
	assert_int_equal(counter(f, "no_address"), 1);
	free(msg);
}

/* Each line: how the message is made wrong, and the counter that must move. */
static void test_rejections(void **state)
{
	struct fixture *f = *state;
	struct upn_relay_client c[3];
	struct upn_relay_list l;
	char *msg, *p, *body;
	size_t queued;

	make_list(&l, c, "00000000000000000000000000000001", f->now);

	/* Forged: a client changed after signing. */
	msg = signed_message(&l, KEY1, f->now, false);
	p = strstr(msg, "attempts=4");
	assert_non_null(p);
	p[9] = '9';
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.forged"), 1);
	free(msg);

	/* Unsigned. */
	body = upn_relay_body(&l);
	msg = wrap(body, NULL, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.unsigned"), 1);
	free(msg);

	/* A signature header that does not parse. */
	msg = wrap(body, "v=1; k=k1; t=12; s=zz", false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.malformed"), 1);
	free(msg);
	free(body);

	/* A key we do not have. */
	msg = signed_message(&l, "other-key", f->now, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.unknown-key"), 1);
	free(msg);

	/* Too old, and too far in the future. */
	msg = signed_message(&l, KEY1, f->now - MAX_AGE - 10, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	free(msg);
	msg = signed_message(&l, KEY1, f->now + UPN_RELAY_FUTURE_S + 60, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	assert_int_equal(counter(f, "rejected.expired"), 2);
	free(msg);

	/* Signed with a good key, but no list in it. */
	{
		struct upn_relay_key k = { .id = KEY1, .len = 32 };
		char sig[UPN_RELAY_SIG_MAX];
		const char *text = "Hello, no list here.\n";

		memcpy(k.key, f->keys.v[0].key, 32);
		assert_int_equal(
			upn_relay_sign(&k, f->now, text, strlen(text), true, sig, sizeof(sig)), 0);
		msg = wrap(text, sig, false);
		assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
		assert_int_equal(counter(f, "rejected.malformed"), 2);
		free(msg);
	}

	/* Not a mail message at all. */
	assert_int_equal(upn_agent_process(&f->agent, "", 0, f->now, &queued),
			 UPN_AGENT_UNREADABLE);
	assert_int_equal(counter(f, "rejected.unreadable"), 1);

	/* Nothing of all that was queued or taken as seen. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(upn_store_seen(f->agent.store, l.id), 0);
	assert_int_equal(counter(f, "accepted"), 0);

	/* And the real one still goes through. */
	msg = signed_message(&l, KEY1, f->now, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(queued, 2);
	free(msg);
}

/* More clients than one transaction takes: every mapped one gets exactly one mail. */
static void test_big_list(void **state)
{
	struct fixture *f = *state;
	size_t n = UPN_AGENT_OPS_PER_APPLY + 1000, queued = 0;
	struct upn_relay_client *c = calloc(n, sizeof(*c));
	struct upn_relay_list l = { 0 };
	char *msg;

	assert_non_null(c);
	assert_int_equal(add_client(f, "10.64.0.0/10", "big@example.test", 0, true), 0);
	snprintf(l.id, sizeof(l.id), "%s", "0000000000000000000000000000beef");
	l.server = addr("10.0.2.3");
	l.down_since = f->now - 100;
	l.recovered = f->now - 5;
	l.cause = UPNOTIFY_CAUSE_PROBE;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = 0x0a400000u + (uint32_t)i; /* 10.64.0.0 + i */

		c[i].client.family = AF_INET;
		c[i].client.a[0] = (uint8_t)(a >> 24);
		c[i].client.a[1] = (uint8_t)(a >> 16);
		c[i].client.a[2] = (uint8_t)(a >> 8);
		c[i].client.a[3] = (uint8_t)a;
		c[i].first = c[i].last = f->now - 50;
		c[i].attempts = 1;
		c[i].port = 80;
	}
	l.clients = c;
	l.nclients = n;
	msg = signed_message(&l, KEY1, f->now, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(queued, n);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), (int64_t)n);
	assert_int_equal(counter(f, "mails"), (int64_t)n);
	assert_int_equal(counter(f, "accepted"), 1);
	/* A crash after the first slice: the list is read again; nothing twice. */
	{
		struct upn_store_op op = { .kind = UPN_STORE_DEL_SEEN_BEFORE };

		op.seen.received = f->now + 1;
		assert_int_equal(upn_store_apply(f->agent.store, &op, 1), 0);
	}
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), (int64_t)n);
	free(msg);
	free(c);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	struct upn_agent_loop lp = { .agent = &f->agent, .sigfd = -1 };
	struct upn_store_op op = { .kind = UPN_STORE_PUT_SEEN };

	strcpy(op.seen.id, "11111111111111111111111111111111");
	strcpy(op.seen.key_id, KEY1);
	op.seen.server = addr("10.0.2.2");
	op.seen.received = f->now - MAX_AGE - UPN_AGENT_SEEN_SLACK_S - 10;
	assert_int_equal(upn_store_apply(f->agent.store, &op, 1), 0);
	strcpy(op.seen.id, "22222222222222222222222222222222");
	op.seen.received = f->now - MAX_AGE;
	assert_int_equal(upn_store_apply(f->agent.store, &op, 1), 0);
	assert_int_equal(upn_agent_purge(&lp, f->now), 0);
	assert_int_equal(upn_store_seen(f->agent.store, "11111111111111111111111111111111"), 0);
	assert_int_equal(upn_store_seen(f->agent.store, "22222222222222222222222222222222"), 1);
}

static void test_status(void **state)
{
	struct fixture *f = *state;
	struct upn_relay_client c[3];
	struct upn_relay_list l;
	char *msg, *buf = NULL, err[256];
	size_t len = 0, queued;
	json_error_t jerr;
	json_t *j;
	FILE *out;

	make_list(&l, c, "0123456789abcdef0123456789abcdef", f->now);
	msg = signed_message(&l, KEY1, f->now, false);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_ACCEPTED);
	assert_int_equal(process(f, msg, &queued), UPN_AGENT_REJECTED);
	free(msg);

	out = open_memstream(&buf, &len);
	assert_int_equal(upn_agent_status(f->db, true, out, err, sizeof(err)), 0);
	fclose(out);
	j = json_loads(buf, 0, &jerr);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "mails")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "rejected.replayed")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "rejected.forged")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "outbox.queued")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "outbox.sent")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "outbox.failed")), 0);
	json_decref(j);
	free(buf);

	buf = NULL;
	out = open_memstream(&buf, &len);
	assert_int_equal(upn_agent_status(f->db, false, out, err, sizeof(err)), 0);
	fclose(out);
	assert_non_null(strstr(buf, "outbox.queued"));
	free(buf);

	out = open_memstream(&buf, &len);
	assert_int_not_equal(upn_agent_status("/nonexistent/agent.db", true, out, err, sizeof(err)),
			     0);
	fclose(out);
	free(buf);
}

/* Table-driven: the file's text, and "" for OK or the start of the message after
 * "path:" for an error. */
static void test_config(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[relay]\nkey_file = /etc/k\n", "" },
		{ "[mailbox]\nurl = pop3://agent@10.0.9.1:1110/\npassword_file = /etc/p\n"
		  "poll = 0\ndelete = no\n[trap]\nlisten = udp:127.0.0.1:1162\ncommunity = c\n"
		  "servers = 10.0.2.0/24, 2001:db8::1\n[relay]\nkey_file = /etc/k\nmax_age = 1d\n"
		  "[clients]\n10.0.1.0/24 = a@example.test\n2001:db8::/64 = b@example.test\n"
		  "[mail]\nrelay = localhost:25\nfrom = agent@example.test\nrate = 10\n"
		  "[store]\npath = /tmp/x/agent.db\n",
		  "" },
		{ "[mailbox]\nurl = pop3://h/\n", ": [relay] key_file is required" },
		{ "[relay]\nkey_file = /etc/k\n[mailbox]\nurl = imap://h/\n", ":4: url:" },
		{ "[relay]\nkey_file = /etc/k\n[mailbox]\nurl = pop3s://a:pw@h/\n",
		  ":4: mailbox URL: put the password in" },
		{ "[relay]\nkey_file = /etc/k\n[mailbox]\npoll = 500ms\n", ":4: poll:" },
		{ "[relay]\nkey_file = /etc/k\nmax_age = 10s\n", ":3: max_age:" },
		{ "[relay]\nkey_file = k\n", ":2: key_file: expected an absolute path" },
		{ "[relay]\nkey_file = /k\n[trap]\nservers = 10.0.0.1/8\n", ":4: servers:" },
		{ "[relay]\nkey_file = /k\n[trap]\nversion = 3\n", ":4: unknown key 'version'" },
		{ "[relay]\nkey_file = /k\n[detect]\nsource = kmod\n",
		  ":4: unknown section [detect]" },
		{ "[relay]\nkey_file = /k\n[clients]\n10.0.1.0/24 = not-an-address\n", ":4: " },
		{ "[relay]\nkey_file = /k\n[mail]\nrelay = smtps://x\n", ":4: relay:" },
		{ "[relay]\nkey_file = /k\n[mail]\nbogus = 1\n",
		  ":4: unknown key 'bogus' in [mail]" },
	};
	char path[160], err[512];

	snprintf(path, sizeof(path), "%s/agent.conf", f->dir);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct upn_agent_config c;
		int ret;

		write_file(path, 0644, cases[i].text);
		err[0] = '\0';
		ret = upn_agent_config_load(path, &c, err, sizeof(err));
		if (!cases[i].want[0]) {
			check(ret == 0, "case %zu: %s", i, err);
			if (i == 1) {
				assert_string_equal(c.mailbox.url, "pop3://agent@10.0.9.1:1110/");
				assert_int_equal(c.poll_ms, 0);
				assert_false(c.mailbox.delete_after);
				assert_string_equal(c.base.snmp_listen, "udp:127.0.0.1:1162");
				assert_string_equal(c.base.snmp_community, "c");
				assert_int_equal(c.ntrap_servers, 2);
				assert_int_equal(c.max_age_s, 86400);
				assert_int_equal(c.base.nclients, 2);
				assert_int_equal(c.base.mail.nrelays, 1);
				assert_int_equal(c.base.mail.rate, 10);
				assert_string_equal(c.base.store_path, "/tmp/x/agent.db");
			} else {
				assert_string_equal(c.base.store_path,
						    "/var/lib/upnotify/agent.db");
				assert_int_equal(c.poll_ms, 60000);
				assert_true(c.mailbox.delete_after);
				assert_int_equal(c.max_age_s, 7 * 86400);
			}
			upn_agent_config_free(&c);
			continue;
		}
		check(ret == -EINVAL, "case %zu: accepted", i);
		check(!strncmp(err, path, strlen(path)) &&
			      strstr(err + strlen(path), cases[i].want) == err + strlen(path),
		      "case %zu: got '%s', want '%s...'", i, err, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base64_and_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
