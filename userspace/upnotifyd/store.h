/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The SQLite store: down servers, their waitlists, the client mail table, the
 * outbox of mails to send, the addresses that unsubscribed, long-lived secrets, the
 * server mail table (relay modes), the relay lists an agent has taken and its
 * counters.
 *
 * The event loop never touches SQLite after start-up. It collects changes into a
 * batch and hands the batch to the writer thread, which commits it in one transaction
 * and then publishes the batch's sequence number as durable. A failed commit is
 * rolled back and retried until it succeeds: a batch is never dropped. */
#ifndef UPN_STORE_H
#define UPN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "limits.h"
#include "relaymsg.h"

enum upn_server_state {
	UPN_SERVER_UP,	     /* recovered, clients not yet notified */
	UPN_SERVER_DOWN,     /* host unreachable: every SYN to it fails at once */
	UPN_SERVER_REFUSING, /* host answers, but refused or port-unreachable */
};

struct upn_store_server {
	struct upn_addr addr;
	uint8_t state; /* enum upn_server_state */
	uint8_t cause; /* enum upnotify_cause of the last change */
	int64_t since; /* unix seconds of the last change */
};

struct upn_store_entry {
	struct upn_addr server, client;
	int64_t first, last; /* unix seconds */
	uint32_t attempts;
	uint8_t cause; /* enum upnotify_cause of the last attempt */
	uint8_t proto; /* IPPROTO_* of the last attempt */
	uint8_t icmp_type, icmp_code;
	uint16_t port; /* server port of the last attempt */
};

struct upn_store_client {
	struct upn_prefix prefix;
	int64_t registered; /* unix seconds */
	char mail[UPN_MAIL_MAX + 1];
};

enum upn_mail_kind {
	UPN_MAIL_RECOVERY, /* the server is back (the outbox's 'recovery') */
	UPN_MAIL_CONFIRM,  /* double opt-in: click to register ('confirm') */
	UPN_MAIL_RELAY,	   /* the signed client list, by SMTP to an agent ('relay') */
	UPN_MAIL_WEBHOOK,  /* the list as JSON, POSTed to the URL in recipient ('webhook') */
	UPN_MAIL_REPLY,	   /* the answer to a mail command ('reply') */
};
/* "recovery", "confirm", "relay", "webhook", "reply"; NULL for another value. */
const char *upn_mail_kind_name(uint8_t kind);

/* How a recovered server's waiting clients are told (the server mail table). */
enum upn_relay_mode {
	UPN_RELAY_DIRECT,  /* each client by mail, from the client mail table */
	UPN_RELAY_SERVER,  /* the list by mail to the server's own agent */
	UPN_RELAY_NMS,	   /* the list by mail to the network management system's agent */
	UPN_RELAY_WEBHOOK, /* the list as JSON to a URL */
};
/* "direct", "server", "nms", "webhook"; NULL for another value. */
const char *upn_relay_mode_name(uint8_t mode);
/* The mode called @name, or -EINVAL. */
int upn_relay_mode_parse(const char *name);

/* A mail to send. A recovery mail is queued in the same transaction that takes its
 * client off the waitlist. (server, client, outage) is unique: one mail per outage,
 * ever.
 *
 * A confirm mail (the portal's double opt-in) fills in server and client, outage =
 * the time the form was taken (so a form sent twice in one second is one mail),
 * last = when its link expires (unix seconds, after outage), recovered = 0 and
 * recipient = the address to confirm; the other fields are not used. No link is
 * stored, neither for it nor for a recovery mail's unsubscribe: the mailer makes
 * them from these fields with the portal's key. An op is queued by the thousand in
 * a flood, so it holds nothing as long as a URL.
 *
 * A relay or webhook mail: client = the unspecified address of the server's family,
 * recipient = the agent's mail address or the http(s) URL (at most UPN_URL_MAX),
 * outage = down-since, first/last = the list's earliest first and latest last,
 * body = upn_relay_body() or upn_relay_json(), key_id = the key that signs it at
 * send time. A reply: server = client = 0.0.0.0, outage = a 64-bit hash of the
 * command mail's Message-ID and sender (one reply per command mail, ever),
 * recovered = now, recipient = the sender, body = "Subject: ...\nIn-Reply-To:
 * <id>\n\ntext".
 *
 * body is malloc'ed and owned by the op. Ops handed over with upn_store_submit: the
 * store frees every PUT_MAIL body once the batch is committed (or given up); with
 * upn_store_apply the caller keeps it. upn_journal_destroy frees the bodies of ops
 * it still holds. */
