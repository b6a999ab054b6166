// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Active probes against real sockets on 127.0.0.1 and ::1, through a real event loop:
 * a listener recovers after exactly `rise` rounds, a closed port backs off and never
 * recovers, a listener that comes later recovers, a flap starts the count again, a
 * SYN that is never answered times out, and unwatching or freeing leaves no file
 * descriptor behind. Nothing leaves loopback. A port nobody answers is a listener
 * with a backlog of 0 whose one queue slot is taken: the kernel drops further SYNs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "probe.h"

struct rec {
	struct upn_probe *p;
	unsigned int recovered;
	struct upn_addr last;
	struct upn_probe_stats at; /* the stats when @recovered was called */
	/* When each round started, seen as a rise in attempts after a tick. */
	int64_t round_ms[64];
	unsigned int nrounds;
	uint64_t seen_attempts;
};

static void on_recovered(void *ctx, const struct upn_addr *server)
{
	struct rec *r = ctx;

	r->recovered++;
	r->last = *server;
	upn_probe_get_stats(r->p, &r->at);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

/* A listener on loopback (or on every address, @any), on @*port or (0) an ephemeral
 * one, which is returned. */
static int listener_on(int family, uint16_t *port, int backlog, bool any)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, *port, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	if (any && family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_ANY);
	if (any && family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in v6 */
	return fd;
}

static int listener(int family, uint16_t *port, int backlog)
{
	return listener_on(family, port, backlog, false);
}

/* A port that refuses: bound a moment, then closed. */
static uint16_t closed_port(int family)
{
	uint16_t port = 0;
	int fd = listener(family, &port, 1);

	close(fd);
	return port;
}

/* A port where SYNs go unanswered: a listener with a backlog of 0 whose queue is
 * filled by connects that then never get accepted. The fillers go in @fill. */
struct blackhole {
	int lfd;
	int fill[8];
	int nfill;
	uint16_t port;
};

static void blackhole_open(struct blackhole *b, int family, bool any)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(b, 0, sizeof(*b));
	b->lfd = listener_on(family, &b->port, 0, any);
	len = loopback(family, b->port, &ss);
	for (;;) {
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t elen = sizeof(err);

		assert_true(fd >= 0);
		assert_true(b->nfill < (int)ARRAY_SIZE(b->fill));
		b->fill[b->nfill++] = fd;
		if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
			fail_msg("filler connect: %s", strerror(errno));
		if (poll(&pfd, 1, 300) == 0)
			break; /* this one hangs: the queue is full */
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen), 0);
		assert_int_equal(err, 0);
	}
}

static void blackhole_close(struct blackhole *b)
{
	for (int i = 0; i < b->nfill; i++)
		close(b->fill[i]);
	close(b->lfd);
}

static struct upn_addr lo_addr(int family)
{
	return addr(family == AF_INET ? "127.0.0.1" : "::1");
}

/* Runs loop and prober for up to @ms, or until @stop(r) says so. Records round starts
 * and checks the in-flight cap on every turn. */
static void drive(struct upn_loop *l, struct rec *r, int64_t ms,
		  bool (*stop)(struct rec *r, struct upn_probe_stats *st))
{
	int64_t end = upn_now_mono_ms() + ms;

	for (;;) {
		int64_t now = upn_now_mono_ms(), next;
		struct upn_probe_stats st;
		int wait;

		upn_probe_tick(r->p, now);
		upn_probe_get_stats(r->p, &st);
		if (st.attempts > r->seen_attempts) {
			r->seen_attempts = st.attempts;
			if (r->nrounds < ARRAY_SIZE(r->round_ms))
				r->round_ms[r->nrounds++] = now;
		}
		assert_true(st.inflight <= UPN_PROBE_INFLIGHT_MAX);
		assert_int_equal(st.attempts,
				 st.successes + st.failures + st.cancelled + st.inflight);
		if ((stop && stop(r, &st)) || now >= end)
			return;
		next = upn_probe_next_deadline(r->p);
		wait = 20;
		if (next >= 0 && next - now < wait)
			wait = next > now ? (int)(next - now) : 0;
		if (end - now < wait)
			wait = (int)(end - now);
		assert_true(upn_loop_once(l, wait) >= 0);
	}
}

