// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "packet.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>

/*
 * The bytes come from the wire, so every read is preceded by a length check against
 * what was captured, and fields are copied out with memcpy because nothing here is
 * aligned. Length fields inside the headers (IPv4 total length, IPv6 payload length)
 * are never trusted to bound a read: the capture may be cut short, and an ICMP
 * error quotes only the start of a packet whose length fields describe the whole.
 */

enum {
	/* Real senders use two or three; the cap bounds the work one packet can cost. */
	EXTHDR_MAX = 8,
	/* ICMP and ICMPv6 both put the quoted packet after an 8-byte header. */
	ICMP_HDR_LEN = 8,
	/* RFC 792 guarantees the first 8 bytes of the offending transport header:
	 * enough for the ports of TCP, UDP, SCTP and UDP-Lite and for the TCP seq. */
	QUOTE_L4_LEN = 8,
};

/* parse_ip() may also say: well-formed, but the transport header is out of sight
 * (a later fragment, too many extension headers). Both callers make that OTHER. */
enum { IP_OPAQUE = 1 };

/* Where parse_ip() found things; the pointers point into the caller's buffer. */
struct l3 {
	int family;
	const uint8_t *saddr, *daddr;
	size_t l4off; /* from the start of the IP header, always <= len */
	uint8_t proto;
};

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

static int parse_ipv4(const uint8_t *p, size_t len, struct l3 *ip)
{
	size_t hlen;

	if (len < sizeof(struct ip))
		return UPN_PKT_TRUNCATED;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	if (hlen < sizeof(struct ip))
		return UPN_PKT_BAD;
	if (hlen > len)
		return UPN_PKT_TRUNCATED;
	/* Only the first fragment carries the transport header. */
	if (get16(p + offsetof(struct ip, ip_off)) & IP_OFFMASK)
		return IP_OPAQUE;

	ip->family = AF_INET;
	ip->saddr = p + offsetof(struct ip, ip_src);
	ip->daddr = p + offsetof(struct ip, ip_dst);
	ip->l4off = hlen;
	ip->proto = p[offsetof(struct ip, ip_p)];
	return UPN_PKT_OK;
}

static int parse_ipv6(const uint8_t *p, size_t len, struct l3 *ip)
{
	size_t off = sizeof(struct ip6_hdr), hlen;
	uint8_t nxt;

	if (len < off)
		return UPN_PKT_TRUNCATED;
	nxt = p[offsetof(struct ip6_hdr, ip6_nxt)];

	for (int n = 0;; n++) {
		switch (nxt) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		default:
			/* ESP and "no next header" end up here too: the caller
			 * sees a protocol it does not parse. */
			ip->family = AF_INET6;
			ip->saddr = p + offsetof(struct ip6_hdr, ip6_src);
			ip->daddr = p + offsetof(struct ip6_hdr, ip6_dst);
			ip->l4off = off;
			ip->proto = nxt;
			return UPN_PKT_OK;
		}
		if (n == EXTHDR_MAX)
			return IP_OPAQUE;
		if (len - off < 2)
			return UPN_PKT_TRUNCATED;
		if (nxt == IPPROTO_FRAGMENT)
			hlen = sizeof(struct ip6_frag);
		else if (nxt == IPPROTO_AH) /* RFC 4302 counts 32-bit words, minus 2 */
			hlen = ((size_t)p[off + 1] + 2) * 4;
		else
			hlen = ((size_t)p[off + 1] + 1) * 8;
		if (len - off < hlen)
			return UPN_PKT_TRUNCATED;
		/* The low three bits are flags; the rest is the offset in 8-byte units. */
		if (nxt == IPPROTO_FRAGMENT &&
		    get16(p + off + offsetof(struct ip6_frag, ip6f_offlg)) >> 3)
			return IP_OPAQUE;
		nxt = p[off];
		off += hlen;
	}
}

