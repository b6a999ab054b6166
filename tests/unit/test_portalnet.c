// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The portal's packet path against a real kernel. The test moves itself into network
 * namespaces of its own (root only, and nft tproxy must work; skipped otherwise):
 *
 *   client ns                 gw ns (this process)              server ns
 *   c0 198.51.100.2/24  ---  g0 198.51.100.1   g1 203.0.113.1  ---  s0 203.0.113.2, .3
 *      2001:db8:1::2/64         2001:db8:1::1    2001:db8:2::1        2001:db8:2::2, ::3
 *
 * Sockets are made in the client and server namespaces (setns, socket, setns back)
 * and driven from here, so the whole test is one thread. A connection from the
 * client to a server in down4/down6 on a portal port must land on the transparent
 * listener with the server's address as its local address; any other server, port,
 * or a server taken out of the set again, must reach the real server. Also: the
 * listener's options, open() replacing a crashed run's leftovers without duplicating
 * its rule, idempotent add/del, a rebuild after `nft flush ruleset`, and close()
 * leaving nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "portalnet.h"

static bool in_netns, tproxy_ok;
static int gw_ns = -1, client_ns = -1, server_ns = -1;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	check(rc == 0, "`%s` failed (%d)", cmd, rc);
}

/* The output of @cmd (first 16 KiB). */
static const char *capture(const char *cmd)
{
	static char out[16384];
	size_t got;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	pclose(p);
	return out;
}

static unsigned int count(const char *hay, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void enter(int ns)
{
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
}

/* A new namespace, kept open by fd (not close-on-exec: `ip ... netns /proc/self/fd/N`
 * names it). We stay in the gateway's. */
static int new_ns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = open("/proc/self/ns/net", O_RDONLY);
	if (gw_ns >= 0 && setns(gw_ns, CLONE_NEWNET))
		return -1;
	return fd;
}

static int setup(void **state)
{
	if (geteuid() != 0 || (gw_ns = new_ns()) < 0) {
		fprintf(stderr, "# no network namespace of our own (%s): skipping\n",
			geteuid() ? "not root" : strerror(errno));
		return 0;
	}
	in_netns = true;
	client_ns = new_ns();
	server_ns = new_ns();
	if (client_ns < 0 || server_ns < 0)
		return -1;
	if (system("ip link set lo up && "
		   "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
		   "ip link add g0 type veth peer name c0 && ip link add g1 type veth peer name s0"))
		return -1;
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd),
			 "ip link set c0 netns /proc/self/fd/%d && "
			 "ip link set s0 netns /proc/self/fd/%d && "
			 "ip link set g0 up && ip link set g1 up && "
			 "ip addr add 198.51.100.1/24 dev g0 && "
			 "ip addr add 2001:db8:1::1/64 dev g0 nodad && "
			 "ip addr add 203.0.113.1/24 dev g1 && "
			 "ip addr add 2001:db8:2::1/64 dev g1 nodad",
			 client_ns, server_ns);
		if (system(cmd))
			return -1;
	}
	if (setns(client_ns, CLONE_NEWNET) ||
	    system("ip link set lo up && ip link set c0 up && "
		   "ip addr add 198.51.100.2/24 dev c0 && "
		   "ip addr add 2001:db8:1::2/64 dev c0 nodad && "
		   "ip route add default via 198.51.100.1 && "
		   "ip -6 route add default via 2001:db8:1::1") ||
	    setns(server_ns, CLONE_NEWNET) ||
	    system("ip link set lo up && ip link set s0 up && "
		   "ip addr add 203.0.113.2/24 dev s0 && ip addr add 203.0.113.3/24 dev s0 && "
		   "ip addr add 2001:db8:2::2/64 dev s0 nodad && "
		   "ip addr add 2001:db8:2::3/64 dev s0 nodad && "
		   "ip route add default via 203.0.113.1 && "
		   "ip -6 route add default via 2001:db8:2::1") ||
	    setns(gw_ns, CLONE_NEWNET))
		return -1;
	/* Kernels without nft_tproxy cannot run the rest; that is the machine's fault. */
	tproxy_ok = !system(
		"nft 'add table inet upn_probe; "
		"add chain inet upn_probe p { type filter hook prerouting priority mangle; }; "
		"add rule inet upn_probe p tcp dport 1 tproxy ip to :1; "
		"delete table inet upn_probe' 2>/dev/null");
	if (!tproxy_ok)
		fprintf(stderr, "# nft tproxy is not available: skipping what needs it\n");
	return 0;
}