static bool stop_recovered(struct rec *r, struct upn_probe_stats *st)
{
	return r->recovered > 0;
}

/* ---- recovery after exactly `rise` rounds ------------------------------------------ */

/* Intervals here are 40 ms or more: the connect timeout is the interval, and a
 * loaded machine can take 10 ms to finish a loopback handshake, which would turn a
 * good round into a timeout. */
static void recover_after_rise(int family)
{
	const uint32_t rise = 3;
	struct upn_addr srv = lo_addr(family);
	struct rec r = { 0 };
	struct upn_probe_stats st;
	struct upn_loop l;
	uint16_t lport = 0, ports[2];
	int lfd;

	assert_int_equal(upn_loop_init(&l), 0);
	lfd = listener(family, &lport, 16);
	/* The refusing port first, so every round tries both. */
	ports[0] = closed_port(family);
	ports[1] = lport;
	r.p = upn_probe_new(&l, 50, 500, rise, on_recovered, &r);
	assert_non_null(r.p);
	upn_probe_watch(r.p, &srv, ports, 2);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, 1);
	assert_int_equal(st.attempts, 0); /* the first round waits an interval */
	assert_true(upn_probe_next_deadline(r.p) >= upn_now_mono_ms() + 49);

	drive(&l, &r, 3000, stop_recovered);
	assert_int_equal(r.recovered, 1);
	assert_true(upn_addr_eq(&r.last, &srv));
	/* Called on the rise-th successful round, not before, with both ports tried in
	 * each. */
	assert_int_equal(r.at.rounds, rise);
	assert_int_equal(r.at.rounds_ok, rise);
	assert_int_equal(r.at.successes, rise);
	assert_int_equal(r.at.attempts, 2 * rise);
	assert_int_equal(r.at.recoveries, 1);
	assert_int_equal(r.nrounds, rise);
	/* Rounds after a success come an interval apart. */
	for (unsigned int i = 1; i < r.nrounds; i++)
		check(r.round_ms[i] - r.round_ms[i - 1] >= 50, "round %u came early", i);

	/* Unwatched by itself: nothing more happens. */
	assert_int_equal(upn_probe_next_deadline(r.p), -1);
	drive(&l, &r, 150, NULL);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, 0);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.attempts, 2 * rise);
	assert_int_equal(r.recovered, 1);

	upn_probe_free(r.p);
	close(lfd);
	upn_loop_destroy(&l);
}

static void test_recover_v4(void **state)
{
	recover_after_rise(AF_INET);
}

static void test_recover_v6(void **state)
{
	recover_after_rise(AF_INET6);
}

/* ---- a refusing port backs off and never recovers ---------------------------------- */

static void test_closed_backs_off(void **state)
{
	const int64_t interval = 10, max = 80;
	struct upn_addr srv = lo_addr(AF_INET);
	uint16_t port = closed_port(AF_INET);
	struct rec r = { 0 };
	struct upn_probe_stats st;
	struct upn_loop l;
	int64_t t0, wait;

	assert_int_equal(upn_loop_init(&l), 0);
	r.p = upn_probe_new(&l, interval, max, 1, on_recovered, &r);
	assert_non_null(r.p);
	t0 = upn_now_mono_ms();
	upn_probe_watch(r.p, &srv, &port, 1);
	drive(&l, &r, 650, NULL);

	upn_probe_get_stats(r.p, &st);
	assert_int_equal(r.recovered, 0);
	assert_int_equal(st.successes, 0);
	assert_int_equal(st.failures, st.attempts);
	assert_int_equal(st.rounds_ok, 0);
	assert_int_equal(st.watched, 1);
	/* 10 + 20 + 40 + 80 + 80 ... is 10 rounds in 650 ms, fewer if the machine is slow;
	 * without the backoff it would be 65. */
	check(r.nrounds >= 5 && r.nrounds <= 10, "%u rounds", r.nrounds);
	/* Each wait doubles, from the interval up to the cap, plus at most 1/8 of jitter
	 * (and some slack for a busy machine). */
	wait = interval;
	for (unsigned int i = 0; i < r.nrounds; i++) {
		int64_t gap = r.round_ms[i] - (i ? r.round_ms[i - 1] : t0);

		check(gap >= wait, "wait %u: %lld ms, expected %lld", i, (long long)gap,
		      (long long)wait);
		check(gap <= wait + wait / 8 + 40, "wait %u: %lld ms, expected %lld", i,
		      (long long)gap, (long long)wait);
		wait = wait * 2 > max ? max : wait * 2;
	}
	upn_probe_free(r.p);
	upn_loop_destroy(&l);
}

