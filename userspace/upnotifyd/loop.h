/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The one event loop (epoll). Handlers must not block: slow work goes to threads. */
#ifndef UPN_LOOP_H
#define UPN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*upn_loop_cb)(void *ctx, uint32_t events);

struct upn_loop {
	int epfd;
	bool stop;
};

int upn_loop_init(struct upn_loop *l);
void upn_loop_destroy(struct upn_loop *l);
/* @ctx is passed back to @cb; a handler may remove its own fd. The struct pointed to
 * by @h must live until the fd is removed. */
struct upn_loop_handler {
	upn_loop_cb cb;
	void *ctx;
};
int upn_loop_add(struct upn_loop *l, int fd, uint32_t events, struct upn_loop_handler *h);
int upn_loop_mod(struct upn_loop *l, int fd, uint32_t events, struct upn_loop_handler *h);
void upn_loop_del(struct upn_loop *l, int fd);
/* Waits at most @timeout_ms (-1: no limit) and runs the handlers of what is ready. */
int upn_loop_once(struct upn_loop *l, int timeout_ms);

/* CLOCK_MONOTONIC in ms and CLOCK_REALTIME in ns. */
int64_t upn_now_mono_ms(void);
uint64_t upn_now_real_ns(void);

#endif
