// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "placeholder.h"

#include <string.h>

size_t upn_placeholder_at(const char *s, size_t n, const char *const *names, int count, int *idx)
{
	size_t i;

	*idx = -1;
	for (i = 1; i < n && i <= UPN_PLACEHOLDER_MAX; i++) {
		if (s[i] == '}')
			break;
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return 0;
	}
	if (i == 1 || i >= n || s[i] != '}')
		return 0;
	for (int k = 0; k < count; k++) {
		if (strlen(names[k]) == i - 1 && !memcmp(names[k], s + 1, i - 1)) {
			*idx = k;
			break;
		}
	}
	return i + 1;
}
