// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "token.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

/* token.h keeps its own copies, to stay free of the daemon's headers. */
_Static_assert((int)UPN_TOKEN_MAIL_MAX == (int)UPN_MAIL_MAX, "token.h and limits.h disagree");
_Static_assert((int)UPN_TOKEN_BASE_MAX == (int)UPN_URL_MAX, "token.h and limits.h disagree");

enum {
	/* At shutdown a failing commit is tried this many more times, UPN_STORE_RETRY_MS
	 * apart, before the batch is given up: close must not hang on a dead disk. */
	CLOSE_ATTEMPTS = 3,
	/* Bad rows logged one by one at load; the rest only show in the total. */
	LOAD_LOG_MAX = 10,
	/* Bytes of a secret: keys, not documents. */
	SECRET_MAX = 1024,
	/* A flood batch of 100k entries adds tens of MiB to the WAL; cut it back after
	 * each checkpoint instead of keeping the high-water mark on disk. */
	WAL_SIZE_LIMIT = 64 << 20,
};

/* Step i takes the schema from version i to i + 1. Version 4 is one more element.
 * Addresses are canonical text, times unix seconds and causes names, so that an
 * operator can read and fix the tables with the sqlite3 shell. */
static const char *const migrations[] = {
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
	") WITHOUT ROWID;",
	/* 2: the outbox that the mailer thread drains. No foreign key to servers: a
	 * mail must outlive the server row it tells about. UNIQUE makes it one mail per
	 * outage even when the recovery is replayed after a restart; the index is the
	 * mailer's "what is due" scan. held: a rate limit gave the message the slot
	 * next_try, so it goes then without asking the limit again. message_id is
	 * filled in at the first attempt. */
	"CREATE TABLE outbox ("
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
	"CREATE INDEX outbox_due ON outbox (state, next_try);",
	/* 3: the inquiry portal. The outbox also carries its confirmation mails (kind;
	 * such a mail keeps its link's expiry in last, and the mailer makes the link
	 * from the row and the key in secrets: no URL is stored); suppressed holds
	 * the addresses that unsubscribed, which the mailer sends no recovery mail
	 * to; secrets holds keys that must survive a restart, such as the one that
	 * signs the portal's tokens. NOCASE: "A@Example.org" unsubscribes
	 * "a@example.org" too; when in doubt, do not mail. */
	"ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'recovery'"
	"	CHECK (kind IN ('recovery', 'confirm'));"
	"CREATE TABLE suppressed ("
	"	mail TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,"
	"	since INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE secrets ("
	"	name TEXT PRIMARY KEY NOT NULL,"
	"	value BLOB NOT NULL"
	") WITHOUT ROWID;",
	/* 4: relays to agents and webhooks, mail commands. The outbox takes three more
	 * kinds, and with them a body (the signed list, the JSON, the reply's text)
	 * and the id of the key that signs it at send time; SQLite cannot widen a
	 * CHECK in place, so the table is copied, ids and all. srvmap is the server
	 * mail table (figure 16; "servers" is taken by the down servers): where a
	 * server's list goes. relay_seen keeps the ids of the lists an agent took, so
	 * that a replayed mail is sent to nobody; counters are the agent's. */
	"CREATE TABLE outbox_v4 ("
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
	"	kind TEXT NOT NULL DEFAULT 'recovery'"
	"		CHECK (kind IN ('recovery', 'confirm', 'relay', 'webhook', 'reply')),"
	"	body TEXT,"
	"	key_id TEXT,"
	"	UNIQUE (server, client, outage)"
	");"
	"INSERT INTO outbox_v4 (id, recipient, server, client, outage, recovered, cause,"
	"	port, proto, first, last, attempts, state, tries, next_try, held, last_error,"
	"	relay, created, sent_at, message_id, kind)"
	" SELECT id, recipient, server, client, outage, recovered, cause, port, proto,"
	"	first, last, attempts, state, tries, next_try, held, last_error, relay,"
	"	created, sent_at, message_id, kind FROM outbox;"
	"DROP TABLE outbox;"
	"ALTER TABLE outbox_v4 RENAME TO outbox;"
	"CREATE INDEX outbox_due ON outbox (state, next_try);"
	"CREATE TABLE srvmap ("
	"	prefix TEXT PRIMARY KEY NOT NULL,"
	"	mode TEXT NOT NULL CHECK (mode IN ('direct', 'server', 'nms', 'webhook')),"
	"	target TEXT NOT NULL,"
	"	key_id TEXT NOT NULL,"
	"	registered INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE relay_seen ("
	"	id TEXT PRIMARY KEY NOT NULL,"
	"	key_id TEXT NOT NULL,"
	"	server TEXT NOT NULL,"
	"	received INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX relay_seen_received ON relay_seen (received);"
	"CREATE TABLE counters ("
	"	name TEXT PRIMARY KEY NOT NULL,"
	"	value INTEGER NOT NULL"
	") WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

enum stmt_id {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_PUT_SERVER,
	S_DEL_SERVER,
	S_ENSURE_SERVER,
	S_PUT_ENTRY,
	S_DEL_ENTRY,
	S_PUT_CLIENT,
	S_DEL_CLIENT,
	S_PUT_MAIL,
	S_PUT_SUPPRESS,
	S_DEL_SUPPRESS,
	S_GET_SECRET,
	S_PUT_SECRET,
	S_LOAD_SERVERS,
	S_LOAD_ENTRIES,
	S_LOAD_CLIENTS,
	S_LOAD_SUPPRESSED,
	S_PUT_SRVMAP,
	S_DEL_SRVMAP,
	S_PUT_SEEN,
	S_DEL_SEEN_BEFORE,
	S_ADD_COUNTER,
	S_GET_SEEN,
	S_LOAD_SRVMAP,
	S_LOAD_COUNTERS,
	S_COUNT
};

/* Upserts, never INSERT OR REPLACE: REPLACE deletes the old servers row first, and
 * the cascade would take the server's whole waitlist with it. */
static const char *const stmt_sql[S_COUNT] = {
	/* IMMEDIATE: take the write lock up front, where the busy timeout can wait for
	 * it, rather than fail to upgrade a read lock half-way through a batch. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PUT_SERVER] = "INSERT INTO servers (addr, state, cause, since) VALUES (?1, ?2, ?3, ?4)"
			 " ON CONFLICT (addr) DO UPDATE SET state = excluded.state,"
			 " cause = excluded.cause, since = excluded.since",
	[S_DEL_SERVER] = "DELETE FROM servers WHERE addr = ?1",
	[S_ENSURE_SERVER] = "INSERT OR IGNORE INTO servers (addr, state, cause, since)"
			    " VALUES (?1, 'down', ?2, ?3)",
	[S_PUT_ENTRY] =
		"INSERT INTO waitlist (server, client, first, last, attempts, cause, proto,"
		" port, icmp_type, icmp_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		" ON CONFLICT (server, client) DO UPDATE SET first = excluded.first,"
		" last = excluded.last, attempts = excluded.attempts, cause = excluded.cause,"
		" proto = excluded.proto, port = excluded.port,"
		" icmp_type = excluded.icmp_type, icmp_code = excluded.icmp_code",
	[S_DEL_ENTRY] = "DELETE FROM waitlist WHERE server = ?1 AND client = ?2",
	[S_PUT_CLIENT] = "INSERT INTO clients (prefix, mail, registered) VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (prefix) DO UPDATE SET mail = excluded.mail,"
			 " registered = excluded.registered",
	[S_DEL_CLIENT] = "DELETE FROM clients WHERE prefix = ?1",
	/* Due at once; the insert time, not the recovery's, starts the give-up clock. */
	[S_PUT_MAIL] =
		"INSERT INTO outbox (recipient, server, client, outage, recovered, cause, port,"
		" proto, first, last, attempts, next_try, created, kind, body, key_id) VALUES"
		" (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15)"
		" ON CONFLICT (server, client, outage) DO NOTHING",
	[S_PUT_SUPPRESS] = "INSERT INTO suppressed (mail, since) VALUES (?1, ?2)"
			   " ON CONFLICT (mail) DO UPDATE SET since = excluded.since",
	[S_DEL_SUPPRESS] = "DELETE FROM suppressed WHERE mail = ?1",
	[S_GET_SECRET] = "SELECT value FROM secrets WHERE name = ?1",
	[S_PUT_SECRET] = "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
	[S_LOAD_SERVERS] = "SELECT addr, state, cause, since FROM servers ORDER BY addr",
	/* The server's columns come along so that an entry is only handed out when its
	 * server row is valid too: a waitlist never arrives without its server. */
	[S_LOAD_ENTRIES] =
		"SELECT w.server, w.client, w.first, w.last, w.attempts, w.cause, w.proto,"
		" w.port, w.icmp_type, w.icmp_code, s.state, s.cause, s.since"
		" FROM waitlist AS w LEFT JOIN servers AS s ON s.addr = w.server"
		" ORDER BY w.server, w.client",
	[S_LOAD_CLIENTS] = "SELECT prefix, mail, registered FROM clients ORDER BY prefix",
	[S_LOAD_SUPPRESSED] = "SELECT mail, since FROM suppressed ORDER BY mail",
	[S_PUT_SRVMAP] = "INSERT INTO srvmap (prefix, mode, target, key_id, registered)"
			 " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (prefix) DO UPDATE SET"
			 " mode = excluded.mode, target = excluded.target,"
			 " key_id = excluded.key_id, registered = excluded.registered",
	[S_DEL_SRVMAP] = "DELETE FROM srvmap WHERE prefix = ?1",
	/* No upsert: taking a list twice is what this table is there to refuse. */
	[S_PUT_SEEN] = "INSERT INTO relay_seen (id, key_id, server, received)"
		       " VALUES (?1, ?2, ?3, ?4)",
	[S_DEL_SEEN_BEFORE] = "DELETE FROM relay_seen WHERE received < ?1",
	[S_ADD_COUNTER] = "INSERT INTO counters (name, value) VALUES (?1, ?2)"
			  " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
	[S_GET_SEEN] = "SELECT 1 FROM relay_seen WHERE id = ?1",
	[S_LOAD_SRVMAP] = "SELECT prefix, mode, target, key_id, registered FROM srvmap"
			  " ORDER BY prefix",
	[S_LOAD_COUNTERS] = "SELECT name, value FROM counters ORDER BY name",
};

static const char *const mail_kind_names[] = {
	[UPN_MAIL_RECOVERY] = "recovery", [UPN_MAIL_CONFIRM] = "confirm",
	[UPN_MAIL_RELAY] = "relay",	  [UPN_MAIL_WEBHOOK] = "webhook",
	[UPN_MAIL_REPLY] = "reply",
};

static const char *const relay_mode_names[] = {
	[UPN_RELAY_DIRECT] = "direct",
	[UPN_RELAY_SERVER] = "server",
	[UPN_RELAY_NMS] = "nms",
	[UPN_RELAY_WEBHOOK] = "webhook",
};

static const char *const state_names[] = {
	[UPN_SERVER_UP] = "up",
	[UPN_SERVER_DOWN] = "down",
	[UPN_SERVER_REFUSING] = "refusing",
};

struct upn_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char lasterr[256]; /* of the last failed batch, for the log */

	pthread_t thread;
	bool started;
	int efd;

	/* Everything below is shared with the writer thread and guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a batch was submitted, or stop was set */
	bool inflight, stop;
	struct upn_store_op *ops;
	size_t nops;
	uint64_t seq; /* of the batch in flight, or the last one */
	uint64_t durable;
	struct upn_store_stats stats;
};