struct upn_store_mail {
	struct upn_addr server, client;
	int64_t outage;	   /* the server's down-since: names the outage */
	int64_t recovered; /* unix seconds */
	uint8_t cause;	   /* of the recovery, enum upnotify_cause */
	uint8_t kind;	   /* enum upn_mail_kind */
	uint16_t port;	   /* what the client tried */
	uint8_t proto;
	int64_t first, last; /* last: a confirm mail's link expiry */
	uint32_t attempts;
	char recipient[UPN_MAIL_MAX + 1];
	char *body;			      /* relay, webhook, reply: required; else NULL */
	char key_id[UPN_RELAY_KEYID_MAX + 1]; /* relay, webhook: required; else "" */
};

/* An address that unsubscribed: no recovery mail goes to it any more. */
struct upn_store_suppress {
	int64_t since; /* unix seconds */
	char mail[UPN_MAIL_MAX + 1];
};

/* An entry of the server mail table (figure 16): where a server's list goes. */
struct upn_store_srvmap {
	struct upn_prefix prefix;
	uint8_t mode;			      /* enum upn_relay_mode */
	char target[UPN_URL_MAX + 1];	      /* "" (direct), a mail address, or a URL */
	char key_id[UPN_RELAY_KEYID_MAX + 1]; /* "": the first key of the key file */
	int64_t registered;		      /* unix seconds */
};

/* A relay list an agent has taken: its id is never taken again. */
struct upn_store_seen {
	char id[UPN_RELAY_ID_LEN + 1]; /* 32 lowercase hex */
	char key_id[UPN_RELAY_KEYID_MAX + 1];
	struct upn_addr server;
	int64_t received; /* unix seconds; DEL_SEEN_BEFORE: the cut-off */
};

/* A named counter that survives restarts ([A-Za-z0-9._-]{1,47}). */
struct upn_store_counter {
	char name[48];
	int64_t delta;
};

enum upn_store_op_kind {
	UPN_STORE_PUT_SERVER,	/* insert or replace, by addr */
	UPN_STORE_DEL_SERVER,	/* by addr; deletes its entries too */
	UPN_STORE_PUT_ENTRY,	/* insert or replace, by (server, client) */
	UPN_STORE_DEL_ENTRY,	/* by (server, client) */
	UPN_STORE_PUT_CLIENT,	/* insert or replace, by prefix */
	UPN_STORE_DEL_CLIENT,	/* by prefix */
	UPN_STORE_PUT_MAIL,	/* into the outbox, state queued; a duplicate is ignored */
	UPN_STORE_PUT_SUPPRESS, /* insert or replace, by mail */
	UPN_STORE_DEL_SUPPRESS, /* by mail */
	UPN_STORE_PUT_SRVMAP,	/* insert or replace, by prefix */
	UPN_STORE_DEL_SRVMAP,	/* by prefix */
	/* A plain insert: a duplicate id fails the whole transaction with -EEXIST.
	 * upn_store_apply only (upn_store_submit refuses it: the writer thread would
	 * retry the batch for ever). */
	UPN_STORE_PUT_SEEN,
	UPN_STORE_DEL_SEEN_BEFORE, /* every row with received < seen.received */
	UPN_STORE_ADD_COUNTER,	   /* value += delta, from 0 for a new name */
};

struct upn_store_op {
	uint8_t kind; /* enum upn_store_op_kind */
	union {
		struct upn_store_server server;
		struct upn_store_entry entry;
		struct upn_store_client client;
		struct upn_store_mail mail;
		struct upn_store_suppress suppress;
		struct upn_store_srvmap srvmap;
		struct upn_store_seen seen;
		struct upn_store_counter counter;
	};
};

struct upn_store_loader {
	void *ctx;
	/* Each returns 0 to go on, or a negative errno that aborts the load. */
	int (*server)(void *ctx, const struct upn_store_server *s);
	int (*entry)(void *ctx, const struct upn_store_entry *e);
	int (*client)(void *ctx, const struct upn_store_client *c);
	int (*srvmap)(void *ctx, const struct upn_store_srvmap *s);
};

