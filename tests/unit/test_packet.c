// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Each case builds one packet and says what the parser must make of it, and from
 * how many bytes on: every shorter prefix must come back UPN_PKT_TRUNCATED, every
 * longer one exactly like the whole packet. Prefixes are parsed from exact-size heap
 * copies, so an out-of-bounds read shows under ASan or valgrind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"

/* Documentation ranges: the client, the server, a router reporting trouble. */
#define C4 "192.0.2.10"
#define S4 "198.51.100.80"
#define R4 "203.0.113.1"
#define C6 "2001:db8::10"
#define S6 "2001:db8:1::80"
#define R6 "2001:db8:ff::1"

#define OK UPN_PKT_OK
#define TRUNC UPN_PKT_TRUNCATED
#define BAD UPN_PKT_BAD

/* ---- packet builders: each writes one header at @p and returns its length ---- */

static void put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, sizeof(v));
}

static void put_addr(uint8_t *p, int family, const char *s)
{
	assert_int_equal(inet_pton(family, s, p), 1);
}

/* @ihl 32-bit words, any beyond five filled with NOP options. */
static size_t ip4(uint8_t *p, unsigned int ihl, uint8_t proto, const char *src, const char *dst)
{
	memset(p, IPOPT_NOP, ihl * 4);
	memset(p, 0, sizeof(struct ip));
	p[0] = 0x40 | ihl;
	p[8] = 64;
	p[9] = proto;
	put_addr(p + 12, AF_INET, src);
	put_addr(p + 16, AF_INET, dst);
	return ihl * 4;
}

static size_t ip6(uint8_t *p, uint8_t nxt, const char *src, const char *dst)
{
	memset(p, 0, sizeof(struct ip6_hdr));
	p[0] = 0x60;
	p[6] = nxt;
	p[7] = 64;
	put_addr(p + 8, AF_INET6, src);
	put_addr(p + 24, AF_INET6, dst);
	return sizeof(struct ip6_hdr);
}

/* Hop-by-hop, routing or destination options: 8 * (@len8 + 1) bytes of PadN. */
static size_t ext6(uint8_t *p, uint8_t nxt, uint8_t len8)
{
	size_t n = ((size_t)len8 + 1) * 8;

	memset(p, 0, n);
	p[0] = nxt;
	p[1] = len8;
	p[2] = 1;
	p[3] = (uint8_t)(n - 4);
	return n;
}

static size_t frag6(uint8_t *p, uint8_t nxt, uint16_t off8, bool more)
{
	memset(p, 0, sizeof(struct ip6_frag));
	p[0] = nxt;
	put16(p + 2, (uint16_t)(off8 << 3 | more));
	put32(p + 4, 0xf00d);
	return sizeof(struct ip6_frag);
}

/* AH with a 96-bit ICV: 24 bytes, length field 4. Read with the (n + 1) * 8 rule of
 * the other extension headers it would be 40, so a wrong formula shows. */
static size_t ah6(uint8_t *p, uint8_t nxt)
{
	memset(p, 0xa5, 24);
	p[0] = nxt;
	p[1] = 24 / 4 - 2;
	p[2] = p[3] = 0;
	return 24;
}

static size_t tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		  uint8_t flags)
{
	memset(p, 0, sizeof(struct tcphdr));
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	put32(p + 8, ack);
	p[12] = 5 << 4;
	p[13] = flags;
	put16(p + 14, 64240);
	return sizeof(struct tcphdr);
}

static size_t udp(uint8_t *p, uint16_t sport, uint16_t dport)
{
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, 8);
	put16(p + 6, 0);
	return 8;
}

static size_t icmp(uint8_t *p, uint8_t type, uint8_t code)
{
	memset(p, 0, 8);
	p[0] = type;
	p[1] = code;
	return 8;
}

/* Fill in the IP header's length field as if the packet were @len bytes long. */
static size_t seal(uint8_t *p, size_t len)
{
	if (p[0] >> 4 == 4)
		put16(p + 2, (uint16_t)len);
	else
		put16(p + 4, (uint16_t)(len - sizeof(struct ip6_hdr)));
	return len;
}

