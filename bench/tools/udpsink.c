// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * udpsink: count UDP datagrams with recvmmsg. Stops at SIGTERM/SIGINT, after IDLE
 * seconds without a datagram (once the first one came), or after SECONDS in all.
 *
 * usage: udpsink -l ADDR [-p PORT] [-i IDLE] [-t SECONDS] [-r RCVBUF]
 * Prints "listening" on stderr when bound and "received N" on stdout at the end.
 * Without -r it asks for a 4 MiB receive buffer with SO_RCVBUFFORCE; -r asks for RCVBUF
 * bytes with plain SO_RCVBUF (capped by net.core.rmem_max), as upnotifyd's trap socket
 * does, so that the two readers lose datagrams at the same buffer depth.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 256
#define SLOT 2048 /* bigger than any datagram udpblast sends by default */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *port = "9000";
	double idle = 2, seconds = 600, end, last;
	unsigned long long received = 0;
	static char bufs[BURST][SLOT];
	static struct mmsghdr msgs[BURST];
	static struct iovec iovs[BURST];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *ai;
	struct sigaction sa = { .sa_handler = on_signal };
	int fd, opt, err, i, rcvbuf = 4 << 20, force = 1;

	while ((opt = getopt(argc, argv, "l:p:i:t:r:")) != -1) {
		switch (opt) {
		case 'l':
			addr = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'i':
			idle = atof(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			rcvbuf = atoi(optarg);
			force = 0;
			break;
		default:
			addr = NULL;
			optind = argc;
			break;
		}
	}
	if (!addr || idle <= 0 || seconds <= 0 || seconds > 3600 || rcvbuf <= 0) {
		fprintf(stderr,
			"usage: %s -l ADDR [-p PORT] [-i IDLE] [-t SECONDS<=3600] [-r RCVBUF]\n",
			argv[0]);
		return 2;
	}
	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "udpsink: %s: %s\n", addr, gai_strerror(err));
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("udpsink: socket/bind");
		return 1;
	}
	freeaddrinfo(ai);
	/* A deep buffer so the sink, not the gateway, is rarely the reason for a loss. */
	if (!force || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (i = 0; i < BURST; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = SLOT;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	fprintf(stderr, "listening\n");

	last = now();
	end = last + seconds;
	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double t = now();
		int r;

		if (t >= end || (received && t - last >= idle))
			break;
		r = poll(&pfd, 1, 100);
		if (r <= 0)
			continue;
		r = recvmmsg(fd, msgs, BURST, MSG_DONTWAIT, NULL);
		if (r > 0) {
			received += r;
			last = now();
		} else if (r < 0 && errno != EAGAIN && errno != EINTR) {
			perror("udpsink: recvmmsg");
			break;
		}
	}
	printf("received %llu\n", received);
	return 0;
}
