// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "detect.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

static int fill_set(struct upn_lpm *m, const struct upn_prefix *v, size_t n)
{
	int ret = upn_lpm_init(m, (uint32_t)n + 1);

	for (size_t i = 0; !ret && i < n; i++)
		ret = upn_lpm_set(m, &v[i], 1);
	return ret;
}

int upn_detect_init(struct upn_detect *d, const struct upn_config *cfg,
		    const struct upn_waitlist *wl,
		    void (*emit)(void *ctx, const struct upn_event *ev), void *ctx)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->wl = wl;
	d->emit = emit;
	d->emit_ctx = ctx;
	ret = fill_set(&d->watch, cfg->watch, cfg->nwatch);
	if (!ret)
		ret = fill_set(&d->ignore, cfg->ignore, cfg->nignore);
	if (!ret)
		ret = upn_syntrack_init(&d->syn, cfg->pending_max, cfg->syn_timeout_ms);
	return ret;
}

void upn_detect_destroy(struct upn_detect *d)
{
	upn_syntrack_destroy(&d->syn);
	upn_lpm_destroy(&d->ignore);
	upn_lpm_destroy(&d->watch);
}

bool upn_detect_watched(const struct upn_detect *d, const struct upn_addr *server)
{
	return !d->cfg->nwatch || upn_lpm_match(&d->watch, server, NULL, NULL);
}

static bool wanted(struct upn_detect *d, const struct upn_addr *client,
		   const struct upn_addr *server)
{
	if (!upn_detect_watched(d, server)) {
		d->stats.not_watched++;
		return false;
	}
	if (upn_lpm_match(&d->ignore, client, NULL, NULL)) {
		d->stats.ignored_client++;
		return false;
	}
	return true;
}

static void emit(struct upn_detect *d, struct upn_event *ev)
{
	d->stats.events[ev->type]++;
	d->emit(d->emit_ctx, ev);
}

static void server_event(struct upn_detect *d, uint8_t type, const struct upn_addr *server,
			 uint8_t cause, uint64_t real_ns)
{
	struct upn_event ev = {
		.type = type,
		.cause = cause,
		.server = *server,
		.ts_ns = real_ns,
	};

	emit(d, &ev);
}

/* The failure, preceded by SERVER_DOWN when it is the one that shows the host is down. */
static void failed(struct upn_detect *d, struct upn_event *ev)
{
	ev->type = UPNOTIFY_CMD_FAILED_ACCESS_NTF;
	if (upn_event_host_down(ev) && upn_waitlist_state(d->wl, &ev->server) != UPN_SERVER_DOWN)
		server_event(d, UPNOTIFY_CMD_SERVER_DOWN_NTF, &ev->server, ev->cause, ev->ts_ns);
	emit(d, ev);
}

static void key_of(struct upn_syn_key *k, const struct upn_addr *client,
		   const struct upn_addr *server, uint16_t cport, uint16_t sport)
{
	memset(k, 0, sizeof(*k));
	k->client = *client;
	k->server = *server;
	k->cport = cport;
	k->sport = sport;
}

static void on_syn(struct upn_detect *d, const struct upn_pkt *p, int64_t mono_ms, uint64_t real_ns)
{
	struct upn_syn_key k;

	bool down;

	d->stats.syn++;
	if (!wanted(d, &p->src, &p->dst))
		return;
	/* A SYN to a down server is a failed access at once. It is tracked all the
	 * same, so that its retransmissions and ICMP errors are one attempt, not many. */
	down = upn_waitlist_state(d->wl, &p->dst) == UPN_SERVER_DOWN;
	key_of(&k, &p->src, &p->dst, p->sport, p->dport);
	switch (upn_syntrack_syn(&d->syn, &k, p->seq, mono_ms, down)) {
	case UPN_SYN_FULL:
		d->stats.pending_full++;
		break;
	case UPN_SYN_RETRANSMIT:
		d->stats.retransmits++;
		return;
	case UPN_SYN_NEW:
		break;
	}
	if (down) {
		struct upn_event ev = {
			.cause = UPNOTIFY_CAUSE_SERVER_DOWN,
			.proto = IPPROTO_TCP,
			.port = p->dport,
			.client = p->src,
			.server = p->dst,
			.ts_ns = real_ns,
		};

		failed(d, &ev);
	}
}

static void on_synack(struct upn_detect *d, const struct upn_pkt *p, uint64_t real_ns)
{
	const struct upn_wl_server *s = upn_waitlist_server(d->wl, &p->src);
	struct upn_syn_key k;

	d->stats.synack++;
	key_of(&k, &p->dst, &p->src, p->dport, p->sport);
	if (upn_syntrack_answer(&d->syn, &k, p->ack) != UPN_SYN_UNKNOWN)
		d->stats.syn_answered++;
	/* A down host that completes a handshake is back (patent ¶0179); a refusing
	 * one is back when the service its clients wanted answers. */
	if (s && (s->state == UPN_SERVER_DOWN ||
		  (s->state == UPN_SERVER_REFUSING && upn_waitlist_server_port(s, p->sport)))) {
		/* The client that got through needs no mail to tell it so. */
		struct upn_event ev = {
			.type = UPNOTIFY_CMD_SERVER_UP_NTF,
			.cause = UPNOTIFY_CAUSE_SYNACK,
			.client = p->dst,
			.server = p->src,
			.ts_ns = real_ns,
		};

		emit(d, &ev);
	}
}