/* @family is AF_UNSPEC for an outer header, or the family an inner one must have. */
static int parse_ip(const uint8_t *p, size_t len, int family, struct l3 *ip)
{
	unsigned int version;

	if (len < 1)
		return UPN_PKT_TRUNCATED;
	version = p[0] >> 4;
	if (version == 4 && family != AF_INET6)
		return parse_ipv4(p, len, ip);
	if (version == 6 && family != AF_INET)
		return parse_ipv6(p, len, ip);
	return UPN_PKT_BAD;
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

static void set_addrs(struct upn_pkt *out, const struct l3 *ip)
{
	upn_addr_set(&out->src, ip->family, ip->saddr);
	upn_addr_set(&out->dst, ip->family, ip->daddr);
}

static int parse_tcp(const uint8_t *p, size_t len, const struct l3 *ip, struct upn_pkt *out)
{
	const uint8_t *th = p + ip->l4off;
	uint8_t flags, kind;

	if (len - ip->l4off < sizeof(struct tcphdr))
		return UPN_PKT_TRUNCATED;
	/* Data offset, the high nibble of byte 12 (a bitfield, so no offsetof). */
	if (th[12] >> 4 < 5)
		return UPN_PKT_BAD;

	flags = th[offsetof(struct tcphdr, th_flags)];
	/* A RST ends the attempt whatever else is set, so it wins over SYN. */
	if (flags & TH_RST)
		kind = UPN_PKT_RST;
	else if (flags & TH_SYN)
		kind = flags & TH_ACK ? UPN_PKT_SYNACK : UPN_PKT_SYN;
	else
		return UPN_PKT_OK;

	out->kind = kind;
	out->proto = IPPROTO_TCP;
	out->tcp_flags = flags;
	set_addrs(out, ip);
	out->sport = get16(th + offsetof(struct tcphdr, th_sport));
	out->dport = get16(th + offsetof(struct tcphdr, th_dport));
	out->seq = get32(th + offsetof(struct tcphdr, th_seq));
	out->ack = get32(th + offsetof(struct tcphdr, th_ack));
	return UPN_PKT_OK;
}

static int parse_unreach(const uint8_t *p, size_t len, const struct l3 *ip, struct upn_pkt *out)
{
	uint8_t unreach = ip->family == AF_INET ? ICMP_DEST_UNREACH : ICMP6_DST_UNREACH;
	const uint8_t *icmp = p + ip->l4off, *quote, *l4;
	size_t qlen;
	struct l3 in;
	int ret;

	if (len - ip->l4off < ICMP_HDR_LEN)
		return UPN_PKT_TRUNCATED;
	if (icmp[0] != unreach)
		return UPN_PKT_OK;

	quote = icmp + ICMP_HDR_LEN;
	qlen = len - ip->l4off - ICMP_HDR_LEN;
	ret = parse_ip(quote, qlen, ip->family, &in);
	if (ret)
		return ret == IP_OPAQUE ? UPN_PKT_OK : ret;

	l4 = quote + in.l4off;
	if (has_ports(in.proto)) {
		if (qlen - in.l4off < QUOTE_L4_LEN)
			return UPN_PKT_TRUNCATED;
		/* Source and destination port lead all four headers. */
		out->sport = get16(l4);
		out->dport = get16(l4 + 2);
		if (in.proto == IPPROTO_TCP)
			out->seq = get32(l4 + offsetof(struct tcphdr, th_seq));
	}

	out->kind = UPN_PKT_UNREACH;
	out->proto = in.proto;
	out->icmp_type = icmp[0];
	out->icmp_code = icmp[1];
	set_addrs(out, &in);
	upn_addr_set(&out->reporter, ip->family, ip->saddr);
	return UPN_PKT_OK;
}

int upn_packet_parse(const void *buf, size_t len, struct upn_pkt *out)
{
	const uint8_t *p = buf;
	struct l3 ip;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = parse_ip(p, len, AF_UNSPEC, &ip);
	if (ret)
		return ret == IP_OPAQUE ? UPN_PKT_OK : ret;

	if (ip.proto == IPPROTO_TCP)
		return parse_tcp(p, len, &ip, out);
	if (ip.proto == (ip.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6))
		return parse_unreach(p, len, &ip, out);
	return UPN_PKT_OK;
}
