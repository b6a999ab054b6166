// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent's main loop: poll(2) on the signalfd and the trap sockets, with a
 * timeout to the next mailbox poll or purge. */
#include "agentloop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "outbox.h"

#define TRAP_FDS_MAX 8

static int64_t now_s(void)
{
	return (int64_t)(upn_now_real_ns() / 1000000000ull);
}

/* Non-blocking: has a signal come? SIGHUP is only logged. */
static bool signalled(struct upn_agent_loop *l)
{
	struct signalfd_siginfo si;

	while (l->sigfd >= 0 && read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			upn_info("SIGHUP: the configuration is read at start; restart to apply it");
			continue;
		}
		upn_info("signal %u: stopping", si.ssi_signo);
		l->stop = true;
	}
	return l->stop;
}

static int on_message(void *ctx, const char *raw, size_t len)
{
	struct upn_agent_loop *l = ctx;
	size_t queued = 0;

	switch (upn_agent_process(l->agent, raw, len, now_s(), &queued)) {
	case UPN_AGENT_TEMPFAIL:
		/* Kept on the server; the rest of the session would fail the same way. */
		return -1;
	default:
		if (queued && l->mailer)
			upn_mailer_kick(l->mailer);
		/* Stop between messages, never inside one. */
		return signalled(l) ? -1 : 0;
	}
}

int upn_agent_poll(struct upn_agent_loop *l)
{
	char err[512];
	int ret;

	if (!l->cfg->mailbox.url[0])
		return 0;
	ret = upn_mailbox_poll(&l->cfg->mailbox, on_message, l, &l->mbox, err, sizeof(err));
	if (ret)
		upn_warn("mailbox: %s", err);
	return ret;
}

int upn_agent_purge(struct upn_agent_loop *l, int64_t now)
{
	struct upn_store_op op = { .kind = UPN_STORE_DEL_SEEN_BEFORE };
	int ret;

	op.seen.received = now - (int64_t)l->agent->max_age_s - UPN_AGENT_SEEN_SLACK_S;
	ret = upn_store_apply(l->agent->store, &op, 1);
	if (ret)
		upn_warn("store: cannot purge old relay ids: %s", strerror(-ret));
	return ret;
}

static bool trap_wanted(void *ctx, const struct upn_addr *agent)
{
	const struct upn_agent_config *cfg = ((struct upn_agent_loop *)ctx)->cfg;

	if (!cfg->ntrap_servers)
		return true;
	for (size_t i = 0; i < cfg->ntrap_servers; i++)
		if (upn_prefix_contains(&cfg->trap_servers[i], agent))
			return true;
	return false;
}

static void trap_recovered(void *ctx, const struct upn_addr *agent, const char *oid)
{
	static const int64_t after[UPN_AGENT_TRAP_POLLS] = UPN_AGENT_TRAP_POLLS_MS;
	struct upn_agent_loop *l = ctx;
	int64_t now = upn_now_mono_ms();
	char a[UPN_ADDRSTRLEN];

	upn_info("trap %s from %s: polling the mailbox", oid, upn_addr_fmt(agent, a));
	l->traps++;
	/* A later trap moves the schedule on: the latest news decides. */
	for (size_t i = 0; i < UPN_AGENT_TRAP_POLLS; i++)
		l->polls_due[i] = now + after[i];
}

static int64_t next_trap_poll(const struct upn_agent_loop *l)
{
	int64_t next = -1;

	for (size_t i = 0; i < UPN_AGENT_TRAP_POLLS; i++)
		if (l->polls_due[i] && (next < 0 || l->polls_due[i] < next))
			next = l->polls_due[i];
	return next;
}

/* Every trap poll that is due is served by one poll. */
static bool take_trap_polls(struct upn_agent_loop *l, int64_t now)
{
	bool due = false;

	for (size_t i = 0; i < UPN_AGENT_TRAP_POLLS; i++) {
		if (l->polls_due[i] && l->polls_due[i] <= now) {
			l->polls_due[i] = 0;
			due = true;
		}
	}
	return due;
}

