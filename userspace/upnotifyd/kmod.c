// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "kmod.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "daemon.h"
#include "genl.h"
#include "limits.h"
#include "log.h"

struct upn_kmod {
	struct upn_daemon *d;
	struct mnl_socket *ev, *req;
	struct upn_genl_family fam;
	uint32_t seq;
	int rcvbuf;
	bool dispatching; /* the event being applied came from the module */
	int64_t lost_logged;
	struct upn_kmod_stats stats;
	uint64_t module[UPNOTIFY_STAT_MAX + 1]; /* the last GET_STATS answer */
	char buf[UPN_KMOD_MSGBUF];
};

/* A command on the request socket; 0 or -errno, logged. */
static int command(struct upn_kmod *k, struct nlmsghdr *nlh, const char *what,
		   int (*cb)(const struct nlmsghdr *, void *), void *data)
{
	char err[512];
	int ret;

	if (!nlh) {
		upn_err("kmod: %s: the request does not fit in a message", what);
		return -EMSGSIZE;
	}
	ret = upn_genl_request(k->req, nlh, cb, data, err, sizeof(err));
	if (ret && ret != -EINTR) {
		k->stats.cmd_errors++;
		upn_warn("kmod: %s: %s", what, err);
	}
	return ret;
}

bool upn_kmod_available(void)
{
	struct mnl_socket *nl = upn_genl_open(0);
	struct upn_genl_family fam;
	char err[256];
	bool ok;

	if (!nl)
		return false;
	ok = !upn_genl_resolve(nl, &fam, err, sizeof(err));
	mnl_socket_close(nl);
	return ok;
}

