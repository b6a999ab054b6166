/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The control socket: a Unix stream socket, root-only by default. A request is one
 * line of JSON, {"cmd": "...", ...}; the reply is one line, {"ok": true, "result": ...}
 * or {"ok": false, "error": "..."}. Replies that report or change stored state are
 * sent only once that state is durable in the store. upnotifyctl(8) is the client. */
#ifndef UPN_CONTROL_H
#define UPN_CONTROL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"

struct upn_control_stats {
	uint64_t accepted;
	uint64_t requests;
	uint64_t errors;  /* malformed or failed requests */
	uint64_t refused; /* connections over UPN_CTL_CLIENTS_MAX */
	uint64_t timeouts;
};

struct upn_control *upn_control_open(struct upn_daemon *d, const char *path, mode_t mode);
void upn_control_close(struct upn_control *c);
/* After each loop iteration: sends replies whose changes are now durable, drops idle
 * clients and frees closed ones. */
void upn_control_tick(struct upn_control *c, uint64_t durable_seq, int64_t mono_ms);
void upn_control_get_stats(const struct upn_control *c, struct upn_control_stats *out);

/* The request handler alone, without a socket: for tests and the fuzzer. Returns the
 * reply object; *needs_durable tells whether it may only be sent once the changes
 * made so far are in the store. */
json_t *upn_control_handle(struct upn_daemon *d, const char *line, size_t len, int *needs_durable);

#endif
