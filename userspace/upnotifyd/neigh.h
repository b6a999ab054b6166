/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The gateway's neighbour table as a recovery and failure signal: an rtnetlink socket
 * on RTNLGRP_NEIGH (IPv4 ARP and IPv6 ND alike) reports every state change of every
 * entry. A server whose entry turns FAILED stopped answering ARP/ND, which the gateway
 * learns seconds before it sends any ICMP host unreachable; one that turns REACHABLE
 * again is back on the link. Overruns (ENOBUFS) are expected under churn: the buffer
 * grows and a dump reports every current state again, as conntrackd resyncs. */
#ifndef UPN_NEIGH_H
#define UPN_NEIGH_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "limits.h"

/* Buffer sizes of the socket, with their reasons; they belong in limits.h. */

struct upn_neigh_stats {
	uint64_t events;       /* IPv4/IPv6 entries reported, dump replies included */
	uint64_t overruns;     /* ENOBUFS: the kernel dropped changes meant for us */
	uint64_t resyncs;      /* dumps asked for because of an overrun */
	uint64_t dumps;	       /* dump requests sent, resyncs included */
	uint64_t dumps_done;   /* dumps read to their end */
	uint64_t dumps_redone; /* interrupted (NLM_F_DUMP_INTR) or overrun: done again */
	uint64_t malformed;    /* short or truncated messages, bad NDA_DST */
	uint64_t ignored;      /* other families (bridge FDB), proxy entries, no NDA_DST */
	uint64_t recv_errors;  /* other receive failures */
	uint64_t send_errors;  /* dump requests the kernel refused */
	uint32_t rcvbuf;       /* bytes the kernel grants the socket now */
};

/* @state is the entry's NUD_* state (linux/neighbour.h). An entry removed (by the
 * garbage collector, a flush, its link going down) comes with NUD_NONE: that says
 * nothing about the host. */
typedef void (*upn_neigh_cb)(void *ctx, const struct upn_addr *addr, uint16_t state, int ifindex);

/* NULL with a message in @err. Changes are reported from then on; call
 * upn_neigh_dump() once to learn the states that already exist. */
struct upn_neigh *upn_neigh_open(upn_neigh_cb cb, void *ctx, char *err, size_t errlen);
void upn_neigh_close(struct upn_neigh *n);
/* Watch it for EPOLLIN and call upn_neigh_dispatch() when readable. */
int upn_neigh_fd(const struct upn_neigh *n);
/* Reads what is waiting (a bounded number of reads, to keep the loop fair) and calls
 * the callback for each IPv4/IPv6 entry in it, events and dump replies alike. */
void upn_neigh_dispatch(struct upn_neigh *n);
/* Asks for every entry's current state; the replies come through dispatch. A request
 * while a dump runs is folded into one more dump after it. 0 or -errno. */
int upn_neigh_dump(struct upn_neigh *n);
void upn_neigh_get_stats(const struct upn_neigh *n, struct upn_neigh_stats *out);

#endif