/* ---- a listener that appears later; a flap starts the count again ------------------ */

static bool stop_idle(struct rec *r, struct upn_probe_stats *st)
{
	return st->inflight == 0;
}

static void test_listener_appears(void **state)
{
	struct upn_addr srv = lo_addr(AF_INET6);
	uint16_t port = closed_port(AF_INET6);
	struct rec r = { 0 };
	struct upn_probe_stats st;
	struct upn_loop l;
	int lfd;

	assert_int_equal(upn_loop_init(&l), 0);
	r.p = upn_probe_new(&l, 40, 80, 2, on_recovered, &r);
	assert_non_null(r.p);
	upn_probe_watch(r.p, &srv, &port, 1);
	drive(&l, &r, 400, NULL);
	/* Between rounds, so that none is half done when the listener appears. */
	drive(&l, &r, 1000, stop_idle);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(r.recovered, 0);
	check(st.rounds >= 3, "%llu rounds", (unsigned long long)st.rounds);
	assert_int_equal(st.rounds_ok, 0);

	lfd = listener(AF_INET6, &port, 16);
	drive(&l, &r, 2000, stop_recovered);
	assert_int_equal(r.recovered, 1);
	assert_int_equal(r.at.rounds_ok, 2);
	assert_int_equal(r.at.rounds, st.rounds + 2);
	upn_probe_free(r.p);
	close(lfd);
	upn_loop_destroy(&l);
}

static bool stop_first_ok(struct rec *r, struct upn_probe_stats *st)
{
	return st->rounds_ok >= 1;
}

static uint64_t rounds_before;

static bool stop_next_round(struct rec *r, struct upn_probe_stats *st)
{
	return st->rounds > rounds_before;
}

static void test_flap_restarts_rise(void **state)
{
	struct upn_addr srv = lo_addr(AF_INET);
	uint16_t port = 0;
	struct rec r = { 0 };
	struct upn_probe_stats st;
	struct upn_loop l;
	int lfd = listener(AF_INET, &port, 16);

	assert_int_equal(upn_loop_init(&l), 0);
	r.p = upn_probe_new(&l, 40, 80, 3, on_recovered, &r);
	assert_non_null(r.p);
	upn_probe_watch(r.p, &srv, &port, 1);
	drive(&l, &r, 2000, stop_first_ok);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.rounds_ok, 1);

	/* Down again for one round... */
	close(lfd);
	rounds_before = st.rounds;
	drive(&l, &r, 2000, stop_next_round);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.rounds_ok, 1);
	assert_int_equal(st.rounds, rounds_before + 1);

	/* ...so it takes three more good rounds, not two. */
	lfd = listener(AF_INET, &port, 16);
	drive(&l, &r, 3000, stop_recovered);
	assert_int_equal(r.recovered, 1);
	assert_int_equal(r.at.rounds_ok, 4);
	assert_int_equal(r.at.rounds, rounds_before + 4);
	upn_probe_free(r.p);
	close(lfd);
	upn_loop_destroy(&l);
}

/* ---- a SYN never answered times out ------------------------------------------------ */