struct upn_store_stats {
	uint64_t commits;      /* transactions committed */
	uint64_t ops;	       /* operations committed */
	uint64_t errors;       /* failed commits (each retried) */
	uint64_t last_batch;   /* operations in the last committed batch */
	uint64_t load_skipped; /* invalid rows (bad address, cause, ...) not loaded */
};

struct upn_store;

/* Opens or creates the database at @path, in WAL mode, and migrates its schema to the
 * current version. Refuses (NULL, message in @err) a database from a newer version
 * and a file that is not a database, leaving either untouched. */
struct upn_store *upn_store_open(const char *path, char *err, size_t errlen);
/* Commits whatever was submitted, stops the writer thread, closes the database and
 * the eventfd. If the batch in flight keeps failing, it is given up after a few
 * more tries, with a message on stderr, rather than hang the shutdown. */
void upn_store_close(struct upn_store *st);

/* Reads everything back, servers first, then entries, then clients, then the server
 * mail table, each in key
 * order; an entry always comes after its server. Rows that the store could not have
 * written are skipped and counted in load_skipped. A NULL callback skips its table.
 * Start-up only: -EBUSY once the writer thread runs. */
int upn_store_load(struct upn_store *st, const struct upn_store_loader *l);
/* Applies @ops in one transaction in the caller's thread. 0 or -errno (rolled back):
 * -EINVAL for an invalid op (nothing written), -EEXIST for a PUT_SEEN of an id
 * already there, -EBUSY for a lock held too long or once the writer thread runs,
 * -ENOSPC for a full disk, -EIO otherwise. Bodies stay the caller's. */
int upn_store_apply(struct upn_store *st, const struct upn_store_op *ops, size_t n);

/* Has the relay list @id been taken (PUT_SEEN)? 1 yes, 0 no, or -errno (-EBUSY
 * once the writer thread runs, like upn_store_apply). */
int upn_store_seen(struct upn_store *st, const char *id);
/* The counters in name order, one call each (0 to go on, or a negative errno that
 * aborts). -EBUSY once the writer thread runs. */
int upn_store_counters(struct upn_store *st, int (*cb)(void *ctx, const char *name, int64_t v),
		       void *ctx);
/* Frees the body of each PUT_MAIL op of @ops and clears it (not @ops itself). */
void upn_store_ops_free_bodies(struct upn_store_op *ops, size_t n);

/* The suppressed addresses in mail order, one call each (0 to go on, or a negative
 * errno that aborts), skipping and counting invalid rows as load does. Start-up
 * only: -EBUSY once the writer thread runs. */
int upn_store_load_suppressed(struct upn_store *st,
			      int (*cb)(void *ctx, const struct upn_store_suppress *s), void *ctx);

/* The secret called @name, @len bytes (at most 1024): read from the secrets table,
 * or made with randombytes_buf() and stored there the first time, so it survives
 * restarts. 0, or -errno: -EINVAL for a stored value of another length (left as it
 * is: delete the row to get a new one), -EBUSY once the writer thread runs.
 * Start-up only, like load. */
int upn_store_secret(struct upn_store *st, const char *name, unsigned char *out, size_t len);

/* Starts the writer thread. Returns an eventfd that becomes readable each time a batch
 * is committed (read it to clear it), or -errno. */
int upn_store_start(struct upn_store *st);
/* Hands @ops (malloc'ed; the store frees it, and the bodies of its PUT_MAIL ops) to
 * the writer thread. @seq must grow with every batch. -EBUSY while the previous
 * batch is still being committed, -EINVAL for an invalid op (or a PUT_SEEN) or seq;
 * on error @ops and its bodies stay the caller's. */
int upn_store_submit(struct upn_store *st, struct upn_store_op *ops, size_t n, uint64_t seq);
bool upn_store_idle(struct upn_store *st);
/* The highest @seq committed. */
uint64_t upn_store_durable_seq(struct upn_store *st);
/* An SQLite result code as a negative errno (0 for OK, ROW and DONE); shared with the
 * mailer's own connection to the outbox. */
int upn_store_errno(int rc);
void upn_store_get_stats(struct upn_store *st, struct upn_store_stats *out);

#endif
