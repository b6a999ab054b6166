// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int use_stderr = 1;
static int threshold = LOG_INFO;

void upn_log_open(const char *ident, int to_stderr, int max_level)
{
	use_stderr = to_stderr;
	threshold = max_level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int upn_log_wants(int level)
{
	return level <= threshold;
}

void upn_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg",	"alert",  "crit", "error",
					     "warning", "notice", "info", "debug" };
	va_list ap;

	if (level > threshold)
		return;
	va_start(ap, fmt);
	if (use_stderr) {
		fprintf(stderr, "%s: ", names[level & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}

void upn_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