static void test_timeout(void **state)
{
	struct upn_addr srv = lo_addr(AF_INET);
	struct upn_probe_stats st;
	struct blackhole b;
	struct rec r = { 0 };
	struct upn_loop l;
	bool saw_inflight = false;

	assert_int_equal(upn_loop_init(&l), 0);
	blackhole_open(&b, AF_INET, false);
	/* The connect timeout is min(interval, 5 s): 40 ms here. */
	r.p = upn_probe_new(&l, 40, 80, 1, on_recovered, &r);
	assert_non_null(r.p);
	upn_probe_watch(r.p, &srv, &b.port, 1);
	for (int i = 0; i < 30; i++) {
		drive(&l, &r, 20, NULL);
		upn_probe_get_stats(r.p, &st);
		saw_inflight |= st.inflight == 1;
	}
	upn_probe_get_stats(r.p, &st);
	assert_true(saw_inflight);
	assert_int_equal(r.recovered, 0);
	assert_int_equal(st.successes, 0);
	check(st.timeouts >= 3, "%llu timeouts", (unsigned long long)st.timeouts);
	/* Every failure was a timeout: the SYNs were dropped, never refused. */
	assert_int_equal(st.failures, st.timeouts);
	assert_int_equal(st.local_errors, 0);
	/* Rounds start 40, 80, 80 ms apart: the timeout does not add to the wait. */
	for (unsigned int i = 2; i < r.nrounds; i++)
		check(r.round_ms[i] - r.round_ms[i - 1] <= 80 + 10 + 40, "wait %u too long", i);
	upn_probe_free(r.p);
	blackhole_close(&b);
	upn_loop_destroy(&l);
}

/* ---- unwatch and free leave nothing behind ----------------------------------------- */

static void test_unwatch_no_leak(void **state)
{
	const char *const servers[] = { "127.0.0.1", "127.0.0.2", "127.0.0.3" };
	struct upn_probe_stats st;
	struct blackhole b4, b6;
	struct rec r = { 0 };
	struct upn_loop l;
	struct upn_addr a6 = lo_addr(AF_INET6);
	uint64_t attempts;
	int base;

	assert_int_equal(upn_loop_init(&l), 0);
	blackhole_open(&b4, AF_INET, false);
	blackhole_open(&b6, AF_INET6, false);
	base = count_fds();

	r.p = upn_probe_new(&l, 30, 60, 1, on_recovered, &r);
	assert_non_null(r.p);
	/* 127.0.0.2 and .3 reach nobody on that port (the listener is on .1), so they
	 * refuse; the two blackholes stay in flight. */
	for (size_t i = 0; i < ARRAY_SIZE(servers); i++) {
		struct upn_addr a = addr(servers[i]);

		upn_probe_watch(r.p, &a, &b4.port, 1);
	}
	upn_probe_watch(r.p, &a6, &b6.port, 1);
	drive(&l, &r, 2000, NULL);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, 4);
	assert_true(st.timeouts >= 2);

	/* Catch a moment with connects in flight, then unwatch everything. */
	for (int i = 0; i < 100 && st.inflight < 2; i++) {
		drive(&l, &r, 5, NULL);
		upn_probe_get_stats(r.p, &st);
	}
	assert_true(st.inflight >= 2);
	assert_true(count_fds() > base);
	for (size_t i = 0; i < ARRAY_SIZE(servers); i++) {
		struct upn_addr a = addr(servers[i]);

		upn_probe_unwatch(r.p, &a);
	}
	upn_probe_unwatch(r.p, &a6);
	upn_probe_unwatch(r.p, &a6); /* twice is harmless */
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, 0);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(count_fds(), base);
	assert_int_equal(upn_probe_next_deadline(r.p), -1);
	attempts = st.attempts;
	drive(&l, &r, 100, NULL);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.attempts, attempts);

	/* Freeing with connects in flight closes them too. */
	upn_probe_watch(r.p, &a6, &b6.port, 1);
	for (int i = 0; i < 100 && st.inflight < 1; i++) {
		drive(&l, &r, 5, NULL);
		upn_probe_get_stats(r.p, &st);
	}
	assert_int_equal(st.inflight, 1);
	upn_probe_free(r.p);
	assert_int_equal(count_fds(), base);
	assert_int_equal(r.recovered, 0);

	blackhole_close(&b4);
	blackhole_close(&b6);
	upn_loop_destroy(&l);
}

