/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Packet classification shared by the module and the userspace fuzz harness
 * (tests/fuzz/fuzz_kparse.c). Every byte is read through upn_read(), which is
 * skb_header_pointer() in the kernel and a bounds-checked buffer read in userspace,
 * so the code the fuzzer exercises is the code the hooks run.
 */
#ifndef _UPNOTIFY_PARSE_H
#define _UPNOTIFY_PARSE_H

#ifdef __KERNEL__
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/types.h>

typedef struct sk_buff upn_src_t;

static inline const void *upn_read(const upn_src_t *skb, unsigned int off,
				   unsigned int len, void *buf)
{
	return skb_header_pointer(skb, off, len, buf);
}
#else
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

typedef struct upn_buf {
	const u8 *data;
	size_t len;
} upn_src_t;

/* The userspace twin of skb_header_pointer(): NULL unless all @len bytes exist. */
static inline const void *upn_read(const upn_src_t *b, unsigned int off,
				   unsigned int len, void *buf)
{
	if (off > b->len || len > b->len - off)
		return NULL;
	memcpy(buf, b->data + off, len);
	return buf;
}
#endif

enum upn_parse_result {
	UPN_PARSE_OK = 0, /* @out filled in, @out->kind tells what */
	UPN_PARSE_NOT_OURS =
		1, /* the fast path: nothing upnotify cares about */
	UPN_PARSE_TRUNCATED = -1, /* shorter than the headers it claims */
	UPN_PARSE_MALFORMED = -2, /* inconsistent version, header length, ... */
};

enum upn_pkt_kind {
	UPN_KIND_SYN = 1, /* SYN without ACK or RST */
	UPN_KIND_SYNACK,  /* SYN with ACK, no RST */
	UPN_KIND_RST,	  /* RST, whatever else is set */
	UPN_KIND_UNREACH, /* ICMP type 3 / ICMPv6 type 1 */
};

/* TCP flag bits of byte 13 of the header. */
enum {
	UPN_TCP_RST = 0x04,
	UPN_TCP_SYN = 0x02,
	UPN_TCP_ACK = 0x10,
};

/**
 * struct upn_pkt - what the parser found
 * @family: AF_INET or AF_INET6
 * @kind: enum upn_pkt_kind
 * @proto: IPPROTO_TCP for the TCP kinds; the quoted protocol for UNREACH
 * @tcp_flags: TCP kinds only
 * @icmp_type: UNREACH only
 * @icmp_code: UNREACH only
 * @sport: host order; for UNREACH the quoted packet's (the client's) port
 * @dport: host order; for UNREACH the quoted packet's destination (server) port
 * @seq: TCP kinds, and UNREACH quoting TCP: the (quoted) sequence number
 * @ack: TCP kinds only
 * @saddr: TCP kinds: the packet's source; UNREACH: the quoted source, the client
 * @daddr: TCP kinds: the packet's destination; UNREACH: the quoted destination
 * @reporter: UNREACH only: the ICMP's source (a router or the server)
 *
 * Addresses are network-order bytes, the unused tail of an IPv4 address zero.
 */
struct upn_pkt {
	u8 family;
	u8 kind;
	u8 proto;
	u8 tcp_flags;
	u8 icmp_type;
	u8 icmp_code;
	u16 sport, dport;
	u32 seq, ack;
	u8 saddr[16], daddr[16], reporter[16];
};

int upn_parse(const upn_src_t *src, unsigned int off, int family,
	      struct upn_pkt *out);

#endif /* _UPNOTIFY_PARSE_H */
