/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The in-process form of the events of include/uapi/linux/upnotify.h. Every source
 * (upnotifyd's NFQUEUE detection, the kernel module through genl.c) produces these;
 * the daemon's waitlist and `upnotifyctl monitor` consume them. */
#ifndef UPN_EVENT_H
#define UPN_EVENT_H

#include <linux/upnotify.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct upn_event {
	uint8_t type;	   /* UPNOTIFY_CMD_*_NTF */
	uint8_t cause;	   /* enum upnotify_cause */
	uint8_t proto;	   /* FAILED_ACCESS: IPPROTO_* of the attempt */
	uint8_t icmp_type; /* FAILED_ACCESS with UPNOTIFY_CAUSE_ICMP_UNREACH */
	uint8_t icmp_code;
	uint16_t port;		/* FAILED_ACCESS: server port, host order */
	struct upn_addr client; /* FAILED_ACCESS only */
	struct upn_addr server;
	uint64_t ts_ns; /* CLOCK_REALTIME */
};

/* "icmp-unreachable", "syn-timeout", "refused", ...; "unknown" out of range. */
const char *upn_cause_name(unsigned int cause);
/* The inverse; returns UPNOTIFY_CAUSE_UNSPEC for an unknown name. */
unsigned int upn_cause_parse(const char *name);
const char *upn_event_name(unsigned int type);
/* Does this failed access say the whole host is unreachable (SYN timeout, net or host
 * unreachable, prohibited), rather than one service refusing (RST, port or protocol
 * unreachable)? Only the former makes every later SYN to the server fail at once. */
bool upn_event_host_down(const struct upn_event *ev);

#endif
