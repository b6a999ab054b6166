// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The SQLite store, against real files in a fresh temporary directory per test. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "event.h"
#include "journal.h"
#include "mailer.h"
#include "outbox.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/upn-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/upnotify.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_scratch(f->dir);
	free(f);
	return 0;
}

/* ---- building ops ---- */

static struct upn_store_op put_server(const char *a, int state, int cause, int64_t since)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_SERVER };

	op.server.addr = addr(a);
	op.server.state = (uint8_t)state;
	op.server.cause = (uint8_t)cause;
	op.server.since = since;
	return op;
}

static struct upn_store_op del_server(const char *a)
{
	struct upn_store_op op = { .kind = UPN_STORE_DEL_SERVER };

	op.server.addr = addr(a);
	return op;
}

static struct upn_store_op put_entry(const char *srv, const char *cli, uint32_t attempts)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_ENTRY };

	op.entry.server = addr(srv);
	op.entry.client = addr(cli);
	op.entry.first = 1700000000;
	op.entry.last = 1700000000 + attempts;
	op.entry.attempts = attempts;
	op.entry.cause = UPNOTIFY_CAUSE_ICMP_UNREACH;
	op.entry.proto = IPPROTO_TCP;
	op.entry.port = 443;
	op.entry.icmp_type = 3;
	op.entry.icmp_code = 1;
	return op;
}

static struct upn_store_op del_entry(const char *srv, const char *cli)
{
	struct upn_store_op op = { .kind = UPN_STORE_DEL_ENTRY };

	op.entry.server = addr(srv);
	op.entry.client = addr(cli);
	return op;
}

static struct upn_store_op put_client(const char *prefix, const char *mail, int64_t reg)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_CLIENT };

	assert_int_equal(upn_prefix_parse(prefix, &op.client.prefix), 0);
	snprintf(op.client.mail, sizeof(op.client.mail), "%s", mail);
	op.client.registered = reg;
	return op;
}

static struct upn_store_op del_client(const char *prefix)
{
	struct upn_store_op op = { .kind = UPN_STORE_DEL_CLIENT };

	assert_int_equal(upn_prefix_parse(prefix, &op.client.prefix), 0);
	return op;
}

static struct upn_store_op *dup_ops(const struct upn_store_op *ops, size_t n)
{
	struct upn_store_op *p = malloc(n * sizeof(*p));

	assert_non_null(p);
	memcpy(p, ops, n * sizeof(*p));
	return p;
}

/* ---- the store and the file ---- */

static struct upn_store *open_ok(const char *path)
{
	char err[256] = "";
	struct upn_store *st = upn_store_open(path, err, sizeof(err));

	if (!st)
		fail_msg("upn_store_open: %s", err);
	return st;
}

static void apply_ok(struct upn_store *st, const struct upn_store_op *ops, size_t n)
{
	assert_int_equal(upn_store_apply(st, ops, n), 0);
}

/* A second connection, as an operator's sqlite3 shell would be. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static void raw_exec_path(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);

	raw_exec(db, sql);
	sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *s;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static char *raw_text(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *s;
	char *v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- loading ---- */

struct loaded {
	struct upn_store_server s[16];
	size_t ns;
	struct upn_store_entry *e;
	size_t ne, cap;
	struct upn_store_client c[16];
	size_t nc;
	char order[64]; /* 's', 'e', 'c' per call, the first 63 */
	size_t calls;
	size_t abort_at; /* 1-based call that returns -ECANCELED, 0 for none */
};

static int note_call(struct loaded *l, char kind)
{
	if (l->calls < sizeof(l->order) - 1)
		l->order[l->calls] = kind;
	l->calls++;
	return l->abort_at && l->calls == l->abort_at ? -ECANCELED : 0;
}

static int on_server(void *ctx, const struct upn_store_server *s)
{
	struct loaded *l = ctx;

	assert_true(l->ns < 16);
	l->s[l->ns++] = *s;
	return note_call(l, 's');
}

static int on_entry(void *ctx, const struct upn_store_entry *e)
{
	struct loaded *l = ctx;

	if (l->ne == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		assert_non_null(l->e);
	}
	l->e[l->ne++] = *e;
	return note_call(l, 'e');
}

static int on_client(void *ctx, const struct upn_store_client *c)
{
	struct loaded *l = ctx;

	assert_true(l->nc < 16);
	l->c[l->nc++] = *c;
	return note_call(l, 'c');
}

static int load(struct upn_store *st, struct loaded *l)
{
	struct upn_store_loader ld = {
		.ctx = l,
		.server = on_server,
		.entry = on_entry,
		.client = on_client,
	};

	return upn_store_load(st, &ld);
}

static void load_path(const char *path, struct loaded *l)
{
	struct upn_store *st = open_ok(path);

	assert_int_equal(load(st, l), 0);
	upn_store_close(st);
}

static void loaded_free(struct loaded *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static void assert_server_eq(const struct upn_store_server *a, const struct upn_store_server *b)
{
	assert_true(upn_addr_eq(&a->addr, &b->addr));
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->cause, b->cause);
	assert_int_equal(a->since, b->since);
}

static void assert_entry_eq(const struct upn_store_entry *a, const struct upn_store_entry *b)
{
	assert_true(upn_addr_eq(&a->server, &b->server));
	assert_true(upn_addr_eq(&a->client, &b->client));
	assert_int_equal(a->first, b->first);
	assert_int_equal(a->last, b->last);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->cause, b->cause);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->icmp_type, b->icmp_type);
	assert_int_equal(a->icmp_code, b->icmp_code);
}

static void assert_client_eq(const struct upn_store_client *a, const struct upn_store_client *b)
{
	assert_true(upn_addr_eq(&a->prefix.addr, &b->prefix.addr));
	assert_int_equal(a->prefix.len, b->prefix.len);
	assert_string_equal(a->mail, b->mail);
	assert_int_equal(a->registered, b->registered);
}

/* Waits for the writer's eventfd; returns what was read, 0 on timeout. */
static uint64_t wait_commit(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	return v;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the tests ---- */

static void test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	struct upn_store_stats stats;
	struct upn_store *st;
	char *mode;

	assert_false(exists(f->path));
	st = open_ok(f->path);
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.commits, 0);
	upn_store_close(st);

	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	mode = raw_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(raw_int(f->path,
				 "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
				 " AND name IN ('servers', 'waitlist', 'clients', 'outbox',"
				 " 'suppressed', 'secrets')"),
			 6);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_table_info('outbox')"
					  " WHERE name = 'kind'"),
			 1);
	/* No URL is stored: the mailer makes the links. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_table_info('outbox')"
					  " WHERE name = 'link'"),
			 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
					  " AND name = 'outbox_due'"),
			 1);
	/* Opening again must not re-run the migration. */
	st = open_ok(f->path);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_server("192.0.2.10", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1700000000),
		put_entry("192.0.2.10", "198.51.100.7", 3),
		put_client("198.51.100.0/24", "noc@example.org", 1690000000),
	};
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, ops, 3);
	upn_store_close(st);

	load_path(f->path, &l);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 1);
	assert_int_equal(l.nc, 1);
	assert_server_eq(&l.s[0], &ops[0].server);
	assert_entry_eq(&l.e[0], &ops[1].entry);
	assert_client_eq(&l.c[0], &ops[2].client);
	loaded_free(&l);

	/* What an operator sees with the sqlite3 shell. */
	char *t = raw_text(f->path, "SELECT addr || ' ' || state || ' ' || cause FROM servers");
	assert_string_equal(t, "192.0.2.10 down syn-timeout");
	free(t);
	t = raw_text(f->path, "SELECT client || ' ' || cause || ' ' || port FROM waitlist");
	assert_string_equal(t, "198.51.100.7 icmp-unreachable 443");
	free(t);
}

static void test_newer_version_refused(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	char *mode;

	raw_exec_path(f->path, "CREATE TABLE x (y); PRAGMA user_version = 99");
	assert_null(upn_store_open(f->path, err, sizeof(err)));
	assert_string_equal(err, "database schema version 99 is newer than this upnotifyd (4)");
	/* Untouched: not even switched to WAL. */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
	mode = raw_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode, "delete");
	free(mode);
}

static void test_not_sqlite_refused(void **state)
{
	static const char text[] = "# upnotifyd.conf\n[store]\npath = /var/lib/upnotify.db\n"
				   "this is certainly not an SQLite database header\n";
	struct fixture *f = *state;
	char err[256] = "", buf[sizeof(text) + 16], wal[160];
	ssize_t len;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	close(fd);

	assert_null(upn_store_open(f->path, err, sizeof(err)));
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, "not a database"));

	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(len, sizeof(text) - 1);
	assert_memory_equal(buf, text, sizeof(text) - 1);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_false(exists(wal));
}

