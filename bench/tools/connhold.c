// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * connhold: open N TCP connections to an HTTP server and hold them open, for the
 * portal benchmark's memory per open connection.
 *
 * usage: connhold -d ADDR [-p PORT] -n N [-m partial|full] [-t SECONDS]
 *   partial  each connection sends a request line and a header but not the blank line
 *            that ends the headers, and waits: a request in progress, as a slow client's
 *   full     each sends a whole keep-alive GET and reads the answer (headers and
 *            Content-Length bytes), then waits: an idle keep-alive connection
 * Prints "open N failed F" on stdout once every connection is open (and, with full,
 * answered) or has failed, then holds them until SIGTERM/SIGINT or SECONDS in all
 * (default 60), and closes them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define N_MAX 20000
#define HEAD_MAX 2048

enum cstate { CONNECTING, SENT, DONE, FAILED };

struct conn {
	int fd;
	enum cstate st;
	size_t got, want;	 /* full: bytes of the answer read, and its total once known */
	char head[HEAD_MAX + 1]; /* the answer's first bytes; calloc'd, so always a string */
};

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

/* The answer's whole length, once its headers are in: headers + Content-Length. */
static size_t answer_len(const char *head)
{
	const char *eoh = strstr(head, "\r\n\r\n"), *cl = strcasestr(head, "\r\nContent-Length:");

	if (!eoh || !cl || cl > eoh)
		return 0;
	return (size_t)(eoh + 4 - head) + strtoul(cl + 17, NULL, 10);
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *mode = "partial";
	int port = 80, n = 0, opt, ep, full, open_n = 0, failed = 0, pending;
	double seconds = 60, end;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;
	char req[256];
	size_t reqlen;
	struct conn *c;

	while ((opt = getopt(argc, argv, "d:p:n:m:t:")) != -1) {
		switch (opt) {
		case 'd':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			addr = NULL;
			break;
		}
	}
	full = !strcmp(mode, "full");
	if (!addr || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 || port <= 0 || port > 65535 ||
	    n <= 0 || n > N_MAX || (!full && strcmp(mode, "partial")) || seconds <= 0 ||
	    seconds > 3600) {
		fprintf(stderr,
			"usage: %s -d IPV4 [-p PORT] -n N<=%d [-m partial|full] "
			"[-t SECONDS<=3600]\n",
			argv[0], N_MAX);
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 16 ? rl.rlim_max : (rlim_t)n + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	reqlen = (size_t)snprintf(req, sizeof(req),
				  "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: connhold\r\n%s", addr,
				  full ? "\r\n" : "");
	c = calloc((size_t)n, sizeof(*c));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!c || ep < 0) {
		perror("connhold");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	end = now() + seconds;

	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };

		c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c[i].fd < 0 ||
		    (connect(c[i].fd, (struct sockaddr *)&sin, sizeof(sin)) &&
		     errno != EINPROGRESS) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev)) {
			c[i].st = FAILED;
			failed++;
		}
	}
	pending = n - failed;
	while (pending > 0 && !stop && now() < end) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);

		for (int j = 0; j < k; j++) {
			struct conn *x = &c[evs[j].data.u32];
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			ssize_t r;

			if (x->st == CONNECTING) {
				if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr ||
				    send(x->fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen)
					goto fail;
				if (!full) {
					x->st = DONE;
					epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
					open_n++;
					pending--;
					continue;
				}
				x->st = SENT;
				evs[j].events = EPOLLIN;
				epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &evs[j]);
				continue;
			}
			if (x->st != SENT)
				continue;
			for (;;) {
				/* The head of the answer is kept, the rest thrown away. */
				char sink[4096];
				size_t kept = x->got < HEAD_MAX ? x->got : HEAD_MAX;

				if (kept < HEAD_MAX)
					r = recv(x->fd, x->head + kept, HEAD_MAX - kept, 0);
				else
					r = recv(x->fd, sink, sizeof(sink), 0);
				if (r <= 0)
					break;
				x->got += (size_t)r;
				if (!x->want)
					x->want = answer_len(x->head);
			}
			if (r == 0 || (r < 0 && errno != EAGAIN))
				goto fail;
			if (x->want && x->got >= x->want) {
				x->st = DONE;
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				open_n++;
				pending--;
			}
			continue;
fail:
			x->st = FAILED;
			epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
			failed++;
			pending--;
		}
	}
	printf("open %d failed %d\n", open_n, failed + pending);
	fflush(stdout);
	while (!stop && now() < end)
		usleep(20000);
	for (int i = 0; i < n; i++)
		if (c[i].fd > 0)
			close(c[i].fd);
	return 0;
}
