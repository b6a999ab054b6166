// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Classify one IPv4/IPv6 packet: TCP SYN, SYN/ACK or RST, or an ICMP/ICMPv6
 * destination unreachable quoting the attempt that failed. The same semantics as
 * the daemon's userspace/upnotifyd/packet.c, but every byte comes through
 * upn_read(), so that a non-linear skb costs a copy of only what is looked at and
 * no read can leave the packet. Length fields inside the headers never bound a
 * read: an ICMP error quotes the start of a packet whose lengths describe it whole.
 *
 * The order of the reads is the fast path: the IP header (linear in the kernel,
 * so no copy) and one byte of the transport header decide "not ours" for almost
 * every packet; the rest is read only for the few that matter.
 */
#include "upnotify_parse.h"

enum {
	/* Real senders use two or three; the cap bounds the work one packet costs. */
	EXTHDR_MAX = 8,
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	TCP_HLEN = 20,
	TCP_FLAGS_OFF = 13,
	/* ICMP and ICMPv6 both put the quoted packet after an 8-byte header. */
	ICMP_HLEN = 8,
	ICMP_UNREACH = 3,
	ICMP6_UNREACH = 1,
	/* RFC 792 guarantees 8 bytes of the quoted transport header: the ports of
	 * TCP, UDP, SCTP and UDP-Lite and the TCP sequence number. */
	QUOTE_L4_LEN = 8,
	/* parse_ip(): well-formed, but the transport header is out of sight. */
	IP_OPAQUE = 2,
};

/* Where parse_ip() found things, as offsets into the packet. */
struct l3 {
	int family;
	u8 proto;
	unsigned int addr_off; /* source address; the destination follows it */
	unsigned int l4off;
};

static u16 get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static u32 get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

/* Do the @len bytes at @off exist? Reading the last one is enough. */
static bool have(const upn_src_t *src, unsigned int off, unsigned int len)
{
	u8 b;

	return upn_read(src, off + len - 1, 1, &b) != NULL;
}

static int parse_ipv4(const upn_src_t *src, unsigned int off, struct l3 *ip)
{
	const u8 *h;
	u8 buf[IPV4_HLEN];
	unsigned int hlen;

	h = upn_read(src, off, IPV4_HLEN, buf);
	if (!h)
		return UPN_PARSE_TRUNCATED;
	if (h[0] >> 4 != 4)
		return UPN_PARSE_MALFORMED;
	hlen = (h[0] & 0x0f) * 4;
	if (hlen < IPV4_HLEN)
		return UPN_PARSE_MALFORMED;
	if (!have(src, off, hlen))
		return UPN_PARSE_TRUNCATED;
	/* Only the first fragment carries the transport header. */
	if (get16(h + 6) & 0x1fff)
		return IP_OPAQUE;
	ip->family = AF_INET;
	ip->proto = h[9];
	ip->addr_off = off + 12;
	ip->l4off = off + hlen;
	return UPN_PARSE_OK;
}

static int parse_ipv6(const upn_src_t *src, unsigned int off, struct l3 *ip)
{
	unsigned int pos = off + IPV6_HLEN, hlen;
	const u8 *h;
	u8 buf[IPV6_HLEN], nxt;
	int n;

	h = upn_read(src, off, IPV6_HLEN, buf);
	if (!h)
		return UPN_PARSE_TRUNCATED;
	if (h[0] >> 4 != 6)
		return UPN_PARSE_MALFORMED;
	nxt = h[6];

	for (n = 0;; n++) {
		u8 eh[4];
		const u8 *e;

		switch (nxt) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		default:
			/* ESP and "no next header" end here too, as protocols the
			 * caller does not parse. */
			ip->family = AF_INET6;
			ip->proto = nxt;
			ip->addr_off = off + 8;
			ip->l4off = pos;
			return UPN_PARSE_OK;
		}
		if (n == EXTHDR_MAX)
			return IP_OPAQUE;
		e = upn_read(src, pos, 2, eh);
		if (!e)
			return UPN_PARSE_TRUNCATED;
		if (nxt == IPPROTO_FRAGMENT)
			hlen = 8;
		else if (nxt == IPPROTO_AH)
			/* RFC 4302 counts 32-bit words, minus 2. */
			hlen = (e[1] + 2) * 4;
		else
			hlen = (e[1] + 1) * 8;
		if (!have(src, pos, hlen))
			return UPN_PARSE_TRUNCATED;
		if (nxt == IPPROTO_FRAGMENT) {
			e = upn_read(src, pos, 4, eh);
			/* The offset is the high 13 bits; a later fragment has no
			 * transport header. */
			if (!e || get16(e + 2) >> 3)
				return IP_OPAQUE;
		}
		nxt = e[0];
		pos += hlen;
	}
}

/* @family is the family the header must have: the hook's, or the outer one's. */
static int parse_ip(const upn_src_t *src, unsigned int off, int family,
		    struct l3 *ip)
{
	if (family == AF_INET)
		return parse_ipv4(src, off, ip);
	if (family == AF_INET6)
		return parse_ipv6(src, off, ip);
	return UPN_PARSE_MALFORMED;
}

static bool has_ports(u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE;
}

static int set_addrs(const upn_src_t *src, const struct l3 *ip,
		     struct upn_pkt *out)
{
	unsigned int alen = ip->family == AF_INET ? 4 : 16;
	const u8 *a;
	u8 buf[32];