static void test_del_server_cascades(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 100),
		put_server("2001:db8::1", UPN_SERVER_REFUSING, UPNOTIFY_CAUSE_REFUSED, 200),
		put_entry("192.0.2.1", "198.51.100.1", 1),
		put_entry("192.0.2.1", "198.51.100.2", 1),
		put_entry("2001:db8::1", "2001:db8:1::7", 2),
	};
	struct upn_store_op again =
		put_server("192.0.2.1", UPN_SERVER_UP, UPNOTIFY_CAUSE_SYNACK, 300);
	struct upn_store_op del = del_server("192.0.2.1");
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, ops, 5);
	/* Putting an existing server updates it and keeps its waitlist (an upsert, not
	 * a delete and insert that would cascade). */
	apply_ok(st, &again, 1);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 2);
	assert_int_equal(l.ne, 3);
	assert_server_eq(&l.s[0], &again.server);
	loaded_free(&l);

	apply_ok(st, &del, 1);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_server_eq(&l.s[0], &ops[1].server);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &ops[4].entry);
	loaded_free(&l);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM waitlist"), 1);
}

static void test_entry_without_server(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op op = put_entry("203.0.113.5", "198.51.100.9", 1);
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, &op, 1);
	assert_int_equal(load(st, &l), 0);
	/* A placeholder server row keeps the entry and its foreign key. */
	assert_int_equal(l.ns, 1);
	assert_true(upn_addr_eq(&l.s[0].addr, &op.entry.server));
	assert_int_equal(l.s[0].state, UPN_SERVER_DOWN);
	assert_int_equal(l.s[0].cause, op.entry.cause);
	assert_int_equal(l.s[0].since, op.entry.first);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &op.entry);
	loaded_free(&l);

	/* Deleting the server in the middle of a batch must not let a later entry of
	 * it believe the server row is still there. */
	struct upn_store_op again[] = {
		put_entry("203.0.113.5", "198.51.100.1", 1),
		del_server("203.0.113.5"),
		put_entry("203.0.113.5", "198.51.100.2", 2),
	};
	apply_ok(st, again, 3);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &again[2].entry);
	loaded_free(&l);
	upn_store_close(st);
}

static void test_entry_replace(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 100),
		put_entry("192.0.2.1", "198.51.100.1", 1),
		put_entry("192.0.2.1", "198.51.100.2", 1),
	};
	struct upn_store_op upd = put_entry("192.0.2.1", "198.51.100.1", 5);
	struct upn_store_op del = del_entry("192.0.2.1", "198.51.100.2");
	struct loaded l = { 0 };
	struct upn_store *st;

	upd.entry.cause = UPNOTIFY_CAUSE_REFUSED;
	upd.entry.port = 22;
	upd.entry.icmp_type = 0;
	upd.entry.icmp_code = 0;
	st = open_ok(f->path);
	apply_ok(st, ops, 3);
	apply_ok(st, &upd, 1);
	apply_ok(st, &del, 1);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &upd.entry);
	assert_int_equal(l.e[0].attempts, 5);
	loaded_free(&l);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM waitlist"), 1);
}

static void test_clients(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_client("10.1.2.0/24", "a@example.org", 1),
		put_client("2001:db8:42::/48", "b@example.org", 2),
		put_client("192.0.2.77", "c@example.org", 3),
		put_client("2001:db8::/32", "d@example.org", 4),
		put_client("0.0.0.0/0", "e@example.org", 5),
		put_client("10.1.2.0/24", "a2@example.org", 6), /* replaces the first */
		del_client("2001:db8::/32"),
	};
	struct loaded l = { 0 };
	struct upn_store *st;
	char *t;

	st = open_ok(f->path);
	apply_ok(st, ops, 7);
	upn_store_close(st);

	load_path(f->path, &l);
	assert_int_equal(l.nc, 4);
	/* In key (text) order. */
	assert_client_eq(&l.c[0], &ops[4].client);
	assert_client_eq(&l.c[1], &ops[5].client);
	assert_client_eq(&l.c[2], &ops[2].client);
	assert_client_eq(&l.c[3], &ops[1].client);
	assert_int_equal(l.c[2].prefix.len, 32);
	assert_int_equal(l.c[3].prefix.len, 48);
	assert_int_equal(l.c[3].prefix.addr.family, AF_INET6);
	loaded_free(&l);

	t = raw_text(f->path, "SELECT group_concat(prefix, ' ') FROM"
			      " (SELECT prefix FROM clients ORDER BY prefix)");
	assert_string_equal(t, "0.0.0.0/0 10.1.2.0/24 192.0.2.77/32 2001:db8:42::/48");
	free(t);
}

static void test_load_order_and_abort(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_client("10.0.0.0/8", "x@example.org", 1),
		put_server("192.0.2.9", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1),
		put_entry("192.0.2.9", "198.51.100.3", 1),
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1),
		put_entry("192.0.2.9", "198.51.100.1", 1),
		put_entry("192.0.2.1", "198.51.100.2", 1),
		put_server("2001:db8::9", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_NEIGH, 1),
	};
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, ops, 7);

	assert_int_equal(load(st, &l), 0);
	assert_string_equal(l.order, "ssseeec");
	/* Each server's entries together, in key order. */
	assert_true(upn_addr_eq(&l.e[0].server, &ops[3].server.addr));
	assert_true(upn_addr_eq(&l.e[1].client, &ops[4].entry.client));
	assert_true(upn_addr_eq(&l.e[2].client, &ops[2].entry.client));
	loaded_free(&l);

	l.abort_at = 2;
	assert_int_equal(load(st, &l), -ECANCELED);
	assert_int_equal(l.calls, 2);
	assert_string_equal(l.order, "ss");
	loaded_free(&l);

	l.abort_at = 5;
	assert_int_equal(load(st, &l), -ECANCELED);
	assert_string_equal(l.order, "sssee");
	loaded_free(&l);

	/* An aborted load leaves the store usable. */
	apply_ok(st, ops, 1);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.calls, 7);
	loaded_free(&l);
	upn_store_close(st);
}

static void test_load_skips_bad_rows(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op good[] = {
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_UNSPEC, 1),
		put_entry("192.0.2.1", "198.51.100.1", 1),
		put_client("10.0.0.0/8", "ok@example.org", 1),
	};
	struct upn_store_stats stats;
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, good, 3);
	upn_store_close(st);

	/* As an operator might, with foreign keys off as the sqlite3 shell has them. */
	raw_exec_path(f->path,
		      "INSERT INTO servers VALUES ('192.0.2.300', 'down', 'trap', 1);"
		      "INSERT INTO servers VALUES ('2001:DB8::1', 'down', 'trap', 1);"
		      "INSERT INTO servers VALUES ('192.0.2.2', 'down', 'meteor', 1);"
		      "INSERT INTO servers VALUES ('192.0.2.3', 'down', 'trap', 'yesterday');"
		      "INSERT INTO waitlist VALUES ('192.0.2.1', '198.51.100.2', 1, 1, 1,"
		      " 'refused', 6, 70000, 0, 0);"
		      "INSERT INTO waitlist VALUES ('192.0.2.1', 'nobody', 1, 1, 1,"
		      " 'refused', 6, 80, 0, 0);"
		      "INSERT INTO waitlist VALUES ('192.0.2.1', '198.51.100.3', 1, 1, -1,"
		      " 'refused', 6, 80, 0, 0);"
		      "INSERT INTO waitlist VALUES ('192.0.2.99', '198.51.100.4', 1, 1, 1,"
		      " 'refused', 6, 80, 0, 0);"
		      "INSERT INTO waitlist VALUES ('192.0.2.2', '198.51.100.5', 1, 1, 1,"
		      " 'refused', 6, 80, 0, 0);"
		      "INSERT INTO clients VALUES ('10.1.2.3/8', 'x@example.org', 1);"
		      "INSERT INTO clients VALUES ('10.9.0.0/16', 'a@b' || char(13, 10) ||"
		      " 'RCPT TO:<victim@example.org>', 1);"
		      "INSERT INTO clients VALUES ('10.8.0.0/16', '', 1);"
		      "INSERT INTO clients VALUES (x'31302e372e302e302f3136', 'blob@x', 1);");

	st = open_ok(f->path);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_server_eq(&l.s[0], &good[0].server);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &good[1].entry);
	assert_int_equal(l.nc, 1);
	assert_client_eq(&l.c[0], &good[2].client);
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.load_skipped, 4 + 5 + 4);
	loaded_free(&l);
	upn_store_close(st);
}

static void test_apply_invalid_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op base[] = {
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1),
		put_entry("192.0.2.1", "198.51.100.1", 1),
		put_client("10.0.0.0/8", "a@example.org", 1),
	};
	struct upn_store_op bad[] = {
		del_server("192.0.2.1"),
		put_client("10.0.0.0/8", "changed@example.org", 2),
		put_server("192.0.2.2", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1),
	};
	struct upn_store_stats stats;
	struct loaded l = { 0 };
	struct upn_store *st;
	sqlite3 *db;

	st = open_ok(f->path);
	apply_ok(st, base, 3);

	/* Invalid ops of every kind are refused before anything is written. */
	bad[2].server.addr.family = 0;
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_server("192.0.2.2", 7, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1);
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_server("192.0.2.2", UPN_SERVER_UP, UPNOTIFY_CAUSE_MAX + 1, 1);
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_client("10.0.0.0/8", "", 1);
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_client("10.0.0.0/8", "a@b\r\nDATA", 1);
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_client("10.0.0.0/8", "a@b", 1);
	bad[2].client.prefix.len = 4; /* host bits beyond the length */
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2] = put_entry("192.0.2.1", "198.51.100.1", 1);
	bad[2].entry.client.a[9] = 1; /* IPv4 with junk past the 4 bytes */
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);
	bad[2].kind = 42;
	assert_int_equal(upn_store_apply(st, bad, 3), -EINVAL);

	/* A valid batch whose last op fails inside SQLite is rolled back as a whole. */
	db = raw_open(f->path);
	raw_exec(db, "CREATE TRIGGER inject BEFORE INSERT ON servers"
		     " WHEN NEW.addr = '192.0.2.2' BEGIN SELECT RAISE(ABORT, 'injected'); END");
	bad[2] = put_server("192.0.2.2", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1);
	assert_true(upn_store_apply(st, bad, 3) < 0);
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.errors, 1);
	assert_int_equal(stats.commits, 1);

	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 1);
	assert_int_equal(l.nc, 1);
	assert_client_eq(&l.c[0], &base[2].client);
	loaded_free(&l);

	/* And the store works on once the cause is gone. */
	raw_exec(db, "DROP TRIGGER inject");
	sqlite3_close(db);
	apply_ok(st, bad, 3);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_server_eq(&l.s[0], &bad[2].server);
	assert_int_equal(l.ne, 0);
	loaded_free(&l);
	upn_store_close(st);
}

