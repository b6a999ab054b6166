// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The neighbour monitor against a real kernel: the test moves itself into a network
 * namespace of its own (root only; skipped otherwise), makes a veth pair and drives
 * the neighbour table with `ip neigh`. Entries that are added REACHABLE, then turned
 * FAILED, then deleted must be reported in that order, for IPv4 and IPv6; a dump must
 * report entries that existed before the socket; and an overrun, forced with a tiny
 * socket buffer, must be counted, grow the buffer and resync every entry's state.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "neigh.h"

static bool in_netns;

/* Every report, in order. */
struct seen {
	struct upn_addr a;
	uint16_t state;
	int ifindex;
};

static struct seen log_[4096];
static unsigned int nlog;

static void on_neigh(void *ctx, const struct upn_addr *a, uint16_t state, int ifindex)
{
	if (nlog < ARRAY_SIZE(log_))
		log_[nlog++] = (struct seen){ *a, state, ifindex };
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	check(rc == 0, "`%s` failed (%d)", cmd, rc);
}

/* The index in log_ of the first report of @a in @state at or after @from, or -1. */
static int find(const char *a, uint16_t state, unsigned int from)
{
	struct upn_addr x = addr(a);

	for (unsigned int i = from; i < nlog; i++) {
		if (upn_addr_eq(&log_[i].a, &x) && log_[i].state == state)
			return (int)i;
	}
	return -1;
}

/* Dispatches until @a has been reported in @state after @from (or 3 s pass). */
static int await(struct upn_neigh *n, const char *a, uint16_t state, unsigned int from)
{
	int64_t end = upn_now_mono_ms() + 3000;
	int i;

	while ((i = find(a, state, from)) < 0 && upn_now_mono_ms() < end) {
		struct pollfd pfd = { .fd = upn_neigh_fd(n), .events = POLLIN };

		if (poll(&pfd, 1, 50) > 0)
			upn_neigh_dispatch(n);
	}
	check(i >= 0, "%s never reported in state 0x%x", a, state);
	return i;
}

/* Dispatches until the socket stays quiet for 200 ms with no dump running. */
static void drain(struct upn_neigh *n)
{
	struct upn_neigh_stats st;
	int64_t end = upn_now_mono_ms() + 10000;

	for (;;) {
		struct pollfd pfd = { .fd = upn_neigh_fd(n), .events = POLLIN };

		assert_true(upn_now_mono_ms() < end);
		if (poll(&pfd, 1, 200) > 0) {
			upn_neigh_dispatch(n);
			continue;
		}
		upn_neigh_get_stats(n, &st);
		if (st.dumps == st.dumps_done)
			return;
	}
}

static int setup(void **state)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET)) {
		fprintf(stderr, "# no network namespace of our own (%s): skipping\n",
			geteuid() ? "not root" : strerror(errno));
		return 0;
	}
	in_netns = true;
	if (system("ip link set lo up && ip link add v0 type veth peer name v1 && "
		   "ip link set v0 up && ip link set v1 up && "
		   "ip addr add 198.51.100.1/24 dev v0 && "
		   "ip addr add 2001:db8::1/64 dev v0 nodad"))
		return -1;
	return 0;
}

static void lifecycle(const char *a, const char *ip)
{
	struct upn_neigh_stats st;
	struct upn_neigh *n;
	char err[256];
	int r, f, d;

	if (!in_netns)
		skip();
	n = upn_neigh_open(on_neigh, NULL, err, sizeof(err));
	assert_non_null(n);
	nlog = 0;
	sh("ip %s neigh add %s lladdr 02:00:00:00:00:07 dev v0 nud reachable", ip, a);
	r = await(n, a, NUD_REACHABLE, 0);
	assert_int_equal(log_[r].ifindex, (int)if_nametoindex("v0"));
	sh("ip %s neigh replace %s lladdr 02:00:00:00:00:07 dev v0 nud failed", ip, a);
	f = await(n, a, NUD_FAILED, (unsigned int)r + 1);
	sh("ip %s neigh del %s dev v0", ip, a);
	d = await(n, a, NUD_NONE, (unsigned int)f + 1);
	assert_true(r < f && f < d);
	/* Nothing before REACHABLE: the entry did not exist. */
	for (int i = 0; i < r; i++)
		check(!upn_addr_eq(&log_[i].a, &log_[r].a), "report %d before the add", i);

	upn_neigh_get_stats(n, &st);
	check(st.events >= 3, "%llu events", (unsigned long long)st.events);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.overruns, 0);
	assert_int_equal(st.dumps, 0);
	upn_neigh_close(n);
}

