// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * `upnotifyctl monitor`: the reference subscriber of the "upnotify" generic netlink
 * family (include/uapi/linux/upnotify.h), like `conntrack -E`. It resolves the family,
 * joins the "events" group and prints each event on one line:
 *
 *   [2026-11-22T07:30:01.123Z] failed-access 198.51.100.2 -> 203.0.113.2 tcp/80 syn-timeout
 *   [2026-11-22T07:30:01.123Z] server-down 203.0.113.2 (syn-timeout)
 *   [2026-11-22T07:31:12.004Z] server-up 203.0.113.2 (syn-ack, via 198.51.100.2)
 *
 * The module batches events: one read may hold several messages, so walk them all.
 * A subscriber that falls behind gets ENOBUFS: events were dropped; say so and go on.
 */
#include "monitor.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "genl.h"

static void time_fmt(uint64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned int)(ns / 1000000 % 1000));
}

static const char *proto_name(uint8_t proto, char *buf)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	}
	sprintf(buf, "proto-%u", proto);
	return buf;
}

static void print_text(const struct upn_event *ev, const char *when)
{
	char c[UPN_ADDRSTRLEN], s[UPN_ADDRSTRLEN], p[16];

	printf("[%s] %s ", when, upn_event_name(ev->type));
	upn_addr_fmt(&ev->server, s);
	if (ev->type == UPNOTIFY_CMD_FAILED_ACCESS_NTF) {
		printf("%s -> %s %s/%u %s", upn_addr_fmt(&ev->client, c), s,
		       proto_name(ev->proto, p), ev->port, upn_cause_name(ev->cause));
		if (ev->cause == UPNOTIFY_CAUSE_ICMP_UNREACH)
			printf(" (type %u code %u)", ev->icmp_type, ev->icmp_code);
	} else if (ev->client.family) {
		printf("%s (%s, via %s)", s, upn_cause_name(ev->cause),
		       upn_addr_fmt(&ev->client, c));
	} else {
		printf("%s (%s)", s, upn_cause_name(ev->cause));
	}
	putchar('\n');
}

static void print_json(const struct upn_event *ev, const char *when)
{
	char buf[UPN_ADDRSTRLEN];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "event",
			      upn_event_name(ev->type), "server", upn_addr_fmt(&ev->server, buf),
			      "cause", upn_cause_name(ev->cause));

	if (ev->client.family)
		json_object_set_new(o, "client", json_string(upn_addr_fmt(&ev->client, buf)));
	if (ev->type != UPNOTIFY_CMD_FAILED_ACCESS_NTF)
		goto out;
	json_object_set_new(o, "proto", json_integer(ev->proto));
	json_object_set_new(o, "port", json_integer(ev->port));
	if (ev->cause == UPNOTIFY_CAUSE_ICMP_UNREACH) {
		json_object_set_new(o, "icmp_type", json_integer(ev->icmp_type));
		json_object_set_new(o, "icmp_code", json_integer(ev->icmp_code));
	}
out:
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

struct stats {
	uint16_t family_id;
	uint64_t v[UPNOTIFY_STAT_MAX + 1];
};

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats *st = data;

	return upn_genl_decode_stats(nlh, st->family_id, st->v, UPNOTIFY_STAT_MAX + 1) < 0 ?
		       -EBADMSG :
		       0;
}

/* The module's count of events it could not deliver: the size of a loss. */
static uint64_t event_fails(struct mnl_socket *req, const struct upn_genl_family *fam)
{
	struct stats st = { .family_id = fam->id };
	char buf[128], err[256];
	static uint32_t seq;

	if (upn_genl_request(req, upn_genl_put_get_stats(buf, sizeof(buf), fam->id, ++seq),
			     stats_cb, &st, err, sizeof(err)))
		return 0;
	return st.v[UPNOTIFY_STAT_EVENT_FAILS];
}

/* Only there to make ppoll() return EINTR. */
static void on_signal(int sig)
{
}

int upn_monitor(bool json)
{
	static char buf[65536];
	struct mnl_socket *ev = upn_genl_open(0), *req = upn_genl_open(0);
	struct pollfd pfd = { .events = POLLIN };
	struct upn_genl_family fam;
	sigset_t block, orig;
	uint64_t fails;
	char err[512];
	int ret, rcvbuf = 4 << 20;

	if (!ev || !req) {
		fprintf(stderr, "monitor: cannot open a netlink socket: %s\n", strerror(errno));
		return 1;
	}
	ret = upn_genl_resolve(req, &fam, err, sizeof(err));
	if (ret == -ENOENT)
		snprintf(err, sizeof(err), "the upnotify module is not loaded (modprobe upnotify)");
	if (ret || (ret = upn_genl_subscribe(ev, &fam))) {
		fprintf(stderr, "monitor: %s\n", err[0] ? err : strerror(-ret));
		return 1;
	}
	setsockopt(mnl_socket_get_fd(ev), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	fails = event_fails(req, &fam);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The signals are only let in while we wait, so none is lost between checks. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &(struct sigaction){ .sa_handler = on_signal }, NULL);
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_signal }, NULL);
	pfd.fd = mnl_socket_get_fd(ev);
	for (;;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		struct upn_event e;
		ssize_t n;
		int left;

		if (ppoll(&pfd, 1, NULL, &orig) < 0)
			break; /* EINTR: SIGINT or SIGTERM */
		n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			uint64_t now = event_fails(req, &fam);

			if (now > fails)
				fprintf(stderr,
					"monitor: %llu events lost (receive buffer overrun)\n",
					(unsigned long long)(now - fails));
			else
				fprintf(stderr, "monitor: events lost (receive buffer overrun)\n");
			fails = now;
			continue;
		}
		for (left = (int)n; n > 0 && upn_genl_msg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			char when[40];

			ret = upn_genl_decode_event(nlh, fam.id, &e);
			if (ret < 0)
				fprintf(stderr, "monitor: malformed message skipped\n");
			if (ret != UPN_GENL_OK)
				continue;
			time_fmt(e.ts_ns ? e.ts_ns : (uint64_t)time(NULL) * 1000000000ull, when,
				 sizeof(when));
			if (json)
				print_json(&e, when);
			else
				print_text(&e, when);
		}
	}
	mnl_socket_close(ev);
	mnl_socket_close(req);
	return 0;
}
