// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * genl.c: event messages built in memory with libmnl, as the module builds them, and
 * what the decoder makes of them; then the requests the daemon sends, taken apart
 * attribute by attribute.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "genl.h"

#define FAM 0x1d /* the family id the controller would give */

struct attr {
	uint16_t type, len;
	const void *data;
};

#define U8(t, v)                        \
	{                               \
		t, 1, (const uint8_t[]) \
		{                       \
			v               \
		}                       \
	}
#define U16(t, v)                        \
	{                                \
		t, 2, (const uint16_t[]) \
		{                        \
			v                \
		}                        \
	}
#define U32(t, v)                        \
	{                                \
		t, 4, (const uint32_t[]) \
		{                        \
			v                \
		}                        \
	}
#define U64(t, v)                        \
	{                                \
		t, 8, (const uint64_t[]) \
		{                        \
			v                \
		}                        \
	}
#define BIN(t, ...)                                                            \
	{                                                                      \
		t, sizeof((const uint8_t[]){ __VA_ARGS__ }), (const uint8_t[]) \
		{                                                              \
			__VA_ARGS__                                            \
		}                                                              \
	}

#define F4 U8(UPNOTIFY_A_FAMILY, AF_INET)
#define F6 U8(UPNOTIFY_A_FAMILY, AF_INET6)
#define S4 BIN(UPNOTIFY_A_SERVER, 203, 0, 113, 2)
#define C4 BIN(UPNOTIFY_A_CLIENT, 198, 51, 100, 2)
#define S6 BIN(UPNOTIFY_A_SERVER, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2)
#define C6 BIN(UPNOTIFY_A_CLIENT, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3)
#define CAUSE(c) U8(UPNOTIFY_A_CAUSE, UPNOTIFY_CAUSE_##c)
#define TS U64(UPNOTIFY_A_TIMESTAMP, 1795000000123456789ull)
#define TCP80 U8(UPNOTIFY_A_PROTO, IPPROTO_TCP), U16(UPNOTIFY_A_PORT, 80)

/* Appends one message to @buf at @off; returns the new end. */
static size_t put_msg(char *buf, size_t off, uint16_t type, uint8_t cmd, const struct attr *a,
		      size_t n)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + off);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = UPNOTIFY_GENL_VERSION;
	for (size_t i = 0; i < n && a[i].type; i++)
		mnl_attr_put(nlh, a[i].type, a[i].len, a[i].data);
	return off + nlh->nlmsg_len;
}

