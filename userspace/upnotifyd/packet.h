/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Classify one captured IPv4/IPv6 packet: SYN, SYN/ACK, RST, destination unreachable. */
#ifndef UPN_PACKET_H
#define UPN_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum upn_pkt_kind {
	UPN_PKT_OTHER,	 /* nothing upnotify cares about */
	UPN_PKT_SYN,	 /* SYN without ACK */
	UPN_PKT_SYNACK,	 /* SYN with ACK */
	UPN_PKT_RST,	 /* RST, with or without ACK */
	UPN_PKT_UNREACH, /* ICMP/ICMPv6 destination unreachable */
};

enum upn_pkt_result {
	UPN_PKT_OK = 0,
	UPN_PKT_TRUNCATED = -1, /* shorter than the headers it claims */
	UPN_PKT_BAD = -2,	/* inconsistent: bad version, header length, inner family */
};

struct upn_pkt {
	uint8_t kind;	   /* enum upn_pkt_kind */
	uint8_t proto;	   /* IPPROTO_TCP for TCP kinds; the inner protocol for UNREACH */
	uint8_t tcp_flags; /* TCP kinds only */
	uint8_t icmp_type; /* UNREACH only */
	uint8_t icmp_code; /* UNREACH only */
	/* TCP kinds: the packet's own source and destination. UNREACH: the inner
	 * (offending) packet's source, i.e. the client, and destination, the server. */
	struct upn_addr src, dst;
	struct upn_addr reporter; /* UNREACH only: who sent the ICMP */
	uint16_t sport, dport;	  /* host order; 0 for an inner protocol without ports */
	uint32_t seq, ack;	  /* host order; UNREACH with inner TCP: the inner seq */
};

/* @buf starts at the IP header. @len is the captured length, which may be less than
 * the IP total length when the capture was cut short (NFQUEUE copy range): that is
 * fine as long as the headers we read are inside @len. Never reads outside @buf.
 * Returns an enum upn_pkt_result; on UPN_PKT_OK, @out->kind tells what was found.
 * Unless the result is UPN_PKT_OK with a kind other than UPN_PKT_OTHER, *@out is all
 * zero, so a half-parsed packet never leaves plausible addresses behind. Later
 * fragments and quotes of later fragments are UPN_PKT_OTHER: their ports are unseen. */
int upn_packet_parse(const void *buf, size_t len, struct upn_pkt *out);

#endif
