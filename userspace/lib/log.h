/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_LOG_H
#define UPN_LOG_H

#include <syslog.h>

/* Until upn_log_open() is called, everything goes to stderr. */
void upn_log_open(const char *ident, int to_stderr, int max_level);
void upn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define upn_err(...) upn_log(LOG_ERR, __VA_ARGS__)
#define upn_warn(...) upn_log(LOG_WARNING, __VA_ARGS__)
#define upn_info(...) upn_log(LOG_INFO, __VA_ARGS__)
#define upn_dbg(...) upn_log(LOG_DEBUG, __VA_ARGS__)

#endif
