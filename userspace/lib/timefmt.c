// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
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

/* Digits where @layout has 'D', the same character elsewhere. */
static bool shaped(const char *s, const char *layout)
{
	for (; *layout; s++, layout++)
		if (*layout == 'D' ? !isdigit((unsigned char)*s) : *s != *layout)
			return false;
	return true;
}

static int num(const char *s, int n)
{
	int v = 0;

	while (n--)
		v = v * 10 + (*s++ - '0');
	return v;
}

int upn_time_parse(const char *s, int64_t *unix_s)
{
	struct tm tm = { 0 }, back;
	const char *zone = s + 19;
	time_t t;
	int off = 0;

	if (strlen(s) < 20 || !shaped(s, "DDDD-DD-DDTDD:DD:DD"))
		return -EINVAL;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	if (!strcmp(zone, "Z")) {
		off = 0;
	} else if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 6 &&
		   shaped(zone + 1, "DD:DD") && num(zone + 1, 2) <= 23 && num(zone + 4, 2) <= 59) {
		off = (num(zone + 1, 2) * 60 + num(zone + 4, 2)) * 60;
		if (zone[0] == '-')
			off = -off;
	} else {
		return -EINVAL;
	}
	back = tm;
	t = timegm(&tm);
	/* timegm normalises 30 February into March: refuse what it had to change. */
	if (tm.tm_mday != back.tm_mday || tm.tm_mon != back.tm_mon || tm.tm_hour != back.tm_hour ||
	    tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
		return -EINVAL;
	*unix_s = (int64_t)t - off;
	return 0;
}
