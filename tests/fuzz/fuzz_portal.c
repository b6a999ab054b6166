// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * One client connection's bytes, as a client may send them, to the inquiry portal:
 * libmicrohttpd's parsing, then ours (paths, form fields, tokens, registration),
 * on a daemon state built once with a down server. The portal runs detached (no
 * listener, no nft table): the input is written into one end of a socketpair and
 * the other end handed to it as a connection from 192.0.2.10 to the down server.
 * Whatever the input, the answer must be an HTTP response or nothing.
 *
 * A MAC cannot be guessed, so the markers @CSRF@, @CONFIRM@ and @UNSUB@ in an input
 * are replaced with valid tokens made now: the seeds reach registration, double
 * opt-in and unsubscribing, and the fuzzer mutates everything around them.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fuzz.h"
#include "log.h"
#include "portal.h"
#include "token.h"

static struct upn_daemon daemon_state;
static struct upn_portal *portal;

static void no_emit(void *ctx, const struct upn_event *ev)
{
}

static void build_once(struct upn_daemon *d)
{
	struct upn_addr server;
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = UPNOTIFY_CAUSE_SYN_TIMEOUT,
		.proto = IPPROTO_TCP,
		.port = 80,
		.ts_ns = 1795341792ull * 1000000000ull,
	};

	upn_log_open("fuzz_portal", 1, LOG_EMERG);
	upn_config_defaults(&d->cfg);
	d->cfg.portal.enable = true;
	d->cfg.portal.client_rate = 1000000;
	d->cfg.portal.address_rate = 1000000;
	snprintf(d->cfg.portal.gateway_url, sizeof(d->cfg.portal.gateway_url),
		 "http://192.0.2.1:8080");
	memset(d->cfg.mail.link_key, 7, sizeof(d->cfg.mail.link_key));
	upn_journal_init(&d->journal, NULL);
	CHECK(!upn_clients_init(&d->clients, 1024, &d->journal));
	CHECK(!upn_waitlist_init(&d->wl, 64, 16, &d->journal));
	d->wl.clients = &d->clients;
	CHECK(!upn_detect_init(&d->detect, &d->cfg, &d->wl, no_emit, d));
	upn_notify_init(&d->notify, &d->wl, &d->clients, &d->journal, d->cfg.max_wait_s);
	d->source = UPN_SOURCE_NFQUEUE;
	CHECK(!upn_addr_parse("198.51.100.2", &ev.client) &&
	      !upn_addr_parse("203.0.113.2", &ev.server));
	upn_waitlist_event(&d->wl, &ev);
	server = ev.server;
	upn_journal_flush(&d->journal);
	portal = upn_portal_open_detached(d, &server);
	CHECK(portal);
}

static int serve(const char *data, size_t size);

/* @in with each marker replaced by its token; malloc'ed, its length in *@len. */
static char *expand(const uint8_t *in, size_t size, size_t *len)
{
	struct upn_token_confirm c = { .expires = 4102444800 /* 2100 */ };
	char csrf[UPN_TOKEN_LEN_MAX + 1], confirm[UPN_TOKEN_LEN_MAX + 1];
	char unsub[UPN_TOKEN_LEN_MAX + 1];
	const struct {
		const char *marker, *value;
	} subst[] = { { "@CSRF@", csrf }, { "@CONFIRM@", confirm }, { "@UNSUB@", unsub } };
	const unsigned char *key = daemon_state.cfg.mail.link_key;
	char *out = malloc(size * 80 + 1), *o = out;
	struct upn_addr client, server;

	CHECK(out);
	CHECK(!upn_addr_parse("192.0.2.10", &client) && !upn_addr_parse("203.0.113.2", &server));
	c.client = client;
	c.server = server;
	strcpy(c.mail, "someone@example.org");
	CHECK(!upn_token_csrf_make(key, &client, &server, time(NULL), csrf, sizeof(csrf)));
	CHECK(!upn_token_confirm_make(key, &c, confirm, sizeof(confirm)));
	CHECK(!upn_token_unsub_make(key, "someone@example.org", unsub, sizeof(unsub)));
	for (size_t i = 0; i < size;) {
		size_t k;

		for (k = 0; k < sizeof(subst) / sizeof(subst[0]); k++) {
			size_t ml = strlen(subst[k].marker);

			if (size - i >= ml && !memcmp(in + i, subst[k].marker, ml)) {
				o = stpcpy(o, subst[k].value);
				i += ml;
				break;
			}
		}
		if (k == sizeof(subst) / sizeof(subst[0]))
			*o++ = (char)in[i++];
	}
	*len = (size_t)(o - out);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t rawsize)
{
	size_t size;
	char *data;
	int ret;

	if (!portal)
		build_once(&daemon_state);
	/* More than a socket buffer would block the write; MHD caps a request far
	 * below this anyway. */
	if (rawsize > 8192)
		return 0;
	data = expand(raw, rawsize, &size);
	ret = serve(data, size);
	free(data);
	return ret;
}

static int serve(const char *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000) };
	static char reply[1 << 16];
	bool checked = false;
	size_t got = 0;
	int sv[2];

	inet_pton(AF_INET, "192.0.2.10", &peer.sin_addr);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK(write(sv[0], data, size) == (ssize_t)size || size == 0);
	shutdown(sv[0], SHUT_WR);
	if (upn_portal_add_connection(portal, sv[1], (struct sockaddr *)&peer, sizeof(peer))) {
		close(sv[0]);
		return 0;
	}
	/* Serve until the portal closes its end; a registration's answer waits for the
	 * journal, which has no store here: flushing it makes it "durable" at once. */
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		upn_journal_flush(&daemon_state.journal);
		upn_portal_tick(portal, UINT64_MAX);
		upn_portal_run(portal);
		n = recv(sv[0], reply + got, sizeof(reply) - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		/* Either nothing (a request MHD refused to answer) or a response. */
		if (!checked && got >= 7) {
			CHECK(!memcmp(reply, "HTTP/1.", 7));
			checked = true;
		}
		if (got == sizeof(reply) - 1)
			got = 0; /* pipelined answers: keep reading, the start is checked */
	}
	close(sv[0]);
	/* The connection may still be open on MHD's side (keep-alive): run until it
	 * sees the close, so that inputs do not pile up connections. */
	for (int i = 0; i < 10; i++)
		upn_portal_run(portal);
	return 0;
}
