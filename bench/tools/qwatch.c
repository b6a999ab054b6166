// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * qwatch: timestamp the messages a Postfix instance accepts, with inotify on its
 * incoming queue directory. cleanup(8) writes each message there and, when it is
 * complete, marks the file ready with fchmod (mode 0700: what qmgr(8) waits for), then
 * fsyncs, closes it and tells smtpd(8), which only then answers the client's end of
 * data with 250. The first IN_ATTRIB of a file name is that mark: one accepted message,
 * seen within the watcher's wake-up time.
 *
 * Not IN_CLOSE_WRITE: with several cleanup processes at work, qmgr may move a file it
 * already sees ready into the active queue before its cleanup has closed it, and the
 * close is then reported there (seen: 1 in ~20,000 with smtp-source -s 4). A file can
 * also get a second IN_ATTRIB; names are counted once.
 *
 * usage: qwatch -d DIR [-n COUNT] [-t SECONDS] [-i IDLE]
 * Prints "ready" on stderr once the watch is in place; stops after COUNT distinct
 * files (default 1), after SECONDS (default 60, at most 600), after IDLE seconds
 * without a new file once the first came (-i, default: no such limit) or at SIGTERM
 * or SIGINT, and then prints on stdout "count N", "t_first T" and "t_last T"
 * (CLOCK_REALTIME when the first and the last counted file were seen, seconds with
 * nanoseconds; 0 if none).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The names seen: open addressing, a power of two at least twice COUNT. */
#define COUNT_MAX 1000000
static char **names;
static size_t names_mask;

static int names_init(unsigned long long want)
{
	size_t cap = 1024;

	while (cap < 2 * want)
		cap *= 2;
	names = calloc(cap, sizeof(*names));
	names_mask = cap - 1;
	return names ? 0 : -1;
}

/* 1 if @name is new (and now remembered), 0 if seen before, -1 out of memory. */
static int names_add(const char *name)
{
	size_t h = 5381;

	for (const char *c = name; *c; c++)
		h = h * 33 + (unsigned char)*c;
	for (h &= names_mask; names[h]; h = (h + 1) & names_mask)
		if (!strcmp(names[h], name))
			return 0;
	names[h] = strdup(name);
	return names[h] ? 1 : -1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	unsigned long long want = 1, count = 0;
	double seconds = 60, idle = 0, end, seen = 0;
	struct timespec first = { 0 }, last = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	static char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	int fd, opt;

	while ((opt = getopt(argc, argv, "d:n:t:i:")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			want = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'i':
			idle = atof(optarg);
			break;
		default:
			dir = NULL;
			break;
		}
	}
	if (!dir || !want || want > COUNT_MAX || seconds <= 0 || seconds > 600 || idle < 0) {
		fprintf(stderr, "usage: %s -d DIR [-n COUNT<=%d] [-t SECONDS<=600] [-i IDLE]\n",
			argv[0], COUNT_MAX);
		return 2;
	}
	if (names_init(want)) {
		fprintf(stderr, "qwatch: out of memory\n");
		return 1;
	}
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, dir, IN_ATTRIB) < 0) {
		perror(dir);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "ready\n");

	end = mono() + seconds;
	while (!stop && count < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = end - mono();
		ssize_t n;

		if (left <= 0 || (idle && count && mono() - seen >= idle))
			break;
		if (poll(&p, 1, left > 0.1 ? 100 : (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("qwatch: read");
			break;
		}
		/* One timestamp per read: the events in it were all there by then. */
		for (char *cur = buf; cur < buf + n && count < want;) {
			struct inotify_event *ev = (struct inotify_event *)cur;

			cur += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				fprintf(stderr, "qwatch: inotify queue overflow\n");
				stop = 1;
				break;
			}
			if (!(ev->mask & IN_ATTRIB) || (ev->mask & IN_ISDIR) || !ev->len)
				continue;
			switch (names_add(ev->name)) {
			case 0:
				continue;
			case -1:
				fprintf(stderr, "qwatch: out of memory\n");
				stop = 1;
				continue;
			}
			if (!count++)
				clock_gettime(CLOCK_REALTIME, &first);
			clock_gettime(CLOCK_REALTIME, &last);
			seen = mono();
		}
	}
	printf("count %llu\nt_first %lld.%09ld\nt_last %lld.%09ld\n", count,
	       (long long)first.tv_sec, first.tv_nsec, (long long)last.tv_sec, last.tv_nsec);
	return 0;
}
