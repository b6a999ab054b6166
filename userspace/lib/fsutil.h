/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_FSUTIL_H
#define UPN_FSUTIL_H

#include <sys/types.h>

/* mkdir -p of the directory holding @path: the directories above it 0755, itself
 * @mode (a store's 0700, a socket's 0755). 0 (also when they exist), or -errno. */
int upn_make_parent(const char *path, mode_t mode);

#endif
