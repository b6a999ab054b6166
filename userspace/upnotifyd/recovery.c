// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "recovery.h"

#include <linux/neighbour.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "neigh.h"
#include "probe.h"
#include "trap.h"

/* At most this many trap sockets (udp and udp6 listeners). */
#define TRAP_FDS_MAX 4

struct recovery {
	struct upn_loop_handler trap_h, neigh_h;
	int trap_fds[TRAP_FDS_MAX];
	int ntrap_fds;
	struct upn_recovery_stats stats;
};

/* One per daemon; the daemon is one per process. */
static struct recovery rec;

static void server_up(struct upn_daemon *d, const struct upn_addr *server, uint8_t cause)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_SERVER_UP_NTF,
		.cause = cause,
		.server = *server,
		.ts_ns = upn_now_real_ns(),
	};

	upn_daemon_event(d, &ev);
}

static bool is_down(const struct upn_daemon *d, const struct upn_addr *server)
{
	return upn_waitlist_state(&d->wl, server) != UPN_SERVER_UP;
}

/* Traps are accepted from watched servers; one from a server that is not down is
 * counted and has no effect. */
static bool trap_wanted(void *ctx, const struct upn_addr *agent)
{
	struct upn_daemon *d = ctx;

	return upn_detect_watched(&d->detect, agent);
}

static void trap_recovered(void *ctx, const struct upn_addr *agent, const char *oid)
{
	struct upn_daemon *d = ctx;
	char a[UPN_ADDRSTRLEN];

	if (!is_down(d, agent)) {
		rec.stats.traps_for_up_servers++;
		upn_dbg("trap %s from %s: not down", oid, upn_addr_fmt(agent, a));
		return;
	}
	upn_info("trap %s from %s", oid, upn_addr_fmt(agent, a));
	server_up(d, agent, UPNOTIFY_CAUSE_TRAP);
}

static void on_trap(void *ctx, uint32_t events)
{
	upn_trap_read(((struct upn_daemon *)ctx)->trap);
}

static void neigh_event(void *ctx, const struct upn_addr *addr, uint16_t state, int ifindex)
{
	struct upn_daemon *d = ctx;

	/* A down server answering ARP/NDP again is back (figure 14). */
	if ((state & NUD_REACHABLE) && upn_waitlist_state(&d->wl, addr) == UPN_SERVER_DOWN) {
		rec.stats.neigh_reachable++;
		server_up(d, addr, UPNOTIFY_CAUSE_NEIGH);
		return;
	}
	if ((state & NUD_FAILED) && upn_daemon_neigh_failed(d, addr, upn_now_real_ns()))
		rec.stats.neigh_failed++;
}

void upn_recovery_count_neigh_failed(void)
{
	rec.stats.neigh_failed++;
}

static void on_neigh(void *ctx, uint32_t events)
{
	upn_neigh_dispatch(((struct upn_daemon *)ctx)->neigh);
}

static void probe_recovered(void *ctx, const struct upn_addr *server)
{
	struct upn_daemon *d = ctx;

	if (is_down(d, server))
		server_up(d, server, UPNOTIFY_CAUSE_PROBE);
}

int upn_recovery_open(struct upn_daemon *d)
{
	char err[512];

	memset(&rec, 0, sizeof(rec));
	if (d->cfg.snmp_listen[0]) {
		d->trap = upn_trap_open(&d->cfg, trap_wanted, trap_recovered, d, err, sizeof(err));
		if (!d->trap) {
			upn_err("traps: %s", err);
			return -1;
		}
		rec.trap_h = (struct upn_loop_handler){ on_trap, d };
		rec.ntrap_fds = upn_trap_fds(d->trap, rec.trap_fds, TRAP_FDS_MAX);
		for (int i = 0; i < rec.ntrap_fds; i++)
			if (upn_loop_add(&d->loop, rec.trap_fds[i], EPOLLIN, &rec.trap_h))
				return -1;
		upn_info("listening for SNMP traps on %s", d->cfg.snmp_listen);
	}
	/* No dump at start: an entry that happens to be REACHABLE then says nothing new
	 * about a server stored as down, and would recover it before anyone looked. */
	if (d->cfg.neigh) {
		d->neigh = upn_neigh_open(neigh_event, d, err, sizeof(err));
		if (!d->neigh) {
			upn_err("neighbour events: %s", err);
			return -1;
		}
		rec.neigh_h = (struct upn_loop_handler){ on_neigh, d };
		if (upn_loop_add(&d->loop, upn_neigh_fd(d->neigh), EPOLLIN, &rec.neigh_h))
			return -1;
	}
	if (d->cfg.probe) {
		d->probe = upn_probe_new(&d->loop, d->cfg.probe_interval_ms,
					 d->cfg.probe_max_interval_ms, d->cfg.rise, probe_recovered,
					 d);
		if (!d->probe) {
			upn_err("probes: out of memory");
			return -1;
		}
	}
	return 0;
}