#define NEED_TPROXY()                        \
	do {                                 \
		if (!in_netns || !tproxy_ok) \
			skip();              \
	} while (0)

static const uint16_t port80[] = { 80 };

static struct upn_portalnet *open_pn(uint16_t listen_port)
{
	struct upn_portalnet_config cfg = { .ports = port80,
					    .nports = 1,
					    .listen_port = listen_port };
	char err[512] = "";
	struct upn_portalnet *pn = upn_portalnet_open(&cfg, err, sizeof(err));

	check(pn, "open: %s", err);
	return pn;
}

/* Nothing of ours in the gateway namespace. */
static void assert_clean(void)
{
	check(!*capture("nft list ruleset"), "ruleset left: %s", capture("nft list ruleset"));
	assert_int_equal(count(capture("ip -4 rule; ip -6 rule"), "fwmark"), 0);
	check(!*capture("(ip -4 route show table 30570; ip -6 route show table 30570) 2>/dev/null"),
	      "routes left");
}

static void test_listen(void **state)
{
	static const struct {
		const char *spec;
		int family; /* 0: refused */
	} t[] = {
		{ "[::]:0", AF_INET6 },
		{ "0.0.0.0:0", AF_INET },
		{ "127.0.0.1:0", AF_INET },
		{ "[::1]:0", AF_INET6 },
		{ "::1:80", 0 },
		{ "192.0.2.1", 0 },
		{ "[::]80", 0 },
		{ "[::]:", 0 },
		{ "[::]:65536", 0 },
		{ "[::]:-1", 0 },
		{ "[::]:80x", 0 },
		{ "localhost:80", 0 },
		{ ":80", 0 },
		{ "[192.0.2.1]:80", 0 },
		{ "[::]: 80", 0 },
		{ "", 0 },
	};

	if (!in_netns)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), ol = sizeof(int);
		char err[256] = "";
		uint16_t port = 0;
		int fd = upn_portal_listen(t[i].spec, &port, err, sizeof(err)), v = -1;

		if (!t[i].family) {
			check(fd == -EINVAL, "%s: %d, want -EINVAL", t[i].spec, fd);
			check(*err, "%s: no message", t[i].spec);
			continue;
		}
		check(fd >= 0, "%s: %s", t[i].spec, err);
		assert_true(port != 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
		assert_int_equal(ss.ss_family, t[i].family);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		assert_int_equal(getsockopt(fd, SOL_IP, IP_TRANSPARENT, &v, &ol), 0);
		assert_int_equal(v, 1);
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &ol), 0);
		assert_int_equal(v, 1);
		/* Binding to one IPv6 address makes the kernel set V6ONLY by itself. */
		if (!strncmp(t[i].spec, "[::]", 4)) {
			assert_int_equal(getsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &v, &ol), 0);
			assert_int_equal(v, 0);
		}
		close(fd);
	}
}

static void test_bad_config(void **state)
{
	static const uint16_t zero[] = { 0 };
	struct upn_portalnet_config c[] = {
		{ .ports = port80, .nports = 0, .listen_port = 8080 },
		{ .ports = zero, .nports = 1, .listen_port = 8080 },
		{ .ports = port80, .nports = 1, .listen_port = 0 },
		{ .ports = port80, .nports = 1, .listen_port = 8080, .table = 254 },
	};

	if (!in_netns)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char err[256] = "";

		assert_null(upn_portalnet_open(&c[i], err, sizeof(err)));
		check(*err, "config %zu: no message", i);
	}
	assert_clean();
}

