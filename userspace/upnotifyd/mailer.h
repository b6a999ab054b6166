/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The mailer: a thread that drains the outbox table of the store with libesmtp.
 *
 * The event loop only ever queues mail through the store (UPN_STORE_PUT_MAIL, in the
 * transaction that takes the client off the waitlist) and kicks the mailer. The mailer
 * has its own SQLite connection; it picks queued messages that are due, sends them in
 * one SMTP session per relay with pipelining, and marks each one sent as soon as the
 * relay has accepted it, so that a kill -9 at any moment neither loses a message nor
 * sends again one the relay took. Temporary failures are retried with exponential
 * backoff, permanent ones are recorded per recipient.
 *
 * Two kinds of mail (enum upn_mail_kind): recovery mails from the template, with an
 * unsubscribe link when cfg->link_base is set; and the portal's confirmation mails,
 * from upn_mail_confirm_template, whose link the mailer makes from the outbox row
 * (client, server, recipient, and the expiry in last) with cfg->link_key and
 * cfg->link_base. A confirmation mail is failed instead when its link has expired
 * or there is no link base. A recovery mail to an address in the suppressed table
 * is failed with last_error "unsubscribed"; a confirmation mail still goes, since
 * asking again is how an address leaves that table.
 *
 * Three more kinds carry their text in the outbox (relaymail.h): a relay mail (the
 * signed list of waiting clients, to an agent), signed at send time with the key
 * named in its row from cfg->relay_keys (no key: failed, "no key KEYID"); a
 * webhook, the list as JSON POSTed to the URL in its recipient column (webhook.h)
 * in this thread, one at a time, even with no SMTP relay configured; its outbox
 * relay column records the URL's host and message_id the list id; and a reply to a
 * mail command. Neither a relay mail nor a reply is checked against the suppressed
 * table or gets an unsubscribe link. Webhooks take no mail rate slot; retries,
 * backoff and give-up are the same for all. */
#ifndef UPN_MAILER_H
#define UPN_MAILER_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct upn_mailer_stats {
	uint64_t sent;		   /* accepted by a relay */
	uint64_t temp_failures;	   /* 4xx or connection trouble: retried */
	uint64_t perm_failures;	   /* 5xx, or given up after give_up_ms: failed */
	uint64_t sessions;	   /* SMTP sessions opened */
	uint64_t relay_failures;   /* relays found dead */
	uint64_t rate_limited;	   /* messages held back by a rate limit */
	uint64_t header_rejected;  /* messages refused: a value would inject a header */
	uint64_t suppressed;	   /* recovery mails not sent: the recipient unsubscribed */
	uint64_t bad_links;	   /* confirm mails failed: link expired, or none to make */
	uint64_t webhooks_sent;	   /* webhooks answered with a 2xx */
	uint64_t webhook_failures; /* webhook POSTs that failed, temporary or not */
	uint64_t queued;	   /* gauge: messages waiting */
	uint64_t db_errors;	   /* outbox updates that failed (each retried) */
};

struct upn_mailer;

/* Opens its own connection to the store's database at @db_path (the store must have
 * created the schema) and starts the thread. NULL with a message in @err. */
struct upn_mailer *upn_mailer_start(const struct upn_mail_config *cfg, const char *db_path,
				    char *err, size_t errlen);
/* New mail was committed: look now rather than at the next poll. Async-signal-safe. */
void upn_mailer_kick(struct upn_mailer *m);
/* Finishes the message in hand (never abandons one the relay may have accepted
 * without recording it), then stops the thread. */
void upn_mailer_stop(struct upn_mailer *m);
void upn_mailer_get_stats(struct upn_mailer *m, struct upn_mailer_stats *out);

/* For `upnotifyctl outbox`: the newest @limit messages as a JSON array of {"id",
 * "recipient", "server", "client", "state", "tries", "last_error", "created", "sent"}
 * (times RFC 3339 UTC, null when not yet), plus "next_try", "relay", "message_id" and
 * "kind" ("recovery", "confirm", "relay", "webhook" or "reply").
 * Reads the database with a connection of its own, never waiting on the writer. */
json_t *upn_mailer_outbox(const char *db_path, unsigned int limit, char *err, size_t errlen);

/* The message text for one outbox row, headers and body, CRLF line ends. Exposed for
 * tests and the fuzzer. NULL if a value would inject a header (CR, LF or NUL in it).
 * @tmpl NULL is the built-in template; mailtext.h describes templates. from, to,
 * server and message_id (without its angle brackets) are required; server_name may
 * be NULL or "" (then the address stands for it); so may link and unsubscribe. A
 * non-empty unsubscribe adds the List-Unsubscribe headers. errno: EINVAL for a
 * refused value or template, ENOMEM. */
struct upn_mail_fields {
	const char *from, *to, *server, *server_name, *client, *message_id;
	const char *link;	 /* {link}: a confirmation mail's URL */
	const char *unsubscribe; /* {unsubscribe} and List-Unsubscribe: a recovery mail's */
	int64_t recovered, first, now;
	int64_t expires; /* {expires}: when the confirmation link expires */
	uint16_t port;
};
char *upn_mail_render(const char *tmpl, const struct upn_mail_fields *f);

#endif
