// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Self-tests run at load with selftest=1: the fast code against a naive reference
 * on random input (prefix matching), and the parser on real skbs, linear and
 * paged, cut at every length (the userspace fuzzer cannot build an skb).
 */
#include <linux/gfp.h>
#include <linux/random.h>
#include <linux/skbuff.h>

#include "upnotify.h"

enum { PREFIX_ROUNDS = 20000 };

static bool bit_of(const u8 *a, unsigned int i)
{
	return a[i / 8] & (0x80 >> (i % 8));
}

static bool naive_match(const struct upn_prefix *p, int family, const u8 *addr)
{
	unsigned int i;

	if (p->family != family)
		return false;
	for (i = 0; i < p->len; i++)
		if (bit_of(p->addr, i) != bit_of(addr, i))
			return false;
	return true;
}

static bool naive_valid(const struct upn_prefix *p)
{
	unsigned int i;

	if (p->len > upn_alen(p->family) * 8)
		return false;
	for (i = p->len; i < upn_alen(p->family) * 8; i++)
		if (bit_of(p->addr, i))
			return false;
	return true;
}

static bool selftest_prefixes(void)
{
	struct upn_prefix p;
	unsigned int i, n;
	u8 addr[16];

	for (n = 0; n < PREFIX_ROUNDS; n++) {
		memset(&p, 0, sizeof(p));
		p.family = get_random_u32() & 1 ? AF_INET : AF_INET6;
		p.len = get_random_u32() % (upn_alen(p.family) * 8 + 2);
		get_random_bytes(p.addr, upn_alen(p.family));
		/* Mostly near the prefix, so that matches happen. */
		memcpy(addr, p.addr, sizeof(addr));
		for (i = get_random_u32() % 3; i; i--) {
			unsigned int b =
				get_random_u32() % (upn_alen(p.family) * 8);

			addr[b / 8] ^= 0x80 >> (b % 8);
		}
		if (upn_prefix_valid(&p) != naive_valid(&p))
			return false;
		/* Matching is defined for valid prefixes: clear the host bits. */
		for (i = p.len; i < upn_alen(p.family) * 8; i++)
			p.addr[i / 8] &= ~(0x80 >> (i % 8));
		if (p.len > upn_alen(p.family) * 8)
			continue;
		if (upn_prefix_match(&p, p.family, addr) !=
		    naive_match(&p, p.family, addr))
			return false;
	}
	return true;
}

/* IPv4: 10.0.1.2:40000 -> 10.0.2.99:80 SYN, seq 1000. */
static const u8 syn4[] = {
	0x45, 0, 0,  40, 0,    1,    0x40, 0,	 64, 6,	 0, 0, 10,   0,
	1,    2, 10, 0,	 2,    99,   0x9c, 0x40, 0,  80, 0, 0, 0x03, 0xe8,
	0,    0, 0,  0,	 0x50, 0x02, 0xff, 0xff, 0,  0,	 0, 0,
};

/* IPv4: 10.0.2.1 -> 10.0.1.2 host unreachable, quoting syn4's first 28 bytes. */
static const u8 unreach4[] = {
	0x45, 0, 0,  56, 0, 2,	0,    0,    64, 1,  0, 0, 10,	0,
	2,    1, 10, 0,	 1, 2,	3,    1,    0,	0,  0, 0, 0,	0,
	0x45, 0, 0,  40, 0, 1,	0x40, 0,    64, 6,  0, 0, 10,	0,
	1,    2, 10, 0,	 2, 99, 0x9c, 0x40, 0,	80, 0, 0, 0x03, 0xe8,
};

/* @len bytes of @pkt as an skb, the first @linear of them in its head, the rest
 * in a page fragment. */
static struct sk_buff *make_skb(const u8 *pkt, unsigned int len,
				unsigned int linear)
{
	struct sk_buff *skb;
	struct page *page;

	linear = min(linear, len);
	skb = alloc_skb(linear, GFP_KERNEL);
	if (!skb)
		return NULL;
	skb_put_data(skb, pkt, linear);
	skb_reset_network_header(skb);
	if (len > linear) {
		page = alloc_page(GFP_KERNEL);
		if (!page) {
			kfree_skb(skb);
			return NULL;
		}
		memcpy(page_address(page), pkt + linear, len - linear);
		skb_add_rx_frag(skb, 0, page, 0, len - linear, PAGE_SIZE);
	}
	return skb;
}

static bool selftest_parse_one(const u8 *pkt, unsigned int len, int family,
			       const struct upn_pkt *want)
{
	static const unsigned int linears[] = { 1000, 20, 9 };
	struct upn_pkt got;
	unsigned int l, i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(linears); i++) {
		for (l = 0; l <= len; l++) {
			struct sk_buff *skb = make_skb(pkt, l, linears[i]);

			if (!skb)
				return false;
			memset(&got, 0, sizeof(got));
			ret = upn_parse(skb, 0, family, &got);
			kfree_skb(skb);
			/* Cut short: not enough yet; whole: exactly the answer. */
			if (l < len && ret != UPN_PARSE_TRUNCATED)
				return false;
			if (l == len && (ret != UPN_PARSE_OK ||
					 memcmp(&got, want, sizeof(got))))
				return false;
		}
	}
	return true;
}

static bool selftest_parse(void)
{
	struct upn_pkt want = {
		.family = AF_INET,
		.kind = UPN_KIND_SYN,
		.proto = IPPROTO_TCP,
		.tcp_flags = UPN_TCP_SYN,
		.sport = 40000,
		.dport = 80,
		.seq = 1000,
		.saddr = { 10, 0, 1, 2 },
		.daddr = { 10, 0, 2, 99 },
	};

	if (!selftest_parse_one(syn4, sizeof(syn4), AF_INET, &want))
		return false;
	want.kind = UPN_KIND_UNREACH;
	want.tcp_flags = 0;
	want.icmp_type = 3;
	want.icmp_code = 1;
	memcpy(want.reporter, unreach4 + 12, 4);
	return selftest_parse_one(unreach4, sizeof(unreach4), AF_INET, &want);
}

/**
 * upn_selftest() - run every self-test
 *
 * Return: 0 when all pass, -EINVAL otherwise.
 */
int upn_selftest(void)
{
	bool ok = true;

	if (!selftest_prefixes()) {
		pr_err("selftest: prefixes: FAIL\n");
		ok = false;
	}
	if (!selftest_parse()) {
		pr_err("selftest: parser: FAIL\n");
		ok = false;
	}
	if (ok)
		pr_info("selftest: pass\n");
	return ok ? 0 : -EINVAL;
}