/* ---- the packets ---- */

static size_t v4_syn(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, C4, S4);

	n += tcp(p + n, 40000, 80, 1000, 0, TH_SYN);
	return seal(p, n);
}

static size_t v4_synack(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, S4, C4);

	n += tcp(p + n, 80, 40000, 5000, 1001, TH_SYN | TH_ACK);
	return seal(p, n);
}

static size_t v4_rstack(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, S4, C4);

	n += tcp(p + n, 80, 40000, 0, 1001, TH_RST | TH_ACK);
	return seal(p, n);
}

static size_t v4_synrst(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, C4, S4);

	n += tcp(p + n, 40000, 80, 7, 0, TH_SYN | TH_RST);
	return seal(p, n);
}

static size_t v4_ack(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, C4, S4);

	n += tcp(p + n, 40000, 80, 1001, 5001, TH_ACK);
	return seal(p, n);
}

static size_t v4_udp(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_UDP, C4, S4);

	n += udp(p + n, 5353, 53);
	return seal(p, n);
}

static size_t v4_options_syn(uint8_t *p)
{
	size_t n = ip4(p, 7, IPPROTO_TCP, C4, S4);

	n += tcp(p + n, 40000, 443, 99, 0, TH_SYN);
	return seal(p, n);
}

/* TCP options and payload follow; none of it is needed. */
static size_t v4_syn_payload(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, C4, S4);

	tcp(p + n, 40000, 80, 1000, 0, TH_SYN);
	p[n + 12] = 8 << 4;
	n += 32;
	memset(p + n - 12, 0x01, 12);
	memset(p + n, 'x', 100);
	return seal(p, n + 100);
}

/* The IP header claims 1500 bytes; the copy range stopped after TCP. */
static size_t v4_syn_capture_short(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_TCP, C4, S4);

	n += tcp(p + n, 40000, 80, 1000, 0, TH_SYN);
	seal(p, 1500);
	return n;
}

static size_t v4_first_frag_syn(uint8_t *p)
{
	size_t n = v4_syn(p);

	put16(p + 6, IP_MF);
	return n;
}

static size_t v4_later_frag(uint8_t *p)
{
	size_t n = v4_syn(p);

	put16(p + 6, 185);
	return n;
}

static size_t v4_ihl4(uint8_t *p)
{
	size_t n = v4_syn(p);

	p[0] = 0x44;
	return n;
}

static size_t v4_ihl_beyond_capture(uint8_t *p)
{
	size_t n = v4_syn(p);

	p[0] = 0x4f;
	return n;
}

static size_t version5(uint8_t *p)
{
	size_t n = v4_syn(p);

	p[0] = 0x55;
	return n;
}

static size_t v4_tcp_doff4(uint8_t *p)
{
	size_t n = v4_syn(p);

	p[20 + 12] = 4 << 4;
	return n;
}

static size_t v4_echo(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_ICMP, C4, S4);

	n += icmp(p + n, ICMP_ECHO, 0);
	return seal(p, n);
}

/* A quoted SYN of 60 bytes: RFC 792 routers return just the first 8 of TCP. */
static size_t quote_v4_syn(uint8_t *p, unsigned int ihl)
{
	size_t n = ip4(p, ihl, IPPROTO_TCP, C4, S4);

	tcp(p + n, 40000, 80, 1000, 0, TH_SYN);
	seal(p, 60);
	return n + 8;
}

static size_t v4_unreach(uint8_t *p, const char *reporter, uint8_t code)
{
	size_t n = ip4(p, 5, IPPROTO_ICMP, reporter, C4);

	return n + icmp(p + n, ICMP_DEST_UNREACH, code);
}

static size_t v4_host_unreach_tcp(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH);

	n += quote_v4_syn(p + n, 5);
	return seal(p, n);
}

static size_t v4_port_unreach_udp(uint8_t *p)
{
	size_t n = v4_unreach(p, S4, ICMP_PORT_UNREACH), in = n;

	n += ip4(p + n, 5, IPPROTO_UDP, C4, S4);
	n += udp(p + n, 5353, 53);
	memset(p + n, 'q', 20);
	n += 20;
	seal(p + in, n - in);
	return seal(p, n);
}

