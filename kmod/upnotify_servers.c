// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Down servers of a namespace: a small hash of (family, address), read under RCU by
 * the hooks (is the server of this SYN down?) and changed under a spinlock by the
 * detection path and SET_SERVER. A generation counter, bumped on every change,
 * makes GET_SERVERS dumps consistent.
 */
#include <linux/hash.h>
#include <linux/rculist.h>
#include <linux/slab.h>

#include "upnotify.h"

struct upn_server {
	struct hlist_node node;
	struct rcu_head rcu;
	u64 since; /* ns since the epoch */
	u8 family;
	u8 cause;
	u8 addr[16];
};

static unsigned int bucket(int family, const u8 *addr)
{
	u8 key[20] = { family };

	memcpy(key + 4, addr, upn_alen(family));
	return (u32)siphash(key, sizeof(key), &upn_hash_key) &
	       ((1 << UPN_SERVERS_HASH_BITS) - 1);
}

static struct upn_server *find(struct upn_net *un, int family, const u8 *addr)
{
	struct upn_server *s;

	hlist_for_each_entry_rcu(s, &un->srv_hash[bucket(family, addr)], node,
				 lockdep_is_held(&un->srv_lock))
		if (s->family == family &&
		    !memcmp(s->addr, addr, upn_alen(family)))
			return s;
	return NULL;
}

/**
 * upn_servers_is_down() - is this server known down?
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 *
 * Return: true when it is in the down table.
 */
bool upn_servers_is_down(struct upn_net *un, int family, const u8 *addr)
{
	bool down;

	/* The common case: nothing is down, and the table is not even looked at. */
	if (!READ_ONCE(un->nservers))
		return false;
	rcu_read_lock();
	down = find(un, family, addr);
	rcu_read_unlock();
	return down;
}

/**
 * upn_servers_set_down() - record a server as down
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 * @cause: enum upnotify_cause, kept for GET_SERVERS
 * @ts: since when, ns since the epoch
 *
 * Return: 1 when the server is newly down, 0 when it was down already, -ENOSPC
 * when the table is full, -ENOMEM.
 */
int upn_servers_set_down(struct upn_net *un, int family, const u8 *addr,
			 u8 cause, u64 ts)
{
	struct upn_server *s;
	int ret = 1;

	spin_lock_bh(&un->srv_lock);
	if (find(un, family, addr)) {
		ret = 0;
		goto out;
	}
	if (un->nservers >= UPN_SERVERS_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	s = kzalloc(sizeof(*s), GFP_ATOMIC);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->family = family;
	s->cause = cause;
	s->since = ts;
	memcpy(s->addr, addr, upn_alen(family));
	hlist_add_head_rcu(&s->node, &un->srv_hash[bucket(family, addr)]);
	WRITE_ONCE(un->nservers, un->nservers + 1);
	un->srv_gen++;
out:
	spin_unlock_bh(&un->srv_lock);
	return ret;
}

/**
 * upn_servers_set_up() - forget a down server
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 *
 * Return: true when it was down: the caller announces its recovery.
 */
bool upn_servers_set_up(struct upn_net *un, int family, const u8 *addr)
{
	struct upn_server *s;

	if (!READ_ONCE(un->nservers))
		return false;
	spin_lock_bh(&un->srv_lock);
	s = find(un, family, addr);
	if (s) {
		hlist_del_rcu(&s->node);
		WRITE_ONCE(un->nservers, un->nservers - 1);
		un->srv_gen++;
	}
	spin_unlock_bh(&un->srv_lock);
	if (s)
		kfree_rcu(s, rcu);
	return s;
}

/**
 * upn_servers_dump() - one part of GET_SERVERS
 * @un: the namespace
 * @skb: the dump's buffer
 * @cb: cb->args[0] is the next bucket, cb->args[1] the entries of it already sent
 *
 * Return: the length of @skb, or 0 when the dump is complete.
 */
int upn_servers_dump(struct upn_net *un, struct sk_buff *skb,
		     struct netlink_callback *cb)
{
	unsigned long b = cb->args[0], skip = cb->args[1], i;
	struct upn_server *s;

	rcu_read_lock();
	/* genl_dump_check_consistent() flags the messages of a changed table. */
	cb->seq = READ_ONCE(un->srv_gen);
	for (; b < (1 << UPN_SERVERS_HASH_BITS); b++, skip = 0) {
		i = 0;
		hlist_for_each_entry_rcu(s, &un->srv_hash[b], node) {
			if (i++ < skip)
				continue;
			if (upn_genl_put_server(skb, cb, s->family, s->addr,
						s->cause, s->since)) {
				rcu_read_unlock();
				cb->args[0] = b;
				cb->args[1] = i - 1;
				return skb->len;
			}
		}
	}
	rcu_read_unlock();
	cb->args[0] = b;
	cb->args[1] = 0;
	return skb->len;
}

int upn_servers_net_init(struct upn_net *un)
{
	spin_lock_init(&un->srv_lock);
	un->srv_hash = kvcalloc(1 << UPN_SERVERS_HASH_BITS,
				sizeof(*un->srv_hash), GFP_KERNEL);
	return un->srv_hash ? 0 : -ENOMEM;
}

/**
 * upn_servers_net_exit() - free a namespace's down servers
 * @un: the namespace, whose hooks and netlink users are gone
 *
 * Return: how many were freed.
 */
unsigned int upn_servers_net_exit(struct upn_net *un)
{
	struct upn_server *s;
	struct hlist_node *tmp;
	unsigned int b, n = 0;

	for (b = 0; b < (1 << UPN_SERVERS_HASH_BITS); b++) {
		hlist_for_each_entry_safe(s, tmp, &un->srv_hash[b], node) {
			hlist_del_rcu(&s->node);
			kfree_rcu(s, rcu);
			n++;
		}
	}
	un->nservers = 0;
	/* Readers are gone: the hooks are unregistered (a grace period). */
	kvfree(un->srv_hash);
	un->srv_hash = NULL;
	return n;
}
