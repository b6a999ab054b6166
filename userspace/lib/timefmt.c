// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *upn_time_fmt(int64_t unix_s, int local, char *buf)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	long off;
	unsigned int a;
	size_t n;

	if (!local) {
		gmtime_r(&t, &tm);
		strftime(buf, UPN_TIMESTRLEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return buf;
	}
	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	n = strftime(buf, UPN_TIMESTRLEN, "%Y-%m-%dT%H:%M:%S", &tm);
	a = (unsigned int)(off < 0 ? -off : off) % 1440;
	snprintf(buf + n, UPN_TIMESTRLEN - n, "%c%02u:%02u", off < 0 ? '-' : '+', a / 60, a % 60);
	return buf;
}

int upn_time_parse(const char *s, int64_t *unix_s)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int sign, hh, mm, n = 0;

	if (!rest)
		return -EINVAL;
	*unix_s = (int64_t)timegm(&tm);
	if (!strcmp(rest, "Z"))
		return 0;
	if ((rest[0] != '+' && rest[0] != '-') ||
	    sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || rest[1 + n] != '\0')
		return -EINVAL;
	sign = rest[0] == '-' ? -1 : 1;
	*unix_s -= sign * (hh * 3600 + mm * 60);
	return 0;
}