#define store_log(fmt, ...) upn_warn("store: " fmt, ##__VA_ARGS__)

const char *upn_mail_kind_name(uint8_t kind)
{
	return kind < ARRAY_SIZE(mail_kind_names) ? mail_kind_names[kind] : NULL;
}

const char *upn_relay_mode_name(uint8_t mode)
{
	return mode < ARRAY_SIZE(relay_mode_names) ? relay_mode_names[mode] : NULL;
}

int upn_relay_mode_parse(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(relay_mode_names); i++)
		if (!strcmp(name, relay_mode_names[i]))
			return (int)i;
	return -EINVAL;
}

void upn_store_ops_free_bodies(struct upn_store_op *ops, size_t n)
{
	for (size_t i = 0; ops && i < n; i++) {
		if (ops[i].kind == UPN_STORE_PUT_MAIL) {
			free(ops[i].mail.body);
			ops[i].mail.body = NULL;
		}
	}
}

int upn_store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_INTERRUPT:
		return -EINTR;
	default:
		return -EIO;
	}
}

/* ---- validation: what is written must read back identical ---- */

static bool addr_ok(const struct upn_addr *a)
{
	size_t len = upn_addr_len(a);

	if (!len)
		return false;
	/* IPv4 keeps a[4..15] zero, or the value would not compare equal after load. */
	for (size_t i = len; i < sizeof(a->a); i++)
		if (a->a[i])
			return false;
	return true;
}