static size_t v4_unreach_inner_options(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_NET_UNREACH);

	n += quote_v4_syn(p + n, 6);
	return seal(p, n);
}

static size_t v4_unreach_inner_icmp(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH), in = n;

	n += ip4(p + n, 5, IPPROTO_ICMP, C4, S4);
	n += icmp(p + n, ICMP_ECHO, 0);
	seal(p + in, n - in);
	return seal(p, n);
}

/* SCTP's ports sit where UDP's do, so the UDP builder serves for the 8 quoted bytes. */
static size_t v4_unreach_inner_sctp(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_PROT_UNREACH), in = n;

	n += ip4(p + n, 5, IPPROTO_SCTP, C4, S4);
	n += udp(p + n, 2905, 3868);
	seal(p + in, 100);
	return seal(p, n);
}

static size_t v4_unreach_inner_later_frag(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH), in = n;

	n += quote_v4_syn(p + n, 5);
	put16(p + in + 6, 185);
	return seal(p, n);
}

static size_t v4_unreach_inner_v6(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH), in = n;

	n += ip6(p + n, IPPROTO_TCP, C6, S6);
	n += tcp(p + n, 40000, 80, 1000, 0, TH_SYN);
	seal(p + in, n - in);
	return seal(p, n);
}

static size_t v4_unreach_inner_short(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH);

	n += quote_v4_syn(p + n, 5) - 4;
	return seal(p, n);
}

static size_t v4_unreach_inner_ihl4(uint8_t *p)
{
	size_t n = v4_unreach(p, R4, ICMP_HOST_UNREACH), in = n;

	n += quote_v4_syn(p + n, 5);
	p[in] = 0x44;
	return seal(p, n);
}

static size_t v4_unreach_no_quote(uint8_t *p)
{
	return seal(p, v4_unreach(p, R4, ICMP_HOST_UNREACH));
}

static size_t v4_time_exceeded(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_ICMP, R4, C4);

	n += icmp(p + n, ICMP_TIME_EXCEEDED, 0);
	n += quote_v4_syn(p + n, 5);
	return seal(p, n);
}

/* ICMPv6 type 1 carried by IPv4 is not a destination unreachable. */
static size_t v4_carrying_icmpv6(uint8_t *p)
{
	size_t n = ip4(p, 5, IPPROTO_ICMPV6, R4, C4);

	n += icmp(p + n, ICMP6_DST_UNREACH, 0);
	n += quote_v4_syn(p + n, 5);
	return seal(p, n);
}

static size_t v6_syn_hbh_dstopts(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_HOPOPTS, C6, S6);

	n += ext6(p + n, IPPROTO_DSTOPTS, 0);
	n += ext6(p + n, IPPROTO_TCP, 1);
	n += tcp(p + n, 40001, 443, 0xdeadbeef, 0, TH_SYN);
	return seal(p, n);
}

static size_t v6_synack(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_TCP, S6, C6);

	n += tcp(p + n, 443, 40001, 1, 0xdeadbef0, TH_SYN | TH_ACK);
	return seal(p, n);
}

static size_t v6_rst(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_TCP, S6, C6);

	n += tcp(p + n, 443, 40001, 0, 0xdeadbef0, TH_RST | TH_ACK);
	return seal(p, n);
}

static size_t v6_first_frag_syn(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_FRAGMENT, C6, S6);

	n += frag6(p + n, IPPROTO_TCP, 0, true);
	n += tcp(p + n, 40001, 443, 5, 0, TH_SYN);
	return seal(p, n);
}

static size_t v6_later_frag(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_FRAGMENT, C6, S6);

	n += frag6(p + n, IPPROTO_TCP, 185, false);
	n += tcp(p + n, 40001, 443, 5, 0, TH_SYN);
	return seal(p, n);
}

static size_t v6_ah_syn(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_AH, C6, S6);

	n += ah6(p + n, IPPROTO_TCP);
	n += tcp(p + n, 40001, 443, 5, 0, TH_SYN);
	return seal(p, n);
}