static void test_writer(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1),
		put_entry("192.0.2.1", "198.51.100.1", 1),
		put_entry("192.0.2.1", "198.51.100.2", 1),
	};
	struct upn_store_op more = put_client("10.0.0.0/8", "a@example.org", 1);
	struct upn_store_op *batch, *second;
	struct upn_store_loader none = { 0 };
	struct upn_store_stats stats;
	struct loaded l = { 0 };
	struct upn_store *st;
	sqlite3 *db;
	int efd;

	st = open_ok(f->path);
	assert_true(upn_store_idle(st));
	batch = dup_ops(ops, 1);
	assert_int_equal(upn_store_submit(st, batch, 1, 1), -EINVAL); /* not started */
	free(batch);
	efd = upn_store_start(st);
	assert_true(efd >= 0);
	assert_int_equal(upn_store_start(st), -EALREADY);
	/* The connection belongs to the writer now. */
	assert_int_equal(upn_store_apply(st, ops, 1), -EBUSY);
	assert_int_equal(upn_store_load(st, &none), -EBUSY);

	/* Hold the write lock so that the batch stays in flight. */
	db = raw_open(f->path);
	raw_exec(db, "BEGIN IMMEDIATE");
	batch = dup_ops(ops, 3);
	assert_int_equal(upn_store_submit(st, batch, 3, 10), 0);
	second = dup_ops(&more, 1);
	assert_int_equal(upn_store_submit(st, second, 1, 11), -EBUSY);
	assert_false(upn_store_idle(st));
	assert_int_equal(wait_commit(efd, 200), 0);
	assert_int_equal(upn_store_durable_seq(st), 0);
	raw_exec(db, "ROLLBACK");
	sqlite3_close(db);

	assert_int_equal(wait_commit(efd, 6000), 1);
	assert_int_equal(upn_store_durable_seq(st), 10);
	assert_true(upn_store_idle(st));
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.commits, 1);
	assert_int_equal(stats.ops, 3);
	assert_int_equal(stats.last_batch, 3);
	assert_int_equal(stats.errors, 0);

	/* seq must grow; an invalid op is refused up front; both leave @ops ours. */
	assert_int_equal(upn_store_submit(st, second, 1, 10), -EINVAL);
	second[0].client.mail[0] = '\0';
	assert_int_equal(upn_store_submit(st, second, 1, 11), -EINVAL);
	second[0] = more;
	assert_int_equal(upn_store_submit(st, second, 1, 11), 0);
	second = NULL;
	assert_int_equal(wait_commit(efd, 6000), 1);
	assert_int_equal(upn_store_durable_seq(st), 11);

	/* An empty batch still moves the durable mark. */
	assert_int_equal(upn_store_submit(st, NULL, 0, 12), 0);
	assert_int_equal(wait_commit(efd, 6000), 1);
	assert_int_equal(upn_store_durable_seq(st), 12);
	upn_store_close(st);

	load_path(f->path, &l);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 2);
	assert_int_equal(l.nc, 1);
	loaded_free(&l);
}

static void test_close_commits_inflight(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op op = put_client("10.0.0.0/8", "a@example.org", 1);
	struct loaded l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	assert_true(upn_store_start(st) >= 0);
	assert_int_equal(upn_store_submit(st, dup_ops(&op, 1), 1, 1), 0);
	upn_store_close(st); /* without waiting for the eventfd */
	load_path(f->path, &l);
	assert_int_equal(l.nc, 1);
	loaded_free(&l);

	/* Never started: close is just a close. */
	st = open_ok(f->path);
	upn_store_close(st);
}

static void test_writer_retries(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op op = put_client("10.0.0.0/8", "a@example.org", 1);
	struct upn_store_op *second = dup_ops(&op, 1);
	struct upn_store_stats stats;
	struct loaded l = { 0 };
	struct upn_store *st;
	double t0;
	sqlite3 *db;
	int efd;

	st = open_ok(f->path);
	efd = upn_store_start(st);
	assert_true(efd >= 0);
	db = raw_open(f->path);
	raw_exec(db, "CREATE TRIGGER inject BEFORE INSERT ON clients"
		     " BEGIN SELECT RAISE(ABORT, 'injected'); END");
	assert_int_equal(upn_store_submit(st, dup_ops(&op, 1), 1, 1), 0);

	t0 = now_s();
	do {
		upn_store_get_stats(st, &stats);
	} while (!stats.errors && now_s() - t0 < 5 && !usleep(1000));
	assert_int_equal(stats.errors, 1);
	assert_int_equal(stats.commits, 0);
	assert_int_equal(wait_commit(efd, 100), 0);
	assert_false(upn_store_idle(st));
	assert_int_equal(upn_store_durable_seq(st), 0);
	/* The failed batch is kept, not dropped, so the next must wait. */
	assert_int_equal(upn_store_submit(st, second, 1, 2), -EBUSY);
	free(second);

	raw_exec(db, "DROP TRIGGER inject");
	sqlite3_close(db);
	assert_int_equal(wait_commit(efd, UPN_STORE_RETRY_MS + 6000), 1);
	assert_int_equal(upn_store_durable_seq(st), 1);
	upn_store_get_stats(st, &stats);
	assert_true(stats.errors >= 1);
	assert_int_equal(stats.commits, 1);
	upn_store_close(st);

	load_path(f->path, &l);
	assert_int_equal(l.nc, 1);
	loaded_free(&l);
}

static void test_close_gives_up(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op op = put_client("10.0.0.0/8", "a@example.org", 1);
	struct loaded l = { 0 };
	struct upn_store *st;
	double t0;

	st = open_ok(f->path);
	assert_true(upn_store_start(st) >= 0);
	raw_exec_path(f->path, "CREATE TRIGGER inject BEFORE INSERT ON clients"
			       " BEGIN SELECT RAISE(ABORT, 'injected'); END");
	assert_int_equal(upn_store_submit(st, dup_ops(&op, 1), 1, 1), 0);
	t0 = now_s();
	upn_store_close(st);
	/* A few retries, UPN_STORE_RETRY_MS apart (not a busy loop), then it lets go. */
	t0 = now_s() - t0;
	assert_true(t0 >= 0.9 * UPN_STORE_RETRY_MS / 1000);
	assert_true(t0 < 10.0 * UPN_STORE_RETRY_MS / 1000);

	raw_exec_path(f->path, "DROP TRIGGER inject");
	load_path(f->path, &l);
	assert_int_equal(l.nc, 0);
	loaded_free(&l);
}

/* The child commits through the writer and dies by SIGKILL without closing: the
 * batch must already be on disk when the eventfd says so. */
static void test_crash_durability(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_server("2001:db8::80", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_ICMP_UNREACH, 5),
		put_entry("2001:db8::80", "2001:db8:ffff::1", 9),
		put_client("2001:db8:ffff::/64", "lab@example.org", 7),
	};
	struct loaded l = { 0 };
	char ok = 0, wal[160];
	int pfd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct upn_store *st = upn_store_open(f->path, err, sizeof(err));
		struct pollfd p = { .events = POLLIN };

		close(pfd[0]);
		if (!st || (p.fd = upn_store_start(st)) < 0 ||
		    upn_store_submit(st, dup_ops(ops, 3), 3, 1) || poll(&p, 1, 10000) != 1 ||
		    upn_store_durable_seq(st) != 1)
			_exit(1);
		if (write(pfd[1], "y", 1) != 1)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &ok, 1), 1);
	close(pfd[0]);
	assert_int_equal(ok, 'y');
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Nobody checkpointed: the data lives only in the WAL. */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_true(exists(wal));

	load_path(f->path, &l);
	assert_int_equal(l.ns, 1);
	assert_server_eq(&l.s[0], &ops[0].server);
	assert_int_equal(l.ne, 1);
	assert_entry_eq(&l.e[0], &ops[1].entry);
	assert_int_equal(l.nc, 1);
	assert_client_eq(&l.c[0], &ops[2].client);
	loaded_free(&l);
}

/* ---- the outbox (schema version 2) ---- */

