/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent --status: the counters the agent keeps in its store and the outbox's
 * queued/sent/failed counts, read with a read-only connection of its own, so that it
 * works while an agent runs (WAL) and never takes the agent's lock. */
#ifndef UPN_AGENT_STATUS_H
#define UPN_AGENT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* "name value" lines, or with @json one flat JSON object {"accepted":N,...}. Every
 * counter the agent can keep is there, 0 when it never moved. 0, or -errno with a
 * message in @err. */
int upn_agent_status(const char *db_path, bool json, FILE *out, char *err, size_t errlen);

#endif