static const struct event_case {
	const char *name;
	uint8_t cmd;
	struct attr a[14];
	int want; /* UPN_GENL_OK, UPN_GENL_OTHER or -EINVAL */
} event_cases[] = {
	{ "failed access, v4",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F4, C4, S4, TCP80, CAUSE(SYN_TIMEOUT), TS },
	  UPN_GENL_OK },
	{ "failed access, v6, icmp",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F6, C6, S6, TCP80, CAUSE(ICMP_UNREACH), U8(UPNOTIFY_A_ICMP_TYPE, 1),
	    U8(UPNOTIFY_A_ICMP_CODE, 3), TS },
	  UPN_GENL_OK },
	{ "attributes in another order",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { TS, CAUSE(SYN_TIMEOUT), S4, F4 },
	  UPN_GENL_OK },
	{ "unknown attributes are skipped",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { BIN(UPNOTIFY_A_MAX + 1, 1, 2, 3), F4, S4, U64(200, 7), CAUSE(ICMP_UNREACH), BIN(999) },
	  UPN_GENL_OK },
	{ "known attributes that do not belong are ignored",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S4, CAUSE(NEIGH), U32(UPNOTIFY_A_SYN_TIMEOUT_MS, 5), U8(UPNOTIFY_A_PAD, 0) },
	  UPN_GENL_OK },
	{ "server up without a client",
	  UPNOTIFY_CMD_SERVER_UP_NTF,
	  { F4, S4, CAUSE(TRAP), TS },
	  UPN_GENL_OK },
	{ "no timestamp", UPNOTIFY_CMD_SERVER_UP_NTF, { F4, S4, CAUSE(PROBE) }, UPN_GENL_OK },
	{ "not an event", UPNOTIFY_CMD_GET_STATS, { F4, S4, CAUSE(PROBE) }, UPN_GENL_OTHER },
	{ "unknown command", 77, { F4, S4, CAUSE(PROBE) }, UPN_GENL_OTHER },

	{ "16-byte address with AF_INET",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S6, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "4-byte address with AF_INET6",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F6, S4, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "client of the other family",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F6, C4, S6, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "5-byte address",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, BIN(UPNOTIFY_A_SERVER, 1, 2, 3, 4, 5), CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "empty address",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, BIN(UPNOTIFY_A_SERVER), CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "family AF_UNIX",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { U8(UPNOTIFY_A_FAMILY, AF_UNIX), S4, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "family as a u16",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { U16(UPNOTIFY_A_FAMILY, AF_INET), S4, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "port as a u8",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F4, C4, S4, U8(UPNOTIFY_A_PORT, 80), CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "port as a u32",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F4, C4, S4, U32(UPNOTIFY_A_PORT, 80), CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "timestamp as a u32",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S4, CAUSE(SYN_TIMEOUT), U32(UPNOTIFY_A_TIMESTAMP, 1) },
	  -EINVAL },
	{ "cause as a u32",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S4, U32(UPNOTIFY_A_CAUSE, UPNOTIFY_CAUSE_SYN_TIMEOUT) },
	  -EINVAL },
	{ "cause out of range",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S4, U8(UPNOTIFY_A_CAUSE, UPNOTIFY_CAUSE_MAX + 1) },
	  -EINVAL },
	{ "cause unspec", UPNOTIFY_CMD_SERVER_DOWN_NTF, { F4, S4, CAUSE(UNSPEC) }, -EINVAL },
	{ "no family", UPNOTIFY_CMD_SERVER_DOWN_NTF, { S4, CAUSE(SYN_TIMEOUT) }, -EINVAL },
	{ "no server", UPNOTIFY_CMD_SERVER_DOWN_NTF, { F4, CAUSE(SYN_TIMEOUT) }, -EINVAL },
	{ "no cause", UPNOTIFY_CMD_SERVER_DOWN_NTF, { F4, S4 }, -EINVAL },
	{ "failed access without a client",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F4, S4, TCP80, CAUSE(SYN_TIMEOUT) },
	  -EINVAL },
	{ "icmp failure without its code",
	  UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	  { F4, C4, S4, TCP80, CAUSE(ICMP_UNREACH), U8(UPNOTIFY_A_ICMP_TYPE, 3) },
	  -EINVAL },
	{ "bad client in a server up",
	  UPNOTIFY_CMD_SERVER_UP_NTF,
	  { F4, S4, BIN(UPNOTIFY_A_CLIENT, 1, 2), CAUSE(SYNACK) },
	  -EINVAL },
	{ "wrong-sized icmp code bitmap is still an attribute error",
	  UPNOTIFY_CMD_SERVER_DOWN_NTF,
	  { F4, S4, CAUSE(SYN_TIMEOUT), BIN(UPNOTIFY_A_ICMP_CODES, 1, 2) },
	  -EINVAL },
};

static void test_event_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(event_cases); i++) {
		const struct event_case *c = &event_cases[i];
		char buf[1024] __attribute__((aligned(4))) = { 0 };
		struct upn_event ev;
		int ret;

		put_msg(buf, 0, FAM, c->cmd, c->a, ARRAY_SIZE(c->a));
		ret = upn_genl_decode_event((struct nlmsghdr *)buf, FAM, &ev);
		if (ret != c->want) {
			print_error("%s: got %d, want %d\n", c->name, ret, c->want);
			failures++;
		} else if (ret == UPN_GENL_OK && ev.type != c->cmd) {
			print_error("%s: type %u\n", c->name, ev.type);
			failures++;
		}
	}
	check(!failures, "%d of %zu cases failed", failures, ARRAY_SIZE(event_cases));
}

