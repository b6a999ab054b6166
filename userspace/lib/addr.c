// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned int upn_addr_maxlen(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

size_t upn_addr_len(const struct upn_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

void upn_addr_set(struct upn_addr *a, int family, const void *raw)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	memcpy(a->a, raw, upn_addr_len(a));
}

int upn_addr_parse(const char *s, struct upn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

void upn_addr_mask(struct upn_addr *a, unsigned int len)
{
	unsigned int n = (unsigned int)upn_addr_len(a);

	for (unsigned int i = 0; i < n; i++) {
		unsigned int bit = i * 8;

		if (bit >= len)
			a->a[i] = 0;
		else if (len - bit < 8)
			a->a[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
}

int upn_prefix_parse(const char *s, struct upn_prefix *out)
{
	char buf[UPN_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct upn_addr masked;
	unsigned long len;
	char *end;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (upn_addr_parse(buf, &out->addr))
		return -EINVAL;
	len = upn_addr_maxlen(out->addr.family);
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end || len > upn_addr_maxlen(out->addr.family))
			return -EINVAL;
	}
	out->len = (uint8_t)len;
	masked = out->addr;
	upn_addr_mask(&masked, out->len);
	if (!upn_addr_eq(&masked, &out->addr))
		return -EDOM;
	return 0;
}

const char *upn_addr_fmt(const struct upn_addr *a, char *buf)
{
	if (!inet_ntop(a->family, a->a, buf, UPN_ADDRSTRLEN))
		strcpy(buf, "?");
	return buf;
}

const char *upn_prefix_fmt(const struct upn_prefix *p, char *buf)
{
	char tmp[UPN_ADDRSTRLEN];

	snprintf(buf, UPN_ADDRSTRLEN, "%s/%u", upn_addr_fmt(&p->addr, tmp), p->len);
	return buf;
}

bool upn_addr_eq(const struct upn_addr *x, const struct upn_addr *y)
{
	return x->family == y->family && !memcmp(x->a, y->a, sizeof(x->a));
}

int upn_addr_cmp(const struct upn_addr *x, const struct upn_addr *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->a, y->a, sizeof(x->a));
}

bool upn_prefix_contains(const struct upn_prefix *p, const struct upn_addr *a)
{
	struct upn_addr m;

	if (p->addr.family != a->family)
		return false;
	m = *a;
	upn_addr_mask(&m, p->len);
	return !memcmp(m.a, p->addr.a, sizeof(m.a));
}
