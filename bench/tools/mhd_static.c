// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * mhd_static: the reference for the portal benchmark. The same libmicrohttpd set-up
 * as upnotifyd's portal (userspace/upnotifyd/portal.c), serving one static page:
 * the same transparent dual-stack listener (upn_portal_listen), MHD_USE_EPOLL |
 * MHD_ALLOW_SUSPEND_RESUME in external-epoll mode driven by epoll_wait + MHD_run, the
 * same connection limit (ours refuses at -c, MHD's backstop at -c + 16), timeout and
 * per-connection memory, and the portal's "MHD has work it did not signal" re-run.
 * What it does not do is the portal's own work: the page is one response object built
 * at start and queued for every request (as MHD's examples answer, on the second call
 * of the handler), with no lookup, token, rendering or allocation per request.
 *
 * usage: mhd_static -l LISTEN -f BODY [-s STATUS] [-H 'Name: value']... [-c MAXCONN]
 *                   [-T TIMEOUT_S] [-t SECONDS]
 * Prints "listening PORT" on stderr when ready, "requests N" and "connections N" on
 * stdout at SIGTERM/SIGINT or after SECONDS (default 600).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "portalnet.h"

/* portal.c's CONN_MEMORY. */
#define CONN_MEMORY (16 * 1024)
#define HEADERS_MAX 16

static volatile sig_atomic_t stop;
static struct MHD_Response *page;
static unsigned int status = 503, max_conns = 1024, open_conns;
static unsigned long long requests, connections, refused;
static int first_call; /* *req_cls marker: the request has been seen once */

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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	if (!*req_cls) {
		/* Headers only: answer on the next call, as the portal does. */
		*req_cls = &first_call;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	requests++;
	return MHD_queue_response(conn, status, page);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		open_conns++;
		connections++;
	} else {
		open_conns--;
	}
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	if (open_conns >= max_conns) {
		refused++;
		return MHD_NO;
	}
	return MHD_YES;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || st.st_size > (1 << 20)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s -l LISTEN -f BODY [-s STATUS] [-H 'Name: value']... [-c MAXCONN]\n"
		"       [-T TIMEOUT_S] [-t SECONDS<=3600]\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	const char *listen_spec = NULL, *body_path = NULL, *hdrs[HEADERS_MAX];
	unsigned int timeout_s = 10;
	double seconds = 600, end;
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event ev = { .events = EPOLLIN };
	const union MHD_DaemonInfo *di;
	struct MHD_Daemon *mhd;
	size_t nhdrs = 0, len = 0;
	uint16_t port = 0;
	char err[256], *body;
	int opt, lfd, ep;

	while ((opt = getopt(argc, argv, "l:f:s:H:c:T:t:")) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'f':
			body_path = optarg;
			break;
		case 's':
			status = (unsigned int)atoi(optarg);
			break;
		case 'H':
			if (nhdrs == HEADERS_MAX || !strchr(optarg, ':'))
				return usage(argv[0]);
			hdrs[nhdrs++] = optarg;
			break;
		case 'c':
			max_conns = (unsigned int)atoi(optarg);
			break;
		case 'T':
			timeout_s = (unsigned int)atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			return usage(argv[0]);
		}
	}
	if (!listen_spec || !body_path || status < 100 || status > 599 || !max_conns ||
	    seconds <= 0 || seconds > 3600)
		return usage(argv[0]);
	body = slurp(body_path, &len);
	if (!body) {
		fprintf(stderr, "mhd_static: cannot read %s\n", body_path);
		return 1;
	}
	page = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!page)
		return 1;
	for (size_t i = 0; i < nhdrs; i++) {
		char name[128];
		const char *colon = strchr(hdrs[i], ':'), *v = colon + 1;
		size_t n = (size_t)(colon - hdrs[i]);

		if (n >= sizeof(name))
			return usage(argv[0]);
		memcpy(name, hdrs[i], n);
		name[n] = '\0';
		while (*v == ' ')
			v++;
		MHD_add_response_header(page, name, v);
	}

	lfd = upn_portal_listen(listen_spec, &port, err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "mhd_static: %s\n", err);
		return 1;
	}
	mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
			       on_accept, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, lfd,
			       MHD_OPTION_CONNECTION_LIMIT, max_conns + 16,
			       MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
			       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
			       MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			       MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
			       MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!mhd) {
		fprintf(stderr, "mhd_static: libmicrohttpd would not start\n");
		return 1;
	}
	di = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!di || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, di->epoll_fd, &ev)) {
		perror("mhd_static: epoll");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "listening %u\n", port);

	/* upnotifyd's loop, minus everything but the portal: wait on MHD's epoll fd
	 * until MHD's own deadline (capped at 1 s, the daemon's loop timeout), run it,
	 * and run it again at once when it says it has work left. */
	end = now() + seconds;
	while (!stop && now() < end) {
		MHD_UNSIGNED_LONG_LONG t;
		struct epoll_event got;
		int timeout = 1000;

		if (MHD_get_timeout(mhd, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)timeout)
			timeout = (int)t;
		if (epoll_wait(ep, &got, 1, timeout) < 0 && errno != EINTR) {
			perror("mhd_static: epoll_wait");
			break;
		}
		MHD_run(mhd);
	}
	MHD_stop_daemon(mhd);
	close(lfd);
	MHD_destroy_response(page);
	printf("requests %llu\nconnections %llu\nrefused %llu\n", requests, connections, refused);
	return 0;
}
