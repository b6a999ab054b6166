// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Down and refusing servers of a namespace: a small hash of (family, address), read
 * under RCU by the hooks (is the server of this SYN down? is this SYN/ACK from a
 * server we wait for?) and changed under a spinlock by the detection path and
 * SET_SERVER. A refusing server (one service closed, the host up) keeps the ports
 * its clients were refused on; a SYN/ACK on one of them brings it back. A generation
 * counter, bumped on every change, makes GET_SERVERS dumps consistent.
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
	u8 state; /* UPNOTIFY_STATE_DOWN or _REFUSING; changed in place */
	u8 cause;
	u8 addr[16];
	/* Refusing: the server ports refused, 0 for none; changed in place. */
	u16 ports[UPN_SERVER_PORTS];
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

static bool has_port(const struct upn_server *s, u16 port)
{
	unsigned int i;

	for (i = 0; i < UPN_SERVER_PORTS; i++) {
		u16 p = READ_ONCE(s->ports[i]);

		if (!p)
			break;
		if (p == port)
			return true;
	}
	return false;
}

/* Under srv_lock. Return: was a port added? */
static bool add_port(struct upn_server *s, u16 port)
{
	unsigned int i;

	for (i = 0; port && i < UPN_SERVER_PORTS; i++) {
		if (s->ports[i] == port)
			return false;
		if (!s->ports[i]) {
			WRITE_ONCE(s->ports[i], port);
			return true;
		}
	}
	return false;
}

/* Under srv_lock: a new entry in @state, with its ports before readers see it;
 * NULL with *ret set. */
static struct upn_server *add(struct upn_net *un, int family, const u8 *addr,
			      u8 state, u8 cause, u64 ts, const u16 *ports,
			      unsigned int nports, int *ret)
{
	struct upn_server *s;
	unsigned int i;

	if (un->nservers >= UPN_SERVERS_MAX) {
		*ret = -ENOSPC;
		return NULL;
	}
	s = kzalloc(sizeof(*s), GFP_ATOMIC);
	if (!s) {
		*ret = -ENOMEM;
		return NULL;
	}
	s->family = family;
	s->state = state;
	s->cause = cause;
	s->since = ts;
	memcpy(s->addr, addr, upn_alen(family));
	for (i = 0; i < nports; i++)
		add_port(s, ports[i]);
	hlist_add_head_rcu(&s->node, &un->srv_hash[bucket(family, addr)]);
	WRITE_ONCE(un->nservers, un->nservers + 1);
	if (state == UPNOTIFY_STATE_DOWN)
		WRITE_ONCE(un->ndown, un->ndown + 1);
	else
		WRITE_ONCE(un->nrefusing, un->nrefusing + 1);
	un->srv_gen++;
	return s;
}

/* Under srv_lock: unlink @s; the caller frees it after the unlock. */
static void del(struct upn_net *un, struct upn_server *s)
{
	hlist_del_rcu(&s->node);
	WRITE_ONCE(un->nservers, un->nservers - 1);
	if (s->state == UPNOTIFY_STATE_DOWN)
		WRITE_ONCE(un->ndown, un->ndown - 1);
	else
		WRITE_ONCE(un->nrefusing, un->nrefusing - 1);
	un->srv_gen++;
}

/**
 * upn_servers_is_down() - is this server known down?
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 *
 * Return: true when it is in the table as down (a refusing one is not).
 */
bool upn_servers_is_down(struct upn_net *un, int family, const u8 *addr)
{
	const struct upn_server *s;
	bool down;

	/* The common case: nothing is down, and the table is not even looked at. */
	if (!READ_ONCE(un->ndown))
		return false;
	rcu_read_lock();
	s = find(un, family, addr);
	down = s && READ_ONCE(s->state) == UPNOTIFY_STATE_DOWN;
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
 * A refusing server becomes down, its ports forgotten.
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
	s = find(un, family, addr);
	if (!s) {
		add(un, family, addr, UPNOTIFY_STATE_DOWN, cause, ts, NULL, 0,
		    &ret);
	} else if (s->state == UPNOTIFY_STATE_DOWN) {
		ret = 0;
	} else {
		/* Readers of these fields see the change by srv_gen (dumps) or do not
		 * mind seeing it a packet late (is_down, synack). */
		WRITE_ONCE(s->state, UPNOTIFY_STATE_DOWN);
		s->cause = cause;
		s->since = ts;
		memset(s->ports, 0, sizeof(s->ports));
		WRITE_ONCE(un->nrefusing, un->nrefusing - 1);
		WRITE_ONCE(un->ndown, un->ndown + 1);
		un->srv_gen++;
	}
	spin_unlock_bh(&un->srv_lock);
	return ret;
}