static struct upn_store_op put_mail(const char *srv, const char *cli, int64_t outage,
				    const char *to)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.server = addr(srv);
	op.mail.client = addr(cli);
	op.mail.outage = outage;
	op.mail.recovered = outage + 600;
	op.mail.cause = UPNOTIFY_CAUSE_SYNACK;
	op.mail.port = 443;
	op.mail.proto = IPPROTO_TCP;
	op.mail.first = outage + 5;
	op.mail.last = outage + 50;
	op.mail.attempts = 4;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	return op;
}

/* The schema as version 1 left it, word for word: what a database written by the
 * previous upnotifyd holds. */
static const char v1_schema[] =
	"CREATE TABLE servers ("
	"	addr TEXT PRIMARY KEY NOT NULL,"
	"	state TEXT NOT NULL CHECK (state IN ('up', 'down', 'refusing')),"
	"	cause TEXT NOT NULL,"
	"	since INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE waitlist ("
	"	server TEXT NOT NULL REFERENCES servers (addr) ON DELETE CASCADE,"
	"	client TEXT NOT NULL,"
	"	first INTEGER NOT NULL,"
	"	last INTEGER NOT NULL,"
	"	attempts INTEGER NOT NULL,"
	"	cause TEXT NOT NULL,"
	"	proto INTEGER NOT NULL,"
	"	port INTEGER NOT NULL,"
	"	icmp_type INTEGER NOT NULL,"
	"	icmp_code INTEGER NOT NULL,"
	"	PRIMARY KEY (server, client)"
	") WITHOUT ROWID;"
	"CREATE TABLE clients ("
	"	prefix TEXT PRIMARY KEY NOT NULL,"
	"	mail TEXT NOT NULL,"
	"	registered INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

static void test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op mail = put_mail("192.0.2.10", "198.51.100.7", 100, "a@example.org");
	struct loaded l = { 0 };
	struct upn_store *st;
	sqlite3 *db = raw_open(f->path);

	raw_exec(db, "PRAGMA journal_mode = WAL");
	raw_exec(db, v1_schema);
	raw_exec(db, "INSERT INTO servers VALUES ('192.0.2.10', 'down', 'syn-timeout', 5);"
		     "INSERT INTO waitlist VALUES ('192.0.2.10', '198.51.100.7', 1, 2, 3,"
		     " 'syn-timeout', 6, 443, 0, 0);"
		     "INSERT INTO clients VALUES ('198.51.100.0/24', 'a@example.org', 7);");
	sqlite3_close(db);

	st = open_ok(f->path);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	/* The old rows survive the steps, and the new tables work. */
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 1);
	assert_int_equal(l.nc, 1);
	assert_int_equal(l.e[0].attempts, 3);
	loaded_free(&l);
	apply_ok(st, &mail, 1);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE state = 'queued'"), 1);
}

static void test_put_mail(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_mail("192.0.2.10", "198.51.100.7", 100, "a@example.org"),
		put_mail("192.0.2.10", "198.51.100.8", 100, "b@example.org"),
		put_mail("2001:db8::10", "2001:db8:1::7", 100, "c@example.org"),
	};
	/* The same outage again, say after a restart replayed the recovery, with
	 * other details: ignored, the first row stays as it was. */
	struct upn_store_op again = put_mail("192.0.2.10", "198.51.100.7", 100, "z@example.org");
	/* A new outage of the same server is a new mail. */
	struct upn_store_op next = put_mail("192.0.2.10", "198.51.100.7", 5000, "a@example.org");
	struct upn_store_op bad = ops[0];
	struct upn_store *st;
	int64_t t0 = time(NULL);
	char *t;

	st = open_ok(f->path);
	apply_ok(st, ops, 3);
	apply_ok(st, &again, 1);
	apply_ok(st, ops, 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 3);
	t = raw_text(f->path, "SELECT recipient || ' ' || server || ' ' || client || ' ' || outage"
			      " || ' ' || recovered || ' ' || cause || ' ' || port || ' ' || proto"
			      " || ' ' || first || ' ' || last || ' ' || attempts || ' ' || state"
			      " || ' ' || tries || ' ' || held FROM outbox WHERE id = 1");
	assert_string_equal(t,
			    "a@example.org 192.0.2.10 198.51.100.7 100 700 syn-ack 443 6 105 150 4"
			    " queued 0 0");
	free(t);
	/* Due at once; created is when it was queued, not when the server recovered. */
	assert_true(raw_int(f->path, "SELECT created FROM outbox WHERE id = 1") >= t0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE next_try = created"
					  " AND last_error IS NULL AND message_id IS NULL"),
			 3);
	apply_ok(st, &next, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);

	/* Refused before anything is written, like every other op. */
	snprintf(bad.mail.recipient, sizeof(bad.mail.recipient), "a@b\r\nRCPT TO:<c@d>");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.mail.recipient[0] = '\0';
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.mail.cause = UPNOTIFY_CAUSE_MAX + 1;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.mail.server.family = 0;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.mail.client.a[12] = 1; /* IPv4 with junk past the 4 bytes */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);

	/* Deleting the server leaves its mails alone: they tell of its recovery. */
	struct upn_store_op del = del_server("192.0.2.10");
	apply_ok(st, &del, 1);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);
}

/* Through the writer thread, and one mail per outage across restarts. */
static void test_put_mail_writer(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op op = put_mail("192.0.2.1", "198.51.100.1", 42, "a@example.org");
	struct upn_store *st;
	int efd;

	for (int run = 0; run < 2; run++) {
		st = open_ok(f->path);
		efd = upn_store_start(st);
		assert_true(efd >= 0);
		assert_int_equal(upn_store_submit(st, dup_ops(&op, 1), 1, 1), 0);
		assert_int_equal(wait_commit(efd, 6000), 1);
		upn_store_close(st);
		/* The mailer marks it sent; the replay after a restart must not queue
		 * it again. */
		raw_exec_path(f->path, "UPDATE outbox SET state = 'sent'");
	}
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 1);
}

/* ---- the portal's additions (schema version 3) ---- */

/* Migration 2 as it stands in store.c, word for word. */
static const char v2_step[] = "CREATE TABLE outbox ("
			      "	id INTEGER PRIMARY KEY,"
			      "	recipient TEXT NOT NULL,"
			      "	server TEXT NOT NULL,"
			      "	client TEXT NOT NULL,"
			      "	outage INTEGER NOT NULL,"
			      "	recovered INTEGER NOT NULL,"
			      "	cause TEXT NOT NULL,"
			      "	port INTEGER NOT NULL,"
			      "	proto INTEGER NOT NULL,"
			      "	first INTEGER NOT NULL,"
			      "	last INTEGER NOT NULL,"
			      "	attempts INTEGER NOT NULL,"
			      "	state TEXT NOT NULL DEFAULT 'queued'"
			      "		CHECK (state IN ('queued', 'sent', 'failed')),"
			      "	tries INTEGER NOT NULL DEFAULT 0,"
			      "	next_try INTEGER NOT NULL,"
			      "	held INTEGER NOT NULL DEFAULT 0,"
			      "	last_error TEXT,"
			      "	relay TEXT,"
			      "	created INTEGER NOT NULL,"
			      "	sent_at INTEGER,"
			      "	message_id TEXT,"
			      "	UNIQUE (server, client, outage)"
			      ");"
			      "CREATE INDEX outbox_due ON outbox (state, next_try);"
			      "PRAGMA user_version = 2;";

/* As the portal queues one: the link expires a day after the form was taken. */
static struct upn_store_op put_confirm(const char *srv, const char *cli, int64_t issued,
				       const char *to)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.kind = UPN_MAIL_CONFIRM;
	op.mail.server = addr(srv);
	op.mail.client = addr(cli);
	op.mail.outage = issued;
	op.mail.last = issued + 86400;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	return op;
}

static struct upn_store_op suppress(int kind, const char *mail, int64_t since)
{
	struct upn_store_op op = { .kind = (uint8_t)kind };

	snprintf(op.suppress.mail, sizeof(op.suppress.mail), "%s", mail);
	op.suppress.since = since;
	return op;
}

