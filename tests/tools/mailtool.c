// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The mailer without the daemon, for tests/scenarios/10-mail.sh:
 *
 *   mailtool queue DB N [--to FMT] [--server ADDR] [--outage T] [--base K]
 *       N recovery mails through the store (UPN_STORE_PUT_MAIL), client i being
 *       10.0.x.y for i = K..K+N-1 and the recipient FMT with i (default
 *       "user%d@example.test"). A mail already queued is ignored, as in the daemon.
 *   mailtool run DB [mail options] [--until-empty] [--timeout S]
 *       Runs the mailer until nothing is queued (--until-empty; exit 1 if that takes
 *       longer than S seconds) or for S seconds; then prints its counters and the
 *       time it took as one JSON object.
 *   mailtool outbox DB [LIMIT]
 *       upn_mailer_outbox(), as `upnotifyctl outbox` gets it.
 *
 * Mail options: --relay HOST:PORT (repeatable), --least-loaded, --starttls
 * no|yes|required, --ca FILE, --auth FILE, --template FILE, --from ADDR, --rate N,
 * --rate-domain N, --retry-min MS, --retry-max MS, --give-up MS, --relay-retry MS.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/upnotify.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "mailer.h"
#include "store.h"

static int usage(void)
{
	fprintf(stderr, "usage: mailtool queue DB N [options] | run DB [options] | "
			"outbox DB [LIMIT]\n");
	return 2;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmd_queue(const char *db, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "server", required_argument, NULL, 's' },
		{ "outage", required_argument, NULL, 'o' },
		{ "base", required_argument, NULL, 'b' },
		{ 0 },
	};
	const char *to = "user%d@example.test", *server = "127.0.0.1";
	long n = strtol(argv[0], NULL, 10), base = 0;
	int64_t outage = 1700000000;
	struct upn_store_op *ops;
	struct upn_store *st;
	char err[256];
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			to = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'o':
			outage = strtoll(optarg, NULL, 10);
			break;
		case 'b':
			base = strtol(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (n <= 0)
		return usage();
	ops = calloc((size_t)n, sizeof(*ops));
	if (!ops)
		return 1;
	for (long i = 0; i < n; i++) {
		struct upn_store_mail *m = &ops[i].mail;
		long k = base + i;
		uint8_t raw[4] = { 10, (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };

		ops[i].kind = UPN_STORE_PUT_MAIL;
		if (upn_addr_parse(server, &m->server))
			return usage();
		upn_addr_set(&m->client, AF_INET, raw);
		m->outage = outage;
		m->recovered = outage + 600;
		m->first = outage + 5;
		m->last = outage + 50;
		m->attempts = 3;
		m->cause = UPNOTIFY_CAUSE_SYNACK;
		m->port = 443;
		m->proto = IPPROTO_TCP;
		snprintf(m->recipient, sizeof(m->recipient), to, (int)k);
	}
	st = upn_store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "mailtool: %s\n", err);
		return 1;
	}
	ret = upn_store_apply(st, ops, (size_t)n);
	upn_store_close(st);
	free(ops);
	if (ret) {
		fprintf(stderr, "mailtool: apply: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}

static int64_t queued(sqlite3 *db)
{
	sqlite3_stmt *s;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE state = 'queued'", -1, &s,
			       NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static int add_relay(struct upn_mail_config *c, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	struct upn_relay *r;

	r = realloc(c->relays, (c->nrelays + 1) * sizeof(*r));
	if (!r || !colon)
		return -1;
	c->relays = r;
	r = &r[c->nrelays++];
	snprintf(r->host, sizeof(r->host), "%.*s", (int)(colon - arg), arg);
	r->port = (uint16_t)atoi(colon + 1);
	return 0;
}

static int cmd_run(const char *db, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "relay", required_argument, NULL, 'r' },
		{ "least-loaded", no_argument, NULL, 'l' },
		{ "starttls", required_argument, NULL, 'S' },
		{ "ca", required_argument, NULL, 'c' },
		{ "auth", required_argument, NULL, 'a' },
		{ "template", required_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'f' },
		{ "rate", required_argument, NULL, 'R' },
		{ "rate-domain", required_argument, NULL, 'D' },
		{ "retry-min", required_argument, NULL, 'm' },
		{ "retry-max", required_argument, NULL, 'M' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "relay-retry", required_argument, NULL, 'y' },
		{ "until-empty", no_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	struct upn_mail_config c = {
		.from = "upnotify@gw.example.test",
		.retry_min_ms = 1000,
		.retry_max_ms = 4000,
		.give_up_ms = 3600000,
		.relay_retry_ms = 500,
	};
	struct upn_mailer_stats st;
	struct upn_mailer *m;
	bool until_empty = false, done = false;
	double timeout = 30, t0;
	sqlite3 *rdb = NULL;
	char err[512];
	json_t *o;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (add_relay(&c, optarg))
				return usage();
			break;
		case 'l':
			c.order = UPN_RELAY_LEAST_LOADED;
			break;
		case 'S':
			c.starttls = !strcmp(optarg, "required") ? UPN_STARTTLS_REQUIRED :
				     !strcmp(optarg, "yes")	 ? UPN_STARTTLS_YES :
								   UPN_STARTTLS_NO;
			break;
		case 'c':
			snprintf(c.ca_file, sizeof(c.ca_file), "%s", optarg);
			break;
		case 'a':
			snprintf(c.auth_file, sizeof(c.auth_file), "%s", optarg);
			break;
		case 'T':
			snprintf(c.template_path, sizeof(c.template_path), "%s", optarg);
			break;
		case 'f':
			snprintf(c.from, sizeof(c.from), "%s", optarg);
			break;
		case 'R':
			c.rate = (uint32_t)atoi(optarg);
			break;
		case 'D':
			c.rate_per_domain = (uint32_t)atoi(optarg);
			break;
		case 'm':
			c.retry_min_ms = (uint32_t)atoi(optarg);
			break;
		case 'M':
			c.retry_max_ms = (uint32_t)atoi(optarg);
			break;
		case 'g':
			c.give_up_ms = (uint32_t)atoi(optarg);
			break;
		case 'y':
			c.relay_retry_ms = (uint32_t)atoi(optarg);
			break;
		case 'u':
			until_empty = true;
			break;
		case 't':
			timeout = atof(optarg);
			break;
		default:
			return usage();
		}
	}
	if (sqlite3_open_v2(db, &rdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "mailtool: %s: %s\n", db, sqlite3_errmsg(rdb));
		return 1;
	}
	sqlite3_busy_timeout(rdb, 5000);
	t0 = now_s();
	m = upn_mailer_start(&c, db, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "mailtool: %s\n", err);
		return 1;
	}
	upn_mailer_kick(m);
	while (now_s() - t0 < timeout) {
		if (until_empty && queued(rdb) == 0) {
			done = true;
			break;
		}
		usleep(10000);
	}
	t0 = now_s() - t0;
	upn_mailer_get_stats(m, &st);
	upn_mailer_stop(m);
	sqlite3_close(rdb);
	free(c.relays);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}", "sent",
		      (json_int_t)st.sent, "temp_failures", (json_int_t)st.temp_failures,
		      "perm_failures", (json_int_t)st.perm_failures, "sessions",
		      (json_int_t)st.sessions, "relay_failures", (json_int_t)st.relay_failures,
		      "rate_limited", (json_int_t)st.rate_limited, "header_rejected",
		      (json_int_t)st.header_rejected, "queued", (json_int_t)st.queued, "db_errors",
		      (json_int_t)st.db_errors, "elapsed_s", t0, "empty", done);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return until_empty && !done ? 1 : 0;
}

static int cmd_outbox(const char *db, int argc, char **argv)
{
	unsigned int limit = argc > 0 ? (unsigned int)atoi(argv[0]) : 100;
	char err[256];
	json_t *rows = upn_mailer_outbox(db, limit, err, sizeof(err));

	if (!rows) {
		fprintf(stderr, "mailtool: %s\n", err);
		return 1;
	}
	json_dumpf(rows, stdout, JSON_INDENT(1));
	putchar('\n');
	json_decref(rows);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "queue") && argc >= 4)
		return cmd_queue(argv[2], argc - 3, argv + 3);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argv[2], argc - 2, argv + 2);
	if (!strcmp(argv[1], "outbox"))
		return cmd_outbox(argv[2], argc - 3, argv + 3);
	return usage();
}