/**
 * upn_servers_set_refusing() - record a server as refusing
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 * @ports: the server ports refused; zeroes are skipped
 * @nports: how many; beyond UPN_SERVER_PORTS in all, the rest are ignored
 * @cause: enum upnotify_cause, kept for GET_SERVERS
 * @ts: since when, ns since the epoch
 *
 * A down server stays down; a refusing one gets the ports it lacks. Without a
 * non-zero port nothing is recorded.
 *
 * Return: 1 when the server is newly refusing, 0 when it was down or refusing
 * already (or there is no port), -ENOSPC when the table is full, -ENOMEM.
 */
int upn_servers_set_refusing(struct upn_net *un, int family, const u8 *addr,
			     const u16 *ports, unsigned int nports, u8 cause,
			     u64 ts)
{
	struct upn_server *s;
	bool changed = false;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < nports && !ports[i]; i++)
		;
	if (i == nports)
		return 0;
	spin_lock_bh(&un->srv_lock);
	s = find(un, family, addr);
	if (!s) {
		if (add(un, family, addr, UPNOTIFY_STATE_REFUSING, cause, ts,
			ports, nports, &ret))
			ret = 1;
	} else if (s->state == UPNOTIFY_STATE_REFUSING) {
		for (i = 0; i < nports; i++)
			changed |= add_port(s, ports[i]);
		if (changed)
			un->srv_gen++;
	}
	spin_unlock_bh(&un->srv_lock);
	return ret;
}

/**
 * upn_servers_set_up() - forget a down or refusing server
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 *
 * Return: true when it was down or refusing: the caller announces its recovery.
 */
bool upn_servers_set_up(struct upn_net *un, int family, const u8 *addr)
{
	struct upn_server *s;

	if (!READ_ONCE(un->nservers))
		return false;
	spin_lock_bh(&un->srv_lock);
	s = find(un, family, addr);
	if (s)
		del(un, s);
	spin_unlock_bh(&un->srv_lock);
	if (s)
		kfree_rcu(s, rcu);
	return s;
}

/* Does a SYN/ACK from @port show that @s is back? */
static bool answers(const struct upn_server *s, u16 port)
{
	return READ_ONCE(s->state) == UPNOTIFY_STATE_DOWN || has_port(s, port);
}

/**
 * upn_servers_synack() - a server answered a SYN
 * @un: the namespace
 * @family: AF_INET or AF_INET6
 * @addr: the server's address
 * @port: the server port of the handshake
 *
 * A down server is back; a refusing one is back when @port is one of those its
 * clients were refused on. Either is forgotten. Called from the hooks: the lock is
 * taken only for a server that is back.
 *
 * Return: true when it is back: the caller announces its recovery.
 */
bool upn_servers_synack(struct upn_net *un, int family, const u8 *addr,
			u16 port)
{
	struct upn_server *s;
	bool back;

	if (!READ_ONCE(un->nservers))
		return false;
	rcu_read_lock();
	s = find(un, family, addr);
	back = s && answers(s, port);
	rcu_read_unlock();
	if (!back)
		return false;
	spin_lock_bh(&un->srv_lock);
	s = find(un, family, addr);
	if (s && answers(s, port))
		del(un, s);
	else
		s = NULL; /* another CPU was first */
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
	u16 ports[UPN_SERVER_PORTS];
	struct upn_server *s;
	unsigned int k;

	rcu_read_lock();
	/* genl_dump_check_consistent() flags the messages of a changed table. */
	cb->seq = READ_ONCE(un->srv_gen);
	for (; b < (1 << UPN_SERVERS_HASH_BITS); b++, skip = 0) {
		i = 0;
		hlist_for_each_entry_rcu(s, &un->srv_hash[b], node) {
			if (i++ < skip)
				continue;
			for (k = 0; k < UPN_SERVER_PORTS; k++)
				ports[k] = READ_ONCE(s->ports[k]);
			if (upn_genl_put_server(skb, cb, s->family, s->addr,
						READ_ONCE(s->state), s->cause,
						s->since, ports)) {
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
 * upn_servers_net_exit() - free a namespace's down and refusing servers
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
	un->ndown = 0;
	un->nrefusing = 0;
	/* Readers are gone: the hooks are unregistered (a grace period). */
	kvfree(un->srv_hash);
	un->srv_hash = NULL;
	return n;
}
