// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "cmdmail.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cmdexec.h"
#include "daemon.h"
#include "log.h"
#include "mailbox.h"

/* A command mail is a few lines; anything this big is deleted unread and counted. */
#define CMDMAIL_MAX_SIZE (1u << 20)

enum item_state {
	ITEM_QUEUED,  /* for the loop to take */
	ITEM_DURABLE, /* run; waiting for its changes to be committed */
	ITEM_DONE,    /* the thread may go on: result says delete (0) or keep (1) */
};

struct item {
	const char *raw; /* the mailbox's buffer: the thread waits while the loop reads */
	size_t len;
	enum item_state state;
	uint64_t barrier;
	int result;
};

struct upn_cmdmail {
	struct upn_daemon *d;
	struct upn_mailbox_config mb;
	uint32_t poll_ms;
	int efd;
	struct upn_loop_handler h;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* item done, or stop */
	bool stop;
	struct item *item; /* the one in flight, or NULL */
	struct upn_mailbox_stats st;
};

/* ---- the thread -------------------------------------------------------------------- */

static int on_message(void *ctx, const char *raw, size_t len)
{
	struct upn_cmdmail *c = ctx;
	struct item it = { .raw = raw, .len = len, .state = ITEM_QUEUED, .result = 1 };
	uint64_t one = 1;
	int r;

	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	c->item = &it;
	pthread_mutex_unlock(&c->lock);
	if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		upn_warn("commands: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	while (it.state != ITEM_DONE && !c->stop)
		pthread_cond_wait(&c->cond, &c->lock);
	/* Stopped before it was durable: keep it for the next start. */
	r = it.state == ITEM_DONE ? it.result : -1;
	c->item = NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void *poller(void *arg)
{
	struct upn_cmdmail *c = arg;
	struct upn_mailbox_stats st = { 0 };
	char err[512], last_err[512] = "";
	struct timespec until;
	int ret;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		pthread_mutex_unlock(&c->lock);
		ret = upn_mailbox_poll(&c->mb, on_message, c, &st, err, sizeof(err));
		/* A mailbox that is down stays down for a while: say so when it changes. */
		if (ret && strcmp(err, last_err))
			upn_warn("commands: %s: %s", c->mb.url, err);
		else if (!ret && last_err[0])
			upn_info("commands: %s: polling again", c->mb.url);
		snprintf(last_err, sizeof(last_err), "%s", ret ? err : "");
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += c->poll_ms / 1000;
		until.tv_nsec += (long)(c->poll_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&c->lock);
		c->st = st;
		while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- the loop ---------------------------------------------------------------------- */

static void finish(struct upn_cmdmail *c, struct item *it, int result)
{
	pthread_mutex_lock(&c->lock);
	it->result = result;
	it->state = ITEM_DONE;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_event(void *ctx, uint32_t events)
{
	struct upn_cmdmail *c = ctx;
	struct upn_cmdexec_result res;
	struct item *it;
	uint64_t n;
	int ret;

	if (read(c->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		upn_warn("commands: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	it = c->item && c->item->state == ITEM_QUEUED ? c->item : NULL;
	pthread_mutex_unlock(&c->lock);
	if (!it)
		return;
	/* The thread waits on the item until it is done: it cannot go away meanwhile. */
	ret = upn_cmdexec_raw(c->d->cmds, it->raw, it->len,
			      (int64_t)(upn_now_real_ns() / 1000000000ull), upn_now_mono_ms(),
			      &res);
	upn_cmdexec_result_free(&res);
	if (ret) {
		/* No memory for the reply: the message stays for the next poll. */
		finish(c, it, 1);
		return;
	}
	pthread_mutex_lock(&c->lock);
	it->barrier = upn_journal_barrier(&c->d->journal);
	it->state = ITEM_DURABLE;
	pthread_mutex_unlock(&c->lock);
	/* Without a store (tests) nothing will ever be committed. */
	if (!c->d->store)
		finish(c, it, 0);
}

void upn_cmdmail_tick(struct upn_cmdmail *c, uint64_t durable_seq)
{
	struct item *it;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	it = c->item;
	if (it && it->state == ITEM_DURABLE && it->barrier <= durable_seq) {
		it->result = 0;
		it->state = ITEM_DONE;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

struct upn_cmdmail *upn_cmdmail_start(struct upn_daemon *d, char *err, size_t errlen)
{
	const struct upn_commands_config *cc = &d->cfg.commands;
	struct upn_cmdmail *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;
	int ret;

	if (!c || !d->cmds) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	c->d = d;
	upn_mailbox_config_init(&c->mb);
	snprintf(c->mb.url, sizeof(c->mb.url), "%s", cc->mailbox);
	snprintf(c->mb.password_file, sizeof(c->mb.password_file), "%s", cc->password_file);
	snprintf(c->mb.ca_file, sizeof(c->mb.ca_file), "%s", cc->ca_file);
	c->mb.max_size = CMDMAIL_MAX_SIZE;
	c->poll_ms = cc->poll_ms ? cc->poll_ms : 60000;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	c->h = (struct upn_loop_handler){ on_event, c };
	if (upn_loop_add(&d->loop, c->efd, EPOLLIN, &c->h)) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		goto fail;
	}
	ret = pthread_create(&c->thread, NULL, poller, c);
	if (ret) {
		upn_loop_del(&d->loop, c->efd);
		snprintf(err, errlen, "cannot start the thread: %s", strerror(ret));
		goto fail;
	}
	c->started = true;
	return c;
fail:
	if (c->efd >= 0)
		close(c->efd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

void upn_cmdmail_stop(struct upn_cmdmail *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->started)
		pthread_join(c->thread, NULL);
	upn_loop_del(&c->d->loop, c->efd);
	close(c->efd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

void upn_cmdmail_stats_json(struct upn_cmdmail *c, json_t *counters)
{
	struct upn_mailbox_stats st;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	st = c->st;
	pthread_mutex_unlock(&c->lock);
	COUNTER(counters, "commands.mailbox.polls", st.polls);
	COUNTER(counters, "commands.mailbox.fetched", st.fetched);
	COUNTER(counters, "commands.mailbox.deleted", st.deleted);
	COUNTER(counters, "commands.mailbox.too_big", st.too_big);
	COUNTER(counters, "commands.mailbox.errors", st.errors);
}
