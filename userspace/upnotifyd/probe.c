// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "ihash.h"

#define NONE INT64_MAX

struct server {
	uint32_t hnext; /* ihash chain; the arena's free link once freed */
	struct upn_addr addr;
	bool live;
	bool running; /* a round is in flight; @due is its deadline */
	uint8_t nports;
	uint8_t pending; /* connects of this round still in flight */
	uint16_t ports[UPN_PROBE_PORTS_MAX];
	uint16_t conn[UPN_PROBE_PORTS_MAX]; /* conns[] index + 1, 0: none */
	uint32_t ok_run;		    /* successful rounds in a row */
	uint32_t wait_ms;		    /* from this round's start to the next */
	int64_t round_start;
	int64_t due;
};

/* The connects in flight live in a fixed pool, never freed before upn_probe_free():
 * the loop may hold an event for a connect we have just closed, and its handler must
 * still be there to ignore it. */
struct conn {
	struct upn_loop_handler h;
	struct upn_probe *p;
	int fd; /* -1: free */
	uint32_t server;
	uint16_t next_free; /* index + 1, 0: end */
};

struct upn_probe {
	struct upn_loop *loop;
	uint32_t interval_ms, max_interval_ms, rise, timeout_ms;
	void (*recovered)(void *ctx, const struct upn_addr *server);
	void *ctx;
	struct upn_arena arena;
	struct upn_ihash index;
	int64_t next;	 /* earliest due, or NONE */
	uint32_t cursor; /* where a tick starts, so deferred rounds take turns */
	uint16_t free_conn;
	uint32_t inflight;
	struct upn_probe_stats stats;
	struct conn conns[UPN_PROBE_INFLIGHT_MAX];
};

static void on_conn(void *ctx, uint32_t events);

static struct server *srv(const struct upn_probe *p, uint32_t idx)
{
	return upn_arena_get(&p->arena, idx);
}

static void set_due(struct upn_probe *p, struct server *s, int64_t due)
{
	s->due = due;
	if (due < p->next)
		p->next = due;
}

/* @ms plus up to an eighth of it: servers that failed together drift apart. */
static int64_t jitter(uint32_t ms)
{
	return (int64_t)ms + randombytes_uniform(ms / 8 + 1);
}

static void conn_close(struct upn_probe *p, struct conn *c)
{
	upn_loop_del(p->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->next_free = p->free_conn;
	p->free_conn = (uint16_t)(c - p->conns + 1);
	p->inflight--;
}

/* Closes the connects of @s still in flight and returns how many there were. */
static uint32_t drop_conns(struct upn_probe *p, struct server *s)
{
	uint32_t n = 0;

	for (int i = 0; i < UPN_PROBE_PORTS_MAX; i++) {
		if (s->conn[i]) {
			conn_close(p, &p->conns[s->conn[i] - 1]);
			s->conn[i] = 0;
			n++;
		}
	}
	s->pending = 0;
	return n;
}

static void remove_server(struct upn_probe *p, uint32_t idx)
{
	struct server *s = srv(p, idx);

	p->stats.cancelled += drop_conns(p, s);
	upn_ihash_remove(&p->index, idx);
	s->live = false;
	upn_arena_free(&p->arena, idx);
}

static void finish_round(struct upn_probe *p, uint32_t idx, bool ok, int64_t now)
{
	struct server *s = srv(p, idx);
	struct upn_addr addr;
	int64_t next;

	p->stats.cancelled += drop_conns(p, s);
	s->running = false;
	p->stats.rounds++;
	if (ok) {
		p->stats.rounds_ok++;
		s->wait_ms = p->interval_ms;
		if (++s->ok_run >= p->rise) {
			/* Removed before the call, so that the callback sees a consistent
			 * prober and may watch the server again. */
			addr = s->addr;
			remove_server(p, idx);
			p->stats.recoveries++;
			p->recovered(p->ctx, &addr);
			return;
		}
	} else {
		s->ok_run = 0;
		s->wait_ms = s->wait_ms > p->max_interval_ms / 2 ? p->max_interval_ms :
								   s->wait_ms * 2;
	}
	/* Rounds are paced start to start, but never overlap. */
	next = s->round_start + jitter(s->wait_ms);
	set_due(p, s, next > now ? next : now);
}

static socklen_t sockaddr_of(const struct upn_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a->a, 16);
	return sizeof(*sin6);
}

/* Errors that say something about us, not about the server. They still fail the
 * round: a prober that cannot probe must not report anything up. */
