/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Mail commands, the transport: a thread polls the [commands] mailbox (POP3 or POP3S,
 * mailbox.h) every `poll` and hands each message to the event loop through an
 * eventfd; the loop runs it (cmdexec.h) and, once the changes and the reply it
 * queued are durable in the store, tells the thread, which only then deletes the
 * message. A crash in between leaves the message in the mailbox, and fetching it
 * again gives the same reply key: no command mail is lost, none answered twice.
 *
 * One message is in flight at a time: command mails are few, and the POP3 session
 * waits for each answer anyway. */
#ifndef UPN_CMDMAIL_H
#define UPN_CMDMAIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct upn_daemon;
struct upn_cmdmail;

/* Starts polling d->cfg.commands.mailbox with d->cmds running the messages. NULL with
 * a message in @err. */
struct upn_cmdmail *upn_cmdmail_start(struct upn_daemon *d, char *err, size_t errlen);
/* Stops the thread (a session in progress ends at its next message or time-out) and
 * leaves the message in hand, if any, in the mailbox. */
void upn_cmdmail_stop(struct upn_cmdmail *c);
/* After each loop iteration: a message whose changes are now durable may go. */
void upn_cmdmail_tick(struct upn_cmdmail *c, uint64_t durable_seq);
/* The mailbox's counters (commands.mailbox.*) into @counters. */
void upn_cmdmail_stats_json(struct upn_cmdmail *c, json_t *counters);

#endif