static bool prefix_ok(const struct upn_prefix *p)
{
	struct upn_addr m = p->addr;

	if (!addr_ok(&p->addr) || p->len > upn_addr_maxlen(p->addr.family))
		return false;
	upn_addr_mask(&m, p->len);
	return upn_addr_eq(&m, &p->addr);
}

/* Control characters in a mail address would end up in an SMTP command line. */
static bool mail_ok(const char *mail, size_t size)
{
	size_t len = strnlen(mail, size);

	if (len == 0 || len == size || len > UPN_MAIL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)mail[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* An http(s) URL of visible ASCII: it goes into libcurl and the outbox's recipient. */
static bool url_ok(const char *url, size_t size)
{
	size_t len = strnlen(url, size), skip;

	if (len == size || len > UPN_URL_MAX)
		return false;
	if (!strncasecmp(url, "http://", 7))
		skip = 7;
	else if (!strncasecmp(url, "https://", 8))
		skip = 8;
	else
		return false;
	if (len == skip || url[skip] == '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return false;
	return true;
}

static bool keyid_ok(const char *id, size_t size, bool empty_ok)
{
	size_t len = strnlen(id, size);

	if (len == size)
		return false;
	return (empty_ok && !len) || upn_relay_keyid_ok(id);
}

static bool relay_id_ok(const char *id, size_t size)
{
	if (strnlen(id, size) != UPN_RELAY_ID_LEN)
		return false;
	for (size_t i = 0; i < UPN_RELAY_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool counter_name_ok(const char *name, size_t size)
{
	size_t len = strnlen(name, size);

	if (!len || len == size)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* A confirm mail's link expires (last) after the form was taken (outage): one that
 * does not could never be sent. A relay, webhook or reply carries its text, and the
 * first two the key that signs it. */
static bool mail_kind_ok(const struct upn_store_mail *m)
{
	const size_t rlen = sizeof(m->recipient);

	switch (m->kind) {
	case UPN_MAIL_RECOVERY:
		return mail_ok(m->recipient, rlen);
	case UPN_MAIL_CONFIRM:
		return mail_ok(m->recipient, rlen) && m->last > m->outage;
	case UPN_MAIL_RELAY:
		return mail_ok(m->recipient, rlen) && m->body &&
		       keyid_ok(m->key_id, sizeof(m->key_id), false);
	case UPN_MAIL_WEBHOOK:
		return url_ok(m->recipient, rlen) && m->body &&
		       keyid_ok(m->key_id, sizeof(m->key_id), false);
	case UPN_MAIL_REPLY:
		return mail_ok(m->recipient, rlen) && m->body;
	}
	return false;
}

/* direct has no target; the agents have a mail address, a webhook its URL. */
static bool srvmap_ok(const struct upn_store_srvmap *v)
{
	if (!prefix_ok(&v->prefix) || !keyid_ok(v->key_id, sizeof(v->key_id), true))
		return false;
	switch (v->mode) {
	case UPN_RELAY_DIRECT:
		return !v->target[0];
	case UPN_RELAY_SERVER:
	case UPN_RELAY_NMS:
		return mail_ok(v->target, sizeof(v->target));
	case UPN_RELAY_WEBHOOK:
		return url_ok(v->target, sizeof(v->target));
	}
	return false;
}

static bool op_ok(const struct upn_store_op *op)
{
	switch (op->kind) {
	case UPN_STORE_PUT_SERVER:
		return addr_ok(&op->server.addr) && op->server.state < ARRAY_SIZE(state_names) &&
		       op->server.cause <= UPNOTIFY_CAUSE_MAX;
	case UPN_STORE_DEL_SERVER:
		return addr_ok(&op->server.addr);
	case UPN_STORE_PUT_ENTRY:
		return addr_ok(&op->entry.server) && addr_ok(&op->entry.client) &&
		       op->entry.cause <= UPNOTIFY_CAUSE_MAX;
	case UPN_STORE_DEL_ENTRY:
		return addr_ok(&op->entry.server) && addr_ok(&op->entry.client);
	case UPN_STORE_PUT_CLIENT:
		return prefix_ok(&op->client.prefix) &&
		       mail_ok(op->client.mail, sizeof(op->client.mail));
	case UPN_STORE_DEL_CLIENT:
		return prefix_ok(&op->client.prefix);
	case UPN_STORE_PUT_MAIL:
		return addr_ok(&op->mail.server) && addr_ok(&op->mail.client) &&
		       op->mail.cause <= UPNOTIFY_CAUSE_MAX && mail_kind_ok(&op->mail);
	case UPN_STORE_PUT_SUPPRESS:
	case UPN_STORE_DEL_SUPPRESS:
		return mail_ok(op->suppress.mail, sizeof(op->suppress.mail));
	case UPN_STORE_PUT_SRVMAP:
		return srvmap_ok(&op->srvmap);
	case UPN_STORE_DEL_SRVMAP:
		return prefix_ok(&op->srvmap.prefix);
	case UPN_STORE_PUT_SEEN:
		return relay_id_ok(op->seen.id, sizeof(op->seen.id)) &&
		       keyid_ok(op->seen.key_id, sizeof(op->seen.key_id), false) &&
		       addr_ok(&op->seen.server);
	case UPN_STORE_DEL_SEEN_BEFORE:
		return true;
	case UPN_STORE_ADD_COUNTER:
		return counter_name_ok(op->counter.name, sizeof(op->counter.name));
	}
	return false;
}

/* @writer: for the writer thread, which must never get a batch that can fail for
 * good, such as a PUT_SEEN of an id already taken. */
static bool batch_ok(const struct upn_store_op *ops, size_t n, bool writer)
{
	for (size_t i = 0; i < n; i++)
		if (!op_ok(&ops[i]) || (writer && ops[i].kind == UPN_STORE_PUT_SEEN))
			return false;
	return true;
}

/* ---- writing ---- */

static int step_done(struct upn_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		snprintf(st->lasterr, sizeof(st->lasterr), "%s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : upn_store_errno(rc);
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	/* Every buffer outlives the step that reads it. */
	sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static int put_server(struct upn_store *st, const struct upn_store_server *v)
{
	sqlite3_stmt *s = st->stmt[S_PUT_SERVER];
	char a[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_addr_fmt(&v->addr, a));
	bind_text(s, 2, state_names[v->state]);
	bind_text(s, 3, upn_cause_name(v->cause));
	sqlite3_bind_int64(s, 4, v->since);
	return step_done(st, s);
}

static int del_server(struct upn_store *st, const struct upn_store_server *v)
{
	sqlite3_stmt *s = st->stmt[S_DEL_SERVER];
	char a[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_addr_fmt(&v->addr, a));
	return step_done(st, s);
}

/* The daemon always puts the server before its entries. Should one come alone, a
 * placeholder "down" row keeps the foreign key satisfied; a deferred key would
 * instead fail at COMMIT, and the batch would be retried for ever. */
static int ensure_server(struct upn_store *st, const struct upn_store_entry *e, const char *server)
{
	sqlite3_stmt *s = st->stmt[S_ENSURE_SERVER];

	bind_text(s, 1, server);
	bind_text(s, 2, upn_cause_name(e->cause));
	sqlite3_bind_int64(s, 3, e->first);
	return step_done(st, s);
}

static int put_entry(struct upn_store *st, const struct upn_store_entry *e, struct upn_addr *known)
{
	sqlite3_stmt *s = st->stmt[S_PUT_ENTRY];
	char sa[UPN_ADDRSTRLEN], ca[UPN_ADDRSTRLEN];
	int err;

	upn_addr_fmt(&e->server, sa);
	/* A flood puts thousands of entries of one server in a row: ensure it once. */
	if (!upn_addr_eq(known, &e->server)) {
		err = ensure_server(st, e, sa);
		if (err)
			return err;
		*known = e->server;
	}
	bind_text(s, 1, sa);
	bind_text(s, 2, upn_addr_fmt(&e->client, ca));
	sqlite3_bind_int64(s, 3, e->first);
	sqlite3_bind_int64(s, 4, e->last);
	sqlite3_bind_int64(s, 5, e->attempts);
	bind_text(s, 6, upn_cause_name(e->cause));
	sqlite3_bind_int(s, 7, e->proto);
	sqlite3_bind_int(s, 8, e->port);
	sqlite3_bind_int(s, 9, e->icmp_type);
	sqlite3_bind_int(s, 10, e->icmp_code);
	return step_done(st, s);
}

static int del_entry(struct upn_store *st, const struct upn_store_entry *e)
{
	sqlite3_stmt *s = st->stmt[S_DEL_ENTRY];
	char sa[UPN_ADDRSTRLEN], ca[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_addr_fmt(&e->server, sa));
	bind_text(s, 2, upn_addr_fmt(&e->client, ca));
	return step_done(st, s);
}

static int put_client(struct upn_store *st, const struct upn_store_client *c)
{
	sqlite3_stmt *s = st->stmt[S_PUT_CLIENT];
	char p[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_prefix_fmt(&c->prefix, p));
	bind_text(s, 2, c->mail);
	sqlite3_bind_int64(s, 3, c->registered);
	return step_done(st, s);
}

static int del_client(struct upn_store *st, const struct upn_store_client *c)
{
	sqlite3_stmt *s = st->stmt[S_DEL_CLIENT];
	char p[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_prefix_fmt(&c->prefix, p));
	return step_done(st, s);
}

static int put_mail(struct upn_store *st, const struct upn_store_mail *m)
{
	sqlite3_stmt *s = st->stmt[S_PUT_MAIL];
	char sa[UPN_ADDRSTRLEN], ca[UPN_ADDRSTRLEN];

	bind_text(s, 1, m->recipient);
	bind_text(s, 2, upn_addr_fmt(&m->server, sa));
	bind_text(s, 3, upn_addr_fmt(&m->client, ca));
	sqlite3_bind_int64(s, 4, m->outage);
	sqlite3_bind_int64(s, 5, m->recovered);
	bind_text(s, 6, upn_cause_name(m->cause));
	sqlite3_bind_int(s, 7, m->port);
	sqlite3_bind_int(s, 8, m->proto);
	sqlite3_bind_int64(s, 9, m->first);
	sqlite3_bind_int64(s, 10, m->last);
	sqlite3_bind_int64(s, 11, m->attempts);
	sqlite3_bind_int64(s, 12, (int64_t)time(NULL));
	bind_text(s, 13, mail_kind_names[m->kind]);
	if (m->body)
		bind_text(s, 14, m->body);
	if (m->key_id[0])
		bind_text(s, 15, m->key_id);
	return step_done(st, s);
}

static int put_suppress(struct upn_store *st, const struct upn_store_suppress *v)
{
	sqlite3_stmt *s = st->stmt[S_PUT_SUPPRESS];

	bind_text(s, 1, v->mail);
	sqlite3_bind_int64(s, 2, v->since);
	return step_done(st, s);
}

static int del_suppress(struct upn_store *st, const struct upn_store_suppress *v)
{
	sqlite3_stmt *s = st->stmt[S_DEL_SUPPRESS];

	bind_text(s, 1, v->mail);
	return step_done(st, s);
}

static int put_srvmap(struct upn_store *st, const struct upn_store_srvmap *v)
{
	sqlite3_stmt *s = st->stmt[S_PUT_SRVMAP];
	char p[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_prefix_fmt(&v->prefix, p));
	bind_text(s, 2, relay_mode_names[v->mode]);
	bind_text(s, 3, v->target);
	bind_text(s, 4, v->key_id);
	sqlite3_bind_int64(s, 5, v->registered);
	return step_done(st, s);
}

static int del_srvmap(struct upn_store *st, const struct upn_store_srvmap *v)
{
	sqlite3_stmt *s = st->stmt[S_DEL_SRVMAP];
	char p[UPN_ADDRSTRLEN];

	bind_text(s, 1, upn_prefix_fmt(&v->prefix, p));
	return step_done(st, s);
}

static int put_seen(struct upn_store *st, const struct upn_store_seen *v)
{
	sqlite3_stmt *s = st->stmt[S_PUT_SEEN];
	char a[UPN_ADDRSTRLEN];
	int err;

	bind_text(s, 1, v->id);
	bind_text(s, 2, v->key_id);
	bind_text(s, 3, upn_addr_fmt(&v->server, a));
	sqlite3_bind_int64(s, 4, v->received);
	err = step_done(st, s);
	/* The only constraint the row can break is the primary key. */
	return err == -EINVAL ? -EEXIST : err;
}

static int del_seen_before(struct upn_store *st, const struct upn_store_seen *v)
{
	sqlite3_stmt *s = st->stmt[S_DEL_SEEN_BEFORE];

	sqlite3_bind_int64(s, 1, v->received);
	return step_done(st, s);
}

static int add_counter(struct upn_store *st, const struct upn_store_counter *v)
{
	sqlite3_stmt *s = st->stmt[S_ADD_COUNTER];

	bind_text(s, 1, v->name);
	sqlite3_bind_int64(s, 2, v->delta);
	return step_done(st, s);
}

static int apply_op(struct upn_store *st, const struct upn_store_op *op, struct upn_addr *known)
{
	switch (op->kind) {
	case UPN_STORE_PUT_SERVER:
		return put_server(st, &op->server);
	case UPN_STORE_DEL_SERVER:
		/* Any cached "this server exists" may now be wrong. */
		memset(known, 0, sizeof(*known));
		return del_server(st, &op->server);
	case UPN_STORE_PUT_ENTRY:
		return put_entry(st, &op->entry, known);
	case UPN_STORE_DEL_ENTRY:
		return del_entry(st, &op->entry);
	case UPN_STORE_PUT_CLIENT:
		return put_client(st, &op->client);
	case UPN_STORE_DEL_CLIENT:
		return del_client(st, &op->client);
	case UPN_STORE_PUT_MAIL:
		return put_mail(st, &op->mail);
	case UPN_STORE_PUT_SUPPRESS:
		return put_suppress(st, &op->suppress);
	case UPN_STORE_DEL_SUPPRESS:
		return del_suppress(st, &op->suppress);
	case UPN_STORE_PUT_SRVMAP:
		return put_srvmap(st, &op->srvmap);
	case UPN_STORE_DEL_SRVMAP:
		return del_srvmap(st, &op->srvmap);
	case UPN_STORE_PUT_SEEN:
		return put_seen(st, &op->seen);
	case UPN_STORE_DEL_SEEN_BEFORE:
		return del_seen_before(st, &op->seen);
	case UPN_STORE_ADD_COUNTER:
		return add_counter(st, &op->counter);
	}
	return -EINVAL;
}

/* One transaction for the whole batch: one fsync of the WAL however many ops. The
 * ops are valid (batch_ok); what fails here is SQLite or the disk. */
static int run_batch(struct upn_store *st, const struct upn_store_op *ops, size_t n)
{
	struct upn_addr known = { 0 };
	int err;

	err = step_done(st, st->stmt[S_BEGIN]);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		err = apply_op(st, &ops[i], &known);
		if (err)
			goto rollback;
	}
	err = step_done(st, st->stmt[S_COMMIT]);
	if (!err)
		return 0;
rollback:
	/* A failed ROLLBACK means SQLite already rolled back on its own. */
	sqlite3_step(st->stmt[S_ROLLBACK]);
	sqlite3_reset(st->stmt[S_ROLLBACK]);
	return err;
}

static void count_commit(struct upn_store *st, size_t n)
{
	st->stats.commits++;
	st->stats.ops += n;
	st->stats.last_batch = n;
}

int upn_store_apply(struct upn_store *st, const struct upn_store_op *ops, size_t n)
{
	int err;

	if (st->started)
		return -EBUSY;
	if ((n && !ops) || !batch_ok(ops, n, false))
		return -EINVAL;
	err = run_batch(st, ops, n);
	pthread_mutex_lock(&st->lock);
	if (err)
		st->stats.errors++;
	else
		count_commit(st, n);
	pthread_mutex_unlock(&st->lock);
	return err;
}

/* ---- reading back ---- */

/* A row is only handed to the loader when every column reads back as something the
 * store could have written: an operator's typo must not become a bogus waitlist. */
static const char *col_text(sqlite3_stmt *s, int i)
{
	const char *t;

	if (sqlite3_column_type(s, i) != SQLITE_TEXT)
		return NULL;
	t = (const char *)sqlite3_column_text(s, i);
	if (!t || strlen(t) != (size_t)sqlite3_column_bytes(s, i))
		return NULL;
	return t;
}

static bool col_int(sqlite3_stmt *s, int i, int64_t min, int64_t max, int64_t *out)
{
	if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
		return false;
	*out = sqlite3_column_int64(s, i);
	return *out >= min && *out <= max;
}

static bool col_addr(sqlite3_stmt *s, int i, struct upn_addr *a)
{
	const char *t = col_text(s, i);
	char buf[UPN_ADDRSTRLEN];

	/* Only the canonical form: "10.0.0.01" or "2001:DB8::1" would be a second key
	 * for an address, and a later delete by the canonical key would miss it. */
	return t && !upn_addr_parse(t, a) && !strcmp(upn_addr_fmt(a, buf), t);
}

static bool col_prefix(sqlite3_stmt *s, int i, struct upn_prefix *p)
{
	const char *t = col_text(s, i);
	char buf[UPN_ADDRSTRLEN];

	return t && !upn_prefix_parse(t, p) && !strcmp(upn_prefix_fmt(p, buf), t);
}

static bool col_cause(sqlite3_stmt *s, int i, uint8_t *cause)
{
	const char *t = col_text(s, i);

	if (!t)
		return false;
	/* "unknown" is what UNSPEC is written as; any other unparsable name is bad. */
	*cause = (uint8_t)upn_cause_parse(t);
	return *cause != UPNOTIFY_CAUSE_UNSPEC || !strcmp(t, upn_cause_name(UPNOTIFY_CAUSE_UNSPEC));
}

static bool col_state(sqlite3_stmt *s, int i, uint8_t *state)
{
	const char *t = col_text(s, i);

	for (size_t k = 0; t && k < ARRAY_SIZE(state_names); k++) {
		if (!strcmp(t, state_names[k])) {
			*state = (uint8_t)k;
			return true;
		}
	}
	return false;
}

/* Server columns: address at @ca, then state, cause, since from @cr on. */
static bool read_server(sqlite3_stmt *s, int ca, int cr, struct upn_store_server *v)
{
	memset(v, 0, sizeof(*v));
	return col_addr(s, ca, &v->addr) && col_state(s, cr, &v->state) &&
	       col_cause(s, cr + 1, &v->cause) &&
	       col_int(s, cr + 2, INT64_MIN, INT64_MAX, &v->since);
}

static bool read_entry(sqlite3_stmt *s, struct upn_store_entry *e)
{
	struct upn_store_server server;
	int64_t attempts, proto, port, type, code;

	memset(e, 0, sizeof(*e));
	if (!col_addr(s, 0, &e->server) || !col_addr(s, 1, &e->client) ||
	    !col_int(s, 2, INT64_MIN, INT64_MAX, &e->first) ||
	    !col_int(s, 3, INT64_MIN, INT64_MAX, &e->last) ||
	    !col_int(s, 4, 0, UINT32_MAX, &attempts) || !col_cause(s, 5, &e->cause) ||
	    !col_int(s, 6, 0, UINT8_MAX, &proto) || !col_int(s, 7, 0, UINT16_MAX, &port) ||
	    !col_int(s, 8, 0, UINT8_MAX, &type) || !col_int(s, 9, 0, UINT8_MAX, &code))
		return false;
	e->attempts = (uint32_t)attempts;
	e->proto = (uint8_t)proto;
	e->port = (uint16_t)port;
	e->icmp_type = (uint8_t)type;
	e->icmp_code = (uint8_t)code;
	/* An orphan (foreign keys are off in the sqlite3 shell) or an entry whose server
	 * row was skipped: the loader would get a waitlist for a server it never saw. */
	return read_server(s, 0, 10, &server);
}

static bool read_client(sqlite3_stmt *s, struct upn_store_client *c)
{
	const char *mail;

	memset(c, 0, sizeof(*c));
	if (!col_prefix(s, 0, &c->prefix) || !col_int(s, 2, INT64_MIN, INT64_MAX, &c->registered))
		return false;
	mail = col_text(s, 1);
	if (!mail || strlen(mail) > UPN_MAIL_MAX)
		return false;
	strcpy(c->mail, mail);
	return mail_ok(c->mail, sizeof(c->mail));
}

static bool read_suppressed(sqlite3_stmt *s, struct upn_store_suppress *v)
{
	const char *mail = col_text(s, 0);

	memset(v, 0, sizeof(*v));
	if (!mail || strlen(mail) > UPN_MAIL_MAX || !col_int(s, 1, INT64_MIN, INT64_MAX, &v->since))
		return false;
	strcpy(v->mail, mail);
	return mail_ok(v->mail, sizeof(v->mail));
}

static bool read_srvmap(sqlite3_stmt *s, struct upn_store_srvmap *v)
{
	const char *mode, *target, *key_id;
	int m;

	memset(v, 0, sizeof(*v));
	mode = col_text(s, 1);
	target = col_text(s, 2);
	key_id = col_text(s, 3);
	if (!col_prefix(s, 0, &v->prefix) || !mode || !target || !key_id ||
	    strlen(target) > UPN_URL_MAX || strlen(key_id) > UPN_RELAY_KEYID_MAX ||
	    !col_int(s, 4, INT64_MIN, INT64_MAX, &v->registered))
		return false;
	m = upn_relay_mode_parse(mode);
	if (m < 0)
		return false;
	v->mode = (uint8_t)m;
	strcpy(v->target, target);
	strcpy(v->key_id, key_id);
	return srvmap_ok(v);
}

struct load_ctx {
	struct upn_store *st;
	const struct upn_store_loader *l;
	int (*suppressed)(void *ctx, const struct upn_store_suppress *s);
	void *ctx;
	uint64_t skipped;
};

/* @keys: how many leading columns make up the primary key, for the message. */
static int skip_row(struct load_ctx *lc, sqlite3_stmt *s, const char *table, int keys)
{
	const char *key = (const char *)sqlite3_column_text(s, 0);
	const char *key2 = keys > 1 ? (const char *)sqlite3_column_text(s, 1) : NULL;

	if (lc->skipped++ < LOAD_LOG_MAX)
		store_log("skipping invalid %s row '%s%s%s'", table, key ? key : "",
			  key2 ? " " : "", key2 ? key2 : "");
	return 0;
}

static int server_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct upn_store_server v;

	if (!read_server(s, 0, 1, &v))
		return skip_row(lc, s, "servers", 1);
	return lc->l->server(lc->l->ctx, &v);
}

static int entry_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct upn_store_entry v;

	if (!read_entry(s, &v))
		return skip_row(lc, s, "waitlist", 2);
	return lc->l->entry(lc->l->ctx, &v);
}

static int client_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct upn_store_client v;

	if (!read_client(s, &v))
		return skip_row(lc, s, "clients", 1);
	return lc->l->client(lc->l->ctx, &v);
}

static int suppressed_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct upn_store_suppress v;

	if (!read_suppressed(s, &v))
		return skip_row(lc, s, "suppressed", 1);
	return lc->suppressed(lc->ctx, &v);
}

static int srvmap_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct upn_store_srvmap v;

	if (!read_srvmap(s, &v))
		return skip_row(lc, s, "srvmap", 1);
	return lc->l->srvmap(lc->l->ctx, &v);
}

struct counter_ctx {
	int (*cb)(void *ctx, const char *name, int64_t v);
	void *ctx;
};

static int counter_row(struct load_ctx *lc, sqlite3_stmt *s)
{
	struct counter_ctx *cc = lc->ctx;
	const char *name = col_text(s, 0);
	int64_t v;

	if (!name || !counter_name_ok(name, 48) || !col_int(s, 1, INT64_MIN, INT64_MAX, &v))
		return skip_row(lc, s, "counters", 1);
	return cc->cb(cc->ctx, name, v);
}

static int load_rows(struct load_ctx *lc, enum stmt_id id,
		     int (*row)(struct load_ctx *lc, sqlite3_stmt *s))
{
	sqlite3_stmt *s = lc->st->stmt[id];
	int rc = SQLITE_DONE, err = 0;

	while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW)
		err = row(lc, s);
	if (!err && rc != SQLITE_DONE) {
		store_log("load: %s", sqlite3_errmsg(lc->st->db));
		err = upn_store_errno(rc);
	}
	sqlite3_reset(s);
	return err;
}

int upn_store_load(struct upn_store *st, const struct upn_store_loader *l)
{
	struct load_ctx lc = { .st = st, .l = l };
	int err = 0;

	if (st->started)
		return -EBUSY;
	/* One read transaction, so the tables are one consistent snapshot. */
	err = step_done(st, st->stmt[S_BEGIN_READ]);
	if (err)
		return err;
	if (l->server)
		err = load_rows(&lc, S_LOAD_SERVERS, server_row);
	if (!err && l->entry)
		err = load_rows(&lc, S_LOAD_ENTRIES, entry_row);
	if (!err && l->client)
		err = load_rows(&lc, S_LOAD_CLIENTS, client_row);
	if (!err && l->srvmap)
		err = load_rows(&lc, S_LOAD_SRVMAP, srvmap_row);
	sqlite3_step(st->stmt[S_ROLLBACK]);
	sqlite3_reset(st->stmt[S_ROLLBACK]);
	if (lc.skipped)
		store_log("skipped %llu invalid rows at load", (unsigned long long)lc.skipped);
	pthread_mutex_lock(&st->lock);
	st->stats.load_skipped += lc.skipped;
	pthread_mutex_unlock(&st->lock);
	return err;
}

int upn_store_load_suppressed(struct upn_store *st,
			      int (*cb)(void *ctx, const struct upn_store_suppress *s), void *ctx)
{
	struct load_ctx lc = { .st = st, .suppressed = cb, .ctx = ctx };
	int err;

	if (st->started)
		return -EBUSY;
	err = load_rows(&lc, S_LOAD_SUPPRESSED, suppressed_row);
	if (lc.skipped)
		store_log("skipped %llu invalid suppressed rows at load",
			  (unsigned long long)lc.skipped);
	pthread_mutex_lock(&st->lock);
	st->stats.load_skipped += lc.skipped;
	pthread_mutex_unlock(&st->lock);
	return err;
}

int upn_store_seen(struct upn_store *st, const char *id)
{
	sqlite3_stmt *s = st->stmt[S_GET_SEEN];
	int rc;

	if (st->started)
		return -EBUSY;
	if (!id)
		return -EINVAL;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(st->lasterr, sizeof(st->lasterr), "%s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : upn_store_errno(rc);
}

int upn_store_counters(struct upn_store *st, int (*cb)(void *ctx, const char *name, int64_t v),
		       void *ctx)
{
	struct counter_ctx cc = { .cb = cb, .ctx = ctx };
	struct load_ctx lc = { .st = st, .ctx = &cc };
	int err;

	if (st->started)
		return -EBUSY;
	err = load_rows(&lc, S_LOAD_COUNTERS, counter_row);
	pthread_mutex_lock(&st->lock);
	st->stats.load_skipped += lc.skipped;
	pthread_mutex_unlock(&st->lock);
	return err;
}

/* ---- secrets ---- */

/* The lookup and the insert in one write transaction: two daemons starting on the
 * same file at once end up with the same secret. */
int upn_store_secret(struct upn_store *st, const char *name, unsigned char *out, size_t len)
{
	sqlite3_stmt *get = st->stmt[S_GET_SECRET], *put = st->stmt[S_PUT_SECRET];
	int rc, err;

	if (st->started)
		return -EBUSY;
	if (!name || !*name || !len || len > SECRET_MAX)
		return -EINVAL;
	err = step_done(st, st->stmt[S_BEGIN]);
	if (err)
		return err;
	bind_text(get, 1, name);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(get, 0) == SQLITE_BLOB &&
		    (size_t)sqlite3_column_bytes(get, 0) == len) {
			memcpy(out, sqlite3_column_blob(get, 0), len);
		} else {
			store_log("secret '%s' is not a %zu byte blob; delete the row to make a "
				  "new one",
				  name, len);
			err = -EINVAL;
		}
	} else if (rc != SQLITE_DONE) {
		snprintf(st->lasterr, sizeof(st->lasterr), "%s", sqlite3_errmsg(st->db));
		err = upn_store_errno(rc);
	}
	sqlite3_reset(get);
	sqlite3_clear_bindings(get);
	if (!err && rc == SQLITE_DONE) {
		if (sodium_init() < 0) {
			err = -EIO;
		} else {
			randombytes_buf(out, len);
			bind_text(put, 1, name);
			sqlite3_bind_blob(put, 2, out, (int)len, SQLITE_STATIC);
			err = step_done(st, put);
		}
	}
	if (!err)
		err = step_done(st, st->stmt[S_COMMIT]);
	if (err) {
		sqlite3_step(st->stmt[S_ROLLBACK]);
		sqlite3_reset(st->stmt[S_ROLLBACK]);
		sodium_memzero(out, len);
	}
	return err;
}

