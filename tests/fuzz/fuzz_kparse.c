// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The kernel module's packet parser (kmod/upnotify_parse.c), compiled for
 * userspace with a bounds-checked upn_read() in place of skb_header_pointer().
 * The first byte of the input picks the family the hook would pass (0: from the
 * version nibble, 1: AF_INET, 2: AF_INET6) and the packet's offset in the buffer,
 * the rest is the packet. Beyond "no crash, no read outside the buffer" (ASan),
 * check what upnotify_parse.h promises, and that one byte less never changes a
 * verdict reached without it.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "../../kmod/upnotify_parse.h"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check(const struct upn_pkt *p, int ret, int family, const uint8_t *pkt, size_t len)
{
	size_t alen;

	CHECK(ret == UPN_PARSE_OK || ret == UPN_PARSE_NOT_OURS || ret == UPN_PARSE_TRUNCATED ||
	      ret == UPN_PARSE_MALFORMED);
	if (ret != UPN_PARSE_OK)
		return;
	CHECK(p->family == AF_INET || p->family == AF_INET6);
	CHECK(!family || p->family == family);
	CHECK(pkt[0] >> 4 == (p->family == AF_INET ? 4 : 6));
	alen = p->family == AF_INET ? 4 : 16;
	CHECK(all_zero(p->saddr + alen, 16 - alen));
	CHECK(all_zero(p->daddr + alen, 16 - alen));
	CHECK(all_zero(p->reporter + alen, 16 - alen));
	switch (p->kind) {
	case UPN_KIND_SYN:
	case UPN_KIND_SYNACK:
	case UPN_KIND_RST:
		CHECK(len >= (p->family == AF_INET ? 40u : 60u));
		CHECK(p->proto == IPPROTO_TCP);
		CHECK(!p->icmp_type && !p->icmp_code);
		CHECK(all_zero(p->reporter, sizeof(p->reporter)));
		if (p->kind == UPN_KIND_RST)
			CHECK(p->tcp_flags & UPN_TCP_RST);
		else if (p->kind == UPN_KIND_SYN)
			CHECK((p->tcp_flags & (UPN_TCP_SYN | UPN_TCP_ACK | UPN_TCP_RST)) ==
			      UPN_TCP_SYN);
		else
			CHECK((p->tcp_flags & (UPN_TCP_SYN | UPN_TCP_ACK | UPN_TCP_RST)) ==
			      (UPN_TCP_SYN | UPN_TCP_ACK));
		/* The outer addresses are the packet's own. */
		CHECK(!memcmp(p->saddr, pkt + (p->family == AF_INET ? 12 : 8), alen));
		CHECK(!memcmp(p->daddr, pkt + (p->family == AF_INET ? 12 : 8) + alen, alen));
		break;
	case UPN_KIND_UNREACH:
		CHECK(len >= (p->family == AF_INET ? 48u : 88u));
		CHECK(p->icmp_type == (p->family == AF_INET ? 3 : 1));
		CHECK(!p->tcp_flags && !p->ack);
		CHECK(!memcmp(p->reporter, pkt + (p->family == AF_INET ? 12 : 8), alen));
		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP &&
		    p->proto != IPPROTO_SCTP && p->proto != IPPROTO_UDPLITE)
			CHECK(!p->sport && !p->dport);
		if (p->proto != IPPROTO_TCP)
			CHECK(!p->seq);
		break;
	default:
		CHECK(0);
	}
}

static int parse(const uint8_t *data, size_t size, unsigned int off, int family,
		 struct upn_pkt *out)
{
	/* A copy of exactly @size bytes, so ASan sees a read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	upn_src_t src;
	int ret;

	CHECK(copy);
	memcpy(copy, data, size);
	src.data = copy;
	src.len = size;
	ret = upn_parse(&src, off, family, out);
	free(copy);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int families[] = { 0, AF_INET, AF_INET6 };
	struct upn_pkt p, shorter;
	unsigned int off;
	int family, ret, r;

	if (size < 1)
		return 0;
	family = families[data[0] % 3];
	/* An offset, as a hook sees a packet behind a link-layer header. */
	off = (data[0] >> 2) & 7;
	data++;
	size--;
	if (off > size)
		off = 0;

	memset(&p, 0, sizeof(p));
	ret = parse(data, size, off, family, &p);
	check(&p, ret, family, data + off, size - off);

	/* One byte less: either not enough yet, or the very same answer. */
	if (size > off) {
		memset(&shorter, 0, sizeof(shorter));
		r = parse(data, size - 1, off, family, &shorter);
		if (r != UPN_PARSE_TRUNCATED) {
			CHECK(r == ret);
			if (ret == UPN_PARSE_OK)
				CHECK(!memcmp(&shorter, &p, sizeof(p)));
		}
	}
	return 0;
}
