/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_TIMEFMT_H
#define UPN_TIMEFMT_H

#include <stdint.h>

#define UPN_TIMESTRLEN 32

/* RFC 3339, "2026-11-22T10:03:12Z" in UTC, or with the local offset
 * ("2026-11-22T19:03:12+09:00") when @local is set. */
const char *upn_time_fmt(int64_t unix_s, int local, char *buf);
/* The inverse, for both forms; 0 or -EINVAL. */
int upn_time_parse(const char *s, int64_t *unix_s);

#endif