static void test_open_close(void **state)
{
	struct upn_portalnet *pn;
	const char *s;

	NEED_TPROXY();
	upn_portalnet_close(NULL);
	pn = open_pn(8080);
	s = capture("nft list table inet upnotify_portal");
	check(strstr(s,
		     "ip daddr @down4 tcp dport 80 tproxy ip to :8080 meta mark set 0x0075706e accept") &&
		      strstr(s,
			     "ip6 daddr @down6 tcp dport 80 tproxy ip6 to :8080 meta mark set 0x0075706e accept") &&
		      strstr(s,
			     "tcp dport 80 tcp flags != syn / fin,syn,rst,ack socket transparent 1 "
			     "meta mark set 0x0075706e accept") &&
		      strstr(s, "hook prerouting priority mangle"),
	      "table: %s", s);
	assert_int_equal(count(capture("ip -4 rule"), "fwmark 0x75706e lookup 30570"), 1);
	assert_int_equal(count(capture("ip -6 rule"), "fwmark 0x75706e lookup 30570"), 1);
	assert_int_equal(count(capture("ip -4 route show table 30570"), "local default dev lo"), 1);
	assert_int_equal(count(capture("ip -6 route show table 30570"), "local default dev lo"), 1);
	upn_portalnet_close(pn);
	assert_clean();
}

/* What a killed run leaves: the table with an element and a stray chain, the rules
 * (one twice), the routes. open() must start from a clean table and add no rule;
 * close() removes them all. */
static void test_leftover(void **state)
{
	struct upn_portalnet *pn;

	NEED_TPROXY();
	sh("nft 'add table inet upnotify_portal; "
	   "add set inet upnotify_portal down4 { type ipv4_addr; }; "
	   "add element inet upnotify_portal down4 { 192.0.2.9 }; "
	   "add chain inet upnotify_portal stale'");
	/* `ip rule add` without a priority happily adds a duplicate. */
	sh("ip -4 rule add fwmark 0x75706e lookup 30570 && ip -4 rule add fwmark 0x75706e lookup 30570 && "
	   "ip -6 rule add fwmark 0x75706e lookup 30570");
	sh("ip -4 route add local default dev lo table 30570 && "
	   "ip -6 route add local default dev lo table 30570");
	pn = open_pn(8080);
	assert_int_equal(count(capture("nft list table inet upnotify_portal"), "192.0.2.9"), 0);
	assert_int_equal(count(capture("nft list table inet upnotify_portal"), "stale"), 0);
	assert_int_equal(count(capture("ip -4 rule"), "fwmark"), 2);
	assert_int_equal(count(capture("ip -6 rule"), "fwmark"), 1);
	/* A second daemon started over a running one: no rule added. */
	{
		struct upn_portalnet *again = open_pn(8080);

		assert_int_equal(count(capture("ip -4 rule"), "fwmark"), 2);
		assert_int_equal(count(capture("ip -6 rule"), "fwmark"), 1);
		upn_portalnet_close(again);
	}
	upn_portalnet_close(pn);
	assert_clean();
}