void upn_recovery_close(struct upn_daemon *d)
{
	if (d->trap) {
		for (int i = 0; i < rec.ntrap_fds; i++)
			upn_loop_del(&d->loop, rec.trap_fds[i]);
		upn_trap_close(d->trap);
		d->trap = NULL;
	}
	if (d->neigh) {
		upn_loop_del(&d->loop, upn_neigh_fd(d->neigh));
		upn_neigh_close(d->neigh);
		d->neigh = NULL;
	}
	if (d->probe) {
		upn_probe_free(d->probe);
		d->probe = NULL;
	}
}

void upn_recovery_tick(struct upn_daemon *d, int64_t mono_ms)
{
	if (d->probe)
		upn_probe_tick(d->probe, mono_ms);
}

int64_t upn_recovery_deadline(const struct upn_daemon *d)
{
	return d->probe ? upn_probe_next_deadline(d->probe) : -1;
}

static void probe_server(void *ctx, const struct upn_wl_server *s)
{
	struct upn_daemon *d = ctx;
	size_t n = 0;

	while (n < UPN_WAITLIST_PORTS && s->ports[n])
		n++;
	if (s->state != UPN_SERVER_UP && n)
		upn_probe_watch(d->probe, &s->addr, s->ports, n);
}

void upn_recovery_probe_all(struct upn_daemon *d)
{
	if (d->probe)
		upn_waitlist_foreach_server(&d->wl, probe_server, d);
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

void upn_recovery_stats_json(const struct upn_daemon *d, json_t *c)
{
	struct upn_trap_stats ts = { 0 };
	struct upn_probe_stats ps = { 0 };
	struct upn_neigh_stats ns = { 0 };

	if (d->trap)
		upn_trap_get_stats(d->trap, &ts);
	if (d->probe)
		upn_probe_get_stats(d->probe, &ps);
	if (d->neigh)
		upn_neigh_get_stats(d->neigh, &ns);
	COUNTER(c, "traps.received", ts.received);
	COUNTER(c, "traps.accepted", ts.accepted);
	COUNTER(c, "traps.informs_acked", ts.informs_acked);
	COUNTER(c, "traps.bad_community", ts.bad_community);
	COUNTER(c, "traps.bad_user", ts.bad_user);
	COUNTER(c, "traps.not_watched", ts.not_watched);
	COUNTER(c, "traps.other_oid", ts.other_oid);
	COUNTER(c, "traps.malformed", ts.malformed);
	COUNTER(c, "traps.other_pdu", ts.other_pdu);
	COUNTER(c, "traps.engine_probes", ts.engine_probes);
	COUNTER(c, "traps.ack_failed", ts.ack_failed);
	COUNTER(c, "traps.server_not_down", rec.stats.traps_for_up_servers);
	COUNTER(c, "probes.attempts", ps.attempts);
	COUNTER(c, "probes.successes", ps.successes);
	COUNTER(c, "probes.failures", ps.failures);
	COUNTER(c, "probes.recoveries", ps.recoveries);
	COUNTER(c, "probes.timeouts", ps.timeouts);
	COUNTER(c, "probes.deferred", ps.deferred);
	COUNTER(c, "probes.table_full", ps.table_full);
	COUNTER(c, "neigh.events", ns.events);
	COUNTER(c, "neigh.overruns", ns.overruns);
	COUNTER(c, "neigh.reachable_recoveries", rec.stats.neigh_reachable);
	COUNTER(c, "neigh.failed_early", rec.stats.neigh_failed);
}