static bool local_error(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN ||
	       err == EADDRNOTAVAIL || err == EPERM || err == EACCES;
}

/* One connect of a round: 1 connected at once, 0 in flight, -1 failed. */
static int connect_one(struct upn_probe *p, uint32_t idx, int slot_no)
{
	struct server *s = srv(p, idx);
	struct sockaddr_storage ss;
	socklen_t sslen = sockaddr_of(&s->addr, s->ports[slot_no], &ss);
	struct conn *c;
	int fd, err;

	p->stats.attempts++;
	fd = socket(s->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	if (!connect(fd, (struct sockaddr *)&ss, sslen)) {
		/* A plain close: the FIN makes us, not the server, hold TIME_WAIT, and
		 * there are at most rise * ports of them per recovering server. A reset
		 * (SO_LINGER 0) would spare only us, at the price of an error in the
		 * logs of a service that has just come back. */
		close(fd);
		p->stats.successes++;
		return 1;
	}
	err = errno;
	if (err != EINPROGRESS)
		goto fail;
	c = &p->conns[p->free_conn - 1];
	c->fd = fd;
	c->server = idx;
	err = -upn_loop_add(p->loop, fd, EPOLLOUT, &c->h);
	if (err) {
		c->fd = -1;
		goto fail;
	}
	p->free_conn = c->next_free;
	p->inflight++;
	s->conn[slot_no] = (uint16_t)(c - p->conns + 1);
	s->pending++;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	p->stats.failures++;
	if (local_error(err))
		p->stats.local_errors++;
	return -1;
}

/* Returns false when the round had to wait for room in the connect pool. */
static bool start_round(struct upn_probe *p, uint32_t idx, int64_t now)
{
	struct server *s = srv(p, idx);

	if (p->inflight + s->nports > UPN_PROBE_INFLIGHT_MAX) {
		p->stats.deferred++;
		set_due(p, s, now + UPN_PROBE_BUSY_RETRY_MS);
		return false;
	}
	s->running = true;
	s->round_start = now;
	for (int i = 0; i < s->nports; i++) {
		if (connect_one(p, idx, i) > 0) {
			finish_round(p, idx, true, now);
			return true;
		}
	}
	if (!s->pending)
		finish_round(p, idx, false, now);
	else
		set_due(p, s, now + p->timeout_ms);
	return true;
}

static void on_conn(void *ctx, uint32_t events)
{
	struct conn *c = ctx;
	struct upn_probe *p = c->p;
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	struct server *s;
	socklen_t len = sizeof(int);
	uint32_t idx = c->server;
	int err = 0;

	/* The event may be a stale one for a connect closed earlier in this round of
	 * the loop, whose slot now holds another: only a finished connect counts. */
	if (c->fd < 0 || poll(&pfd, 1, 0) != 1)
		return;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	s = srv(p, idx);
	for (int i = 0; i < UPN_PROBE_PORTS_MAX; i++) {
		if (s->conn[i] == (uint16_t)(c - p->conns + 1))
			s->conn[i] = 0;
	}
	conn_close(p, c);
	s->pending--;
	if (!err) {
		p->stats.successes++;
		finish_round(p, idx, true, upn_now_mono_ms());
		return;
	}
	p->stats.failures++;
	if (!s->pending)
		finish_round(p, idx, false, upn_now_mono_ms());
}

struct upn_probe *upn_probe_new(struct upn_loop *loop, uint32_t interval_ms,
				uint32_t max_interval_ms, uint32_t rise,
				void (*recovered)(void *ctx, const struct upn_addr *server),
				void *ctx)
{
	struct upn_probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->loop = loop;
	/* The config checks these; the clamps keep the arithmetic sane regardless. */
	p->interval_ms = interval_ms ? interval_ms : 1;
	p->max_interval_ms = max_interval_ms > p->interval_ms ? max_interval_ms : p->interval_ms;
	p->rise = rise ? rise : 1;
	p->timeout_ms = p->interval_ms < UPN_PROBE_CONNECT_TIMEOUT_MS ?
				p->interval_ms :
				UPN_PROBE_CONNECT_TIMEOUT_MS;
	p->recovered = recovered;
	p->ctx = ctx;
	p->next = NONE;
	upn_arena_init(&p->arena, sizeof(struct server), UPN_PROBE_SERVERS_MAX);
	if (upn_ihash_init(&p->index, &p->arena, offsetof(struct server, addr),
			   sizeof(struct upn_addr), offsetof(struct server, hnext))) {
		upn_ihash_destroy(&p->index);
		upn_arena_destroy(&p->arena);
		free(p);
		return NULL;
	}
	for (int i = 0; i < UPN_PROBE_INFLIGHT_MAX; i++) {
		p->conns[i].h.cb = on_conn;
		p->conns[i].h.ctx = &p->conns[i];
		p->conns[i].p = p;
		p->conns[i].fd = -1;
		p->conns[i].next_free = i + 1 < UPN_PROBE_INFLIGHT_MAX ? (uint16_t)(i + 2) : 0;
	}
	p->free_conn = 1;
	return p;
}

void upn_probe_free(struct upn_probe *p)
{
	if (!p)
		return;
	for (uint32_t idx = 1; idx < p->arena.used; idx++) {
		if (srv(p, idx)->live)
			remove_server(p, idx);
	}
	upn_ihash_destroy(&p->index);
	upn_arena_destroy(&p->arena);
	free(p);
}

void upn_probe_watch(struct upn_probe *p, const struct upn_addr *server, const uint16_t *ports,
		     size_t nports)
{
	uint16_t use[UPN_PROBE_PORTS_MAX];
	struct upn_addr key;
	struct server *s;
	uint8_t n = 0;
	uint32_t idx;

	if (server->family != AF_INET && server->family != AF_INET6)
		return;
	for (size_t i = 0; i < nports && n < UPN_PROBE_PORTS_MAX; i++) {
		bool dup = !ports[i];

		for (uint8_t j = 0; j < n && !dup; j++)
			dup = use[j] == ports[i];
		if (!dup)
			use[n++] = ports[i];
	}
	if (!n)
		return;
	/* The hash key is all 17 bytes; an IPv4 address's tail is zero by contract,
	 * but a copy made here does not depend on it. */
	memset(&key, 0, sizeof(key));
	key.family = server->family;
	memcpy(key.a, server->a, upn_addr_len(server));

	idx = upn_ihash_lookup(&p->index, &key);
	if (idx == UPN_NIL) {
		idx = upn_arena_alloc(&p->arena);
		if (idx == UPN_NIL) {
			p->stats.table_full++;
			return;
		}
		s = srv(p, idx);
		s->addr = key;
		s->live = true;
		s->wait_ms = p->interval_ms;
		upn_ihash_insert(&p->index, idx);
		/* The server was just seen failing: the first round can wait. */
		set_due(p, s, upn_now_mono_ms() + jitter(p->interval_ms));
	}
	s = srv(p, idx);
	memcpy(s->ports, use, n * sizeof(use[0]));
	/* Connects in flight for ports no longer listed still count for this
	 * round: they are connects to this server all the same. */
	s->nports = n;
}

void upn_probe_unwatch(struct upn_probe *p, const struct upn_addr *server)
{
	struct upn_addr key;
	uint32_t idx;

	if (server->family != AF_INET && server->family != AF_INET6)
		return;
	memset(&key, 0, sizeof(key));
	key.family = server->family;
	memcpy(key.a, server->a, upn_addr_len(server));
	idx = upn_ihash_lookup(&p->index, &key);
	if (idx != UPN_NIL)
		remove_server(p, idx);
}

void upn_probe_tick(struct upn_probe *p, int64_t mono_ms)
{
	uint32_t n = p->arena.used - 1;
	bool deferred = false;

	if (p->next == NONE || mono_ms < p->next)
		return;
	/* Recomputed below; whatever a callback schedules meanwhile lowers it too. */
	p->next = NONE;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t idx = 1 + (p->cursor + k) % n;
		struct server *s = srv(p, idx);

		if (!s->live)
			continue;
		if (s->due > mono_ms) {
			if (s->due < p->next)
				p->next = s->due;
			continue;
		}
		if (s->running) {
			uint32_t late = drop_conns(p, s);

			p->stats.timeouts += late;
			p->stats.failures += late;
			finish_round(p, idx, false, mono_ms);
		} else if (!start_round(p, idx, mono_ms) && !deferred) {
			/* Next time, the first server left waiting goes first. */
			deferred = true;
			p->cursor = idx - 1;
		}
	}
}

int64_t upn_probe_next_deadline(const struct upn_probe *p)
{
	return p->arena.live && p->next != NONE ? p->next : -1;
}

void upn_probe_get_stats(const struct upn_probe *p, struct upn_probe_stats *out)
{
	*out = p->stats;
	out->watched = p->arena.live;
	out->inflight = p->inflight;
}
