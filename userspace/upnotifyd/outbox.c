// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "outbox.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer.h"
#include "timefmt.h"
#include "log.h"
#include "store.h"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_DUE,
	S_DUE_WEBHOOKS,
	S_BODY,
	S_QUEUED,
	S_NEXT_DUE,
	S_SENT,
	S_RETRY,
	S_FAIL,
	S_HOLD,
	S_COUNT
};

/* Every update names state = 'queued': a row an operator failed or deleted by hand
 * in the meantime stays as the operator left it. */
static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* The suppressed lookup is by primary key, a few microseconds per row. */
	[S_DUE] = "SELECT id, recipient, server, client, outage, recovered, first, created,"
		  " tries, port, held, kind, last,"
		  " EXISTS (SELECT 1 FROM suppressed WHERE mail = outbox.recipient),"
		  " key_id, body IS NOT NULL"
		  " FROM outbox WHERE state = 'queued' AND next_try <= ?1"
		  " ORDER BY next_try, id LIMIT ?2",
	[S_DUE_WEBHOOKS] = "SELECT id, recipient, server, client, outage, recovered, first,"
			   " created, tries, port, held, kind, last, 0, key_id,"
			   " body IS NOT NULL FROM outbox WHERE state = 'queued'"
			   " AND next_try <= ?1 AND kind = 'webhook'"
			   " ORDER BY next_try, id LIMIT ?2",
	[S_BODY] = "SELECT body FROM outbox WHERE id = ?1",
	[S_QUEUED] = "SELECT count(*) FROM outbox WHERE state = 'queued'",
	[S_NEXT_DUE] = "SELECT ifnull(min(next_try), 0) FROM outbox WHERE state = 'queued'",
	[S_SENT] = "UPDATE outbox SET state = 'sent', sent_at = ?2, relay = ?3,"
		   " message_id = ?4, tries = tries + 1, held = 0, last_error = NULL"
		   " WHERE id = ?1 AND state = 'queued'",
	[S_RETRY] = "UPDATE outbox SET tries = tries + 1, next_try = ?2, last_error = ?3,"
		    " relay = ?4, message_id = ?5, held = 0 WHERE id = ?1 AND state = 'queued'",
	[S_FAIL] = "UPDATE outbox SET state = 'failed', tries = tries + ?2, last_error = ?3,"
		   " relay = ?4, message_id = ?5, held = 0 WHERE id = ?1 AND state = 'queued'",
	[S_HOLD] = "UPDATE outbox SET next_try = ?2, held = ?3 WHERE id = ?1 AND state = 'queued'",
};

struct upn_outbox {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char lasterr[256];
};

