// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 32

int upn_loop_init(struct upn_loop *l)
{
	l->stop = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void upn_loop_destroy(struct upn_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int upn_loop_add(struct upn_loop *l, int fd, uint32_t events, struct upn_loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int upn_loop_mod(struct upn_loop *l, int fd, uint32_t events, struct upn_loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void upn_loop_del(struct upn_loop *l, int fd)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int upn_loop_once(struct upn_loop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* A handler may close another's fd; handlers stay valid until the end of the
	 * iteration because owners free them only after upn_loop_once returns. */
	for (int i = 0; i < n; i++) {
		struct upn_loop_handler *h = ev[i].data.ptr;

		h->cb(h->ctx, ev[i].events);
	}
	return n;
}

int64_t upn_now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t upn_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