static void test_elements(void **state)
{
	struct upn_addr a4 = addr("203.0.113.2"), b4 = addr("203.0.113.3"),
			a6 = addr("2001:db8:2::2");
	struct upn_portalnet_stats st;
	struct upn_portalnet *pn;
	const char *s;

	NEED_TPROXY();
	pn = open_pn(8080);
	assert_int_equal(upn_portalnet_add(pn, &a4), 0);
	assert_int_equal(upn_portalnet_add(pn, &a4), 0); /* present already */
	assert_int_equal(upn_portalnet_add(pn, &a6), 0);
	assert_int_equal(upn_portalnet_del(pn, &b4), 0); /* never there */
	s = capture("nft list set inet upnotify_portal down4");
	check(strstr(s, "203.0.113.2") && !strstr(s, "203.0.113.3"), "down4: %s", s);
	s = capture("nft list set inet upnotify_portal down6");
	check(strstr(s, "2001:db8:2::2"), "down6: %s", s);
	upn_portalnet_get_stats(pn, &st);
	assert_int_equal(st.elements, 2);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.rebuilds, 0);

	assert_int_equal(upn_portalnet_del(pn, &a4), 0);
	assert_int_equal(upn_portalnet_del(pn, &a4), 0);
	assert_int_equal(count(capture("nft list set inet upnotify_portal down4"), "203.0.113"), 0);
	upn_portalnet_get_stats(pn, &st);
	assert_int_equal(st.elements, 1);

	/* A firewall reload flushed everything: the next change makes the table again,
	 * with what was there. */
	sh("nft flush ruleset");
	assert_int_equal(upn_portalnet_add(pn, &b4), 0);
	s = capture("nft list table inet upnotify_portal");
	check(strstr(s, "203.0.113.3") && strstr(s, "2001:db8:2::2") && strstr(s, "tproxy"),
	      "rebuilt: %s", s);
	sh("nft delete table inet upnotify_portal");
	assert_int_equal(upn_portalnet_del(pn, &b4), 0);
	s = capture("nft list table inet upnotify_portal");
	check(!strstr(s, "203.0.113.3") && strstr(s, "2001:db8:2::2"), "rebuilt: %s", s);
	upn_portalnet_get_stats(pn, &st);
	assert_int_equal(st.rebuilds, 2);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.elements, 1);
	upn_portalnet_close(pn);
	assert_clean();
}

/* A listening socket made in namespace @ns. */
static int listen_in(int ns, const char *spec)
{
	char err[256];
	uint16_t port;
	int fd;

	enter(ns);
	fd = upn_portal_listen(spec, &port, err, sizeof(err));
	enter(gw_ns);
	check(fd >= 0, "%s: %s", spec, err);
	return fd;
}

/* A client socket from the client namespace, connecting (non-blocking) to @dst:@port. */
static int connect_from_client(const char *dst, uint16_t port)
{
	struct upn_addr a = addr(dst);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd;

	enter(client_ns);
	fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	enter(gw_ns);
	assert_true(fd >= 0);
	memcpy(&sin.sin_addr, a.a, 4);
	memcpy(&sin6.sin6_addr, a.a, 16);
	if (a.family == AF_INET)
		connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	else
		connect(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	return fd;
}

/* The local address of an accepted socket as text, v4-mapped addresses unmapped. */
static void local_addr(int fd, char *buf, uint16_t *port)
{
	struct sockaddr_in6 ss;
	socklen_t len = sizeof(ss);
	struct upn_addr a;

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.sin6_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		upn_addr_set(&a, AF_INET, &sin->sin_addr);
		*port = ntohs(sin->sin_port);
	} else if (IN6_IS_ADDR_V4MAPPED(&ss.sin6_addr)) {
		upn_addr_set(&a, AF_INET, &ss.sin6_addr.s6_addr[12]);
		*port = ntohs(ss.sin6_port);
	} else {
		upn_addr_set(&a, AF_INET6, &ss.sin6_addr);
		*port = ntohs(ss.sin6_port);
	}
	upn_addr_fmt(&a, buf);
}

/* Connects from the client to @dst:@port and expects the connection on @want (the
 * portal's listener or the server's) and nowhere else; checks the local address. */
static void expect_at(const char *dst, uint16_t port, int want, int other, const char *name)
{
	struct pollfd p[2] = { { .fd = want, .events = POLLIN },
			       { .fd = other, .events = POLLIN } };
	char got[UPN_ADDRSTRLEN], reply[64] = "";
	int c = connect_from_client(dst, port), a;
	uint16_t lport;
	ssize_t n;

	check(poll(p, 2, 3000) > 0, "%s:%u: no connection reached %s", dst, port, name);
	check(!(p[1].revents & POLLIN), "%s:%u: reached the wrong side, not %s", dst, port, name);
	a = accept(want, NULL, NULL);
	assert_true(a >= 0);
	local_addr(a, got, &lport);
	check(!strcmp(got, dst) && lport == port, "%s:%u: accepted as %s:%u", dst, port, got,
	      lport);
	assert_int_equal(write(a, name, strlen(name)), (ssize_t)strlen(name));
	close(a);
	p[0] = (struct pollfd){ .fd = c, .events = POLLIN };
	assert_int_equal(poll(p, 1, 3000), 1);
	n = read(c, reply, sizeof(reply) - 1);
	check(n == (ssize_t)strlen(name) && !memcmp(reply, name, (size_t)n),
	      "%s:%u: client read '%s'", dst, port, reply);
	close(c);
}