/* ---- the caps ---------------------------------------------------------------------- */

static void test_table_cap(void **state)
{
	struct upn_probe_stats st;
	struct rec r = { 0 };
	struct upn_loop l;
	uint16_t ports[10] = { 80, 0, 443, 80, 25, 26, 27, 28, 29, 30 };
	struct upn_addr a;

	assert_int_equal(upn_loop_init(&l), 0);
	/* An hour's interval: nothing is probed during this test. */
	r.p = upn_probe_new(&l, 3600000, 3600000, 1, on_recovered, &r);
	assert_non_null(r.p);
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.a[0] = 0x20, a.a[1] = 0x01, a.a[2] = 0x0d, a.a[3] = 0xb8;
	for (unsigned int i = 0; i <= UPN_PROBE_SERVERS_MAX; i++) {
		a.a[14] = (uint8_t)(i >> 8);
		a.a[15] = (uint8_t)i;
		upn_probe_watch(r.p, &a, ports, ARRAY_SIZE(ports));
	}
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, UPN_PROBE_SERVERS_MAX);
	assert_int_equal(st.table_full, 1);
	/* Watching one already there only updates it. */
	a.a[15] = 7;
	a.a[14] = 0;
	upn_probe_watch(r.p, &a, ports, 1);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, UPN_PROBE_SERVERS_MAX);
	assert_int_equal(st.table_full, 1);
	/* No usable port, or no family: ignored. */
	upn_probe_unwatch(r.p, &a);
	upn_probe_watch(r.p, &a, ports + 1, 1);
	memset(&a, 0, sizeof(a));
	upn_probe_watch(r.p, &a, ports, 1);
	upn_probe_get_stats(r.p, &st);
	assert_int_equal(st.watched, UPN_PROBE_SERVERS_MAX - 1);
	assert_int_equal(st.attempts, 0);
	assert_true(upn_probe_next_deadline(r.p) > upn_now_mono_ms() + 3000000);
	upn_probe_free(r.p);
	upn_loop_destroy(&l);
}

static bool stop_deferred(struct rec *r, struct upn_probe_stats *st)
{
	return st->deferred > 0 && st->inflight == UPN_PROBE_INFLIGHT_MAX;
}

/* More blackholed servers than connect slots: the rest wait their turn. */
static void test_inflight_cap(void **state)
{
	const unsigned int nservers = UPN_PROBE_INFLIGHT_MAX + 44;
	struct upn_probe_stats st;
	struct blackhole b;
	struct rec r = { 0 };
	struct upn_loop l;
	int base;

	assert_int_equal(upn_loop_init(&l), 0);
	/* On 0.0.0.0, so that every 127.1.x.y below reaches it. */
	blackhole_open(&b, AF_INET, true);
	base = count_fds();
	r.p = upn_probe_new(&l, 200, 400, 1, on_recovered, &r);
	assert_non_null(r.p);
	for (unsigned int i = 0; i < nservers; i++) {
		struct upn_addr a;
		char s[32];

		snprintf(s, sizeof(s), "127.1.%u.%u", i / 250, i % 250 + 1);
		a = addr(s);
		upn_probe_watch(r.p, &a, &b.port, 1);
	}
	drive(&l, &r, 3000, stop_deferred);
	upn_probe_get_stats(r.p, &st);
	check(st.deferred > 0, "no round deferred");
	assert_int_equal(st.watched, nservers);
	upn_probe_free(r.p);
	assert_int_equal(count_fds(), base);
	blackhole_close(&b);
	upn_loop_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recover_v4),	   cmocka_unit_test(test_recover_v6),
		cmocka_unit_test(test_closed_backs_off),   cmocka_unit_test(test_listener_appears),
		cmocka_unit_test(test_flap_restarts_rise), cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unwatch_no_leak),	   cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_inflight_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