static size_t v6_esp(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_ESP, C6, S6);

	memset(p + n, 0x5a, 16);
	return seal(p, n + 16);
}

static size_t v6_no_next(uint8_t *p)
{
	return seal(p, ip6(p, IPPROTO_NONE, C6, S6));
}

static size_t v6_exthdr_chain(uint8_t *p, unsigned int count)
{
	size_t n = ip6(p, IPPROTO_HOPOPTS, C6, S6);

	for (unsigned int i = 0; i < count; i++)
		n += ext6(p + n, i + 1 < count ? IPPROTO_ROUTING : IPPROTO_TCP, 0);
	n += tcp(p + n, 40001, 443, 5, 0, TH_SYN);
	return seal(p, n);
}

static size_t v6_8_exthdrs(uint8_t *p)
{
	return v6_exthdr_chain(p, 8);
}

static size_t v6_9_exthdrs(uint8_t *p)
{
	return v6_exthdr_chain(p, 9);
}

static size_t v6_syn_capture_short(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_TCP, C6, S6);

	n += tcp(p + n, 40001, 443, 5, 0, TH_SYN);
	seal(p, 1500);
	return n;
}

static size_t v6_icmpv4_proto(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_ICMP, R6, C6);

	n += icmp(p + n, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH);
	return seal(p, n);
}

static size_t v6_echo(uint8_t *p)
{
	size_t n = ip6(p, IPPROTO_ICMPV6, C6, S6);

	n += icmp(p + n, ICMP6_ECHO_REQUEST, 0);
	return seal(p, n);
}

static size_t v6_unreach(uint8_t *p, const char *reporter, uint8_t code)
{
	size_t n = ip6(p, IPPROTO_ICMPV6, reporter, C6);

	return n + icmp(p + n, ICMP6_DST_UNREACH, code);
}

static size_t v6_unreach_tcp(uint8_t *p)
{
	size_t n = v6_unreach(p, R6, ICMP6_DST_UNREACH_ADDR), in = n;

	n += ip6(p + n, IPPROTO_TCP, C6, S6);
	tcp(p + n, 40001, 443, 0xdeadbeef, 0, TH_SYN);
	n += 8;
	seal(p + in, 80);
	return seal(p, n);
}

static size_t v6_unreach_udp_hbh(uint8_t *p)
{
	size_t n = v6_unreach(p, S6, ICMP6_DST_UNREACH_NOPORT), in = n;

	n += ip6(p + n, IPPROTO_HOPOPTS, C6, S6);
	n += ext6(p + n, IPPROTO_UDP, 0);
	n += udp(p + n, 5353, 53);
	seal(p + in, n - in);
	return seal(p, n);
}

static size_t v6_unreach_udplite(uint8_t *p)
{
	size_t n = v6_unreach(p, S6, ICMP6_DST_UNREACH_NOPORT), in = n;

	n += ip6(p + n, IPPROTO_UDPLITE, C6, S6);
	n += udp(p + n, 4000, 5004);
	seal(p + in, n - in);
	return seal(p, n);
}

static size_t v6_unreach_inner_v4(uint8_t *p)
{
	size_t n = v6_unreach(p, R6, ICMP6_DST_UNREACH_ADDR);

	n += quote_v4_syn(p + n, 5);
	return seal(p, n);
}

static size_t v6_unreach_inner_short(uint8_t *p)
{
	return v6_unreach_tcp(p) - 1;
}

static size_t v6_header_short(uint8_t *p)
{
	ip6(p, IPPROTO_TCP, C6, S6);
	return sizeof(struct ip6_hdr) - 1;
}

static size_t empty(uint8_t *p)
{
	(void)p;
	return 0;
}

/* ---- the table ---- */

struct pcase {
	const char *name;
	size_t (*build)(uint8_t *p);
	size_t need; /* shortest prefix parsed like the whole packet */
	int ret;
	uint8_t kind, proto, flags, icmp_type, icmp_code;
	const char *src, *dst, *reporter; /* NULL: must stay zero */
	uint16_t sport, dport;
	uint32_t seq, ack;
};

