/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_MONITOR_H
#define UPN_MONITOR_H

#include <stdbool.h>

/* `upnotifyctl monitor [--json]`: prints the module's events until SIGINT/SIGTERM.
 * Returns the exit status. */
int upn_monitor(bool json);

#endif