static void test_event_fields(void **state)
{
	const struct attr a[] = { F6,
				  C6,
				  S6,
				  TCP80,
				  CAUSE(ICMP_UNREACH),
				  U8(UPNOTIFY_A_ICMP_TYPE, 1),
				  U8(UPNOTIFY_A_ICMP_CODE, 3),
				  TS };
	char buf[1024] __attribute__((aligned(4)));
	struct upn_addr c6 = addr("2001:db8:1::3"), s6 = addr("2001:db8::2");
	struct upn_event ev;

	put_msg(buf, 0, FAM, UPNOTIFY_CMD_FAILED_ACCESS_NTF, a, ARRAY_SIZE(a));
	assert_int_equal(upn_genl_decode_event((struct nlmsghdr *)buf, FAM, &ev), UPN_GENL_OK);
	assert_int_equal(ev.type, UPNOTIFY_CMD_FAILED_ACCESS_NTF);
	assert_int_equal(ev.cause, UPNOTIFY_CAUSE_ICMP_UNREACH);
	assert_int_equal(ev.proto, IPPROTO_TCP);
	assert_int_equal(ev.port, 80);
	assert_int_equal(ev.icmp_type, 1);
	assert_int_equal(ev.icmp_code, 3);
	assert_true(ev.ts_ns == 1795000000123456789ull);
	/* Equal to what the rest of the daemon parses: memcmp-able, padding zero. */
	assert_memory_equal(&ev.client, &c6, sizeof(c6));
	assert_memory_equal(&ev.server, &s6, sizeof(s6));
	/* An event from another family is not ours. */
	assert_int_equal(upn_genl_decode_event((struct nlmsghdr *)buf, FAM + 1, &ev),
			 UPN_GENL_OTHER);
}

/* The module batches: one read, several messages, each decoded in turn. */
static void test_batch(void **state)
{
	const struct attr fa[] = { F4, C4, S4, TCP80, CAUSE(SYN_TIMEOUT), TS };
	const struct attr down[] = { F4, S4, CAUSE(SYN_TIMEOUT), TS };
	const struct attr up[] = { F4, S4, C4, CAUSE(SYNACK), TS };
	const struct attr bad[] = { F4, S6, CAUSE(SYNACK) };
	char buf[4096] __attribute__((aligned(4)));
	const uint8_t want[] = { UPNOTIFY_CMD_SERVER_DOWN_NTF, UPNOTIFY_CMD_FAILED_ACCESS_NTF, 0,
				 UPNOTIFY_CMD_SERVER_UP_NTF };
	struct upn_addr c4 = addr("198.51.100.2"), s4 = addr("203.0.113.2");
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	size_t len = 0, n = 0;
	int left;

	len = put_msg(buf, len, FAM, UPNOTIFY_CMD_SERVER_DOWN_NTF, down, ARRAY_SIZE(down));
	len = put_msg(buf, len, FAM, UPNOTIFY_CMD_FAILED_ACCESS_NTF, fa, ARRAY_SIZE(fa));
	len = put_msg(buf, len, FAM, UPNOTIFY_CMD_SERVER_UP_NTF, bad, ARRAY_SIZE(bad));
	len = put_msg(buf, len, FAM, UPNOTIFY_CMD_SERVER_UP_NTF, up, ARRAY_SIZE(up));
	for (left = (int)len; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left), n++) {
		struct upn_event ev;
		int ret = upn_genl_decode_event(nlh, FAM, &ev);

		assert_true(n < ARRAY_SIZE(want));
		if (!want[n]) {
			assert_int_equal(ret, -EINVAL);
			continue;
		}
		assert_int_equal(ret, UPN_GENL_OK);
		assert_int_equal(ev.type, want[n]);
		assert_true(upn_addr_eq(&ev.server, &s4));
		if (ev.type != UPNOTIFY_CMD_SERVER_DOWN_NTF)
			assert_true(upn_addr_eq(&ev.client, &c4));
	}
	assert_int_equal(n, 4);
	assert_int_equal(left, 0);
}

