// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Watched servers and ignored clients of a namespace: an array of prefixes that
 * SET_WATCH replaces whole, read under RCU. A linear match: the sets are a few
 * prefixes in practice, and capped at UPN_PREFIXES_MAX.
 */
#include <linux/slab.h>

#include "upnotify.h"

/* Is @addr inside @p? */
bool upn_prefix_match(const struct upn_prefix *p, int family, const u8 *addr)
{
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (p->family != family || memcmp(p->addr, addr, full))
		return false;
	return !rest || !((p->addr[full] ^ addr[full]) & (0xff << (8 - rest)));
}

static bool match_any(const struct upn_prefix *p, u32 n, int family,
		      const u8 *addr)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (upn_prefix_match(&p[i], family, addr))
			return true;
	return false;
}

/**
 * upn_watch_check() - does this attempt interest us?
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @client: the client's address, or NULL to look at the server only
 * @server: the server's address
 *
 * Called under RCU.
 *
 * Return: 0 when it does, else the counter that says why not
 * (UPNOTIFY_STAT_NOT_WATCHED or UPNOTIFY_STAT_IGNORED_CLIENT).
 */
int upn_watch_check(struct upn_net *un, int family, const u8 *client,
		    const u8 *server)
{
	const struct upn_prefixes *ps = rcu_dereference(un->prefixes);

	if (!ps)
		return 0;
	if (ps->nwatch && !match_any(ps->p, ps->nwatch, family, server))
		return UPNOTIFY_STAT_NOT_WATCHED;
	if (client &&
	    match_any(ps->p + ps->nwatch, ps->nignore, family, client))
		return UPNOTIFY_STAT_IGNORED_CLIENT;
	return 0;
}

/**
 * upn_prefix_valid() - a well-formed prefix, no host bits set past its length?
 * @p: the prefix
 *
 * Return: true when it is.
 */
bool upn_prefix_valid(const struct upn_prefix *p)
{
	unsigned int alen = upn_alen(p->family), i;

	if (p->len > alen * 8)
		return false;
	for (i = 0; i < alen; i++) {
		unsigned int bits = p->len > i * 8 ? p->len - i * 8 : 0;
		u8 mask = bits >= 8 ? 0xff : (u8)(0xff << (8 - bits));

		if (p->addr[i] & ~mask)
			return false;
	}
	return true;
}

/**
 * upn_watch_replace() - install a new set of prefixes
 * @un: the namespace, its lock held
 * @np: the new set (NULL: watch everything, ignore nobody); now the namespace's
 */
void upn_watch_replace(struct upn_net *un, struct upn_prefixes *np)
{
	struct upn_prefixes *old;

	old = rcu_replace_pointer(un->prefixes, np, lockdep_is_held(&un->lock));
	if (old)
		kfree_rcu(old, rcu);
}

void upn_watch_net_exit(struct upn_net *un)
{
	kfree(rcu_dereference_protected(un->prefixes, true));
	RCU_INIT_POINTER(un->prefixes, NULL);
}
