/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The client side of upnotifyd's control socket (see upnotifyd/control.h). */
#ifndef UPN_CTLCLIENT_H
#define UPN_CTLCLIENT_H

#include <jansson.h>

#define UPN_CTL_DEFAULT_SOCKET "/run/upnotify/upnotifyd.sock"

/* Sends @req (consumed) and returns the reply's "result"; on failure NULL, with the
 * daemon's error or our own in @err. *@transport is set when the daemon could not be
 * reached at all (as opposed to answering with an error). */
json_t *upn_ctl_call(const char *socket_path, json_t *req, int timeout_ms, char *err, size_t errlen,
		     int *transport);

#endif