static void test_migrate_v2(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op more[] = {
		put_mail("192.0.2.10", "198.51.100.9", 100, "c@example.org"),
		put_confirm("192.0.2.10", "198.51.100.7", 300, "a@example.org"),
	};
	struct loaded l = { 0 };
	struct upn_store *st;
	sqlite3 *db = raw_open(f->path);
	char *t;

	raw_exec(db, "PRAGMA journal_mode = WAL");
	raw_exec(db, v1_schema);
	raw_exec(db, v2_step);
	raw_exec(db, "INSERT INTO servers VALUES ('192.0.2.10', 'down', 'syn-timeout', 5);"
		     "INSERT INTO clients VALUES ('198.51.100.0/24', 'a@example.org', 7);"
		     "INSERT INTO outbox (recipient, server, client, outage, recovered, cause,"
		     " port, proto, first, last, attempts, next_try, created) VALUES"
		     " ('a@example.org', '192.0.2.10', '198.51.100.7', 100, 700, 'syn-ack', 443,"
		     " 6, 105, 150, 4, 10, 10),"
		     " ('b@example.org', '192.0.2.10', '198.51.100.8', 100, 700, 'syn-ack', 443,"
		     " 6, 105, 150, 4, 10, 10);"
		     "UPDATE outbox SET state = 'sent', sent_at = 11, message_id = 'upn-1@x'"
		     " WHERE id = 1;");
	sqlite3_close(db);

	st = open_ok(f->path);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	/* The mails queued and sent before the upgrade are recovery mails and keep
	 * everything else. */
	t = raw_text(f->path, "SELECT group_concat(id || ' ' || recipient || ' ' || state || ' '"
			      " || kind || ' ' || last || ' ' || ifnull(message_id, '-'), ', ')"
			      " FROM outbox");
	assert_string_equal(t, "1 a@example.org sent recovery 150 upn-1@x,"
			       " 2 b@example.org queued recovery 150 -");
	free(t);
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.nc, 1);
	loaded_free(&l);
	/* The new columns and tables take writes. */
	apply_ok(st, more, 2);
	{
		struct upn_store_op s = suppress(UPN_STORE_PUT_SUPPRESS, "b@example.org", 20);

		apply_ok(st, &s, 1);
	}
	unsigned char k[32];

	assert_int_equal(upn_store_secret(st, "portal", k, sizeof(k)), 0);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE kind = 'confirm'"
					  " AND outage = 300 AND last = 300 + 86400"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_table_info('outbox')"
					  " WHERE name = 'link'"),
			 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM suppressed"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets"), 1);
	/* An operator's insert without the new columns gets the defaults. */
	raw_exec_path(f->path, "INSERT INTO outbox (recipient, server, client, outage, recovered,"
			       " cause, port, proto, first, last, attempts, next_try, created)"
			       " VALUES ('d@x', '192.0.2.1', '198.51.100.1', 1, 2, 'trap', 0, 0, 0,"
			       " 0, 0, 0, 0)");
	t = raw_text(f->path, "SELECT kind FROM outbox WHERE recipient = 'd@x'");
	assert_string_equal(t, "recovery");
	free(t);
	/* The CHECK holds for the new column. */
	{
		sqlite3 *d = raw_open(f->path);

		assert_int_not_equal(sqlite3_exec(d, "UPDATE outbox SET kind = 'spam'", NULL, NULL,
						  NULL),
				     SQLITE_OK);
		sqlite3_close(d);
	}
}

static void test_put_mail_confirm(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_confirm("192.0.2.10", "198.51.100.7", 1000, "a@example.org"),
		/* A recovery mail with the same outage time, to another client. */
		put_mail("192.0.2.10", "198.51.100.8", 1000, "a@example.org"),
		put_confirm("2001:db8::10", "2001:db8:1::7", 1000, "b@example.org"),
	};
	/* The same form sent again in the same second: one mail. */
	struct upn_store_op again =
		put_confirm("192.0.2.10", "198.51.100.7", 1000, "z@example.org");
	struct upn_store_op bad;
	struct upn_store *st;
	char *t;

	st = open_ok(f->path);
	apply_ok(st, ops, 3);
	apply_ok(st, &again, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 3);
	t = raw_text(f->path, "SELECT recipient || ' ' || kind || ' ' || outage || ' ' || recovered"
			      " || ' ' || state FROM outbox WHERE id = 1");
	assert_string_equal(t, "a@example.org confirm 1000 0 queued");
	free(t);
	/* The link's expiry, in last. */
	assert_int_equal(raw_int(f->path, "SELECT last FROM outbox WHERE id = 1"), 1000 + 86400);
	assert_int_equal(raw_int(f->path, "SELECT last FROM outbox WHERE id = 3"), 1000 + 86400);

	/* Refused before anything is written. */
	bad = ops[0];
	bad.mail.outage = 2000;
	bad.mail.last = 2000; /* a confirm link must expire after it was asked for */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad.mail.last = 0;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.mail.outage = 2000;
	bad.mail.kind = 2;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	/* With a good op in the same batch: the whole batch is refused. */
	{
		struct upn_store_op two[] = {
			put_confirm("192.0.2.10", "198.51.100.7", 3000, "c@example.org"),
			put_confirm("192.0.2.10", "198.51.100.7", 3001, "c@example.org"),
		};

		two[1].mail.last = two[1].mail.outage;
		assert_int_equal(upn_store_apply(st, two, 2), -EINVAL);
	}
	/* A recovery mail is not held to it: last is its client's last attempt. */
	bad = ops[1];
	bad.mail.outage = 2000;
	bad.mail.last = 0;
	apply_ok(st, &bad, 1);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE outage >= 2000"
					  " AND kind = 'confirm'"),
			 0);
}

struct supp_list {
	struct upn_store_suppress s[8];
	size_t n;
	size_t abort_at;
};

static int on_suppressed(void *ctx, const struct upn_store_suppress *s)
{
	struct supp_list *l = ctx;

	assert_true(l->n < 8);
	l->s[l->n++] = *s;
	return l->abort_at && l->n == l->abort_at ? -ECANCELED : 0;
}

static void test_suppress(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		suppress(UPN_STORE_PUT_SUPPRESS, "b@example.org", 10),
		suppress(UPN_STORE_PUT_SUPPRESS, "a@example.org", 20),
		suppress(UPN_STORE_PUT_SUPPRESS, "c@example.org", 30),
		suppress(UPN_STORE_PUT_SUPPRESS, "B@Example.ORG", 40), /* the same, later */
		suppress(UPN_STORE_DEL_SUPPRESS, "C@EXAMPLE.ORG", 0),
		suppress(UPN_STORE_DEL_SUPPRESS, "nobody@example.org", 0),
	};
	struct upn_store_op bad = suppress(UPN_STORE_PUT_SUPPRESS, "", 1);
	struct upn_store_stats stats;
	struct supp_list l = { 0 };
	struct upn_store *st;

	st = open_ok(f->path);
	apply_ok(st, ops, ARRAY_SIZE(ops));
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = suppress(UPN_STORE_DEL_SUPPRESS, "a@b\r\nx", 1);
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM suppressed"), 2);
	/* Case-insensitive: the first spelling stays, the time is the latest. */
	assert_int_equal(
		raw_int(f->path, "SELECT since FROM suppressed WHERE mail = 'b@example.org'"), 40);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM suppressed"
					  " WHERE mail = 'A@EXAMPLE.org'"),
			 1);

	/* Loading, in mail order, skipping what the store could not have written. */
	raw_exec_path(f->path, "INSERT INTO suppressed VALUES ('', 1);"
			       "INSERT INTO suppressed VALUES ('x@y' || char(10), 1);"
			       "INSERT INTO suppressed VALUES ('t@y', 'yesterday');"
			       "INSERT INTO suppressed VALUES ('d@example.org', 50);");
	st = open_ok(f->path);
	assert_int_equal(upn_store_load_suppressed(st, on_suppressed, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.s[0].mail, "a@example.org");
	assert_int_equal(l.s[0].since, 20);
	assert_string_equal(l.s[1].mail, "b@example.org");
	assert_string_equal(l.s[2].mail, "d@example.org");
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.load_skipped, 3);
	memset(&l, 0, sizeof(l));
	l.abort_at = 2;
	assert_int_equal(upn_store_load_suppressed(st, on_suppressed, &l), -ECANCELED);
	assert_int_equal(l.n, 2);
	/* Through the writer, and not loadable once it runs. */
	{
		struct upn_store_op del = suppress(UPN_STORE_DEL_SUPPRESS, "d@example.org", 0);
		int efd = upn_store_start(st);

		assert_true(efd >= 0);
		assert_int_equal(upn_store_load_suppressed(st, on_suppressed, &l), -EBUSY);
		assert_int_equal(upn_store_submit(st, dup_ops(&del, 1), 1, 1), 0);
		assert_int_equal(wait_commit(efd, 6000), 1);
	}
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM suppressed"
					  " WHERE mail = 'd@example.org'"),
			 0);
}

