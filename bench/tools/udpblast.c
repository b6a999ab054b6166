// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * udpblast: send small UDP datagrams as fast as sendmmsg allows, bounded both in time
 * and in count, so a benchmark can never run away.
 *
 * usage: udpblast -d ADDR [-p PORT] [-s SIZE] [-t SECONDS] [-n PACKETS] [-b BURST]
 * Prints "sent N" and "cpu_us N" (its own user + system time: on veth that includes the
 * softirq work of the whole path, gateway included) on stdout when done.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST_MAX 1024

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
	const char *dst = NULL, *port = "9000";
	unsigned long long limit = 100000000ULL, sent = 0, errors = 0;
	unsigned int size = 64, burst = 64, i;
	double seconds = 3, end;
	static char payload[65536];
	static struct mmsghdr msgs[BURST_MAX];
	struct iovec iov;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	struct sigaction sa = { .sa_handler = on_signal };
	struct rusage ru;
	int fd, opt, err;

	while ((opt = getopt(argc, argv, "d:p:s:t:n:b:")) != -1) {
		switch (opt) {
		case 'd':
			dst = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 's':
			size = strtoul(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'n':
			limit = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			burst = strtoul(optarg, NULL, 0);
			break;
		default:
			dst = NULL;
			optind = argc;
			break;
		}
	}
	if (!dst || size > sizeof(payload) || burst < 1 || burst > BURST_MAX || seconds <= 0 ||
	    seconds > 3600) {
		fprintf(stderr,
			"usage: %s -d ADDR [-p PORT] [-s SIZE<=65536] [-t SECONDS<=3600]"
			" [-n PACKETS] [-b BURST<=%d]\n",
			argv[0], BURST_MAX);
		return 2;
	}
	err = getaddrinfo(dst, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "udpblast: %s: %s\n", dst, gai_strerror(err));
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("udpblast: socket/connect");
		return 1;
	}
	freeaddrinfo(ai);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* Every message of a burst is the same datagram; the payload does not matter. */
	iov.iov_base = payload;
	iov.iov_len = size;
	for (i = 0; i < burst; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	end = now() + seconds;
	while (!stop && sent < limit) {
		unsigned int n = burst;
		int r;

		if (limit - sent < n)
			n = limit - sent;
		r = sendmmsg(fd, msgs, n, 0);
		if (r > 0) {
			sent += r;
		} else if (errno != EINTR) {
			/* ENOBUFS, ECONNREFUSED (an ICMP error from an earlier datagram): go on. */
			errors++;
			if (errors > 1000000)
				break;
		}
		/* Reading the clock once per burst keeps its cost out of the figures. */
		if (now() >= end)
			break;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("sent %llu\ncpu_us %lld\n", sent,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	if (errors)
		fprintf(stderr, "udpblast: %llu send errors\n", errors);
	return 0;
}