#define TCP_CASE(n, b, nd, k, f, s, d, sp, dp, sq, ak)                            \
	{                                                                         \
		n, b, nd, OK, k, IPPROTO_TCP, f, 0, 0, s, d, NULL, sp, dp, sq, ak \
	}
#define UNREACH_CASE(n, b, nd, p, t, c, s, d, r, sp, dp, sq)                      \
	{                                                                         \
		n, b, nd, OK, UPN_PKT_UNREACH, p, 0, t, c, s, d, r, sp, dp, sq, 0 \
	}
#define NOTHING_CASE(n, b, nd, r)                           \
	{                                                   \
		.name = n, .build = b, .need = nd, .ret = r \
	}

static const struct pcase cases[] = {
	TCP_CASE("v4 SYN", v4_syn, 40, UPN_PKT_SYN, TH_SYN, C4, S4, 40000, 80, 1000, 0),
	TCP_CASE("v4 SYN/ACK", v4_synack, 40, UPN_PKT_SYNACK, TH_SYN | TH_ACK, S4, C4, 80, 40000,
		 5000, 1001),
	TCP_CASE("v4 RST/ACK", v4_rstack, 40, UPN_PKT_RST, TH_RST | TH_ACK, S4, C4, 80, 40000, 0,
		 1001),
	TCP_CASE("v4 SYN+RST is a RST", v4_synrst, 40, UPN_PKT_RST, TH_SYN | TH_RST, C4, S4, 40000,
		 80, 7, 0),
	TCP_CASE("v4 IP options", v4_options_syn, 48, UPN_PKT_SYN, TH_SYN, C4, S4, 40000, 443, 99,
		 0),
	TCP_CASE("v4 TCP options and payload", v4_syn_payload, 40, UPN_PKT_SYN, TH_SYN, C4, S4,
		 40000, 80, 1000, 0),
	TCP_CASE("v4 capture shorter than total length", v4_syn_capture_short, 40, UPN_PKT_SYN,
		 TH_SYN, C4, S4, 40000, 80, 1000, 0),
	TCP_CASE("v4 first fragment", v4_first_frag_syn, 40, UPN_PKT_SYN, TH_SYN, C4, S4, 40000, 80,
		 1000, 0),
	NOTHING_CASE("v4 plain ACK", v4_ack, 40, OK),
	NOTHING_CASE("v4 UDP", v4_udp, 20, OK),
	NOTHING_CASE("v4 later fragment", v4_later_frag, 20, OK),
	NOTHING_CASE("v4 IHL 4", v4_ihl4, 20, BAD),
	NOTHING_CASE("v4 IHL beyond capture", v4_ihl_beyond_capture, 60, TRUNC),
	NOTHING_CASE("version 5", version5, 1, BAD),
	NOTHING_CASE("v4 TCP data offset 4", v4_tcp_doff4, 40, BAD),
	NOTHING_CASE("v4 echo", v4_echo, 28, OK),
	NOTHING_CASE("v4 time exceeded", v4_time_exceeded, 28, OK),
	NOTHING_CASE("v4 carrying ICMPv6", v4_carrying_icmpv6, 20, OK),

	UNREACH_CASE("v4 host unreachable, TCP", v4_host_unreach_tcp, 56, IPPROTO_TCP,
		     ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, C4, S4, R4, 40000, 80, 1000),
	UNREACH_CASE("v4 port unreachable, UDP", v4_port_unreach_udp, 56, IPPROTO_UDP,
		     ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, C4, S4, S4, 5353, 53, 0),
	UNREACH_CASE("v4 unreachable, inner IP options", v4_unreach_inner_options, 60, IPPROTO_TCP,
		     ICMP_DEST_UNREACH, ICMP_NET_UNREACH, C4, S4, R4, 40000, 80, 1000),
	UNREACH_CASE("v4 unreachable, inner ICMP", v4_unreach_inner_icmp, 48, IPPROTO_ICMP,
		     ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, C4, S4, R4, 0, 0, 0),
	UNREACH_CASE("v4 protocol unreachable, SCTP", v4_unreach_inner_sctp, 56, IPPROTO_SCTP,
		     ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, C4, S4, R4, 2905, 3868, 0),
	NOTHING_CASE("v4 unreachable, inner later fragment", v4_unreach_inner_later_frag, 48, OK),
	NOTHING_CASE("v4 unreachable, inner IPv6", v4_unreach_inner_v6, 29, BAD),
	NOTHING_CASE("v4 unreachable, inner TCP cut", v4_unreach_inner_short, 56, TRUNC),
	NOTHING_CASE("v4 unreachable, inner IHL 4", v4_unreach_inner_ihl4, 48, BAD),
	NOTHING_CASE("v4 unreachable, no quote", v4_unreach_no_quote, 29, TRUNC),

	TCP_CASE("v6 SYN, hop-by-hop and dest opts", v6_syn_hbh_dstopts, 84, UPN_PKT_SYN, TH_SYN,
		 C6, S6, 40001, 443, 0xdeadbeef, 0),
	TCP_CASE("v6 SYN/ACK", v6_synack, 60, UPN_PKT_SYNACK, TH_SYN | TH_ACK, S6, C6, 443, 40001,
		 1, 0xdeadbef0),
	TCP_CASE("v6 RST/ACK", v6_rst, 60, UPN_PKT_RST, TH_RST | TH_ACK, S6, C6, 443, 40001, 0,
		 0xdeadbef0),
	TCP_CASE("v6 first fragment", v6_first_frag_syn, 68, UPN_PKT_SYN, TH_SYN, C6, S6, 40001,
		 443, 5, 0),
	TCP_CASE("v6 AH", v6_ah_syn, 84, UPN_PKT_SYN, TH_SYN, C6, S6, 40001, 443, 5, 0),
	TCP_CASE("v6 eight extension headers", v6_8_exthdrs, 124, UPN_PKT_SYN, TH_SYN, C6, S6,
		 40001, 443, 5, 0),
	TCP_CASE("v6 capture shorter than payload length", v6_syn_capture_short, 60, UPN_PKT_SYN,
		 TH_SYN, C6, S6, 40001, 443, 5, 0),
	NOTHING_CASE("v6 later fragment", v6_later_frag, 48, OK),
	NOTHING_CASE("v6 nine extension headers", v6_9_exthdrs, 104, OK),
	NOTHING_CASE("v6 ESP", v6_esp, 40, OK),
	NOTHING_CASE("v6 no next header", v6_no_next, 40, OK),
	NOTHING_CASE("v6 carrying ICMPv4", v6_icmpv4_proto, 40, OK),
	NOTHING_CASE("v6 echo", v6_echo, 48, OK),
	NOTHING_CASE("v6 header cut", v6_header_short, 40, TRUNC),

	UNREACH_CASE("v6 address unreachable, TCP", v6_unreach_tcp, 96, IPPROTO_TCP,
		     ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, C6, S6, R6, 40001, 443, 0xdeadbeef),
	UNREACH_CASE("v6 port unreachable, UDP after hop-by-hop", v6_unreach_udp_hbh, 104,
		     IPPROTO_UDP, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, C6, S6, S6, 5353, 53,
		     0),
	UNREACH_CASE("v6 port unreachable, UDP-Lite", v6_unreach_udplite, 96, IPPROTO_UDPLITE,
		     ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, C6, S6, S6, 4000, 5004, 0),
	NOTHING_CASE("v6 unreachable, inner IPv4", v6_unreach_inner_v4, 49, BAD),
	NOTHING_CASE("v6 unreachable, inner TCP cut", v6_unreach_inner_short, 96, TRUNC),

	NOTHING_CASE("empty", empty, 1, TRUNC),
};

