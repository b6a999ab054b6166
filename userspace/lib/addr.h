/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* IPv4/IPv6 addresses and prefixes, parsed and printed one way everywhere. */
#ifndef UPN_ADDR_H
#define UPN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 address lives in a[0..3] with a[4..15] zero, so equal addresses compare
 * equal with memcmp and hash the same. */
struct upn_addr {
	uint8_t family; /* AF_INET or AF_INET6; 0 means "none" */
	uint8_t a[16];	/* network byte order */
};

struct upn_prefix {
	struct upn_addr addr; /* host bits are always zero */
	uint8_t len;	      /* 0..32 or 0..128 */
};

/* Large enough for "ffff:...:ffff/128" and a NUL. */
#define UPN_ADDRSTRLEN 50

int upn_addr_parse(const char *s, struct upn_addr *out);
/* "10.0.0.0/8", "2001:db8::/32" or a bare address (full length). Returns 0, -EINVAL
 * for bad syntax, or -EDOM when host bits are set beyond the length. */
int upn_prefix_parse(const char *s, struct upn_prefix *out);
const char *upn_addr_fmt(const struct upn_addr *a, char *buf);
const char *upn_prefix_fmt(const struct upn_prefix *p, char *buf);

void upn_addr_set(struct upn_addr *a, int family, const void *raw);
size_t upn_addr_len(const struct upn_addr *a); /* 4, 16, or 0 */
bool upn_addr_eq(const struct upn_addr *x, const struct upn_addr *y);
int upn_addr_cmp(const struct upn_addr *x, const struct upn_addr *y);
bool upn_prefix_contains(const struct upn_prefix *p, const struct upn_addr *a);
/* Zero the bits of @a beyond @len. */
void upn_addr_mask(struct upn_addr *a, unsigned int len);
unsigned int upn_addr_maxlen(int family);

#endif
