// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "neigh.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

/* Reads per dispatch before we return to the loop. */
#define READS_PER_DISPATCH 16

struct upn_neigh {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;	 /* of the dump running, if any */
	bool dumping;	 /* a dump runs: the kernel refuses a second one */
	bool dump_again; /* ...so a request meanwhile waits for its end */
	int rcvbuf;	 /* what we last asked for */
	upn_neigh_cb cb;
	void *ctx;
	struct upn_neigh_stats stats;
	char buf[UPN_NEIGH_MSGBUF];
};

static void set_rcvbuf(struct upn_neigh *n, int bytes)
{
	int fd = mnl_socket_get_fd(n->nl);

	n->rcvbuf = bytes;
	/* SO_RCVBUFFORCE passes net.core.rmem_max, which is often far below what a
	 * burst needs; without CAP_NET_ADMIN we get what SO_RCVBUF allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

static int send_dump(struct upn_neigh *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++n->seq;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_UNSPEC; /* both tables in one dump; the bridge's is skipped */
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0) {
		n->stats.send_errors++;
		upn_warn("neigh: cannot ask for a dump: %s", strerror(errno));
		return -errno;
	}
	n->stats.dumps++;
	n->dumping = true;
	n->dump_again = false;
	return 0;
}

int upn_neigh_dump(struct upn_neigh *n)
{
	if (n->dumping) {
		n->dump_again = true;
		return 0;
	}
	return send_dump(n);
}

static void dump_ended(struct upn_neigh *n)
{
	n->dumping = false;
	if (n->dump_again) {
		n->stats.dumps_redone++;
		send_dump(n);
	}
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	/* Attributes newer than our headers are skipped, not errors. */
	if (mnl_attr_type_valid(attr, NDA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static void on_neigh(struct upn_neigh *n, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NDA_MAX + 1] = { NULL };
	const struct ndmsg *ndm;
	struct upn_addr a;
	size_t want;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm)) {
		n->stats.malformed++;
		return;
	}
	ndm = mnl_nlmsg_get_payload(nlh);
	if ((ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) ||
	    (ndm->ndm_flags & NTF_PROXY)) {
		n->stats.ignored++;
		return;
	}
	if (mnl_attr_parse(nlh, sizeof(*ndm), attr_cb, tb) < 0) {
		n->stats.malformed++;
		return;
	}
	if (!tb[NDA_DST]) {
		n->stats.ignored++;
		return;
	}
	want = ndm->ndm_family == AF_INET ? 4 : 16;
	if (mnl_attr_get_payload_len(tb[NDA_DST]) != want) {
		n->stats.malformed++;
		return;
	}
	upn_addr_set(&a, ndm->ndm_family, mnl_attr_get_payload(tb[NDA_DST]));
	n->stats.events++;
	n->cb(n->ctx, &a, nlh->nlmsg_type == RTM_DELNEIGH ? NUD_NONE : ndm->ndm_state,
	      ndm->ndm_ifindex);
}

static void on_buffer(struct upn_neigh *n, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		bool ours = n->dumping && nlh->nlmsg_pid == n->portid && nlh->nlmsg_seq == n->seq;

		switch (nlh->nlmsg_type) {
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			/* The table changed under the dump: some entry may be missing
			 * from it, so it is done again once this one ends. */
			if (ours && (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
				n->dump_again = true;
			on_neigh(n, nlh);
			break;
		case NLMSG_DONE:
			if (ours) {
				n->stats.dumps_done++;
				dump_ended(n);
			}
			break;
		case NLMSG_ERROR:
			if (ours) {
				n->stats.send_errors++;
				dump_ended(n);
			}
			break;
		default:
			/* RTM_GETNEIGH is the kernel asking an ARP daemon (app_solicit). */
			n->stats.ignored++;
			break;
		}
	}
	if (left > 0)
		n->stats.malformed++;
}

static void overrun(struct upn_neigh *n)
{
	n->stats.overruns++;
	if (n->rcvbuf < UPN_NEIGH_RCVBUF_MAX)
		set_rcvbuf(n, n->rcvbuf * 2 > UPN_NEIGH_RCVBUF_MAX ? UPN_NEIGH_RCVBUF_MAX :
								     n->rcvbuf * 2);
	/* Some changes are lost: only the current states can replace them. */
	n->stats.resyncs++;
	upn_neigh_dump(n);
}

void upn_neigh_dispatch(struct upn_neigh *n)
{
	for (int i = 0; i < READS_PER_DISPATCH; i++) {
		ssize_t len = mnl_socket_recvfrom(n->nl, n->buf, sizeof(n->buf));

		if (len >= 0) {
			on_buffer(n, (size_t)len);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		if (errno == ENOBUFS)
			overrun(n);
		else if (errno == ENOSPC) /* libmnl's word for MSG_TRUNC */
			n->stats.malformed++;
		else {
			n->stats.recv_errors++;
			upn_warn("neigh: receive failed: %s", strerror(errno));
			break;
		}
	}
}

struct upn_neigh *upn_neigh_open(upn_neigh_cb cb, void *ctx, char *err, size_t errlen)
{
	struct upn_neigh *n = calloc(1, sizeof(*n));

	if (!n) {
		snprintf(err, errlen, "neigh: out of memory");
		return NULL;
	}
	n->cb = cb;
	n->ctx = ctx;
	n->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!n->nl || mnl_socket_bind(n->nl, RTMGRP_NEIGH, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "neigh: cannot open an rtnetlink socket: %s",
			 strerror(errno));
		upn_neigh_close(n);
		return NULL;
	}
	n->portid = mnl_socket_get_portid(n->nl);
	set_rcvbuf(n, UPN_NEIGH_RCVBUF);
	return n;
}

void upn_neigh_close(struct upn_neigh *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n);
}

int upn_neigh_fd(const struct upn_neigh *n)
{
	return mnl_socket_get_fd(n->nl);
}

void upn_neigh_get_stats(const struct upn_neigh *n, struct upn_neigh_stats *out)
{
	socklen_t len = sizeof(int);
	int bytes = 0;

	*out = n->stats;
	if (!getsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUF, &bytes, &len))
		out->rcvbuf = (uint32_t)bytes;
}