/* ---- checks ---- */

static void check_addr(const char *what, const struct upn_addr *got, const char *want)
{
	char buf[UPN_ADDRSTRLEN];
	struct upn_addr w;

	if (want)
		assert_int_equal(upn_addr_parse(want, &w), 0);
	else
		memset(&w, 0, sizeof(w));
	if (!upn_addr_eq(got, &w))
		fail_msg("%s: got %s (family %u), want %s", what, upn_addr_fmt(got, buf),
			 got->family, want ? want : "none");
}

static void check_fields(const struct pcase *c, const struct upn_pkt *got)
{
	assert_int_equal(got->kind, c->kind);
	assert_int_equal(got->proto, c->proto);
	assert_int_equal(got->tcp_flags, c->flags);
	assert_int_equal(got->icmp_type, c->icmp_type);
	assert_int_equal(got->icmp_code, c->icmp_code);
	check_addr("src", &got->src, c->src);
	check_addr("dst", &got->dst, c->dst);
	check_addr("reporter", &got->reporter, c->reporter);
	assert_int_equal(got->sport, c->sport);
	assert_int_equal(got->dport, c->dport);
	assert_int_equal(got->seq, c->seq);
	assert_int_equal(got->ack, c->ack);
}

/* Parse the first @n bytes from a heap block of exactly that size. */
static int parse_prefix(const uint8_t *pkt, size_t n, struct upn_pkt *out)
{
	uint8_t *copy = malloc(n ? n : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, pkt, n);
	memset(out, 0x5a, sizeof(*out)); /* the parser must clear it */
	ret = upn_packet_parse(copy, n, out);
	free(copy);
	return ret;
}