static void on_rst(struct upn_detect *d, const struct upn_pkt *p, uint64_t real_ns)
{
	struct upn_syn_key k;
	struct upn_event ev = {
		.cause = UPNOTIFY_CAUSE_REFUSED,
		.proto = IPPROTO_TCP,
		.port = p->sport,
		.client = p->dst,
		.server = p->src,
		.ts_ns = real_ns,
	};

	d->stats.rst++;
	key_of(&k, &p->dst, &p->src, p->dport, p->sport);
	switch (upn_syntrack_answer(&d->syn, &k, p->ack)) {
	case UPN_SYN_UNKNOWN:
		return;
	case UPN_SYN_AGAIN:
		/* Already counted, as a SYN to a down server or by an ICMP error. */
		d->stats.refused++;
		return;
	case UPN_SYN_FIRST:
		break;
	}
	d->stats.refused++;
	if (!d->cfg->count_refused) {
		d->stats.refused_ignored++;
		return;
	}
	failed(d, &ev);
}

static void on_unreach(struct upn_detect *d, const struct upn_pkt *p, uint64_t real_ns)
{
	const uint8_t *codes = p->src.family == AF_INET ? d->cfg->icmp_codes : d->cfg->icmp6_codes;
	struct upn_syn_key k;
	struct upn_event ev = {
		.cause = UPNOTIFY_CAUSE_ICMP_UNREACH,
		.proto = p->proto,
		.port = p->dport,
		.icmp_type = p->icmp_type,
		.icmp_code = p->icmp_code,
		.client = p->src,
		.server = p->dst,
		.ts_ns = real_ns,
	};

	d->stats.unreach++;
	if (!upn_config_code_counts(codes, p->icmp_code)) {
		d->stats.icmp_code_ignored++;
		return;
	}
	if (!wanted(d, &p->src, &p->dst))
		return;
	/* An attempt we track counts once, however many of its packets the router
	 * answers with an error; its expiry must not count it again either. */
	if (p->proto == IPPROTO_TCP) {
		key_of(&k, &p->src, &p->dst, p->sport, p->dport);
		if (upn_syntrack_report(&d->syn, &k) == UPN_SYN_AGAIN) {
			d->stats.unreach_repeat++;
			return;
		}
	}
	failed(d, &ev);
}

void upn_detect_packet(struct upn_detect *d, const void *buf, size_t len, int64_t mono_ms,
		       uint64_t real_ns)
{
	struct upn_pkt p;
	int ret = upn_packet_parse(buf, len, &p);

	d->stats.packets++;
	if (ret == UPN_PKT_TRUNCATED) {
		d->stats.truncated++;
		return;
	}
	if (ret != UPN_PKT_OK) {
		d->stats.malformed++;
		return;
	}
	switch (p.kind) {
	case UPN_PKT_SYN:
		on_syn(d, &p, mono_ms, real_ns);
		break;
	case UPN_PKT_SYNACK:
		on_synack(d, &p, real_ns);
		break;
	case UPN_PKT_RST:
		on_rst(d, &p, real_ns);
		break;
	case UPN_PKT_UNREACH:
		on_unreach(d, &p, real_ns);
		break;
	default:
		d->stats.other++;
	}
}

struct expire_ctx {
	struct upn_detect *d;
	uint64_t real_ns;
};

static void expired(void *ctx, const struct upn_syn_key *k)
{
	struct expire_ctx *x = ctx;
	struct upn_event ev = {
		.cause = UPNOTIFY_CAUSE_SYN_TIMEOUT,
		.proto = IPPROTO_TCP,
		.port = k->sport,
		.client = k->client,
		.server = k->server,
		.ts_ns = x->real_ns,
	};

	x->d->stats.syn_timeouts++;
	failed(x->d, &ev);
}

void upn_detect_expire(struct upn_detect *d, int64_t mono_ms, uint64_t real_ns)
{
	struct expire_ctx x = { d, real_ns };

	upn_syntrack_expire(&d->syn, mono_ms, expired, &x);
}

static void neigh_failed(void *ctx, const struct upn_syn_key *k)
{
	struct expire_ctx *x = ctx;
	struct upn_event ev = {
		.cause = UPNOTIFY_CAUSE_NEIGH,
		.proto = IPPROTO_TCP,
		.port = k->sport,
		.client = k->client,
		.server = k->server,
		.ts_ns = x->real_ns,
	};

	x->d->stats.neigh_failures++;
	failed(x->d, &ev);
}

uint32_t upn_detect_neigh_failed(struct upn_detect *d, const struct upn_addr *server,
				 uint64_t real_ns)
{
	struct expire_ctx x = { d, real_ns };

	if (!upn_detect_watched(d, server))
		return 0;
	return upn_syntrack_report_server(&d->syn, server, neigh_failed, &x);
}

int64_t upn_detect_next_deadline(const struct upn_detect *d)
{
	return upn_syntrack_next_deadline(&d->syn);
}
