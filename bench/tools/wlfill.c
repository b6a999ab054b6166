// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * wlfill: put one down server and N waiting clients, each with its own mail address,
 * into an upnotifyd store, for the mail benchmarks in bench/run. It goes through the
 * daemon's own store code (upn_store_open, upn_store_apply), so the rows are exactly
 * what upnotifyd writes and reads back; the daemon must not be running on @DB.
 *
 * usage: wlfill DB SERVER N [DOMAIN]
 *   server SERVER, state down (SYN timeout) since a minute ago;
 *   clients 2001:db8:100::1 ... (N of them, N <= 1000000; table entries only, they
 *   never send a packet), each waiting for SERVER port 80 since a minute ago;
 *   the client mail table: 2001:db8:100::K/128 -> cK@DOMAIN (default example.test).
 * Prints "filled N" when done. One transaction per 4096 rows.
 */
#include <linux/upnotify.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "store.h"

#define CHUNK 4096
#define N_MAX 1000000

static void client_addr(uint32_t k, struct upn_addr *a)
{
	uint8_t c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00 };

	c[12] = (uint8_t)(k >> 24);
	c[13] = (uint8_t)(k >> 16);
	c[14] = (uint8_t)(k >> 8);
	c[15] = (uint8_t)k;
	upn_addr_set(a, AF_INET6, c);
}

static int flush(struct upn_store *st, struct upn_store_op *ops, size_t *n)
{
	int ret = *n ? upn_store_apply(st, ops, *n) : 0;

	if (ret)
		fprintf(stderr, "wlfill: store: %s\n", strerror(-ret));
	*n = 0;
	return ret;
}

int main(int argc, char **argv)
{
	const char *domain = argc > 4 ? argv[4] : "example.test";
	struct upn_store_op *ops;
	struct upn_addr server;
	struct upn_store *st;
	char err[512], *end;
	unsigned long n;
	int64_t since = (int64_t)time(NULL) - 60;
	size_t k = 0;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s DB SERVER N [DOMAIN]\n", argv[0]);
		return 2;
	}
	n = strtoul(argv[3], &end, 10);
	if (*end || !n || n > N_MAX || upn_addr_parse(argv[2], &server) || strlen(domain) > 64) {
		fprintf(stderr, "wlfill: expected an address and 1..%d clients\n", N_MAX);
		return 2;
	}
	st = upn_store_open(argv[1], err, sizeof(err));
	if (!st) {
		fprintf(stderr, "wlfill: %s\n", err);
		return 1;
	}
	ops = calloc(CHUNK, sizeof(*ops));
	if (!ops) {
		upn_store_close(st);
		return 1;
	}
	ops[k].kind = UPN_STORE_PUT_SERVER;
	ops[k].server = (struct upn_store_server){ .addr = server,
						   .state = UPN_SERVER_DOWN,
						   .cause = UPNOTIFY_CAUSE_SYN_TIMEOUT,
						   .since = since };
	k++;
	for (uint32_t i = 1; i <= n; i++) {
		struct upn_store_op *e, *c;

		if (k + 2 > CHUNK && flush(st, ops, &k))
			goto fail;
		e = &ops[k++];
		c = &ops[k++];
		memset(e, 0, sizeof(*e));
		memset(c, 0, sizeof(*c));
		e->kind = UPN_STORE_PUT_ENTRY;
		e->entry.server = server;
		client_addr(i, &e->entry.client);
		e->entry.first = since;
		e->entry.last = since + 30;
		e->entry.attempts = 1;
		e->entry.cause = UPNOTIFY_CAUSE_SYN_TIMEOUT;
		e->entry.proto = IPPROTO_TCP;
		e->entry.port = 80;
		c->kind = UPN_STORE_PUT_CLIENT;
		c->client.prefix.addr = e->entry.client;
		c->client.prefix.len = 128;
		c->client.registered = since;
		snprintf(c->client.mail, sizeof(c->client.mail), "c%u@%s", i, domain);
	}
	if (flush(st, ops, &k))
		goto fail;
	free(ops);
	upn_store_close(st);
	printf("filled %lu\n", n);
	return 0;
fail:
	free(ops);
	upn_store_close(st);
	return 1;
}
