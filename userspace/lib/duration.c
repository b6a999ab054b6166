// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "duration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *suffix;
	uint64_t ms;
} units[] = {
	{ "ms", 1 },	{ "s", 1000 },	  { "", 1000 },
	{ "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
};

int upn_duration_parse(const char *s, uint64_t *ms)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (n > UINT64_MAX / units[i].ms)
			return -ERANGE;
		*ms = n * units[i].ms;
		return 0;
	}
	return -EINVAL;
}
