// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent --status: SQL straight from the store file. The writer side lives in
 * store.c (counters table, ADD_COUNTER) and outbox.c; this only reads. */
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "process.h"
#include "store.h"

static int query(sqlite3 *db, const char *sql, json_t *obj, const char *prefix, char *err,
		 size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return upn_store_errno(rc) ? upn_store_errno(rc) : -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char name[96];
		const unsigned char *n = sqlite3_column_text(st, 0);

		if (!n)
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, n);
		json_object_set_new(obj, name, json_integer(sqlite3_column_int64(st, 1)));
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int upn_agent_status(const char *db_path, bool json, FILE *out, char *err, size_t errlen)
{
	static const char *const states[] = { "outbox.queued", "outbox.sent", "outbox.failed" };
	json_t *obj = json_object();
	sqlite3 *db = NULL;
	const char *k;
	json_t *v;
	int rc, ret = -ENOMEM;

	if (!obj)
		goto out;
	for (size_t i = 0; upn_agent_counter_names[i]; i++)
		json_object_set_new(obj, upn_agent_counter_names[i], json_integer(0));
	for (size_t i = 0; i < 3; i++)
		json_object_set_new(obj, states[i], json_integer(0));
	rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", db_path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		ret = -ENOENT;
		goto out;
	}
	sqlite3_busy_timeout(db, UPN_STORE_BUSY_TIMEOUT_MS);
	ret = query(db, "SELECT name, value FROM counters", obj, "", err, errlen);
	if (!ret)
		ret = query(db, "SELECT state, count(*) FROM outbox GROUP BY state", obj, "outbox.",
			    err, errlen);
	if (ret)
		goto out;
	if (json) {
		char *s = json_dumps(obj, JSON_COMPACT);

		if (!s) {
			ret = -ENOMEM;
			goto out;
		}
		fprintf(out, "%s\n", s);
		free(s);
	} else {
		json_object_foreach(obj, k, v)
			fprintf(out, "%-24s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
	}
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	sqlite3_close(db);
	json_decref(obj);
	return ret;
}