/* Lengths that lie: the message must be refused, never read beyond. */
static void test_cut(void **state)
{
	const struct attr a[] = { F4, C4, S4, TCP80, CAUSE(SYN_TIMEOUT), TS };
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct upn_event ev;
	size_t len = put_msg(buf, 0, FAM, UPNOTIFY_CMD_FAILED_ACCESS_NTF, a, ARRAY_SIZE(a));
	struct nlattr *last = (struct nlattr *)(buf + len - MNL_ALIGN(12));

	/* The last attribute (the u64) claims 4 bytes more than the message holds. */
	assert_int_equal(mnl_attr_get_type(last), UPNOTIFY_A_TIMESTAMP);
	last->nla_len += 4;
	assert_int_equal(upn_genl_decode_event(nlh, FAM, &ev), -EINVAL);
	last->nla_len -= 4;
	/* Half an attribute header left at the end. */
	nlh->nlmsg_len += 4;
	memset(buf + len, 0, 4);
	assert_int_equal(upn_genl_decode_event(nlh, FAM, &ev), -EINVAL);
	/* No room for the genetlink header. */
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(upn_genl_decode_event(nlh, FAM, &ev), -EINVAL);
	assert_int_equal(ev.type, 0);
}

static void test_servers_and_stats(void **state)
{
	const struct attr srv[] = { F4, S4, U8(UPNOTIFY_A_STATE, UPNOTIFY_STATE_DOWN),
				    CAUSE(SYN_TIMEOUT), TS };
	const struct attr refusing[] = { F4,
					 S4,
					 U8(UPNOTIFY_A_STATE, UPNOTIFY_STATE_REFUSING),
					 CAUSE(REFUSED),
					 TS,
					 U16(UPNOTIFY_A_PORT, 81),
					 U16(UPNOTIFY_A_PORT, 82) };
	const struct attr bad_state[] = { F4, S4, U8(UPNOTIFY_A_STATE, UPNOTIFY_STATE_MAX + 1) };
	const struct attr no_state[] = { F4, S4, CAUSE(SYN_TIMEOUT) };
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf, *g;
	struct upn_genl_server s;
	struct nlattr *nest;
	uint64_t st[UPNOTIFY_STAT_MAX + 1] = { 0 };

	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_SERVERS, srv, ARRAY_SIZE(srv));
	assert_int_equal(upn_genl_decode_server(nlh, FAM, &s), UPN_GENL_OK);
	assert_int_equal(s.state, UPNOTIFY_STATE_DOWN);
	assert_int_equal(s.cause, UPNOTIFY_CAUSE_SYN_TIMEOUT);
	assert_true(upn_addr_eq(&s.addr, &(struct upn_addr){ AF_INET, { 203, 0, 113, 2 } }));
	/* A refusing server brings the ports its clients wanted, in order. */
	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_SERVERS, refusing, ARRAY_SIZE(refusing));
	assert_int_equal(upn_genl_decode_server(nlh, FAM, &s), UPN_GENL_OK);
	assert_int_equal(s.state, UPNOTIFY_STATE_REFUSING);
	assert_int_equal(s.ports[0], 81);
	assert_int_equal(s.ports[1], 82);
	assert_int_equal(s.ports[2], 0);
	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_SERVERS, bad_state, ARRAY_SIZE(bad_state));
	assert_int_equal(upn_genl_decode_server(nlh, FAM, &s), -EINVAL);
	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_SERVERS, no_state, ARRAY_SIZE(no_state));
	assert_int_equal(upn_genl_decode_server(nlh, FAM, &s), -EINVAL);

	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_STATS, NULL, 0);
	nest = mnl_attr_nest_start(nlh, UPNOTIFY_A_STATS);
	mnl_attr_put_u64(nlh, UPNOTIFY_STAT_UNREACH, 42);
	mnl_attr_put_u64(nlh, UPNOTIFY_STAT_PENDING, 7);
	mnl_attr_put_u64(nlh, UPNOTIFY_STAT_MAX + 5, 9); /* a newer counter */
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(upn_genl_decode_stats(nlh, FAM, st, ARRAY_SIZE(st)), UPN_GENL_OK);
	assert_true(st[UPNOTIFY_STAT_UNREACH] == 42 && st[UPNOTIFY_STAT_PENDING] == 7);
	/* A counter of the wrong size spoils the reply. */
	g = nlh;
	put_msg(buf, 0, FAM, UPNOTIFY_CMD_GET_STATS, NULL, 0);
	nest = mnl_attr_nest_start(g, UPNOTIFY_A_STATS);
	mnl_attr_put_u32(g, UPNOTIFY_STAT_RST, 1);
	mnl_attr_nest_end(g, nest);
	assert_int_equal(upn_genl_decode_stats(g, FAM, st, ARRAY_SIZE(st)), -EINVAL);
}