static void test_intercept(void **state)
{
	struct upn_addr s4 = addr("203.0.113.2"), s6 = addr("2001:db8:2::2");
	struct upn_portalnet *pn;
	char err[256];
	uint16_t lport;
	int portal, server80, server81;

	NEED_TPROXY();
	portal = upn_portal_listen("[::]:0", &lport, err, sizeof(err));
	check(portal >= 0, "%s", err);
	server80 = listen_in(server_ns, "[::]:80");
	server81 = listen_in(server_ns, "[::]:81");
	pn = open_pn(lport);

	/* Not down yet: the real server answers. */
	expect_at("203.0.113.2", 80, server80, portal, "server");
	expect_at("2001:db8:2::2", 80, server80, portal, "server");

	assert_int_equal(upn_portalnet_add(pn, &s4), 0);
	assert_int_equal(upn_portalnet_add(pn, &s6), 0);
	expect_at("203.0.113.2", 80, portal, server80, "portal");
	expect_at("2001:db8:2::2", 80, portal, server80, "portal");
	/* Another server, another port: untouched. */
	expect_at("203.0.113.3", 80, server80, portal, "server");
	expect_at("2001:db8:2::3", 80, server80, portal, "server");
	expect_at("203.0.113.2", 81, server81, portal, "server");
	expect_at("2001:db8:2::2", 81, server81, portal, "server");

	/* Up again. */
	assert_int_equal(upn_portalnet_del(pn, &s4), 0);
	assert_int_equal(upn_portalnet_del(pn, &s6), 0);
	expect_at("203.0.113.2", 80, server80, portal, "server");
	expect_at("2001:db8:2::2", 80, server80, portal, "server");

	upn_portalnet_close(pn);
	assert_clean();
	close(portal);
	close(server80);
	close(server81);
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Each change runs from the event loop: report what one costs. */
static void test_cost(void **state)
{
	const unsigned int n = 500;
	struct upn_portalnet_stats st;
	struct upn_portalnet *pn;
	double t0, add_us, del_us;

	NEED_TPROXY();
	pn = open_pn(8080);
	t0 = now_us();
	for (unsigned int i = 0; i < n; i++) {
		struct upn_addr a = addr("198.18.0.0");

		a.a[2] = (uint8_t)(i >> 8);
		a.a[3] = (uint8_t)i;
		assert_int_equal(upn_portalnet_add(pn, &a), 0);
	}
	add_us = (now_us() - t0) / n;
	t0 = now_us();
	for (unsigned int i = 0; i < n; i++) {
		struct upn_addr a = addr("198.18.0.0");

		a.a[2] = (uint8_t)(i >> 8);
		a.a[3] = (uint8_t)i;
		assert_int_equal(upn_portalnet_del(pn, &a), 0);
	}
	del_us = (now_us() - t0) / n;
	fprintf(stderr, "# %u adds: %.0f us each; %u dels: %.0f us each\n", n, add_us, n, del_us);
	upn_portalnet_get_stats(pn, &st);
	assert_int_equal(st.elements, 0);
	assert_int_equal(st.errors, 0);
	/* Generous: a loop that stalls for 20 ms per change has a problem. */
	check(add_us < 20000 && del_us < 20000, "too slow");
	upn_portalnet_close(pn);
	assert_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen),	   cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_open_close), cmocka_unit_test(test_leftover),
		cmocka_unit_test(test_elements),   cmocka_unit_test(test_intercept),
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
