/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The NFQUEUE event source: a netlink socket bound to one queue, every packet read
 * and accepted. The queue is configured to fail open, and the rules use
 * --queue-bypass, so a slow or dead daemon never blocks the gateway's traffic. */
#ifndef UPN_NFQ_H
#define UPN_NFQ_H

#include <stddef.h>
#include <stdint.h>

struct upn_nfq_stats {
	uint64_t received; /* packet messages read */
	uint64_t verdicts; /* batch verdicts sent */
	uint64_t recv_errors;
	uint64_t verdict_errors;
	uint64_t bad_messages; /* netlink messages we could not parse */
};

struct upn_nfq {
	struct mnl_socket *nl;
	uint16_t queue;
	uint32_t portid;
	char *buf;
	size_t buflen;
	struct upn_nfq_stats stats;
	void (*packet)(void *ctx, const void *pkt, size_t len);
	void *ctx;
};

/* 0, or -errno with a message logged. */
int upn_nfq_open(struct upn_nfq *q, uint16_t queue,
		 void (*packet)(void *ctx, const void *pkt, size_t len), void *ctx);
void upn_nfq_close(struct upn_nfq *q);
int upn_nfq_fd(const struct upn_nfq *q);
/* Reads what is waiting (a bounded number of reads, to keep the loop fair), hands
 * every packet to the callback, then accepts them all with one batch verdict. */
void upn_nfq_dispatch(struct upn_nfq *q);

#endif
