// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Failed-access detection: what the daemon's userspace/upnotifyd/detect.c does for
 * its NFQUEUE source, with the same semantics, done here in the hooks. An attempt
 * counts once however many retransmissions and ICMP errors it causes; a server is
 * down after a SYN timeout or an ICMP error that says the host is unreachable, and
 * every later SYN to it fails at once; a SYN/ACK from it brings it back. A server
 * whose service refused a TCP attempt (RST, port or protocol unreachable) and is not
 * down is refusing: its SYNs wait as usual, and a SYN/ACK on one of the refused
 * ports brings it back (the daemon's UPN_SERVER_REFUSING).
 */
#include <linux/ktime.h>

#include "upnotify.h"

enum {
	ICMP_CODE_PROT_UNREACH = 2,
	ICMP_CODE_PORT_UNREACH = 3,
	ICMP6_CODE_PORT_UNREACH = 4,
};

/*
 * Does this failed access say the whole host is unreachable (SYN timeout, net or
 * host unreachable, prohibited), rather than one service refusing (RST, port or
 * protocol unreachable)? The daemon's upn_event_host_down().
 */
static bool host_down(const struct upn_event *ev)
{
	switch (ev->cause) {
	case UPNOTIFY_CAUSE_REFUSED:
		return false;
	case UPNOTIFY_CAUSE_ICMP_UNREACH:
		if (ev->family == AF_INET)
			return ev->icmp_code != ICMP_CODE_PROT_UNREACH &&
			       ev->icmp_code != ICMP_CODE_PORT_UNREACH;
		return ev->icmp_code != ICMP6_CODE_PORT_UNREACH;
	default:
		return true;
	}
}

/* One service refused: the server is refusing, unless it is down. Only a TCP port
 * can show the service back (the daemon's waitlist records the same ones). */
static void refusing(struct upn_net *un, const struct upn_event *ev)
{
	if (ev->proto != IPPROTO_TCP || !ev->port)
		return;
	if (upn_servers_set_refusing(un, ev->family, ev->server, &ev->port, 1,
				     ev->cause, ev->ts) < 0) {
		upn_stat_inc(un, UPNOTIFY_STAT_SERVERS_FULL);
		net_dbg_ratelimited("server table full\n");
	}
}

/**
 * upn_detect_failed() - report a failed access
 * @un: the namespace
 * @ev: the failure, cmd is set here
 *
 * Preceded by SERVER_DOWN_NTF when it is the failure that shows the host is down;
 * a refusal makes a server that is not down refusing.
 */
void upn_detect_failed(struct upn_net *un, struct upn_event *ev)
{
	if (!host_down(ev)) {
		refusing(un, ev);
	} else {
		int ret = upn_servers_set_down(un, ev->family, ev->server,
					       ev->cause, ev->ts);

		if (ret > 0) {
			struct upn_event down = {
				.cmd = UPNOTIFY_CMD_SERVER_DOWN_NTF,
				.cause = ev->cause,
				.family = ev->family,
				.ts = ev->ts,
			};

			memcpy(down.server, ev->server, sizeof(down.server));
			upn_event_emit(un, &down);
		} else if (ret < 0) {
			upn_stat_inc(un, UPNOTIFY_STAT_SERVERS_FULL);
			net_dbg_ratelimited("down-server table full\n");
		}
	}
	ev->cmd = UPNOTIFY_CMD_FAILED_ACCESS_NTF;
	ev->has_client = true;
	upn_event_emit(un, ev);
}

static void tuple_of(struct upn_tuple *t, int family, const u8 *client,
		     const u8 *server, u16 cport, u16 sport)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	memcpy(t->client, client, upn_alen(family));
	memcpy(t->server, server, upn_alen(family));
	t->cport = cport;
	t->sport = sport;
}

static void event_of(struct upn_event *ev, u8 cause, int family,
		     const u8 *client, const u8 *server, u8 proto, u16 port)
{
	memset(ev, 0, sizeof(*ev));
	ev->cause = cause;
	ev->family = family;
	memcpy(ev->client, client, upn_alen(family));
	memcpy(ev->server, server, upn_alen(family));
	ev->proto = proto;
	ev->port = port;
	ev->ts = ktime_get_real_ns();
}

static bool wanted(struct upn_net *un, int family, const u8 *client,
		   const u8 *server)
{
	int why = upn_watch_check(un, family, client, server);

	if (why)
		upn_stat_inc(un, why);
	return !why;
}

static void on_syn(struct upn_net *un, const struct upn_pkt *p)
{
	struct upn_event ev;
	struct upn_tuple t;
	bool down;

	upn_stat_inc(un, UPNOTIFY_STAT_SYN);
	if (!wanted(un, p->family, p->saddr, p->daddr))
		return;
	/* A SYN to a down server is a failed access at once. It is tracked all the
	 * same, so that its retransmissions and ICMP errors are one attempt. */
	down = upn_servers_is_down(un, p->family, p->daddr);
	tuple_of(&t, p->family, p->saddr, p->daddr, p->sport, p->dport);
	switch (upn_pending_syn(un, &t, p->seq, down)) {
	case UPN_SYN_FULL:
		upn_stat_inc(un, UPNOTIFY_STAT_TABLE_FULL);
		net_dbg_ratelimited("pending table full\n");
		break;
	case UPN_SYN_RETRANSMIT:
		upn_stat_inc(un, UPNOTIFY_STAT_SYN_RETRANSMITS);
		return;
	case UPN_SYN_NEW:
		upn_stat_inc(un, UPNOTIFY_STAT_SYNS_TRACKED);
		break;
	}
	if (down) {
		event_of(&ev, UPNOTIFY_CAUSE_SERVER_DOWN, p->family, p->saddr,
			 p->daddr, IPPROTO_TCP, p->dport);
		upn_detect_failed(un, &ev);
	}
}

