// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* Waitlist figures for bench/README.md:
 *  - bytes of daemon memory per waiting (server, client), for N entries;
 *  - store inserts/s, batched (the daemon's way) against one transaction per entry,
 *    measured side by side in the same run.
 * usage: wlbench [ENTRIES] [DIR] */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "store.h"
#include "waitlist.h"

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static void event_for(struct upn_event *ev, uint32_t i)
{
	uint32_t server = i / 1000, client = i % 1000 + (i / 1000) * 7919;
	uint8_t s[4] = { 203, 0, (uint8_t)(server >> 8), (uint8_t)server };
	uint8_t c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };

	memcpy(c + 12, &client, sizeof(client));
	memset(ev, 0, sizeof(*ev));
	ev->type = UPNOTIFY_CMD_FAILED_ACCESS_NTF;
	ev->cause = UPNOTIFY_CAUSE_SYN_TIMEOUT;
	ev->proto = IPPROTO_TCP;
	ev->port = 80;
	upn_addr_set(&ev->server, AF_INET, s);
	upn_addr_set(&ev->client, AF_INET6, c);
	ev->ts_ns = upn_now_real_ns();
}

static void memory(uint32_t n)
{
	struct upn_journal j;
	struct upn_waitlist wl;
	struct upn_event ev;
	long before = rss_bytes(), after;

	upn_journal_init(&j, NULL);
	upn_waitlist_init(&wl, n + 1, n + 1, &j);
	for (uint32_t i = 0; i < n; i++) {
		event_for(&ev, i);
		upn_waitlist_event(&wl, &ev);
		if (j.n >= 65536)
			upn_journal_flush(&j);
	}
	upn_journal_flush(&j);
	upn_journal_destroy(&j);
	after = rss_bytes();
	printf("waitlist entries            %u (%u servers)\n", upn_waitlist_count(&wl),
	       wl.servers.live);
	printf("waitlist bytes/entry        %.1f (tables), %.1f (process RSS growth)\n",
	       (double)upn_waitlist_bytes(&wl) / n, (double)(after - before) / n);
	upn_waitlist_destroy(&wl);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Inserts @n entries in transactions of @batch ops; returns inserts per second. */
static double insert_rate(struct upn_store *st, uint32_t base, uint32_t n, uint32_t batch)
{
	struct upn_store_op *ops = calloc(batch + 1, sizeof(*ops));
	struct upn_event ev;
	double t0 = now_s();

	for (uint32_t done = 0; done < n; done += batch) {
		uint32_t k = 0;

		for (; k < batch && done + k < n; k++) {
			event_for(&ev, base + done + k);
			ops[k].kind = UPN_STORE_PUT_ENTRY;
			ops[k].entry = (struct upn_store_entry){
				.server = ev.server,
				.client = ev.client,
				.first = 1,
				.last = 2,
				.attempts = 1,
				.cause = ev.cause,
				.proto = ev.proto,
				.port = ev.port,
			};
		}
		if (upn_store_apply(st, ops, k)) {
			fprintf(stderr, "wlbench: store apply failed\n");
			exit(1);
		}
	}
	free(ops);
	return n / (now_s() - t0);
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char path[4096], err[256];
	struct upn_store *st;
	struct upn_store_op srv[64];
	double batched = 0, single = 0;
	const int rounds = 3;

	memory(n);

	snprintf(path, sizeof(path), "%s/wlbench-%d.db", dir, getpid());
	st = upn_store_open(path, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "wlbench: %s\n", err);
		return 1;
	}
	/* The servers the entries refer to. */
	memset(srv, 0, sizeof(srv));
	for (uint32_t i = 0; i < 64; i++) {
		struct upn_event ev;

		event_for(&ev, i * 1000);
		srv[i].kind = UPN_STORE_PUT_SERVER;
		srv[i].server.addr = ev.server;
		srv[i].server.state = UPN_SERVER_DOWN;
	}
	upn_store_apply(st, srv, 64);
	/* Alternate the two so that both see the same machine. */
	for (int r = 0; r < rounds; r++) {
		batched += insert_rate(st, (uint32_t)r * 40000, 20000, 4096);
		single += insert_rate(st, (uint32_t)r * 40000 + 20000, 500, 1);
	}
	printf("store inserts/s batched     %.0f (4096 per transaction)\n", batched / rounds);
	printf("store inserts/s unbatched   %.0f (1 per transaction)\n", single / rounds);
	printf("store batching ratio        %.1fx\n", batched / single);
	upn_store_close(st);
	unlink(path);
	strcat(path, "-wal");
	unlink(path);
	strcpy(path + strlen(path) - 4, "-shm");
	unlink(path);
	return 0;
}
