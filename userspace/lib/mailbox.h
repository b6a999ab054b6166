/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* A POP3/POP3S mailbox read with libcurl: one session lists, fetches, hands each
 * message to a callback and deletes what it took. */
#ifndef UPN_MAILBOX_H
#define UPN_MAILBOX_H

#include <linux/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h" /* UPN_URL_MAX (userspace/upnotifyd) */

#define UPN_MAILBOX_TIMEOUT_DEFAULT_MS 30000

struct upn_mailbox_config {
	char url[UPN_URL_MAX + 1];    /* pop3://[user@]host[:port]/ or pop3s:// */
	char password_file[PATH_MAX]; /* one line; "" none */
	char ca_file[PATH_MAX];	      /* "" system CAs */
	bool delete_after;	      /* DELE what the callback took (default yes) */
	uint32_t timeout_ms;	      /* per command, default 30 s */
	size_t max_size; /* bigger messages are deleted unread and counted (default UPN_MAILMSG_MAX) */
};

struct upn_mailbox_stats {
	uint64_t polls, fetched, deleted, too_big, errors;
};

/* The defaults above (delete, 30 s, UPN_MAILMSG_MAX), url and files empty. */
void upn_mailbox_config_init(struct upn_mailbox_config *c);

/* Would upn_mailbox_poll take @url? libcurl's own URL parser: pop3:// or pop3s://,
 * a host, no password (that goes in password_file), a user name of at most 255
 * bytes. 0, or -EINVAL (-ENOMEM) with why in @err. For the config checks, so that a
 * bad URL fails at start and --check, not at the first poll. */
int upn_mailbox_url_check(const char *url, char *err, size_t errlen);

/* One session: list, then for each message RETR, cb(), DELE if cb returned 0.
 * cb: 0 = handled (delete), 1 = keep for later (temporary trouble), -1 = stop now.
 * 0, or -errno with a message in err (connection, auth, protocol). */
int upn_mailbox_poll(const struct upn_mailbox_config *c,
		     int (*cb)(void *ctx, const char *raw, size_t len), void *ctx,
		     struct upn_mailbox_stats *st, char *err, size_t errlen);

#endif