int upn_agent_run(struct upn_agent_loop *l)
{
	struct pollfd pfd[1 + TRAP_FDS_MAX];
	int nfds = 1, fds[TRAP_FDS_MAX], ntrap = 0;
	int64_t now = upn_now_mono_ms();
	int64_t next_poll = now; /* a poll at start: mail may have come while we were down */
	int64_t next_purge = now + UPN_AGENT_PURGE_INTERVAL_MS;

	pfd[0] = (struct pollfd){ .fd = l->sigfd, .events = POLLIN };
	if (l->cfg->base.snmp_listen[0]) {
		char err[512];

		l->trap = upn_trap_open(&l->cfg->base, trap_wanted, trap_recovered, l, err,
					sizeof(err));
		if (!l->trap) {
			upn_err("traps: %s", err);
			return 1;
		}
		ntrap = upn_trap_fds(l->trap, fds, TRAP_FDS_MAX);
		for (int i = 0; i < ntrap; i++)
			pfd[nfds++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		upn_info("listening for SNMP traps on %s", l->cfg->base.snmp_listen);
	}
	if (!l->cfg->mailbox.url[0])
		next_poll = -1;
	while (!signalled(l)) {
		int64_t next = next_purge, t = next_trap_poll(l);
		int timeout, n;

		if (next_poll >= 0 && next_poll < next)
			next = next_poll;
		if (t >= 0 && t < next)
			next = t;
		now = upn_now_mono_ms();
		timeout = next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
		n = poll(pfd, (nfds_t)nfds, timeout);
		if (n < 0 && errno != EINTR) {
			upn_err("poll: %s", strerror(errno));
			return 1;
		}
		for (int i = 1; n > 0 && i < nfds; i++) {
			if (pfd[i].revents) {
				upn_trap_read(l->trap);
				break;
			}
		}
		now = upn_now_mono_ms();
		if (take_trap_polls(l, now) || (next_poll >= 0 && now >= next_poll)) {
			if (l->cfg->mailbox.url[0])
				upn_agent_poll(l);
			now = upn_now_mono_ms();
			if (l->cfg->poll_ms && l->cfg->mailbox.url[0])
				next_poll = now + l->cfg->poll_ms;
			else
				next_poll = -1;
		}
		if (now >= next_purge) {
			upn_agent_purge(l, now_s());
			next_purge = now + UPN_AGENT_PURGE_INTERVAL_MS;
		}
	}
	if (l->trap) {
		upn_trap_close(l->trap);
		l->trap = NULL;
	}
	return 0;
}

void upn_agent_drain(struct upn_agent_loop *l)
{
	int64_t last_change = upn_now_mono_ms();
	struct upn_mailer_stats ms;
	struct upn_outbox *ob;
	uint64_t done = UINT64_MAX;
	char err[256];

	if (!l->mailer)
		return;
	ob = upn_outbox_open(l->cfg->base.store_path, err, sizeof(err));
	if (!ob) {
		upn_warn("outbox: %s", err);
		return;
	}
	upn_mailer_kick(l->mailer);
	while (!signalled(l)) {
		int64_t next = upn_outbox_next_due(ob), now = upn_now_mono_ms();

		if (next <= 0 || next > now_s() + UPN_AGENT_DRAIN_SLACK_S)
			break;
		upn_mailer_get_stats(l->mailer, &ms);
		if (ms.sent + ms.perm_failures + ms.temp_failures != done) {
			done = ms.sent + ms.perm_failures + ms.temp_failures;
			last_change = now;
		} else if (now - last_change > UPN_AGENT_DRAIN_STALL_MS) {
			upn_warn("outbox: the mailer made no progress for %d s; the rest is sent "
				 "by the next run",
				 UPN_AGENT_DRAIN_STALL_MS / 1000);
			break;
		}
		usleep(20000);
	}
	upn_outbox_close(ob);
}
