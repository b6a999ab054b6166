/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_SIGFD_H
#define UPN_SIGFD_H

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a nonblocking signalfd for them, so
 * that they reach the event loop as reads; ignores SIGPIPE (a peer that hangs up is
 * an error return, not a death). Threads started later inherit the mask. The fd, or -1
 * with errno. */
int upn_sigfd_open(void);

#endif