/* The file must already hold the schema: only the store creates and migrates it. */
static int has_outbox(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc, n = 0;

	rc = sqlite3_prepare_v2(db,
				"SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
				" AND name = 'outbox'",
				-1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW) {
		upn_set_err(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (!n) {
		upn_set_err(err, errlen, "the database has no outbox table (is the store open?)");
		return -1;
	}
	return 0;
}

static sqlite3 *open_db(const char *path, int flags, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		upn_set_err(err, errlen, "%s: %s", path,
			    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, UPN_STORE_BUSY_TIMEOUT_MS);
	if (has_outbox(db, err, errlen)) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

struct upn_outbox *upn_outbox_open(const char *path, char *err, size_t errlen)
{
	struct upn_outbox *ob = calloc(1, sizeof(*ob));
	int rc;

	if (!ob) {
		upn_set_err(err, errlen, "out of memory");
		return NULL;
	}
	ob->db = open_db(path, SQLITE_OPEN_READWRITE, err, errlen);
	if (!ob->db)
		goto fail;
	if (sqlite3_exec(ob->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		upn_set_err(err, errlen, "%s", sqlite3_errmsg(ob->db));
		goto fail;
	}
	for (size_t i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(ob->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&ob->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			upn_set_err(err, errlen, "preparing outbox statement %zu: %s", i,
				    sqlite3_errmsg(ob->db));
			goto fail;
		}
	}
	return ob;
fail:
	upn_outbox_close(ob);
	return NULL;
}

void upn_outbox_close(struct upn_outbox *ob)
{
	if (!ob)
		return;
	for (size_t i = 0; i < S_COUNT; i++)
		sqlite3_finalize(ob->stmt[i]);
	sqlite3_close(ob->db);
	free(ob);
}

const char *upn_outbox_error(struct upn_outbox *ob)
{
	return ob->lasterr;
}

static int step_done(struct upn_outbox *ob, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		snprintf(ob->lasterr, sizeof(ob->lasterr), "%s", sqlite3_errmsg(ob->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : upn_store_errno(rc);
}

/* Copies a text column into @buf, false when it is no text or does not fit. */
static bool col_text(sqlite3_stmt *s, int i, char *buf, size_t size)
{
	const char *t;
	int n;

	if (sqlite3_column_type(s, i) != SQLITE_TEXT)
		return false;
	t = (const char *)sqlite3_column_text(s, i);
	n = sqlite3_column_bytes(s, i);
	if (!t || (size_t)n >= size || strlen(t) != (size_t)n)
		return false;
	memcpy(buf, t, (size_t)n + 1);
	return true;
}

static bool col_int(sqlite3_stmt *s, int i, int64_t min, int64_t max, int64_t *out)
{
	if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
		return false;
	*out = sqlite3_column_int64(s, i);
	return *out >= min && *out <= max;
}

/* The kind, and for a confirm mail its link's expiry (column @i + 1, last), which
 * the store only takes after outage; for a relay or webhook its key id (@i + 3) and
 * for them and a reply whether a body is there (@i + 4). Call with outage read. */
static bool col_kind(sqlite3_stmt *s, int i, struct upn_outbox_row *r)
{
	const char *name;
	char kind[16];
	uint8_t k;

	if (!col_text(s, i, kind, sizeof(kind)))
		return false;
	for (k = 0; (name = upn_mail_kind_name(k)); k++)
		if (!strcmp(kind, name))
			break;
	if (!name)
		return false;
	r->kind = k;
	switch (k) {
	case UPN_MAIL_CONFIRM:
		return col_int(s, i + 1, INT64_MIN, INT64_MAX, &r->expires) &&
		       r->expires > r->outage;
	case UPN_MAIL_RELAY:
	case UPN_MAIL_WEBHOOK:
		if (!col_text(s, i + 3, r->key_id, sizeof(r->key_id)) ||
		    !upn_relay_keyid_ok(r->key_id))
			return false;
		/* fall through */
	case UPN_MAIL_REPLY:
		return sqlite3_column_int(s, i + 4) == 1;
	default:
		return true;
	}
}

static void read_row(sqlite3_stmt *s, struct upn_outbox_row *r)
{
	int64_t tries, port, held;
	bool ok;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	ok = col_text(s, 1, r->recipient, sizeof(r->recipient)) &&
	     col_text(s, 2, r->server, sizeof(r->server)) &&
	     col_text(s, 3, r->client, sizeof(r->client)) &&
	     col_int(s, 4, INT64_MIN, INT64_MAX, &r->outage) &&
	     col_int(s, 5, INT64_MIN, INT64_MAX, &r->recovered) &&
	     col_int(s, 6, INT64_MIN, INT64_MAX, &r->first) &&
	     col_int(s, 7, INT64_MIN, INT64_MAX, &r->created) &&
	     col_int(s, 8, 0, UINT32_MAX, &tries) && col_int(s, 9, 0, UINT16_MAX, &port) &&
	     col_int(s, 10, 0, 1, &held) && col_kind(s, 11, r);
	r->suppressed = sqlite3_column_int(s, 13);
	if (!ok) {
		r->bad = true;
		return;
	}
	r->tries = (uint32_t)tries;
	r->port = (uint16_t)port;
	r->held = held;
}

static int due(struct upn_outbox *ob, sqlite3_stmt *s, int64_t now, struct upn_outbox_row *rows,
	       size_t max)
{
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		read_row(s, &rows[n++]);
	if (n < max && rc != SQLITE_DONE) {
		snprintf(ob->lasterr, sizeof(ob->lasterr), "%s", sqlite3_errmsg(ob->db));
		sqlite3_reset(s);
		return upn_store_errno(rc);
	}
	sqlite3_reset(s);
	return (int)n;
}

int upn_outbox_due(struct upn_outbox *ob, int64_t now, struct upn_outbox_row *rows, size_t max)
{
	return due(ob, ob->stmt[S_DUE], now, rows, max);
}

int upn_outbox_due_webhooks(struct upn_outbox *ob, int64_t now, struct upn_outbox_row *rows,
			    size_t max)
{
	return due(ob, ob->stmt[S_DUE_WEBHOOKS], now, rows, max);
}

char *upn_outbox_body(struct upn_outbox *ob, int64_t id, size_t *len)
{
	sqlite3_stmt *s = ob->stmt[S_BODY];
	char *body = NULL;
	int rc, e = 0;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		/* A NUL inside would cut what is signed short of what is sent. */
		if (!t)
			e = ENOMEM;
		else if (strlen(t) != n)
			e = EINVAL;
		else if (!(body = malloc(n + 1)))
			e = ENOMEM;
		else {
			memcpy(body, t, n + 1);
			*len = n;
		}
	} else if (rc == SQLITE_ROW) {
		e = sqlite3_column_type(s, 0) == SQLITE_NULL ? ENOENT : EINVAL;
	} else if (rc == SQLITE_DONE) {
		e = ENOENT;
	} else {
		snprintf(ob->lasterr, sizeof(ob->lasterr), "%s", sqlite3_errmsg(ob->db));
		e = -upn_store_errno(rc);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (!body)
		errno = e;
	return body;
}

static int64_t one_int(struct upn_outbox *ob, sqlite3_stmt *s)
{
	int64_t n;
	int rc;

	rc = sqlite3_step(s);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : upn_store_errno(rc);
	if (rc != SQLITE_ROW)
		snprintf(ob->lasterr, sizeof(ob->lasterr), "%s", sqlite3_errmsg(ob->db));
	sqlite3_reset(s);
	return n;
}

int64_t upn_outbox_queued(struct upn_outbox *ob)
{
	return one_int(ob, ob->stmt[S_QUEUED]);
}

int64_t upn_outbox_next_due(struct upn_outbox *ob)
{
	return one_int(ob, ob->stmt[S_NEXT_DUE]);
}

int upn_outbox_begin(struct upn_outbox *ob)
{
	return step_done(ob, ob->stmt[S_BEGIN]);
}

int upn_outbox_commit(struct upn_outbox *ob)
{
	int err = step_done(ob, ob->stmt[S_COMMIT]);

	if (err)
		upn_outbox_rollback(ob);
	return err;
}

void upn_outbox_rollback(struct upn_outbox *ob)
{
	/* Fails only when SQLite already rolled back on its own. */
	sqlite3_step(ob->stmt[S_ROLLBACK]);
	sqlite3_reset(ob->stmt[S_ROLLBACK]);
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *t)
{
	if (t && *t)
		sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

int upn_outbox_sent(struct upn_outbox *ob, int64_t id, int64_t now, const char *relay,
		    const char *message_id)
{
	sqlite3_stmt *s = ob->stmt[S_SENT];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	bind_opt_text(s, 3, relay);
	bind_opt_text(s, 4, message_id);
	return step_done(ob, s);
}

int upn_outbox_retry(struct upn_outbox *ob, int64_t id, int64_t next_try, const char *error,
		     const char *relay, const char *message_id)
{
	sqlite3_stmt *s = ob->stmt[S_RETRY];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, next_try);
	bind_opt_text(s, 3, error);
	bind_opt_text(s, 4, relay);
	bind_opt_text(s, 5, message_id);
	return step_done(ob, s);
}

int upn_outbox_fail(struct upn_outbox *ob, int64_t id, uint32_t tries_add, const char *error,
		    const char *relay, const char *message_id)
{
	sqlite3_stmt *s = ob->stmt[S_FAIL];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, tries_add);
	bind_opt_text(s, 3, error);
	bind_opt_text(s, 4, relay);
	bind_opt_text(s, 5, message_id);
	return step_done(ob, s);
}

int upn_outbox_hold(struct upn_outbox *ob, int64_t id, int64_t next_try, bool held)
{
	sqlite3_stmt *s = ob->stmt[S_HOLD];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, next_try);
	sqlite3_bind_int(s, 3, held);
	return step_done(ob, s);
}

/* ---- `upnotifyctl outbox` ---- */

static json_t *time_or_null(sqlite3_stmt *s, int i)
{
	char buf[UPN_TIMESTRLEN];

	if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
		return json_null();
	return json_string(upn_time_fmt(sqlite3_column_int64(s, i), 0, buf));
}

static json_t *text_or_null(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	json_t *j;

	if (!t)
		return json_null();
	/* jansson refuses invalid UTF-8; an operator's edit must not hide the row. */
	j = json_string(t);
	return j ? j : json_string("(not UTF-8)");
}

json_t *upn_mailer_outbox(const char *db_path, unsigned int limit, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT id, recipient, server, client, state, tries, last_error, created,"
		" sent_at, next_try, relay, message_id, kind FROM outbox ORDER BY id DESC"
		" LIMIT ?1";
	json_t *arr = NULL, *o;
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	int rc;

	/* Read-only and in WAL mode: a reader never waits for the store's writer. */
	db = open_db(db_path, SQLITE_OPEN_READONLY, err, errlen);
	if (!db)
		return NULL;
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, limit);
	arr = json_array();
	if (!arr)
		goto nomem;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			      "id", (json_int_t)sqlite3_column_int64(s, 0), "recipient",
			      text_or_null(s, 1), "server", text_or_null(s, 2), "client",
			      text_or_null(s, 3), "state", text_or_null(s, 4), "tries",
			      (json_int_t)sqlite3_column_int64(s, 5), "last_error",
			      text_or_null(s, 6), "created", time_or_null(s, 7), "sent",
			      time_or_null(s, 8), "next_try", time_or_null(s, 9), "relay",
			      text_or_null(s, 10), "message_id", text_or_null(s, 11), "kind",
			      text_or_null(s, 12));
		if (!o || json_array_append_new(arr, o))
			goto nomem;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return arr;
nomem:
	upn_set_err(err, errlen, "out of memory");
	goto out;
fail:
	upn_set_err(err, errlen, "%s", sqlite3_errmsg(db));
out:
	json_decref(arr);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return NULL;
}
