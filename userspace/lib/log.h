/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_LOG_H
#define UPN_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Until upn_log_open() is called, everything goes to stderr. */
void upn_log_open(const char *ident, int to_stderr, int max_level);
void upn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Would a message of @level be written? For callers whose arguments cost something
 * to make (addresses formatted for a debug line on every packet). */
int upn_log_wants(int level);

/* Formats an error message into a caller's buffer; NULL or 0-sized: nothing. */
void upn_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define upn_err(...) upn_log(LOG_ERR, __VA_ARGS__)
#define upn_warn(...) upn_log(LOG_WARNING, __VA_ARGS__)
#define upn_info(...) upn_log(LOG_INFO, __VA_ARGS__)
#define upn_dbg(...)                                     \
	do {                                             \
		if (upn_log_wants(LOG_DEBUG))            \
			upn_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
