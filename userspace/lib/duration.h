/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_DURATION_H
#define UPN_DURATION_H

#include <stdint.h>

/* "250ms", "30s", "5m", "2h", "30d"; a bare number is seconds. Returns 0 and sets
 * @ms, or -EINVAL (syntax) / -ERANGE (overflow). */
int upn_duration_parse(const char *s, uint64_t *ms);

#endif
