/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The inquiry portal (patent claims 14-17, embodiments 4 and 5): while a server is
 * down, HTTP connections to it are answered here in its place (portalnet.h diverts
 * them), with a page that says so and asks whether, and where, to send a mail when it
 * is back (portalpage.h); the answer goes into the client mail table and the client
 * onto the server's waitlist, and the recovery mail of notify.h then reaches it.
 *
 * libmicrohttpd parses HTTP, in external-epoll mode inside the daemon's one loop, so
 * that registering touches the tables from the same thread as every other event.
 * A registration's answer waits (the connection suspended) until the store has
 * committed it: a page that says "we will tell you" is never a promise a crash can
 * take back. */
#ifndef UPN_PORTAL_H
#define UPN_PORTAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

struct upn_daemon;
struct upn_portal;

struct upn_portal_stats {
	uint64_t pages;		     /* inquiry pages served */
	uint64_t already_registered; /* ... of which the "you are registered" page */
	uint64_t registered;	     /* addresses registered (confirmed when confirm = yes) */
	uint64_t declined;
	uint64_t confirm_sent; /* confirmation mails queued */
	uint64_t confirmed;
	uint64_t unsubscribed;
	uint64_t back_up;     /* requests for a server that is no longer down */
	uint64_t not_found;   /* other paths on the gateway's own address */
	uint64_t rej_csrf;    /* missing, forged, stale or someone else's CSRF token */
	uint64_t rej_address; /* not a usable mail address (or an injection attempt) */
	uint64_t rej_rate_client;
	uint64_t rej_rate_address;
	uint64_t rej_server_full; /* server_max registrations for this outage */
	uint64_t rej_not_down;	  /* registering for a server that is not down */
	uint64_t rej_too_big;	  /* a body over max_body */
	uint64_t rej_bad_request; /* a method, field or form we do not take */
	uint64_t rej_token;	  /* a bad or expired confirmation/unsubscribe link */
	uint64_t conn_limit;	  /* connections refused: max_connections open */
	uint64_t timeouts;	  /* connections closed for idling (slowloris) */
	uint64_t connections;	  /* accepted */
	uint64_t nft_errors;	  /* the nft set could not be updated */
};

/* Opens the listener and the nft table, and adds the servers already down. NULL on
 * error, logged. */
struct upn_portal *upn_portal_open(struct upn_daemon *d);
void upn_portal_close(struct upn_portal *p);
/* For the fuzzer and tests: a portal with no listener, no nft table and no place in
 * the loop. Connections are handed in with upn_portal_add_connection() and served by
 * upn_portal_run(); one whose local address is no IP one (a socketpair's) is taken
 * for a connection to @local. */
struct upn_portal *upn_portal_open_detached(struct upn_daemon *d, const struct upn_addr *local);
int upn_portal_add_connection(struct upn_portal *p, int fd, const struct sockaddr *client,
			      socklen_t len);
void upn_portal_run(struct upn_portal *p);
/* A server's state changed (waitlist.h's on_state). */
void upn_portal_server_state(struct upn_portal *p, const struct upn_addr *server, bool down);
/* The loop's turn: HTTP work that is due, and answers whose registrations the store
 * has made durable (@durable: its sequence number). */
void upn_portal_tick(struct upn_portal *p, uint64_t durable);
/* CLOCK_MONOTONIC ms when upn_portal_tick must run next, or -1. */
int64_t upn_portal_deadline(struct upn_portal *p);
void upn_portal_get_stats(const struct upn_portal *p, struct upn_portal_stats *out);
/* The counters as "portal.*" members of @counters, gauges into @gauges. */
void upn_portal_stats_json(const struct upn_portal *p, json_t *counters, json_t *gauges);

#endif