static void run_case(void **state)
{
	const struct pcase *c = *state;
	struct upn_pkt whole, got, zero;
	uint8_t pkt[512];
	size_t len;
	int ret;

	memset(pkt, 0xee, sizeof(pkt));
	len = c->build(pkt);
	assert_true(len <= sizeof(pkt));

	ret = parse_prefix(pkt, len, &whole);
	assert_int_equal(ret, c->ret);
	check_fields(c, &whole);

	memset(&zero, 0, sizeof(zero));
	for (size_t n = 0; n < len; n++) {
		ret = parse_prefix(pkt, n, &got);
		if (n < c->need && (ret != TRUNC || memcmp(&got, &zero, sizeof(got))))
			fail_msg("%zu of %zu bytes: got %d kind %u, want truncated and zeroed", n,
				 len, ret, got.kind);
		if (n >= c->need && (ret != c->ret || memcmp(&got, &whole, sizeof(got))))
			fail_msg("%zu of %zu bytes: got %d kind %u, want the same as all of it", n,
				 len, ret, got.kind);
	}
}

/* Length 0 must not touch the buffer at all. */
static void test_null_empty(void **state)
{
	struct upn_pkt out;

	(void)state;
	assert_int_equal(upn_packet_parse(NULL, 0, &out), TRUNC);
	assert_int_equal(out.kind, UPN_PKT_OTHER);
}

/* UPN_PACKET_CORPUS=dir also writes the cases that find something there, as the
 * fuzzer's seeds; the broken variants are a mutation or two away from them. */
static void write_corpus(const char *dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char name[128], path[4096], *d = name;
		uint8_t pkt[512];
		size_t len = cases[i].build(pkt);
		FILE *f;

		if (cases[i].kind == UPN_PKT_OTHER)
			continue;
		/* "v6 SYN/ACK" is saved as v6_SYN_ACK. */
		for (const char *s = cases[i].name; *s && d < name + sizeof(name) - 1; s++) {
			if (isalnum((unsigned char)*s))
				*d++ = *s;
			else if (d > name && d[-1] != '_')
				*d++ = '_';
		}
		*d = '\0';
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
			fail_msg("%s: name too long", dir);
		f = fopen(path, "wb");
		if (!f || fwrite(pkt, 1, len, f) != len || fclose(f)) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			exit(1);
		}
	}
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(cases) + 1] = {
		cmocka_unit_test(test_null_empty),
	};
	const char *corpus = getenv("UPN_PACKET_CORPUS");

	if (corpus)
		write_corpus(corpus);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		tests[i + 1].name = cases[i].name;
		tests[i + 1].test_func = run_case;
		tests[i + 1].initial_state = (void *)&cases[i];
	}
	return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}
