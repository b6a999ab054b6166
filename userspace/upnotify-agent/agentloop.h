/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* When upnotify-agent reads its mailbox and when it stops: the periodic poll, the
 * polls a trap from a recovered server sets off, the daily purge of relay_seen, and
 * the drain of the outbox before a one-shot run (--stdin, --once) exits.
 *
 * A POP3 session blocks this thread: the agent has nothing else to keep going (the
 * mailer is a thread of its own, traps wait in their socket buffer). */
#ifndef UPN_AGENTLOOP_H
#define UPN_AGENTLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "agentconf.h"
#include "mailbox.h"
#include "mailer.h"
#include "process.h"
#include "trap.h"

/* Polls set off by one trap, in ms after it: the relay mail goes out when the
 * server is back, so it may reach the mailbox a little after the trap does. */
#define UPN_AGENT_TRAP_POLLS_MS      \
	{                            \
		0, 2000, 5000, 15000 \
	}
#define UPN_AGENT_TRAP_POLLS 4
/* relay_seen rows are kept this much longer than a signature is valid. */
#define UPN_AGENT_SEEN_SLACK_S 86400
#define UPN_AGENT_PURGE_INTERVAL_MS (86400 * 1000ll)
/* A one-shot run waits for the mailer while something is due within this... */
#define UPN_AGENT_DRAIN_SLACK_S 5
/* ...and gives up when nothing was sent or failed for this long. */
#define UPN_AGENT_DRAIN_STALL_MS 60000

struct upn_agent_loop {
	struct upn_agent *agent;
	const struct upn_agent_config *cfg;
	struct upn_mailer *mailer; /* NULL: no relay, mail stays queued */
	struct upn_trap *trap;	   /* NULL: no [trap] listen */
	int sigfd;		   /* SIGTERM, SIGINT, SIGHUP */
	bool stop;
	int64_t polls_due[UPN_AGENT_TRAP_POLLS]; /* monotonic ms, 0: none */
	struct upn_mailbox_stats mbox;
	uint64_t traps; /* that set off polls */
};

/* One POP3 session: every message through upn_agent_process. 0 or -errno. */
int upn_agent_poll(struct upn_agent_loop *l);
/* Deletes relay_seen rows too old to matter. 0 or -errno. */
int upn_agent_purge(struct upn_agent_loop *l, int64_t now);
/* Until a signal: polls, traps, purges. 0, or 1 on a loop failure. */
int upn_agent_run(struct upn_agent_loop *l);
/* Lets the mailer send what is due now, then returns (one-shot runs). */
void upn_agent_drain(struct upn_agent_loop *l);

#endif
