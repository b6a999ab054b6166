// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "nfq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "log.h"

/* Reads per dispatch before we return to the loop. */
#define READS_PER_DISPATCH 16

struct batch {
	struct upn_nfq *q;
	uint32_t max_id;
	int have;
};

static struct nlmsghdr *hdr(char *buf, int type, uint16_t queue)
{
	return nfq_nlmsg_put(buf, type, queue);
}

static int send_cfg(struct upn_nfq *q, struct nlmsghdr *nlh)
{
	char ack[MNL_SOCKET_BUFFER_SIZE];
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ret = (int)mnl_socket_recvfrom(q->nl, ack, sizeof(ack));
	if (ret < 0)
		return -errno;
	ret = mnl_cb_run(ack, (size_t)ret, nlh->nlmsg_seq, q->portid, NULL, NULL);
	return ret < 0 ? -errno : 0;
}

int upn_nfq_open(struct upn_nfq *q, uint16_t queue,
		 void (*packet)(void *ctx, const void *pkt, size_t len), void *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, rcvbuf = UPN_NFQ_RCVBUF, ret;

	memset(q, 0, sizeof(*q));
	q->queue = queue;
	q->packet = packet;
	q->ctx = ctx;
	q->buflen = 0xffff + MNL_SOCKET_BUFFER_SIZE;
	q->buf = malloc(q->buflen);
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!q->buf || !q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		upn_err("nfqueue: cannot open a netfilter netlink socket: %s", strerror(errno));
		upn_nfq_close(q);
		return ret;
	}
	q->portid = mnl_socket_get_portid(q->nl);

	nlh = hdr(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	ret = send_cfg(q, nlh);
	if (ret) {
		upn_err("nfqueue: cannot bind queue %u: %s%s", queue, strerror(-ret),
			ret == -EBUSY ? " (another program holds it; pick another [detect] queue)" :
					"");
		upn_nfq_close(q);
		return ret;
	}
	nlh = hdr(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, UPN_NFQ_COPY_RANGE);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(UPN_NFQ_QUEUE_MAXLEN));
	ret = send_cfg(q, nlh);
	if (ret) {
		upn_err("nfqueue: cannot configure queue %u: %s", queue, strerror(-ret));
		upn_nfq_close(q);
		return ret;
	}
	/* A full socket buffer makes the kernel fail open for that packet; we would
	 * rather count it than get ENOBUFS back. */
	setsockopt(mnl_socket_get_fd(q->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)))
		setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			   sizeof(rcvbuf));
	return 0;
}

void upn_nfq_close(struct upn_nfq *q)
{
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->buf);
	q->nl = NULL;
	q->buf = NULL;
}

int upn_nfq_fd(const struct upn_nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct batch *b = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		b->q->stats.bad_messages++;
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	b->q->stats.received++;
	/* Packet ids grow monotonically per queue; one verdict for the highest
	 * accepts every packet before it too. */
	if (!b->have || (int32_t)(ntohl(ph->packet_id) - b->max_id) > 0)
		b->max_id = ntohl(ph->packet_id);
	b->have = 1;
	if (attr[NFQA_PAYLOAD])
		b->q->packet(b->q->ctx, mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
			     mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
	return MNL_CB_OK;
}

static void verdict(struct upn_nfq *q, uint32_t id)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = hdr(buf, NFQNL_MSG_VERDICT_BATCH, q->queue);

	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
	q->stats.verdicts++;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		q->stats.verdict_errors++;
		upn_warn("nfqueue: verdict failed: %s", strerror(errno));
	}
}

void upn_nfq_dispatch(struct upn_nfq *q)
{
	struct batch b = { .q = q };

	for (int i = 0; i < READS_PER_DISPATCH; i++) {
		ssize_t n = mnl_socket_recvfrom(q->nl, q->buf, q->buflen);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				q->stats.recv_errors++;
				upn_warn("nfqueue: receive failed: %s", strerror(errno));
			}
			break;
		}
		if (mnl_cb_run(q->buf, (size_t)n, 0, q->portid, on_msg, &b) < 0)
			q->stats.bad_messages++;
	}
	if (b.have)
		verdict(q, b.max_id);
}