static void test_secret(void **state)
{
	struct fixture *f = *state;
	unsigned char a[32], b[32], c[32], zero[32] = { 0 }, other[16];
	struct upn_store *st;

	st = open_ok(f->path);
	assert_int_equal(upn_store_secret(st, "portal", a, sizeof(a)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(upn_store_secret(st, "portal", b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* Another name, another secret. */
	assert_int_equal(upn_store_secret(st, "other", c, sizeof(c)), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	/* The stored one has its length: asked for another, it is refused and kept. */
	memset(other, 0x55, sizeof(other));
	assert_int_equal(upn_store_secret(st, "portal", other, sizeof(other)), -EINVAL);
	assert_int_equal(upn_store_secret(st, "portal", a, 0), -EINVAL);
	assert_int_equal(upn_store_secret(st, "", a, sizeof(a)), -EINVAL);
	assert_int_equal(upn_store_secret(st, NULL, a, sizeof(a)), -EINVAL);
	upn_store_close(st);

	/* It survives a restart. */
	st = open_ok(f->path);
	assert_int_equal(upn_store_secret(st, "portal", b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* Start-up only. */
	assert_true(upn_store_start(st) >= 0);
	assert_int_equal(upn_store_secret(st, "portal", b, sizeof(b)), -EBUSY);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets WHERE name = 'portal'"
					  " AND typeof(value) = 'blob' AND length(value) = 32"),
			 1);

	/* A value spoiled by hand is refused, not replaced behind the operator's back;
	 * deleting the row makes a new one. */
	raw_exec_path(f->path, "UPDATE secrets SET value = 'text' WHERE name = 'portal'");
	st = open_ok(f->path);
	assert_int_equal(upn_store_secret(st, "portal", b, sizeof(b)), -EINVAL);
	upn_store_close(st);
	raw_exec_path(f->path, "DELETE FROM secrets WHERE name = 'portal'");
	st = open_ok(f->path);
	assert_int_equal(upn_store_secret(st, "portal", b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	upn_store_close(st);
}

/* The mailer's view: the due rows carry their kind, link expiry and suppression. */
static void test_outbox_rows(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_mail("192.0.2.10", "198.51.100.7", 100, "a@example.org"),
		put_confirm("192.0.2.10", "198.51.100.8", 200, "B@example.org"),
		put_mail("192.0.2.10", "198.51.100.9", 100, "b@example.org"),
		suppress(UPN_STORE_PUT_SUPPRESS, "b@Example.org", 5),
	};
	struct upn_outbox_row rows[8];
	struct upn_outbox *ob;
	struct upn_store *st;
	char err[256] = "";
	json_t *j;
	int n;

	st = open_ok(f->path);
	apply_ok(st, ops, ARRAY_SIZE(ops));
	ob = upn_outbox_open(f->path, err, sizeof(err));
	if (!ob)
		fail_msg("upn_outbox_open: %s", err);
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 3);
	assert_false(rows[0].bad);
	assert_int_equal(rows[0].kind, UPN_MAIL_RECOVERY);
	assert_int_equal(rows[0].expires, 0);
	assert_false(rows[0].suppressed);
	assert_false(rows[1].bad);
	assert_int_equal(rows[1].kind, UPN_MAIL_CONFIRM);
	assert_int_equal(rows[1].expires, 200 + 86400);
	assert_int_equal(rows[1].outage, 200);
	assert_int_equal(rows[1].recovered, 0);
	assert_true(rows[1].suppressed); /* the mailer sends a confirmation anyway */
	assert_int_equal(rows[2].kind, UPN_MAIL_RECOVERY);
	assert_true(rows[2].suppressed);
	assert_int_equal(upn_outbox_fail(ob, rows[2].id, 0, "unsubscribed", NULL, NULL), 0);

	/* Rows that do not read back as the store writes them. */
	raw_exec_path(f->path, "UPDATE outbox SET last = outage WHERE id = 2;"
			       "UPDATE outbox SET port = 'http' WHERE id = 1;");
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 2);
	assert_true(rows[0].bad);
	assert_true(rows[1].bad);
	raw_exec_path(f->path, "UPDATE outbox SET last = 'tomorrow' WHERE id = 2;"
			       "UPDATE outbox SET port = 443 WHERE id = 1;");
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 2);
	assert_false(rows[0].bad);
	assert_true(rows[1].bad);
	/* A recovery mail's last is not an expiry: not read. */
	raw_exec_path(f->path, "UPDATE outbox SET last = 'x' WHERE id = 1;"
			       "UPDATE outbox SET last = outage + 1 WHERE id = 2;");
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 2);
	assert_false(rows[0].bad);
	assert_int_equal(rows[0].expires, 0);
	assert_false(rows[1].bad);
	assert_int_equal(rows[1].expires, 201);
	upn_outbox_close(ob);
	upn_store_close(st);

	/* `upnotifyctl outbox` names the kind. */
	j = upn_mailer_outbox(f->path, 10, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "kind")),
			    "recovery");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "last_error")),
			    "unsubscribed");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "kind")),
			    "confirm");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "kind")),
			    "recovery");
	json_decref(j);
}

/* A SYN flood to a down server: 100k distinct clients in one batch. */
static void test_bulk(void **state)
{
	enum { N = 100000 };
	struct fixture *f = *state;
	struct upn_store_op *ops = calloc(N + 1, sizeof(*ops));
	struct upn_store_stats stats;
	struct loaded l = { 0 };
	struct upn_store *st;
	double t, ins, upd, thr;
	int efd;

	assert_non_null(ops);
	ops[0] = put_server("192.0.2.1", UPN_SERVER_DOWN, UPNOTIFY_CAUSE_SYN_TIMEOUT, 1);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t raw[16] = { 0x20,
				    0x01,
				    0x0d,
				    0xb8,
				    [12] = (uint8_t)(i >> 24),
				    (uint8_t)(i >> 16),
				    (uint8_t)(i >> 8),
				    (uint8_t)i };

		ops[i + 1] = put_entry("192.0.2.1", "0.0.0.0", 1);
		upn_addr_set(&ops[i + 1].entry.client, AF_INET6, raw);
	}
	st = open_ok(f->path);
	t = now_s();
	apply_ok(st, ops, N + 1);
	ins = N / (now_s() - t);
	for (uint32_t i = 1; i <= N; i++)
		ops[i].entry.attempts = 2;
	t = now_s();
	apply_ok(st, ops, N + 1);
	upd = N / (now_s() - t);

	/* The same through the writer thread, as the daemon does it. */
	efd = upn_store_start(st);
	assert_true(efd >= 0);
	for (uint32_t i = 1; i <= N; i++)
		ops[i].entry.attempts = 3;
	t = now_s();
	assert_int_equal(upn_store_submit(st, ops, N + 1, 1), 0);
	assert_int_equal(wait_commit(efd, 120000), 1);
	thr = N / (now_s() - t);
	upn_store_get_stats(st, &stats);
	assert_int_equal(stats.last_batch, N + 1);
	upn_store_close(st);
	print_message("store: %d entries: insert %.0f/s, update %.0f/s, writer thread %.0f/s\n", N,
		      ins, upd, thr);

	load_path(f->path, &l);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, N);
	for (size_t i = 0; i < l.ne; i++)
		assert_int_equal(l.e[i].attempts, 3);
	loaded_free(&l);
}

/* ---- relays, webhooks, replies, the agent's tables (schema version 4) ---- */

/* Migration 3 as it stands in store.c, word for word. */
static const char v3_step[] = "ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'recovery'"
			      "	CHECK (kind IN ('recovery', 'confirm'));"
			      "CREATE TABLE suppressed ("
			      "	mail TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,"
			      "	since INTEGER NOT NULL"
			      ") WITHOUT ROWID;"
			      "CREATE TABLE secrets ("
			      "	name TEXT PRIMARY KEY NOT NULL,"
			      "	value BLOB NOT NULL"
			      ") WITHOUT ROWID;"
			      "PRAGMA user_version = 3;";

#define LIST_ID "0123456789abcdef0123456789abcdef"
#define SECRET_HEX "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

static const char relay_body[] =
	"Server 192.0.2.10 is reachable again since 2026-11-22T13:00:00Z.\n"
	"\n"
	"-----BEGIN UPNOTIFY RELAY-----\n"
	"version: 1\n"
	"id: " LIST_ID "\n"
	"server: 192.0.2.10\n"
	"clients: 1\n"
	"-----END UPNOTIFY RELAY-----\n";

/* A relay (or webhook) mail as notify queues one; @body is strdup'ed. */
static struct upn_store_op put_relay(int kind, const char *srv, int64_t outage, const char *to,
				     const char *body)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.kind = (uint8_t)kind;
	op.mail.server = addr(srv);
	op.mail.client = addr(op.mail.server.family == AF_INET ? "0.0.0.0" : "::");
	op.mail.outage = outage;
	op.mail.recovered = outage + 600;
	op.mail.cause = UPNOTIFY_CAUSE_TRAP;
	op.mail.first = outage + 5;
	op.mail.last = outage + 50;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	snprintf(op.mail.key_id, sizeof(op.mail.key_id), "k1");
	op.mail.body = body ? strdup(body) : NULL;
	if (body)
		assert_non_null(op.mail.body);
	return op;
}

static struct upn_store_op put_reply(int64_t key, const char *to, const char *body)
{
	struct upn_store_op op = { .kind = UPN_STORE_PUT_MAIL };

	op.mail.kind = UPN_MAIL_REPLY;
	op.mail.server = addr("0.0.0.0");
	op.mail.client = addr("0.0.0.0");
	op.mail.outage = key;
	op.mail.recovered = 1700000000;
	snprintf(op.mail.recipient, sizeof(op.mail.recipient), "%s", to);
	op.mail.body = strdup(body);
	assert_non_null(op.mail.body);
	return op;
}

static struct upn_store_op srvmap(int kind, const char *prefix, int mode, const char *target,
				  const char *key_id)
{
	struct upn_store_op op = { .kind = (uint8_t)kind };

	op.srvmap.prefix = pfx(prefix);
	op.srvmap.mode = (uint8_t)mode;
	snprintf(op.srvmap.target, sizeof(op.srvmap.target), "%s", target);
	snprintf(op.srvmap.key_id, sizeof(op.srvmap.key_id), "%s", key_id);
	op.srvmap.registered = 77;
	return op;
}

static struct upn_store_op seen(int kind, const char *id, int64_t received)
{
	struct upn_store_op op = { .kind = (uint8_t)kind };

	snprintf(op.seen.id, sizeof(op.seen.id), "%s", id);
	snprintf(op.seen.key_id, sizeof(op.seen.key_id), "k1");
	op.seen.server = addr("192.0.2.10");
	op.seen.received = received;
	return op;
}

