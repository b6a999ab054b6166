// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "daemon.h"

#include "kmod.h"
#include "log.h"
#include "probe.h"
#include "recovery.h"

static void start_probing(struct upn_daemon *d, const struct upn_addr *server)
{
	const struct upn_wl_server *s = upn_waitlist_server(&d->wl, server);
	size_t n = 0;

	if (!d->probe || !s || s->state == UPN_SERVER_UP)
		return;
	while (n < UPN_WAITLIST_PORTS && s->ports[n])
		n++;
	if (n)
		upn_probe_watch(d->probe, server, s->ports, n);
}

static int recovered(struct upn_daemon *d, const struct upn_event *ev)
{
	struct upn_wl_server *s = upn_waitlist_server(&d->wl, &ev->server);
	char a[UPN_ADDRSTRLEN];
	uint32_t queued;

	if (!s || s->state == UPN_SERVER_UP)
		return -1;
	if (d->probe)
		upn_probe_unwatch(d->probe, &ev->server);
	/* A SYN/ACK names the client that got through: it knows already. */
	if (ev->client.family) {
		uint32_t idx = upn_waitlist_find(&d->wl, &ev->server, &ev->client);

		if (idx != UPN_NIL) {
			upn_waitlist_remove_entry(&d->wl, idx);
			d->notify.stats.reached++;
		}
	}
	queued = upn_notify_recovered(&d->notify, s, ev->cause,
				      (int64_t)(ev->ts_ns / 1000000000ull));
	upn_info("server-up: %s (%s): %u mails queued", upn_addr_fmt(&ev->server, a),
		 upn_cause_name(ev->cause), queued);
	if (queued)
		d->mail_barrier = upn_journal_barrier(&d->journal);
	return (int)queued;
}

int upn_daemon_event(struct upn_daemon *d, const struct upn_event *ev)
{
	char c[UPN_ADDRSTRLEN], s[UPN_ADDRSTRLEN];

	int ret;

	switch (ev->type) {
	case UPNOTIFY_CMD_SERVER_UP_NTF:
		ret = recovered(d, ev);
		/* A recovery the module did not see itself must reach it, or it would go
		 * on failing every SYN to the server; its own it skips (kmod.c). */
		if (ret >= 0 && d->kmod)
			upn_kmod_server_up(d->kmod, ev);
		return ret;
	case UPNOTIFY_CMD_SERVER_DOWN_NTF:
		/* Nothing new: the module echoing our SET_SERVER, or a resync. */
		if (upn_waitlist_state(&d->wl, &ev->server) == UPN_SERVER_DOWN)
			return 0;
		if (d->kmod && ev->cause == UPNOTIFY_CAUSE_NEIGH)
			upn_recovery_count_neigh_failed();
		upn_info("%s: %s (%s)", upn_event_name(ev->type), upn_addr_fmt(&ev->server, s),
			 upn_cause_name(ev->cause));
		break;
	case UPNOTIFY_CMD_FAILED_ACCESS_NTF:
		upn_dbg("failed access: %s -> %s port %u (%s)", upn_addr_fmt(&ev->client, c),
			upn_addr_fmt(&ev->server, s), ev->port, upn_cause_name(ev->cause));
		break;
	default:
		upn_info("%s: %s (%s)", upn_event_name(ev->type), upn_addr_fmt(&ev->server, s),
			 upn_cause_name(ev->cause));
	}
	upn_waitlist_event(&d->wl, ev);
	/* A failure may have added a port to probe. */
	start_probing(d, &ev->server);
	return 0;
}

uint32_t upn_daemon_neigh_failed(struct upn_daemon *d, const struct upn_addr *server,
				 uint64_t real_ns)
{
	if (!upn_detect_watched(&d->detect, server))
		return 0;
	if (d->kmod)
		return upn_kmod_neigh_failed(d->kmod, server);
	return upn_detect_neigh_failed(&d->detect, server, real_ns);
}