static void test_family(void **state)
{
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct upn_genl_family fam;
	struct nlattr *groups, *grp;
	const char *names[] = { "other", UPNOTIFY_MCGRP_EVENTS };

	put_msg(buf, 0, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, NULL, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, UPNOTIFY_GENL_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAM);
	groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	for (int i = 0; i < 2; i++) {
		grp = mnl_attr_nest_start(nlh, (uint16_t)(i + 1));
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, names[i]);
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 30 + (uint32_t)i);
		mnl_attr_nest_end(nlh, grp);
	}
	mnl_attr_nest_end(nlh, groups);
	assert_int_equal(upn_genl_decode_family(nlh, &fam), UPN_GENL_OK);
	assert_int_equal(fam.id, FAM);
	assert_int_equal(fam.events, 31);
}

/* ---- requests ---------------------------------------------------------------- */

static const struct nlattr *next_attr(const struct nlattr *a)
{
	return mnl_attr_next(a);
}

static void check_prefix_nest(const struct nlattr *nest, uint16_t type, const char *prefix)
{
	struct upn_prefix p = pfx(prefix);
	const struct nlattr *a;
	int i = 0;

	assert_int_equal(mnl_attr_get_type(nest), type);
	mnl_attr_for_each_nested(a, nest) {
		switch (i++) {
		case 0:
			assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_PREFIX_FAMILY);
			assert_int_equal(mnl_attr_get_payload_len(a), 1);
			assert_int_equal(mnl_attr_get_u8(a), p.addr.family);
			break;
		case 1:
			assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_PREFIX_ADDR);
			assert_int_equal(mnl_attr_get_payload_len(a), upn_addr_len(&p.addr));
			assert_memory_equal(mnl_attr_get_payload(a), p.addr.a,
					    upn_addr_len(&p.addr));
			break;
		case 2:
			assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_PREFIX_LEN);
			assert_int_equal(mnl_attr_get_u8(a), p.len);
			break;
		}
	}
	assert_int_equal(i, 3);
}

static void check_header(const struct nlmsghdr *nlh, uint8_t cmd, uint16_t flags)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	assert_int_equal(nlh->nlmsg_type, FAM);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | flags);
	assert_int_equal(nlh->nlmsg_seq, 9);
	assert_int_equal(g->cmd, cmd);
	assert_int_equal(g->version, UPNOTIFY_GENL_VERSION);
}

static void test_set_watch(void **state)
{
	struct upn_prefix watch[] = { pfx("203.0.113.0/24"), pfx("2001:db8::/32") };
	struct upn_prefix ignore[] = { pfx("198.51.100.7") };
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *nlh =
		upn_genl_put_set_watch(buf, sizeof(buf), FAM, 9, watch, 2, ignore, 1);
	const struct nlattr *a;

	assert_non_null(nlh);
	check_header(nlh, UPNOTIFY_CMD_SET_WATCH, NLM_F_ACK);
	a = mnl_nlmsg_get_payload_offset(nlh, GENL_HDRLEN);
	check_prefix_nest(a, UPNOTIFY_A_WATCH, "203.0.113.0/24");
	a = next_attr(a);
	check_prefix_nest(a, UPNOTIFY_A_WATCH, "2001:db8::/32");
	a = next_attr(a);
	check_prefix_nest(a, UPNOTIFY_A_IGNORE, "198.51.100.7/32");
	a = next_attr(a);
	assert_ptr_equal(a, mnl_nlmsg_get_payload_tail(nlh));

	/* No prefixes at all: "watch everything", an empty request. */
	nlh = upn_genl_put_set_watch(buf, sizeof(buf), FAM, 9, NULL, 0, NULL, 0);
	assert_non_null(nlh);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + GENL_HDRLEN);
	/* Too small a buffer is NULL, never an overrun. */
	for (size_t len = 0; len < 100; len++)
		assert_null(upn_genl_put_set_watch(buf, len, FAM, 9, watch, 2, ignore, 1));
}