static void on_synack(struct upn_net *un, const struct upn_pkt *p)
{
	struct upn_event ev;
	struct upn_tuple t;

	upn_stat_inc(un, UPNOTIFY_STAT_SYNACK);
	tuple_of(&t, p->family, p->daddr, p->saddr, p->dport, p->sport);
	if (upn_pending_answer(un, &t, p->ack) != UPN_SYN_UNKNOWN)
		upn_stat_inc(un, UPNOTIFY_STAT_SYN_ANSWERED);
	/* A down host that completes a handshake is back, and a refusing one when
	 * the service its clients wanted answers; the client that got through needs
	 * no notification to tell it so. */
	if (upn_servers_synack(un, p->family, p->saddr, p->sport)) {
		event_of(&ev, UPNOTIFY_CAUSE_SYNACK, p->family, p->daddr,
			 p->saddr, 0, 0);
		ev.cmd = UPNOTIFY_CMD_SERVER_UP_NTF;
		ev.has_client = true;
		upn_event_emit(un, &ev);
	}
}

static void on_rst(struct upn_net *un, const struct upn_pkt *p)
{
	struct upn_event ev;
	struct upn_tuple t;

	upn_stat_inc(un, UPNOTIFY_STAT_RST);
	tuple_of(&t, p->family, p->daddr, p->saddr, p->dport, p->sport);
	switch (upn_pending_answer(un, &t, p->ack)) {
	case UPN_SYN_UNKNOWN:
		return;
	case UPN_SYN_AGAIN:
		/* Counted already, as a SYN to a down server or by an ICMP error. */
		upn_stat_inc(un, UPNOTIFY_STAT_REFUSED);
		return;
	case UPN_SYN_FIRST:
		break;
	}
	upn_stat_inc(un, UPNOTIFY_STAT_REFUSED);
	if (!READ_ONCE(rcu_dereference(un->cfg)->count_refused)) {
		upn_stat_inc(un, UPNOTIFY_STAT_REFUSED_IGNORED);
		return;
	}
	event_of(&ev, UPNOTIFY_CAUSE_REFUSED, p->family, p->daddr, p->saddr,
		 IPPROTO_TCP, p->sport);
	upn_detect_failed(un, &ev);
}

static bool code_counts(const u8 *codes, u8 code)
{
	return codes[code / 8] & (1 << (code % 8));
}

static void on_unreach(struct upn_net *un, const struct upn_pkt *p)
{
	const struct upn_cfg *cfg = rcu_dereference(un->cfg);
	struct upn_event ev;
	struct upn_tuple t;

	upn_stat_inc(un, UPNOTIFY_STAT_UNREACH);
	if (!code_counts(p->family == AF_INET ? cfg->icmp_codes :
						cfg->icmp6_codes,
			 p->icmp_code)) {
		upn_stat_inc(un, UPNOTIFY_STAT_ICMP_CODE_IGNORED);
		return;
	}
	/* The quoted packet is the attempt: its source the client (for an error
	 * the gateway sends itself, also the outer destination), its destination
	 * the server. */
	if (!wanted(un, p->family, p->saddr, p->daddr))
		return;
	/* An attempt we track counts once, however many of its packets the router
	 * answers with an error; its expiry must not count it again either. Other
	 * protocols have no attempt to tie the errors to: each one counts. */
	if (p->proto == IPPROTO_TCP) {
		tuple_of(&t, p->family, p->saddr, p->daddr, p->sport, p->dport);
		if (upn_pending_report(un, &t) == UPN_SYN_AGAIN) {
			upn_stat_inc(un, UPNOTIFY_STAT_UNREACH_REPEATS);
			return;
		}
	}
	event_of(&ev, UPNOTIFY_CAUSE_ICMP_UNREACH, p->family, p->saddr,
		 p->daddr, p->proto, p->dport);
	ev.has_icmp = true;
	ev.icmp_type = p->icmp_type;
	ev.icmp_code = p->icmp_code;
	upn_detect_failed(un, &ev);
}

/**
 * upn_detect_packet() - act on one parsed packet
 * @un: the namespace it was seen in
 * @p: what upn_parse() found
 *
 * Called from the hooks, under RCU, in softirq or with BHs off.
 */
void upn_detect_packet(struct upn_net *un, const struct upn_pkt *p)
{
	switch (p->kind) {
	case UPN_KIND_SYN:
		on_syn(un, p);
		break;
	case UPN_KIND_SYNACK:
		on_synack(un, p);
		break;
	case UPN_KIND_RST:
		on_rst(un, p);
		break;
	case UPN_KIND_UNREACH:
		on_unreach(un, p);
		break;
	}
}

/**
 * upn_detect_expired() - a pending SYN got no answer in time
 * @un: the namespace
 * @t: the attempt, not reported before
 */
void upn_detect_expired(struct upn_net *un, const struct upn_tuple *t)
{
	struct upn_event ev;

	upn_stat_inc(un, UPNOTIFY_STAT_SYN_TIMEOUTS);
	event_of(&ev, UPNOTIFY_CAUSE_SYN_TIMEOUT, t->family, t->client,
		 t->server, IPPROTO_TCP, t->sport);
	upn_detect_failed(un, &ev);
}