static struct upn_store_op counter(const char *name, int64_t delta)
{
	struct upn_store_op op = { .kind = UPN_STORE_ADD_COUNTER };

	snprintf(op.counter.name, sizeof(op.counter.name), "%s", name);
	op.counter.delta = delta;
	return op;
}

static void test_migrate_v3(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op more[] = {
		put_relay(UPN_MAIL_RELAY, "192.0.2.10", 100, "agent@srv.example.org", relay_body),
		put_reply(12345, "ops@example.org", "Subject: Re: x\n\nOK\n"),
	};
	struct loaded l = { 0 };
	struct upn_store *st;
	sqlite3 *db = raw_open(f->path);
	unsigned char k[32], k2[32];
	char *t;

	raw_exec(db, "PRAGMA journal_mode = WAL");
	raw_exec(db, v1_schema);
	raw_exec(db, v2_step);
	raw_exec(db, v3_step);
	raw_exec(db, "INSERT INTO servers VALUES ('192.0.2.10', 'down', 'syn-timeout', 5);"
		     "INSERT INTO waitlist VALUES ('192.0.2.10', '198.51.100.7', 1, 2, 3,"
		     " 'syn-timeout', 6, 443, 0, 0);"
		     "INSERT INTO clients VALUES ('198.51.100.0/24', 'a@example.org', 7);"
		     "INSERT INTO outbox (recipient, server, client, outage, recovered, cause,"
		     " port, proto, first, last, attempts, next_try, created, kind) VALUES"
		     " ('a@example.org', '192.0.2.10', '198.51.100.7', 100, 700, 'syn-ack', 443,"
		     " 6, 105, 150, 4, 10, 10, 'recovery'),"
		     " ('b@example.org', '192.0.2.10', '198.51.100.8', 200, 0, 'unknown', 0,"
		     " 0, 0, 86600, 0, 10, 10, 'confirm'),"
		     " ('c@example.org', '192.0.2.10', '198.51.100.9', 100, 700, 'syn-ack', 443,"
		     " 6, 105, 150, 4, 10, 10, 'recovery');"
		     "UPDATE outbox SET state = 'sent', sent_at = 11, message_id = 'upn-1@x',"
		     " relay = 'mx', tries = 1 WHERE id = 1;"
		     "DELETE FROM outbox WHERE id = 3;"
		     "INSERT INTO suppressed VALUES ('d@example.org', 9);");
	/* The secret the portal made under schema 3: it must stay the same. */
	memset(k, 0x5a, sizeof(k));
	raw_exec(db, "INSERT INTO secrets VALUES ('portal', X'" SECRET_HEX "')");
	sqlite3_close(db);

	st = open_ok(f->path);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	t = raw_text(f->path,
		     "SELECT group_concat(id || ' ' || recipient || ' ' || state || ' '"
		     " || kind || ' ' || last || ' ' || tries || ' ' || ifnull(relay, '-')"
		     " || ' ' || ifnull(message_id, '-') || ' ' || ifnull(body, '-'), ', ')"
		     " FROM outbox");
	assert_string_equal(t, "1 a@example.org sent recovery 150 1 mx upn-1@x -,"
			       " 2 b@example.org queued confirm 86600 0 - - -");
	free(t);
	/* A new row does not take the id of the one deleted before: rowids go on. */
	assert_int_equal(load(st, &l), 0);
	assert_int_equal(l.ns, 1);
	assert_int_equal(l.ne, 1);
	assert_int_equal(l.nc, 1);
	loaded_free(&l);
	assert_int_equal(upn_store_secret(st, "portal", k2, sizeof(k2)), 0);
	assert_memory_equal(k, k2, sizeof(k));
	apply_ok(st, more, ARRAY_SIZE(more));
	upn_store_ops_free_bodies(more, ARRAY_SIZE(more));
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM suppressed"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE kind = 'relay'"
					  " AND key_id = 'k1' AND client = '0.0.0.0'"
					  " AND body LIKE '%id: " LIST_ID "%'"),
			 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE kind = 'reply'"
					  " AND outage = 12345 AND key_id IS NULL"),
			 1);
	/* The mailer's index came back with the copied table. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
					  " AND name = 'outbox_due'"),
			 1);
	{
		sqlite3 *d = raw_open(f->path);

		assert_int_not_equal(sqlite3_exec(d, "UPDATE outbox SET kind = 'spam'", NULL, NULL,
						  NULL),
				     SQLITE_OK);
		sqlite3_close(d);
	}
}

struct maps {
	struct upn_store_srvmap v[8];
	size_t n;
};

static int on_srvmap(void *ctx, const struct upn_store_srvmap *s)
{
	struct maps *m = ctx;

	assert_true(m->n < 8);
	m->v[m->n++] = *s;
	return 0;
}

static void load_maps(struct upn_store *st, struct maps *m)
{
	struct upn_store_loader ld = { .ctx = m, .srvmap = on_srvmap };

	memset(m, 0, sizeof(*m));
	assert_int_equal(upn_store_load(st, &ld), 0);
}

static void test_srvmap(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		srvmap(UPN_STORE_PUT_SRVMAP, "10.0.2.0/24", UPN_RELAY_SERVER,
		       "agent@srv.example.org", "k1"),
		srvmap(UPN_STORE_PUT_SRVMAP, "10.0.3.1/32", UPN_RELAY_DIRECT, "", ""),
		srvmap(UPN_STORE_PUT_SRVMAP, "2001:db8::/48", UPN_RELAY_WEBHOOK,
		       "https://hooks.example.org/upnotify?x=1", "k2"),
		srvmap(UPN_STORE_PUT_SRVMAP, "10.0.4.0/24", UPN_RELAY_NMS, "nms@example.org", ""),
	};
	struct upn_store_op replace =
		srvmap(UPN_STORE_PUT_SRVMAP, "10.0.2.0/24", UPN_RELAY_NMS, "nms@example.org", "k3");
	struct upn_store_op del = srvmap(UPN_STORE_DEL_SRVMAP, "10.0.3.1/32", 0, "", "");
	struct upn_store_op bad;
	struct upn_store *st;
	struct maps m;
	char buf[UPN_ADDRSTRLEN];

	assert_string_equal(upn_relay_mode_name(UPN_RELAY_WEBHOOK), "webhook");
	assert_null(upn_relay_mode_name(4));
	assert_int_equal(upn_relay_mode_parse("nms"), UPN_RELAY_NMS);
	assert_int_equal(upn_relay_mode_parse("NMS"), -EINVAL);
	assert_string_equal(upn_mail_kind_name(UPN_MAIL_REPLY), "reply");
	assert_null(upn_mail_kind_name(5));

	st = open_ok(f->path);
	apply_ok(st, ops, ARRAY_SIZE(ops));
	load_maps(st, &m);
	assert_int_equal(m.n, 4);
	/* Key order: the prefixes as text. */
	assert_string_equal(upn_prefix_fmt(&m.v[0].prefix, buf), "10.0.2.0/24");
	assert_int_equal(m.v[0].mode, UPN_RELAY_SERVER);
	assert_string_equal(m.v[0].target, "agent@srv.example.org");
	assert_string_equal(m.v[0].key_id, "k1");
	assert_int_equal(m.v[0].registered, 77);
	assert_int_equal(m.v[1].mode, UPN_RELAY_DIRECT);
	assert_string_equal(m.v[1].target, "");
	assert_int_equal(m.v[2].mode, UPN_RELAY_NMS);
	assert_string_equal(m.v[2].key_id, "");
	assert_string_equal(upn_prefix_fmt(&m.v[3].prefix, buf), "2001:db8::/48");
	assert_string_equal(m.v[3].target, "https://hooks.example.org/upnotify?x=1");

	apply_ok(st, &replace, 1);
	apply_ok(st, &del, 1);
	load_maps(st, &m);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.v[0].mode, UPN_RELAY_NMS);
	assert_string_equal(m.v[0].key_id, "k3");
	assert_int_equal(m.v[1].mode, UPN_RELAY_NMS);

	/* Refused before anything is written. */
	bad = ops[1];
	snprintf(bad.srvmap.target, sizeof(bad.srvmap.target), "x@y"); /* direct has none */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	snprintf(bad.srvmap.target, sizeof(bad.srvmap.target), "a@b\r\nRCPT TO:<c@d>");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[2];
	snprintf(bad.srvmap.target, sizeof(bad.srvmap.target), "ftp://x.example.org/");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	snprintf(bad.srvmap.target, sizeof(bad.srvmap.target), "http://x.example.org/a b");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	snprintf(bad.srvmap.target, sizeof(bad.srvmap.target), "https://");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[2];
	snprintf(bad.srvmap.key_id, sizeof(bad.srvmap.key_id), "k 1");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.srvmap.mode = 4;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = ops[0];
	bad.srvmap.prefix.addr.a[3] = 1; /* host bits set */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	upn_store_close(st);

	/* Rows edited by hand into something the store would not write: skipped. */
	raw_exec_path(f->path,
		      "INSERT INTO srvmap VALUES ('10.9.0.0/16', 'direct', 'x@y', '', 1);"
		      "INSERT INTO srvmap VALUES ('10.8.0.1/16', 'server', 'x@y', '', 1);"
		      "INSERT INTO srvmap VALUES ('10.7.0.0/16', 'webhook', 'x@y', '', 1);");
	st = open_ok(f->path);
	load_maps(st, &m);
	assert_int_equal(m.n, 3);
	{
		struct upn_store_stats stats;

		upn_store_get_stats(st, &stats);
		assert_int_equal(stats.load_skipped, 3);
	}
	upn_store_close(st);
}