static void test_set_config(void **state)
{
	uint8_t v4[32] = { 0x0f }, v6[32] = { [31] = 0x80 };
	struct upn_genl_config c = { 2500, true, UPNOTIFY_MODE_ALL, v4, v6 };
	char buf[512] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = upn_genl_put_set_config(buf, sizeof(buf), FAM, 9, &c);
	const struct {
		uint16_t type, len;
	} want[] = {
		{ UPNOTIFY_A_SYN_TIMEOUT_MS, 4 }, { UPNOTIFY_A_COUNT_REFUSED, 1 },
		{ UPNOTIFY_A_MODE, 1 },		  { UPNOTIFY_A_ICMP_CODES, 32 },
		{ UPNOTIFY_A_ICMP6_CODES, 32 },
	};
	const struct nlattr *a;
	size_t i = 0;

	assert_non_null(nlh);
	check_header(nlh, UPNOTIFY_CMD_SET_CONFIG, NLM_F_ACK);
	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		assert_true(i < ARRAY_SIZE(want));
		assert_int_equal(mnl_attr_get_type(a), want[i].type);
		assert_int_equal(mnl_attr_get_payload_len(a), want[i].len);
		i++;
	}
	assert_int_equal(i, ARRAY_SIZE(want));
	a = mnl_nlmsg_get_payload_offset(nlh, GENL_HDRLEN);
	assert_int_equal(mnl_attr_get_u32(a), 2500);
	a = next_attr(a);
	assert_int_equal(mnl_attr_get_u8(a), 1);
	a = next_attr(a);
	assert_int_equal(mnl_attr_get_u8(a), UPNOTIFY_MODE_ALL);
	a = next_attr(a);
	assert_memory_equal(mnl_attr_get_payload(a), v4, 32);
	a = next_attr(a);
	assert_memory_equal(mnl_attr_get_payload(a), v6, 32);
}

static void test_other_requests(void **state)
{
	char buf[256] __attribute__((aligned(4)));
	struct upn_addr s6 = addr("2001:db8::2");
	struct nlmsghdr *nlh = upn_genl_put_set_server(buf, sizeof(buf), FAM, 9, &s6,
						       UPNOTIFY_STATE_UP, UPNOTIFY_CAUSE_TRAP);
	const struct nlattr *a;

	assert_non_null(nlh);
	check_header(nlh, UPNOTIFY_CMD_SET_SERVER, NLM_F_ACK);
	a = mnl_nlmsg_get_payload_offset(nlh, GENL_HDRLEN);
	assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_FAMILY);
	assert_int_equal(mnl_attr_get_u8(a), AF_INET6);
	a = next_attr(a);
	assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_SERVER);
	assert_int_equal(mnl_attr_get_payload_len(a), 16);
	a = next_attr(a);
	assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_STATE);
	assert_int_equal(mnl_attr_get_u8(a), UPNOTIFY_STATE_UP);
	a = next_attr(a);
	assert_int_equal(mnl_attr_get_type(a), UPNOTIFY_A_CAUSE);
	assert_int_equal(mnl_attr_get_u8(a), UPNOTIFY_CAUSE_TRAP);

	nlh = upn_genl_put_get_servers(buf, sizeof(buf), FAM, 9);
	check_header(nlh, UPNOTIFY_CMD_GET_SERVERS, NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + GENL_HDRLEN);
	nlh = upn_genl_put_get_stats(buf, sizeof(buf), FAM, 9);
	check_header(nlh, UPNOTIFY_CMD_GET_STATS, NLM_F_ACK);
	assert_null(upn_genl_put_get_stats(buf, 4, FAM, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_table),
		cmocka_unit_test(test_event_fields),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_servers_and_stats),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_set_watch),
		cmocka_unit_test(test_set_config),
		cmocka_unit_test(test_other_requests),
	};

	return cmocka_run_group_tests_name("genl", tests, NULL, NULL);
}
