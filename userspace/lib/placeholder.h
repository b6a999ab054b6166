/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The "{word}" placeholders of the mail template (mailtext.c) and the portal's pages
 * (portalpage.c): one lexical rule for both, so a template writer learns it once. A
 * word is 1..UPN_PLACEHOLDER_MAX lower-case letters and '_'; anything else between
 * braces ("{ margin: 0 }" in CSS, "{X}") is plain text. */
#ifndef UPN_PLACEHOLDER_H
#define UPN_PLACEHOLDER_H

#include <stddef.h>

#define UPN_PLACEHOLDER_MAX 32

/* The length of the "{word}" at @s (of @n bytes, @s[0] == '{'), 0 if there is none;
 * the word's index in @names (@count of them) in *@idx, or -1 when it is none of
 * them. */
size_t upn_placeholder_at(const char *s, size_t n, const char *const *names, int count, int *idx);

#endif