/* ---- opening ---- */

/* Runs a statement that yields one row and returns its first column as an integer,
 * or as text into @text when that is given. */
static int query_one(sqlite3 *db, const char *sql, int *num, char *text, size_t textlen)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (num)
			*num = sqlite3_column_int(s, 0);
		if (text)
			snprintf(text, textlen, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_ERROR;
	}
	sqlite3_finalize(s);
	return rc;
}

static bool version_ok(int version, char *err, size_t errlen)
{
	if (version <= SCHEMA_VERSION)
		return true;
	upn_set_err(err, errlen, "database schema version %d is newer than this upnotifyd (%d)",
		    version, SCHEMA_VERSION);
	return false;
}

/* All steps and the new user_version in one transaction: a crash half-way leaves the
 * old schema, and a second upnotifyd opening the same file waits for the first. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	char sql[64];
	int version, rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = query_one(db, "PRAGMA user_version", &version, NULL, 0);
	if (rc != SQLITE_OK)
		goto fail;
	if (!version_ok(version, err, errlen)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (; version < SCHEMA_VERSION; version++) {
		rc = sqlite3_exec(db, migrations[version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
fail:
	upn_set_err(err, errlen, "schema migration: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int configure(sqlite3 *db, char *err, size_t errlen)
{
	char mode[16] = "";
	char sql[64];
	int version, fk = 0;

	/* Reading the header first refuses a foreign file, and a newer schema, before
	 * anything is written: switching to WAL already writes the header. */
	if (query_one(db, "PRAGMA user_version", &version, NULL, 0) != SQLITE_OK)
		goto fail;
	if (!version_ok(version, err, errlen))
		return -1;
	/* WAL: the sqlite3 shell of an operator never blocks the writer. FULL: a commit
	 * reaches the disk before the batch is reported durable. */
	if (query_one(db, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode)) != SQLITE_OK)
		goto fail;
	if (strcmp(mode, "wal")) {
		upn_set_err(err, errlen, "cannot use WAL mode (journal mode is %s)", mode);
		return -1;
	}
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d", WAL_SIZE_LIMIT);
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    query_one(db, sql, NULL, NULL, 0) != SQLITE_OK ||
	    query_one(db, "PRAGMA foreign_keys", &fk, NULL, 0) != SQLITE_OK)
		goto fail;
	if (!fk) {
		upn_set_err(err, errlen, "this SQLite has no foreign key support");
		return -1;
	}
	return 0;
