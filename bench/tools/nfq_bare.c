// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * nfq_bare: the least an NFQUEUE reader can do. It binds one queue, asks for the first
 * 256 bytes of each packet, fails open, and says ACCEPT to everything without looking
 * at it. bench/run measures upnotifyd against it: whatever upnotifyd costs beyond
 * this is the price of its own work.
 *
 * usage: nfq_bare [-B] [-q QUEUE] [-l MAXLEN] [-b RCVBUF]
 * -B answers once per read, with a batch verdict for the highest packet id, instead of
 * once per packet: the cheapest a reader can be, and the way upnotifyd answers.
 * Prints "bound queue N" on stderr when ready and "verdicts N" (packets accepted) on
 * stdout at SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

/* The same kernel-side settings as upnotifyd (userspace/upnotifyd/limits.h), so the two
 * readers differ only in what they do in userspace. */
#define COPY_RANGE 256
#define DEFAULT_MAXLEN 8192
#define DEFAULT_RCVBUF (8 << 20)

static volatile sig_atomic_t stop;
static unsigned long long verdicts, send_errors;
static unsigned int config_seq;
static int batch;

/* -B: what the packets of one read still wait for. */
struct pending {
	uint32_t max_id;
	unsigned int count;
	uint16_t queue;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "nfq_bare: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Configuration asks for an ack, so that a queue already bound by someone else (EBUSY)
 * stops us here instead of leaving us to measure nothing. */
static void config_or_die(struct mnl_socket *nl, struct nlmsghdr *nlh, const char *what)
{
	char ack[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++config_seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die(what);
	n = mnl_socket_recvfrom(nl, ack, sizeof(ack));
	if (n < 0 || mnl_cb_run(ack, n, config_seq, portid, NULL, NULL) < 0)
		die(what);
}

static void accept_upto(struct mnl_socket *nl, int type, uint16_t queue, uint32_t id,
			unsigned int count)
{
	char buf[256];
	struct nlmsghdr *v = nfq_nlmsg_put(buf, type, queue);

	nfq_nlmsg_verdict_put(v, id, NF_ACCEPT);
	if (mnl_socket_sendto(nl, v, v->nlmsg_len) < 0)
		send_errors += count;
	else
		verdicts += count;
}

struct reader {
	struct mnl_socket *nl;
	struct pending p;
};

static int on_packet(const struct nlmsghdr *nlh, void *data)
{
	struct reader *r = data;
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	uint32_t id;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK; /* nothing we could answer */
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);

	if (!batch) {
		accept_upto(r->nl, NFQNL_MSG_VERDICT, ntohs(nfg->res_id), id, 1);
		return MNL_CB_OK;
	}
	/* Ids grow by one per packet of a queue: a batch verdict for the highest
	 * answers every packet before it. */
	if (!r->p.count || (int32_t)(id - r->p.max_id) > 0)
		r->p.max_id = id;
	r->p.queue = ntohs(nfg->res_id);
	r->p.count++;
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	unsigned int queue = 0, maxlen = DEFAULT_MAXLEN, portid;
	int rcvbuf = DEFAULT_RCVBUF, one = 1, opt;
	/* Many queued packets per read: each is at most COPY_RANGE plus headers. */
	size_t bufsz = 1 << 20;
	struct sigaction sa = { .sa_handler = on_signal };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct reader r = { 0 };
	char *buf;

	while ((opt = getopt(argc, argv, "Bq:l:b:")) != -1) {
		switch (opt) {
		case 'B':
			batch = 1;
			break;
		case 'q':
			queue = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			maxlen = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			rcvbuf = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-B] [-q QUEUE] [-l MAXLEN] [-b RCVBUF]\n",
				argv[0]);
			return 2;
		}
	}

	/* No SA_RESTART: the blocking read must return EINTR so we can report and leave. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	buf = malloc(bufsz);
	if (!buf)
		die("malloc");
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl)
		die("mnl_socket_open");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("mnl_socket_bind");
	portid = mnl_socket_get_portid(nl);
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) <
	    0)
		die("SO_RCVBUFFORCE");
	/* Overruns make the kernel fail open; we do not want to hear about them. */
	mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	config_or_die(nl, nlh, "bind queue");

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	config_or_die(nl, nlh, "configure queue");

	fprintf(stderr, "bound queue %u\n", queue);

	r.nl = nl;
	while (!stop) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, bufsz);

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			die("recv");
		}
		/* Errors (e.g. an NLMSG_ERROR ack) are not fatal for a benchmark reader. */
		mnl_cb_run(buf, n, 0, portid, on_packet, &r);
		if (r.p.count) {
			accept_upto(nl, NFQNL_MSG_VERDICT_BATCH, r.p.queue, r.p.max_id, r.p.count);
			r.p.count = 0;
		}
	}

	printf("verdicts %llu\n", verdicts);
	if (send_errors)
		fprintf(stderr, "nfq_bare: %llu verdicts failed to send\n", send_errors);
	fflush(stdout);
	mnl_socket_close(nl);
	free(buf);
	return 0;
}