struct counters {
	char names[8][48];
	int64_t v[8];
	size_t n;
};

static int on_counter(void *ctx, const char *name, int64_t v)
{
	struct counters *c = ctx;

	assert_true(c->n < 8);
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", name);
	c->v[c->n++] = v;
	return 0;
}

static void test_seen_and_counters(void **state)
{
	struct fixture *f = *state;
	const char *id2 = "fedcba9876543210fedcba9876543210";
	struct upn_store_op ops[] = {
		seen(UPN_STORE_PUT_SEEN, LIST_ID, 1000),
		counter("accepted", 1),
		counter("clients", 3),
	};
	struct upn_store_op again[] = {
		counter("accepted", 1),
		seen(UPN_STORE_PUT_SEEN, LIST_ID, 2000),
	};
	struct upn_store_op second[] = {
		seen(UPN_STORE_PUT_SEEN, id2, 5000),
		counter("accepted", 1),
		counter("rejected.replayed", 2),
		counter("clients", -1),
	};
	struct upn_store_op purge = seen(UPN_STORE_DEL_SEEN_BEFORE, "", 5000);
	struct upn_store_op bad;
	struct counters c = { 0 };
	struct upn_store *st;
	int efd;

	st = open_ok(f->path);
	assert_int_equal(upn_store_seen(st, LIST_ID), 0);
	apply_ok(st, ops, ARRAY_SIZE(ops));
	assert_int_equal(upn_store_seen(st, LIST_ID), 1);
	assert_int_equal(upn_store_seen(st, id2), 0);
	/* A replay: the whole transaction fails, its counter is not added either. */
	assert_int_equal(upn_store_apply(st, again, ARRAY_SIZE(again)), -EEXIST);
	apply_ok(st, second, ARRAY_SIZE(second));
	assert_int_equal(upn_store_counters(st, on_counter, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.names[0], "accepted");
	assert_int_equal(c.v[0], 2);
	assert_string_equal(c.names[1], "clients");
	assert_int_equal(c.v[1], 2);
	assert_string_equal(c.names[2], "rejected.replayed");
	assert_int_equal(c.v[2], 2);
	assert_int_equal(
		raw_int(f->path, "SELECT received FROM relay_seen WHERE id = '" LIST_ID "'"), 1000);
	/* Older than the cut-off go; the cut-off itself stays. */
	apply_ok(st, &purge, 1);
	assert_int_equal(upn_store_seen(st, LIST_ID), 0);
	assert_int_equal(upn_store_seen(st, id2), 1);

	/* Refused before anything is written. */
	bad = seen(UPN_STORE_PUT_SEEN, "0123456789ABCDEF0123456789ABCDEF", 1); /* upper case */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = seen(UPN_STORE_PUT_SEEN, "0123", 1);
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = seen(UPN_STORE_PUT_SEEN, LIST_ID, 1);
	bad.seen.key_id[0] = '\0';
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = counter("", 1);
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad = counter("a b", 1);
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	memset(bad.counter.name, 'a', sizeof(bad.counter.name)); /* no NUL */
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);

	/* Once the writer runs: reads are refused, and a PUT_SEEN could wedge it. */
	efd = upn_store_start(st);
	assert_true(efd >= 0);
	assert_int_equal(upn_store_seen(st, id2), -EBUSY);
	assert_int_equal(upn_store_counters(st, on_counter, &c), -EBUSY);
	{
		struct upn_store_op *p = dup_ops(&ops[0], 1);

		assert_int_equal(upn_store_submit(st, p, 1, 1), -EINVAL);
		free(p);
		p = dup_ops(&ops[1], 1);
		assert_int_equal(upn_store_submit(st, p, 1, 1), 0);
		assert_int_equal(wait_commit(efd, 6000), 1);
	}
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT value FROM counters WHERE name = 'accepted'"), 3);
}

/* Bodies: the store keeps them, and frees those handed over with submit. Run under
 * valgrind or ASan to see that none leaks. */
static void test_mail_bodies(void **state)
{
	struct fixture *f = *state;
	struct upn_store_op ops[] = {
		put_relay(UPN_MAIL_RELAY, "192.0.2.10", 100, "agent@srv.example.org", relay_body),
		put_relay(UPN_MAIL_WEBHOOK, "2001:db8::10", 100, "http://127.0.0.1:8080/hook",
			  "{\"version\":1,\"id\":\"" LIST_ID "\"}"),
		put_reply(42, "ops@example.org",
			  "Subject: Re: status\nIn-Reply-To: <a@b>\n\n> STATUS\nOK: nothing down\n"),
	};
	struct upn_store_op bad;
	struct upn_outbox_row rows[8];
	struct upn_journal j;
	struct upn_outbox *ob;
	struct upn_store *st;
	char err[256] = "";
	size_t len = 0;
	char *body;
	int efd, n;

	st = open_ok(f->path);
	/* Each kind's own rules. */
	bad = put_relay(UPN_MAIL_RELAY, "192.0.2.10", 1, "agent@x", NULL);
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL); /* no body */
	bad = put_relay(UPN_MAIL_RELAY, "192.0.2.10", 1, "agent@x", "b");
	bad.mail.key_id[0] = '\0';
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL); /* no key */
	snprintf(bad.mail.key_id, sizeof(bad.mail.key_id), "k/1");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	snprintf(bad.mail.key_id, sizeof(bad.mail.key_id), "k1");
	snprintf(bad.mail.recipient, sizeof(bad.mail.recipient), "http://x.example.org/");
	bad.mail.kind = UPN_MAIL_WEBHOOK;
	apply_ok(st, &bad, 1);
	snprintf(bad.mail.recipient, sizeof(bad.mail.recipient), "agent@x");
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL); /* a webhook needs a URL */
	free(bad.mail.body);
	bad = put_reply(1, "a@b", "x");
	free(bad.mail.body);
	bad.mail.body = NULL;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);
	bad.mail.kind = 9;
	assert_int_equal(upn_store_apply(st, &bad, 1), -EINVAL);

	/* Through the writer thread: the store frees the bodies after the commit. */
	efd = upn_store_start(st);
	assert_true(efd >= 0);
	assert_int_equal(upn_store_submit(st, dup_ops(ops, ARRAY_SIZE(ops)), ARRAY_SIZE(ops), 1),
			 0);
	assert_int_equal(wait_commit(efd, 6000), 1);
	upn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE body IS NOT NULL"), 4);

	/* The mailer's side. */
	ob = upn_outbox_open(f->path, err, sizeof(err));
	if (!ob)
		fail_msg("upn_outbox_open: %s", err);
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++)
		assert_false(rows[i].bad);
	assert_int_equal(rows[1].kind, UPN_MAIL_RELAY);
	assert_string_equal(rows[1].key_id, "k1");
	assert_string_equal(rows[1].client, "0.0.0.0");
	assert_int_equal(rows[2].kind, UPN_MAIL_WEBHOOK);
	assert_string_equal(rows[2].client, "::");
	assert_int_equal(rows[3].kind, UPN_MAIL_REPLY);
	assert_string_equal(rows[3].key_id, "");
	body = upn_outbox_body(ob, rows[1].id, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(relay_body));
	assert_string_equal(body, relay_body);
	free(body);
	assert_null(upn_outbox_body(ob, 9999, &len));
	assert_int_equal(errno, ENOENT);
	n = upn_outbox_due_webhooks(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].kind, UPN_MAIL_WEBHOOK);
	assert_int_equal(rows[1].kind, UPN_MAIL_WEBHOOK);
	/* A body or a key taken away by hand: the row is bad, not sent. */
	raw_exec_path(f->path, "UPDATE outbox SET body = NULL WHERE kind = 'reply';"
			       "UPDATE outbox SET key_id = 'a b' WHERE kind = 'relay'");
	n = upn_outbox_due(ob, time(NULL) + 1, rows, ARRAY_SIZE(rows));
	assert_int_equal(n, 4);
	assert_true(rows[1].bad);
	assert_true(rows[3].bad);
	assert_false(rows[0].bad);
	assert_false(rows[2].bad);
	upn_outbox_close(ob);

	/* The journal frees the bodies of ops it drops or still holds. */
	upn_journal_init(&j, NULL);
	for (int i = 0; i < 3; i++) {
		uint32_t marker = 0;
		struct upn_store_op *op = upn_journal_op(&j, &marker);

		assert_non_null(op);
		*op = put_reply(i, "a@b", "Subject: x\n\ny\n");
		upn_journal_disown(&j, &marker);
		if (i == 1)
			assert_int_not_equal(upn_journal_flush(&j), 0);
	}
	upn_journal_destroy(&j);
	/* And a store that gives a batch up at shutdown frees it too (test_close_gives_up
	 * covers the giving up; ops with bodies here). */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_sqlite_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_server_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_without_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_order_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_skips_bad_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_invalid_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_commits_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_mail_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_mail_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srvmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_and_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_bodies, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