fail:
	upn_set_err(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

static void finalize_all(struct upn_store *st)
{
	for (size_t i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
}

static void free_store(struct upn_store *st)
{
	finalize_all(st);
	if (sqlite3_close(st->db) != SQLITE_OK)
		store_log("close: %s", sqlite3_errmsg(st->db));
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	/* A batch given up at shutdown. */
	upn_store_ops_free_bodies(st->ops, st->nops);
	free(st->ops);
	free(st);
}

static int init_sync(struct upn_store *st)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_mutex_init(&st->lock, NULL);
	if (err)
		return -err;
	/* Monotonic, so that setting the clock neither stalls nor hurries a retry. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err) {
		pthread_mutex_destroy(&st->lock);
		return -err;
	}
	return 0;
}

struct upn_store *upn_store_open(const char *path, char *err, size_t errlen)
{
	struct upn_store *st;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st) {
		upn_set_err(err, errlen, "out of memory");
		return NULL;
	}
	st->efd = -1;
	if (init_sync(st)) {
		upn_set_err(err, errlen, "cannot create store lock");
		free(st);
		return NULL;
	}
	/* NOMUTEX: one thread at a time uses the connection, handed over by start. */
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		upn_set_err(err, errlen, "%s",
			    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, UPN_STORE_BUSY_TIMEOUT_MS);
	if (configure(st->db, err, errlen) || migrate(st->db, err, errlen))
		goto fail;
	for (size_t i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&st->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			upn_set_err(err, errlen, "preparing statement %zu: %s", i,
				    sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	return st;
fail:
	free_store(st);
	return NULL;
}

/* ---- the writer thread ---- */

static void notify(struct upn_store *st)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is about to overflow: it is readable anyway. */
	if (write(st->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		store_log("eventfd: %s", strerror(errno));
}

/* Called with the lock held. Close cuts the wait short once, to try again at once;
 * the retries after that, at shutdown, are spaced like any other. */
static void wait_retry(struct upn_store *st)
{
	bool stopping = st->stop;
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += UPN_STORE_RETRY_MS / 1000;
	t.tv_nsec += (long)(UPN_STORE_RETRY_MS % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	while (st->stop == stopping &&
	       pthread_cond_timedwait(&st->cond, &st->lock, &t) != ETIMEDOUT)
		;
}

static void *writer_main(void *arg)
{
	struct upn_store *st = arg;
	unsigned int final_attempts = 0;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct upn_store_op *ops;
		size_t n;
		int err;

		while (!st->inflight && !st->stop)
			pthread_cond_wait(&st->cond, &st->lock);
		if (!st->inflight)
			break;
		ops = st->ops;
		n = st->nops;
		pthread_mutex_unlock(&st->lock);
		err = run_batch(st, ops, n);
		pthread_mutex_lock(&st->lock);
		if (!err) {
			st->inflight = false;
			st->ops = NULL;
			st->durable = st->seq;
			count_commit(st, n);
			pthread_mutex_unlock(&st->lock);
			upn_store_ops_free_bodies(ops, n);
			free(ops);
			notify(st);
			pthread_mutex_lock(&st->lock);
			continue;
		}
		st->stats.errors++;
		if (st->stop && ++final_attempts >= CLOSE_ATTEMPTS) {
			store_log("giving up on batch %llu (%zu ops) at shutdown: %s",
				  (unsigned long long)st->seq, n, st->lasterr);
			break;
		}
		store_log("commit of batch %llu (%zu ops) failed: %s; retrying in %d ms",
			  (unsigned long long)st->seq, n, st->lasterr, UPN_STORE_RETRY_MS);
		wait_retry(st);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int upn_store_start(struct upn_store *st)
{
	sigset_t all, old;
	int err;

	if (st->started)
		return -EALREADY;
	st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->efd < 0)
		return -errno;
	/* Signals belong to the event loop's signalfd; the thread must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&st->thread, NULL, writer_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(st->efd);
		st->efd = -1;
		return -err;
	}
	st->started = true;
	return st->efd;
}

int upn_store_submit(struct upn_store *st, struct upn_store_op *ops, size_t n, uint64_t seq)
{
	int err = 0;

	if (!st->started || (n && !ops))
		return -EINVAL;
	/* Checked here, in the caller's thread: an invalid op would otherwise fail in the
	 * writer on every retry and wedge the store. */
	if (!batch_ok(ops, n, true))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	if (st->inflight) {
		err = -EBUSY;
	} else if (seq <= st->seq) {
		err = -EINVAL;
	} else {
		st->ops = ops;
		st->nops = n;
		st->seq = seq;
		st->inflight = true;
		pthread_cond_signal(&st->cond);
	}
	pthread_mutex_unlock(&st->lock);
	return err;
}

bool upn_store_idle(struct upn_store *st)
{
	bool idle;

	pthread_mutex_lock(&st->lock);
	idle = !st->inflight;
	pthread_mutex_unlock(&st->lock);
	return idle;
}

uint64_t upn_store_durable_seq(struct upn_store *st)
{
	uint64_t seq;

	pthread_mutex_lock(&st->lock);
	seq = st->durable;
	pthread_mutex_unlock(&st->lock);
	return seq;
}

void upn_store_get_stats(struct upn_store *st, struct upn_store_stats *out)
{
	pthread_mutex_lock(&st->lock);
	*out = st->stats;
	pthread_mutex_unlock(&st->lock);
}

void upn_store_close(struct upn_store *st)
{
	if (!st)
		return;
	if (st->started) {
		pthread_mutex_lock(&st->lock);
		st->stop = true;
		pthread_cond_signal(&st->cond);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->thread, NULL);
		close(st->efd);
	}
	free_store(st);
}
