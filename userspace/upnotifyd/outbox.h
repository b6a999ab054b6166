/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The mailer's side of the outbox table (store.c creates it; UPN_STORE_PUT_MAIL fills
 * it). Its own SQLite connection, so that the mailer never waits for the event loop
 * and the store's writer never waits for SMTP: WAL lets both go on, and the busy
 * timeout covers the moments both write.
 *
 * synchronous = NORMAL, not the store's FULL: a commit in WAL mode is in the file
 * (the kernel's page cache) when it returns, which is what a kill -9 cannot undo;
 * only a power cut could lose the last "sent" marks, and then the cost is a
 * duplicate notice, never a lost one. */
#ifndef UPN_OUTBOX_H
#define UPN_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "limits.h"
#include "store.h"

struct upn_outbox_row {
	int64_t id;
	char recipient[UPN_MAIL_MAX + 1];
	char server[UPN_ADDRSTRLEN], client[UPN_ADDRSTRLEN];
	int64_t outage, recovered, first, created;
	uint32_t tries;
	uint16_t port;
	uint8_t kind;	 /* enum upn_mail_kind */
	bool held;	 /* holds a rate limit slot */
	bool suppressed; /* the recipient is in the suppressed table */
	bool bad;	 /* a column did not read back as the store writes it */
	/* When a confirm mail's link expires (its last column, after outage); 0 for
	 * a recovery mail. */
	int64_t expires;
	/* A relay or webhook's signing key. Their body, and a reply's, is not read
	 * with the row (a list may be megabytes): upn_outbox_body() fetches it. */
	char key_id[UPN_RELAY_KEYID_MAX + 1];
};

struct upn_outbox;

/* NULL with a message in @err when the file has no outbox table (an older schema:
 * the store migrates it) or cannot be opened. */
struct upn_outbox *upn_outbox_open(const char *path, char *err, size_t errlen);
void upn_outbox_close(struct upn_outbox *ob);
/* The SQLite message of the last failure. */
const char *upn_outbox_error(struct upn_outbox *ob);

/* Up to @max queued rows with next_try <= @now, in next_try then id order, each
 * with whether its recipient is suppressed as of this read. The count or -errno. */
int upn_outbox_due(struct upn_outbox *ob, int64_t now, struct upn_outbox_row *rows, size_t max);
/* The same for webhooks only: they need no SMTP relay. */
int upn_outbox_due_webhooks(struct upn_outbox *ob, int64_t now, struct upn_outbox_row *rows,
			    size_t max);
/* The body of row @id, malloc'ed and NUL-terminated, its length in @len; NULL with
 * errno ENOENT (no such row, or no body), EINVAL (not text) or ENOMEM, EIO. */
char *upn_outbox_body(struct upn_outbox *ob, int64_t id, size_t *len);
/* Queued rows in all, or -errno. */
int64_t upn_outbox_queued(struct upn_outbox *ob);
/* The earliest next_try of a queued row; 0 when none is queued, or -errno. */
int64_t upn_outbox_next_due(struct upn_outbox *ob);

/* Several updates in one transaction (one WAL write), or each on its own. */
int upn_outbox_begin(struct upn_outbox *ob);
int upn_outbox_commit(struct upn_outbox *ob);
void upn_outbox_rollback(struct upn_outbox *ob);

/* Each changes a queued row only: 0, or -errno. */
int upn_outbox_sent(struct upn_outbox *ob, int64_t id, int64_t now, const char *relay,
		    const char *message_id);
int upn_outbox_retry(struct upn_outbox *ob, int64_t id, int64_t next_try, const char *error,
		     const char *relay, const char *message_id);
int upn_outbox_fail(struct upn_outbox *ob, int64_t id, uint32_t tries_add, const char *error,
		    const char *relay, const char *message_id);
int upn_outbox_hold(struct upn_outbox *ob, int64_t id, int64_t next_try, bool held);

#endif