static void test_lifecycle_v4(void **state)
{
	lifecycle("198.51.100.7", "-4");
}

static void test_lifecycle_v6(void **state)
{
	lifecycle("2001:db8::7", "-6");
}

static void test_dump(void **state)
{
	struct upn_neigh_stats st;
	struct upn_neigh *n;
	char err[256];

	if (!in_netns)
		skip();
	sh("ip neigh add 198.51.100.8 lladdr 02:00:00:00:00:08 dev v0 nud stale");
	sh("ip neigh add 2001:db8::8 lladdr 02:00:00:00:00:08 dev v0 nud permanent");
	n = upn_neigh_open(on_neigh, NULL, err, sizeof(err));
	assert_non_null(n);
	nlog = 0;
	assert_int_equal(upn_neigh_dump(n), 0);
	/* A second request while the first runs becomes one more dump, not an error. */
	assert_int_equal(upn_neigh_dump(n), 0);
	drain(n);
	assert_true(find("198.51.100.8", NUD_STALE, 0) >= 0);
	assert_true(find("2001:db8::8", NUD_PERMANENT, 0) >= 0);
	upn_neigh_get_stats(n, &st);
	assert_int_equal(st.dumps, 2);
	assert_int_equal(st.dumps_done, 2);
	assert_int_equal(st.dumps_redone, 1);
	assert_int_equal(st.send_errors, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.overruns, 0);
	upn_neigh_close(n);
	sh("ip neigh del 198.51.100.8 dev v0 && ip neigh del 2001:db8::8 dev v0");
}

static void test_overrun_resync(void **state)
{
	/* Under gc_thresh1 (128) per table, so the garbage collector leaves the FAILED
	 * entries alone while the test looks at them. */
	const unsigned int count = 240, v4 = 120;
	struct upn_neigh_stats st;
	struct upn_neigh *n;
	char err[256], path[] = "/tmp/upn-neigh-batch.XXXXXX";
	int tiny = 1, fd;
	FILE *f;

	if (!in_netns)
		skip();
	n = upn_neigh_open(on_neigh, NULL, err, sizeof(err));
	assert_non_null(n);
	nlog = 0;
	/* The smallest buffer the kernel allows holds a handful of events. */
	assert_int_equal(setsockopt(upn_neigh_fd(n), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)),
			 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	/* Each entry added, then turned FAILED: its last state is FAILED. */
	for (unsigned int i = 0; i < count; i++) {
		char a[64];

		if (i < v4)
			snprintf(a, sizeof(a), "neigh %%s 198.51.100.%u", i + 20);
		else
			snprintf(a, sizeof(a), "neigh %%s 2001:db8::1:%x", i);
		fprintf(f, a, "add");
		fprintf(f, " lladdr 02:00:00:00:01:01 dev v0 nud reachable\n");
		fprintf(f, a, "replace");
		fprintf(f, " lladdr 02:00:00:00:01:01 dev v0 nud failed\n");
	}
	fclose(f);
	sh("ip -batch %s", path);
	unlink(path);
	drain(n);

	upn_neigh_get_stats(n, &st);
	check(st.overruns >= 1, "no overrun");
	assert_true(st.resyncs >= 1);
	assert_true(st.dumps >= 1);
	assert_int_equal(st.dumps_done, st.dumps);
	check(st.rcvbuf >= UPN_NEIGH_RCVBUF, "buffer not grown: %u", st.rcvbuf);
	assert_int_equal(st.malformed, 0);
	/* Lost events or not, the dump told us where every entry ended up. */
	for (unsigned int i = 0; i < count; i++) {
		char a[64];
		struct upn_addr x;
		int last = -1;

		if (i < v4)
			snprintf(a, sizeof(a), "198.51.100.%u", i + 20);
		else
			snprintf(a, sizeof(a), "2001:db8::1:%x", i);
		x = addr(a);
		for (unsigned int j = 0; j < nlog; j++) {
			if (upn_addr_eq(&log_[j].a, &x))
				last = (int)j;
		}
		check(last >= 0 && log_[last].state == NUD_FAILED, "%s: last report %s", a,
		      last < 0 ? "none" : "not FAILED");
	}
	upn_neigh_close(n);
	sh("ip -4 neigh flush dev v0 && ip -6 neigh flush dev v0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_v4),
		cmocka_unit_test(test_lifecycle_v6),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_overrun_resync),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