static void set_rcvbuf(struct upn_kmod *k, int bytes)
{
	int fd = mnl_socket_get_fd(k->ev);

	k->rcvbuf = bytes;
	/* SO_RCVBUFFORCE passes net.core.rmem_max; without CAP_NET_ADMIN, SO_RCVBUF. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

static int push_config(struct upn_kmod *k)
{
	const struct upn_config *cfg = &k->d->cfg;
	size_t n = cfg->nwatch + cfg->nignore, len = 256 + 64 * n;
	char *buf = malloc(len);
	struct upn_genl_config gc = {
		.syn_timeout_ms = cfg->syn_timeout_ms,
		.count_refused = cfg->count_refused,
		.mode = (uint8_t)cfg->mode,
		.icmp_codes = cfg->icmp_codes,
		.icmp6_codes = cfg->icmp6_codes,
	};
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = command(k,
		      upn_genl_put_set_watch(buf, len, k->fam.id, ++k->seq, cfg->watch, cfg->nwatch,
					     cfg->ignore, cfg->nignore),
		      "SET_WATCH", NULL, NULL);
	if (!ret)
		ret = command(k, upn_genl_put_set_config(buf, len, k->fam.id, ++k->seq, &gc),
			      "SET_CONFIG", NULL, NULL);
	free(buf);
	return ret;
}

/* @ports (@nports of them) only with UPNOTIFY_STATE_REFUSING, which needs one. */
static int set_server(struct upn_kmod *k, const struct upn_addr *server, uint8_t state,
		      uint8_t cause, const uint16_t *ports, size_t nports)
{
	char buf[256];

	return command(k,
		       upn_genl_put_set_server_ports(buf, sizeof(buf), k->fam.id, ++k->seq, server,
						     state, cause, ports, nports),
		       state == UPNOTIFY_STATE_DOWN	? "SET_SERVER down" :
		       state == UPNOTIFY_STATE_REFUSING ? "SET_SERVER refusing" :
							  "SET_SERVER up",
		       NULL, NULL);
}

/* ---- the server states, both ways ------------------------------------------- */

struct addr_list {
	struct upn_genl_server *v;
	size_t n, cap;
	uint64_t bad;
};

static int list_add(struct addr_list *l, const struct upn_genl_server *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct upn_genl_server *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *s;
	return 0;
}

static int cmp_server(const void *a, const void *b)
{
	return upn_addr_cmp(&((const struct upn_genl_server *)a)->addr,
			    &((const struct upn_genl_server *)b)->addr);
}

struct dump_ctx {
	struct upn_kmod *k;
	struct addr_list *l;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *x = data;
	struct upn_genl_server s;
	int ret = upn_genl_decode_server(nlh, x->k->fam.id, &s);

	if (ret < 0) {
		x->k->stats.bad_messages++;
		return 0;
	}
	if (ret == UPN_GENL_OK &&
	    (s.state == UPNOTIFY_STATE_DOWN || s.state == UPNOTIFY_STATE_REFUSING))
		return list_add(x->l, &s);
	return 0;
}

/* The module's down and refusing servers, sorted; a dump the table changed under is
 * read again. */
static int dump_servers(struct upn_kmod *k, struct addr_list *l)
{
	struct dump_ctx ctx = { k, l };
	char buf[128];
	int ret = -EINTR;

	for (int i = 0; i < UPN_KMOD_DUMP_TRIES && ret == -EINTR; i++) {
		l->n = 0;
		ret = command(k, upn_genl_put_get_servers(buf, sizeof(buf), k->fam.id, ++k->seq),
			      "GET_SERVERS", dump_cb, &ctx);
	}
	if (ret == -EINTR) {
		k->stats.cmd_errors++;
		upn_warn("kmod: GET_SERVERS: interrupted %d times in a row", UPN_KMOD_DUMP_TRIES);
	}
	if (!ret)
		qsort(l->v, l->n, sizeof(*l->v), cmp_server);
	return ret;
}

/* The daemon's servers the module keeps too: the down ones, and the refusing ones
 * with a port (a SYN/ACK on one of them brings the server back; the module keeps
 * no refusing server without). */
static void collect_ours(void *ctx, const struct upn_wl_server *s)
{
	struct upn_genl_server g = { .addr = s->addr, .cause = s->cause };

	_Static_assert(UPN_GENL_PORTS >= UPN_WAITLIST_PORTS, "ports do not fit");
	if (s->state == UPN_SERVER_DOWN) {
		g.state = UPNOTIFY_STATE_DOWN;
	} else if (s->state == UPN_SERVER_REFUSING && s->ports[0]) {
		g.state = UPNOTIFY_STATE_REFUSING;
		memcpy(g.ports, s->ports, sizeof(s->ports));
	} else {
		return;
	}
	list_add(ctx, &g);
}

/* A down server to SET_SERVER DOWN with: its cause if it is one a server goes down
 * for, else the generic one. */
static uint8_t down_cause(uint8_t cause)
{
	switch (cause) {
	case UPNOTIFY_CAUSE_ICMP_UNREACH:
	case UPNOTIFY_CAUSE_SYN_TIMEOUT:
	case UPNOTIFY_CAUSE_SERVER_DOWN:
	case UPNOTIFY_CAUSE_NEIGH:
	case UPNOTIFY_CAUSE_MANUAL:
		return cause;
	}
	return UPNOTIFY_CAUSE_SERVER_DOWN;
}

static void apply(struct upn_kmod *k, const struct upn_event *ev)
{
	k->dispatching = true;
	upn_daemon_event(k->d, ev);
	k->dispatching = false;
}

/* Makes the daemon's down and refusing servers the module's: every server down in the
 * module and not here is a SERVER_DOWN we missed; with @lost_ups, every server down
 * here and not down there, or refusing here and neither down nor refusing there,
 * came up with its SERVER_UP lost (a SYN/ACK, whose client we cannot know). A server
 * refusing in the module and not here can only be told by its FAILED_ACCESS, lost
 * for good; a later SYN/ACK's SERVER_UP for it is then one we ignore. At start the
 * daemon has just pushed its own, so a server missing there is one the module
 * refused, not one that recovered: no @lost_ups. */
static int resync(struct upn_kmod *k, bool lost_ups)
{
	struct addr_list mod = { 0 }, ours = { 0 };
	uint64_t now = upn_now_real_ns();
	int ret = dump_servers(k, &mod);

	if (ret)
		goto out;
	upn_waitlist_foreach_server(&k->d->wl, collect_ours, &ours);
	for (size_t i = 0; i < mod.n; i++) {
		struct upn_event ev = {
			.type = UPNOTIFY_CMD_SERVER_DOWN_NTF,
			.cause = mod.v[i].cause ? mod.v[i].cause : UPNOTIFY_CAUSE_SERVER_DOWN,
			.server = mod.v[i].addr,
			.ts_ns = mod.v[i].ts_ns ? mod.v[i].ts_ns : now,
		};

		if (mod.v[i].state != UPNOTIFY_STATE_DOWN ||
		    upn_waitlist_state(&k->d->wl, &ev.server) == UPN_SERVER_DOWN)
			continue;
		k->stats.resync_fixes++;
		apply(k, &ev);
	}
	/* Applied after the walk: a recovery removes the server from the waitlist. */
	for (size_t i = 0; lost_ups && i < ours.n; i++) {
		struct upn_event ev = {
			.type = UPNOTIFY_CMD_SERVER_UP_NTF,
			.cause = UPNOTIFY_CAUSE_SYNACK,
			.server = ours.v[i].addr,
			.ts_ns = now,
		};
		const struct upn_genl_server *m =
			bsearch(&ours.v[i], mod.v, mod.n, sizeof(*mod.v), cmp_server);

		/* Down there stays down here; refusing here is still so there, or down
		 * there (made so here above). */
		if (m &&
		    (m->state == UPNOTIFY_STATE_DOWN || ours.v[i].state == UPNOTIFY_STATE_REFUSING))
			continue;
		k->stats.resync_fixes++;
		apply(k, &ev);
	}
out:
	free(mod.v);
	free(ours.v);
	return ret;
}

/* A refusing server to SET_SERVER REFUSING with: the cause it became so by, if it is
 * one a server does (the module accepts any). */
static uint8_t refusing_cause(uint8_t cause)
{
	return cause == UPNOTIFY_CAUSE_ICMP_UNREACH ? cause : UPNOTIFY_CAUSE_REFUSED;
}

/* Start: the module learns our down servers (so a SYN to one fails at once) and our
 * refusing ones with their ports (so a SYN/ACK on one brings it back), then we learn
 * the module's. */
static int sync_start(struct upn_kmod *k)
{
	struct addr_list ours = { 0 };
	size_t failed = 0, down = 0;

	upn_waitlist_foreach_server(&k->d->wl, collect_ours, &ours);
	for (size_t i = 0; i < ours.n; i++) {
		const struct upn_genl_server *s = &ours.v[i];
		int ret;

		if (s->state == UPNOTIFY_STATE_DOWN) {
			down++;
			ret = set_server(k, &s->addr, UPNOTIFY_STATE_DOWN, down_cause(s->cause),
					 NULL, 0);
		} else {
			ret = set_server(k, &s->addr, UPNOTIFY_STATE_REFUSING,
					 refusing_cause(s->cause), s->ports, UPN_GENL_PORTS);
		}
		if (ret)
			failed++;
	}
	if (ours.n)
		upn_info("kmod: %zu down and %zu refusing servers pushed to the module%s", down,
			 ours.n - down, failed ? " (some refused)" : "");
	free(ours.v);
	return resync(k, false);
}

/* ---- events ------------------------------------------------------------------ */

static void on_message(struct upn_kmod *k, const struct nlmsghdr *nlh)
{
	struct upn_event ev;
	int ret = upn_genl_decode_event(nlh, k->fam.id, &ev);

	if (ret < 0) {
		k->stats.bad_messages++;
		return;
	}
	if (ret == UPN_GENL_OTHER)
		return;
	if (!ev.ts_ns)
		ev.ts_ns = upn_now_real_ns();
	k->stats.events++;
	k->stats.by_type[ev.type]++;
	apply(k, &ev);
}

static void on_buffer(struct upn_kmod *k, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)k->buf;
	int left = (int)len;

	/* The module batches: one skb, several messages. */
	for (; upn_genl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
		on_message(k, nlh);
	if (left > 0)
		k->stats.bad_messages++;
}

static void overrun(struct upn_kmod *k)
{
	int64_t now = upn_now_mono_ms();

	k->stats.overruns++;
	if (k->rcvbuf < UPN_KMOD_RCVBUF_MAX)
		set_rcvbuf(k, k->rcvbuf * 2 > UPN_KMOD_RCVBUF_MAX ? UPN_KMOD_RCVBUF_MAX :
								    k->rcvbuf * 2);
	if (!k->lost_logged || now - k->lost_logged >= UPN_KMOD_LOST_LOG_MS) {
		k->lost_logged = now;
		upn_warn("kmod: receive buffer overrun (%" PRIu64 " so far): failed accesses "
			 "were lost; server states are resynced, buffer now %d bytes",
			 k->stats.overruns, k->rcvbuf);
	}
}

void upn_kmod_dispatch(struct upn_kmod *k)
{
	bool lost = false;

	for (int i = 0; i < UPN_KMOD_READS_PER_DISPATCH; i++) {
		ssize_t len = mnl_socket_recvfrom(k->ev, k->buf, sizeof(k->buf));

		if (len >= 0) {
			on_buffer(k, (size_t)len);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		if (errno == ENOBUFS) {
			overrun(k);
			lost = true;
		} else if (errno == ENOSPC) { /* libmnl's word for MSG_TRUNC */
			k->stats.bad_messages++;
		} else {
			upn_warn("kmod: receive failed: %s", strerror(errno));
			break;
		}
	}
	/* After what was still queued: the dump is then newer than every event read. */
	if (lost) {
		k->stats.resyncs++;
		resync(k, true);
	}
}

/* ---- the daemon's decisions ------------------------------------------------- */

void upn_kmod_server_up(struct upn_kmod *k, const struct upn_event *ev)
{
	/* The module's own events, and the echoes of what we told it, are known there. */
	if (k->dispatching)
		return;
	set_server(k, &ev->server, UPNOTIFY_STATE_UP, ev->cause, NULL, 0);
}

/* The module reports the SYNs to @server still pending, and marks it down only when
 * there was one, as upn_detect_neigh_failed() does. Their events come on the event
 * socket, and that SERVER_DOWN, not this request, is what gets counted. */
uint32_t upn_kmod_neigh_failed(struct upn_kmod *k, const struct upn_addr *server)
{
	if (upn_waitlist_state(&k->d->wl, server) != UPN_SERVER_DOWN)
		set_server(k, server, UPNOTIFY_STATE_DOWN, UPNOTIFY_CAUSE_NEIGH, NULL, 0);
	return 0;
}

/* ---- status ------------------------------------------------------------------- */

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct upn_kmod *k = data;

	return upn_genl_decode_stats(nlh, k->fam.id, k->module, UPNOTIFY_STAT_MAX + 1) < 0 ?
		       -EBADMSG :
		       0;
}

void upn_kmod_detect_stats(struct upn_kmod *k, struct upn_detect_stats *ds, uint64_t *pending)
{
	char buf[128];
	const uint64_t *m = k->module;

	/* On failure the last answer stands: counters never go backwards. */
	command(k, upn_genl_put_get_stats(buf, sizeof(buf), k->fam.id, ++k->seq), "GET_STATS",
		stats_cb, k);
	memset(ds, 0, sizeof(*ds));
	ds->packets = m[UPNOTIFY_STAT_PACKETS];
	ds->truncated = m[UPNOTIFY_STAT_TRUNCATED];
	ds->malformed = m[UPNOTIFY_STAT_MALFORMED];
	ds->syn = m[UPNOTIFY_STAT_SYN];
	ds->synack = m[UPNOTIFY_STAT_SYNACK];
	ds->rst = m[UPNOTIFY_STAT_RST];
	ds->unreach = m[UPNOTIFY_STAT_UNREACH];
	ds->not_watched = m[UPNOTIFY_STAT_NOT_WATCHED];
	ds->ignored_client = m[UPNOTIFY_STAT_IGNORED_CLIENT];
	ds->icmp_code_ignored = m[UPNOTIFY_STAT_ICMP_CODE_IGNORED];
	ds->pending_full = m[UPNOTIFY_STAT_TABLE_FULL];
	ds->retransmits = m[UPNOTIFY_STAT_SYN_RETRANSMITS];
	ds->unreach_repeat = m[UPNOTIFY_STAT_UNREACH_REPEATS];
	ds->syn_answered = m[UPNOTIFY_STAT_SYN_ANSWERED];
	ds->syn_timeouts = m[UPNOTIFY_STAT_SYN_TIMEOUTS];
	ds->refused = m[UPNOTIFY_STAT_REFUSED];
	ds->refused_ignored = m[UPNOTIFY_STAT_REFUSED_IGNORED];
	/* "other" has no counterpart: the hooks only look at what they need. */
	memcpy(ds->events, k->stats.by_type, sizeof(ds->events));
	*pending = m[UPNOTIFY_STAT_PENDING];
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

void upn_kmod_stats_json(const struct upn_kmod *k, json_t *c, json_t *g)
{
	const uint64_t *m = k->module;

	COUNTER(c, "kmod.events", k->stats.events);
	COUNTER(c, "kmod.bad_messages", k->stats.bad_messages);
	COUNTER(c, "kmod.overruns", k->stats.overruns);
	COUNTER(c, "kmod.resyncs", k->stats.resyncs);
	COUNTER(c, "kmod.resync_fixes", k->stats.resync_fixes);
	COUNTER(c, "kmod.cmd_errors", k->stats.cmd_errors);
	COUNTER(c, "kmod.event_fails", m[UPNOTIFY_STAT_EVENT_FAILS]);
	COUNTER(c, "kmod.table_full", m[UPNOTIFY_STAT_TABLE_FULL]);
	COUNTER(c, "kmod.servers_full", m[UPNOTIFY_STAT_SERVERS_FULL]);
	COUNTER(c, "kmod.syns_tracked", m[UPNOTIFY_STAT_SYNS_TRACKED]);
	COUNTER(c, "kmod.events_sent", m[UPNOTIFY_STAT_EVENTS]);
	COUNTER(g, "kmod_down_servers", m[UPNOTIFY_STAT_DOWN_SERVERS]);
	COUNTER(g, "kmod_refusing_servers", m[UPNOTIFY_STAT_REFUSING_SERVERS]);
	COUNTER(g, "kmod_rcvbuf", k->rcvbuf);
}

/* ---- lifecycle ---------------------------------------------------------------- */

struct upn_kmod *upn_kmod_open(struct upn_daemon *d)
{
	struct upn_kmod *k = calloc(1, sizeof(*k));
	struct timeval tv = { UPN_KMOD_CMD_TIMEOUT_MS / 1000,
			      (UPN_KMOD_CMD_TIMEOUT_MS % 1000) * 1000 };
	char err[512];
	int ret;

	if (!k) {
		upn_err("kmod: out of memory");
		return NULL;
	}
	k->d = d;
	k->ev = upn_genl_open(SOCK_NONBLOCK);
	k->req = upn_genl_open(0);
	if (!k->ev || !k->req) {
		upn_err("kmod: cannot open a generic netlink socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(mnl_socket_get_fd(k->req), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = upn_genl_resolve(k->req, &k->fam, err, sizeof(err));
	if (ret) {
		upn_err("kmod: the family \"%s\" does not resolve: %s", UPNOTIFY_GENL_NAME, err);
		goto fail;
	}
	/* Subscribed before the sync, so that no event falls between dump and join. */
	ret = upn_genl_subscribe(k->ev, &k->fam);
	if (ret) {
		upn_err("kmod: cannot join the \"%s\" group: %s", UPNOTIFY_MCGRP_EVENTS,
			strerror(-ret));
		goto fail;
	}
	set_rcvbuf(k, UPN_KMOD_RCVBUF);
	if (push_config(k)) {
		upn_err("kmod: the module refused the configuration");
		goto fail;
	}
	if (sync_start(k))
		upn_warn("kmod: could not read the module's down servers; going on");
	return k;
fail:
	upn_kmod_close(k);
	return NULL;
}

void upn_kmod_close(struct upn_kmod *k)
{
	if (!k)
		return;
	if (k->ev)
		mnl_socket_close(k->ev);
	if (k->req)
		mnl_socket_close(k->req);
	free(k);
}

int upn_kmod_fd(const struct upn_kmod *k)
{
	return mnl_socket_get_fd(k->ev);
}
