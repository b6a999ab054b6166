// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * trapblast: replay one pre-encoded datagram (an SNMP trap, say) to ADDR:PORT at a
 * steady rate, bounded both in time and in count, so that a benchmark can never run
 * away.
 *
 * usage: trapblast -f FILE -d ADDR [-p PORT] [-r RATE] [-t SECONDS] [-n COUNT]
 *   -r RATE     datagrams per second (default 1000); the sender keeps to it in 1 ms
 *               ticks, sending in each tick what is due by then with sendmmsg, so a
 *               burst never exceeds RATE/1000 + 1 unless the sender fell behind
 *   -t SECONDS  at most this long (default 1, at most 600)
 *   -n COUNT    at most this many (default 10,000,000)
 * Prints on stdout when done: "sent N", "errors N", "secs S" (from the first send to
 * the last), "t_first T" (CLOCK_REALTIME just before the first datagram went out, in
 * seconds with nanoseconds: what a latency is measured from) and "cpu_us N".
 */
#include <errno.h>
#include <fcntl.h>
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
#define DGRAM_MAX 65507

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -f FILE -d ADDR [-p PORT] [-r RATE] [-t SECONDS<=600]"
		" [-n COUNT]\n",
		prog);
}

int main(int argc, char **argv)
{
	const char *file = NULL, *dst = NULL, *port = "162";
	unsigned long long limit = 10000000ULL, sent = 0, errors = 0;
	double rate = 1000, seconds = 1;
	static char dgram[DGRAM_MAX];
	static struct mmsghdr msgs[BURST_MAX];
	struct iovec iov;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec first = { 0 };
	struct rusage ru;
	int64_t start = 0, last = 0, deadline, tick = 1000000;
	ssize_t len;
	int fd, opt, err;

	while ((opt = getopt(argc, argv, "f:d:p:r:t:n:")) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'n':
			limit = strtoull(optarg, NULL, 0);
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (!file || !dst || rate < 1 || rate > 10000000 || seconds <= 0 || seconds > 600 ||
	    !limit) {
		usage(argv[0]);
		return 2;
	}
	fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 2;
	}
	len = read(fd, dgram, sizeof(dgram));
	close(fd);
	if (len <= 0) {
		fprintf(stderr, "trapblast: %s: empty or unreadable\n", file);
		return 2;
	}
	err = getaddrinfo(dst, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "trapblast: %s: %s\n", dst, gai_strerror(err));
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("trapblast: socket/connect");
		return 1;
	}
	freeaddrinfo(ai);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	iov.iov_base = dgram;
	iov.iov_len = (size_t)len;
	for (int i = 0; i < BURST_MAX; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	deadline = mono_ns() + (int64_t)(seconds * 1e9);
	for (int64_t next = mono_ns(); !stop && sent < limit;) {
		int64_t now = mono_ns();
		unsigned long long due;

		if (now >= deadline)
			break;
		/* What the rate allows by now, counted from the first send. */
		due = start ? (unsigned long long)((double)(now - start) * rate / 1e9) + 1 : 1;
		if (due > limit)
			due = limit;
		while (sent < due && !stop) {
			unsigned int n = due - sent > BURST_MAX ? BURST_MAX :
								  (unsigned int)(due - sent);
			int r;

			if (!start) {
				clock_gettime(CLOCK_REALTIME, &first);
				start = mono_ns();
			}
			r = sendmmsg(fd, msgs, n, 0);
			if (r > 0) {
				sent += (unsigned int)r;
				last = mono_ns();
			} else if (errno != EINTR) {
				/* ENOBUFS, ECONNREFUSED (an ICMP error from an earlier
				 * datagram): counted, and the datagram is not sent again. */
				errors++;
				sent++;
				if (errors > 1000000)
					goto done;
			}
		}
		next += tick;
		if (next > mono_ns()) {
			struct timespec ts = { next / 1000000000, next % 1000000000 };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		} else {
			next = mono_ns();
		}
	}
done:
	getrusage(RUSAGE_SELF, &ru);
	printf("sent %llu\nerrors %llu\nsecs %.6f\nt_first %lld.%09ld\ncpu_us %lld\n",
	       sent - errors, errors, start ? (double)(last - start) / 1e9 : 0.0,
	       (long long)first.tv_sec, first.tv_nsec,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return 0;
}
