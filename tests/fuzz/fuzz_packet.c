// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_packet_parse() takes bytes straight off the wire. Beyond "no crash, no read
 * outside the buffer" (ASan), check what packet.h promises and that one more byte
 * never changes a verdict reached without it: a parser that decides on bytes it has
 * not bounds-checked shows up here even when the stray read stays inside the input.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "packet.h"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* @a must be the address at @raw, which points into the outermost header. */
static void check_addr(const struct upn_addr *a, int family, const uint8_t *raw)
{
	size_t alen = family == AF_INET ? 4 : 16;

	CHECK(a->family == family);
	CHECK(!memcmp(a->a, raw, alen));
	CHECK(all_zero(a->a + alen, sizeof(a->a) - alen));
}

static void check_family(const struct upn_addr *a, int family)
{
	size_t alen = family == AF_INET ? 4 : 16;

	CHECK(a->family == family);
	CHECK(all_zero(a->a + alen, sizeof(a->a) - alen));
}

static void check_tcp(const struct upn_pkt *p, int family, const uint8_t *data, size_t size)
{
	size_t saddr = family == AF_INET ? 12 : 8, alen = family == AF_INET ? 4 : 16;
	uint8_t f = p->tcp_flags;

	CHECK(size >= (family == AF_INET ? 40u : 60u));
	CHECK(p->proto == IPPROTO_TCP);
	CHECK(!p->icmp_type && !p->icmp_code);
	CHECK(all_zero(&p->reporter, sizeof(p->reporter)));
	check_addr(&p->src, family, data + saddr);
	check_addr(&p->dst, family, data + saddr + alen);
	if (p->kind == UPN_PKT_RST)
		CHECK(f & TH_RST);
	else if (p->kind == UPN_PKT_SYN)
		CHECK((f & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN);
	else
		CHECK((f & (TH_SYN | TH_ACK | TH_RST)) == (TH_SYN | TH_ACK));
}

static void check_unreach(const struct upn_pkt *p, int family, const uint8_t *data, size_t size)
{
	bool ports = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
		     p->proto == IPPROTO_SCTP || p->proto == IPPROTO_UDPLITE;

	/* Outer header, ICMP header, inner header. */
	CHECK(size >= (family == AF_INET ? 48u : 88u));
	CHECK(p->icmp_type == (family == AF_INET ? 3 : 1));
	CHECK(!p->tcp_flags && !p->ack);
	check_addr(&p->reporter, family, data + (family == AF_INET ? 12 : 8));
	check_family(&p->src, family);
	check_family(&p->dst, family);
	if (!ports)
		CHECK(!p->sport && !p->dport);
	if (p->proto != IPPROTO_TCP)
		CHECK(!p->seq);
}

static int parse_copy(const uint8_t *data, size_t size, struct upn_pkt *out)
{
	uint8_t *copy = malloc(size ? size : 1);
	int ret;

	CHECK(copy);
	memcpy(copy, data, size);
	ret = upn_packet_parse(copy, size, out);
	free(copy);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upn_pkt p, shorter;
	int ret, r, family;

	memset(&p, 0xa5, sizeof(p));
	ret = upn_packet_parse(data, size, &p);
	CHECK(ret == UPN_PKT_OK || ret == UPN_PKT_TRUNCATED || ret == UPN_PKT_BAD);
	CHECK(p.kind <= UPN_PKT_UNREACH);
	if (ret != UPN_PKT_OK || p.kind == UPN_PKT_OTHER)
		CHECK(all_zero(&p, sizeof(p)));

	if (ret == UPN_PKT_OK && p.kind != UPN_PKT_OTHER) {
		/* Nonzero kinds need at least an IP header, so data[0] exists. */
		CHECK(data[0] >> 4 == 4 || data[0] >> 4 == 6);
		family = data[0] >> 4 == 4 ? AF_INET : AF_INET6;
		if (p.kind == UPN_PKT_UNREACH)
			check_unreach(&p, family, data, size);
		else
			check_tcp(&p, family, data, size);
	}

	/* One byte less: either not enough yet, or the very same answer. */
	if (size) {
		memset(&shorter, 0x5a, sizeof(shorter));
		r = parse_copy(data, size - 1, &shorter);
		if (r != UPN_PKT_TRUNCATED) {
			CHECK(r == ret);
			CHECK(!memcmp(&shorter, &p, sizeof(p)));
		}
	}
	return 0;
}