	a = upn_read(src, ip->addr_off, 2 * alen, buf);
	if (!a) /* parse_ip() has seen these bytes already */
		return UPN_PARSE_TRUNCATED;
	out->family = ip->family;
	memcpy(out->saddr, a, alen);
	memcpy(out->daddr, a + alen, alen);
	return UPN_PARSE_OK;
}

static int parse_tcp(const upn_src_t *src, const struct l3 *ip, u8 flags,
		     struct upn_pkt *out)
{
	const u8 *th;
	u8 buf[TCP_HLEN];

	th = upn_read(src, ip->l4off, TCP_HLEN, buf);
	if (!th)
		return UPN_PARSE_TRUNCATED;
	if (th[12] >> 4 < 5)
		return UPN_PARSE_MALFORMED;

	memset(out, 0, sizeof(*out));
	/* A RST ends the attempt whatever else is set, so it wins over SYN. */
	if (flags & UPN_TCP_RST)
		out->kind = UPN_KIND_RST;
	else
		out->kind = flags & UPN_TCP_ACK ? UPN_KIND_SYNACK :
						  UPN_KIND_SYN;
	out->proto = IPPROTO_TCP;
	out->tcp_flags = flags;
	out->sport = get16(th);
	out->dport = get16(th + 2);
	out->seq = get32(th + 4);
	out->ack = get32(th + 8);
	return set_addrs(src, ip, out);
}

static int parse_unreach(const upn_src_t *src, const struct l3 *ip,
			 struct upn_pkt *out)
{
	const u8 *icmp, *l4, *a;
	u8 buf[ICMP_HLEN], l4buf[QUOTE_L4_LEN], abuf[16];
	struct l3 in;
	int ret;

	icmp = upn_read(src, ip->l4off, ICMP_HLEN, buf);
	if (!icmp)
		return UPN_PARSE_TRUNCATED;
	/* The quote must be of the outer family: ICMP does not quote IPv6. */
	ret = parse_ip(src, ip->l4off + ICMP_HLEN, ip->family, &in);
	if (ret)
		return ret == IP_OPAQUE ? UPN_PARSE_NOT_OURS : ret;

	memset(out, 0, sizeof(*out));
	if (has_ports(in.proto)) {
		l4 = upn_read(src, in.l4off, QUOTE_L4_LEN, l4buf);
		if (!l4)
			return UPN_PARSE_TRUNCATED;
		/* Source and destination port lead all four headers. */
		out->sport = get16(l4);
		out->dport = get16(l4 + 2);
		if (in.proto == IPPROTO_TCP)
			out->seq = get32(l4 + 4);
	}
	out->kind = UPN_KIND_UNREACH;
	out->proto = in.proto;
	out->icmp_type = icmp[0];
	out->icmp_code = icmp[1];
	a = upn_read(src, ip->addr_off, ip->family == AF_INET ? 4 : 16, abuf);
	if (!a)
		return UPN_PARSE_TRUNCATED;
	memcpy(out->reporter, a, ip->family == AF_INET ? 4 : 16);
	return set_addrs(src, &in, out);
}

/**
 * upn_parse() - classify one packet
 * @src: the packet: an skb in the kernel, a buffer in userspace
 * @off: where its IP header starts
 * @family: AF_INET or AF_INET6 (the hook's), or 0 to go by the version nibble
 * @out: filled in when the result is UPN_PARSE_OK
 *
 * Return: UPN_PARSE_NOT_OURS for everything but a TCP SYN, SYN/ACK or RST and an
 * ICMP/ICMPv6 destination unreachable (and for later fragments, whose ports are
 * unseen), after reading the IP header and one byte; UPN_PARSE_OK with @out filled
 * in; UPN_PARSE_TRUNCATED or UPN_PARSE_MALFORMED for a packet to count and ignore.
 */
int upn_parse(const upn_src_t *src, unsigned int off, int family,
	      struct upn_pkt *out)
{
	struct l3 ip;
	const u8 *b;
	u8 byte;
	int ret;

	if (!family) {
		b = upn_read(src, off, 1, &byte);
		if (!b)
			return UPN_PARSE_TRUNCATED;
		family = *b >> 4 == 6 ? AF_INET6 : AF_INET;
	}
	ret = parse_ip(src, off, family, &ip);
	if (unlikely(ret))
		return ret == IP_OPAQUE ? UPN_PARSE_NOT_OURS : ret;

	if (ip.proto == IPPROTO_TCP) {
		b = upn_read(src, ip.l4off + TCP_FLAGS_OFF, 1, &byte);
		if (unlikely(!b))
			return UPN_PARSE_TRUNCATED;
		if (likely(!(*b & (UPN_TCP_SYN | UPN_TCP_RST))))
			return UPN_PARSE_NOT_OURS;
		return parse_tcp(src, &ip, *b, out);
	}
	if (ip.proto == (family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		b = upn_read(src, ip.l4off, 1, &byte);
		if (unlikely(!b))
			return UPN_PARSE_TRUNCATED;
		if (*b != (family == AF_INET ? ICMP_UNREACH : ICMP6_UNREACH))
			return UPN_PARSE_NOT_OURS;
		return parse_unreach(src, &ip, out);
	}
	return UPN_PARSE_NOT_OURS;
}
