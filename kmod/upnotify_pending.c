// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Pending SYNs: each waits syn_timeout for its SYN/ACK (ack == seq + 1).
 *
 * One rhashtable per family and namespace, keyed by (client, server, client port,
 * server port) and hashed with siphash under a random key, so that a sender cannot
 * aim its SYNs at one bucket. Lookups run under RCU (the hooks run in softirq with
 * it held). An entry belongs to whoever removes it from the table: the SYN/ACK or
 * RST that answers it, or the expiry scan; rhashtable_remove_fast() succeeds for
 * exactly one of them, which then frees it after a grace period. "Reported" is
 * claimed with xchg(), so an attempt is reported once however many ICMP errors,
 * RSTs and expiries race for it.
 *
 * Expiry is not a timer per entry: a deferrable delayed work per namespace scans
 * the tables every min(1 s, syn_timeout / 4) while anything is pending.
 */
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>

#include "upnotify.h"

struct upn_key4 {
	__be32 client, server;
	u16 cport, sport;
};

struct upn_key6 {
	struct in6_addr client, server;
	u16 cport, sport;
};

/*
 * The two entry types share their first fields; IPv4 entries get their own cache
 * so that they take 48 bytes, not the 72 of an IPv6 one. The rcu_head comes last:
 * it is only used once the entry is out of the table.
 */
struct upn_pend4 {
	struct rhash_head node;
	u32 seq;
	u32 deadline; /* jiffies, truncated to 32 bits */
	u32 reported;
	struct upn_key4 key;
	struct rcu_head rcu;
};

struct upn_pend6 {
	struct rhash_head node;
	u32 seq;
	u32 deadline;
	u32 reported;
	struct upn_key6 key;
	struct rcu_head rcu;
};

/* What the code below needs from either type, at the same offsets in both. */
struct upn_pend {
	struct rhash_head node;
	u32 seq;
	u32 deadline;
	u32 reported;
};

static_assert(offsetof(struct upn_pend4, seq) ==
	      offsetof(struct upn_pend, seq));
static_assert(offsetof(struct upn_pend6, seq) ==
	      offsetof(struct upn_pend, seq));
static_assert(offsetof(struct upn_pend4, reported) ==
	      offsetof(struct upn_pend, reported));
static_assert(offsetof(struct upn_pend6, reported) ==
	      offsetof(struct upn_pend, reported));

static struct kmem_cache *pend4_cache __read_mostly;
static struct kmem_cache *pend6_cache __read_mostly;
/* Entries in every namespace, for max_pending. */
static atomic_t upn_pending_total = ATOMIC_INIT(0);
/* Entries allocated and not yet freed, including those waiting for RCU. */
static atomic_t upn_pending_live = ATOMIC_INIT(0);

static u32 upn_hashfn(const void *data, u32 len, u32 seed)
{
	/* The seed changes when the table is rehashed; the key never does. */
	return (u32)siphash(data, len, &upn_hash_key) ^ seed;
}

static const struct rhashtable_params pend4_params = {
	.head_offset = offsetof(struct upn_pend4, node),
	.key_offset = offsetof(struct upn_pend4, key),
	.key_len = sizeof(struct upn_key4),
	.hashfn = upn_hashfn,
	.automatic_shrinking = true,
};

static const struct rhashtable_params pend6_params = {
	.head_offset = offsetof(struct upn_pend6, node),
	.key_offset = offsetof(struct upn_pend6, key),
	.key_len = sizeof(struct upn_key6),
	.hashfn = upn_hashfn,
	.automatic_shrinking = true,
};

static void key4_of(struct upn_key4 *k, const struct upn_tuple *t)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->client, t->client, 4);
	memcpy(&k->server, t->server, 4);
	k->cport = t->cport;
	k->sport = t->sport;
}

static void key6_of(struct upn_key6 *k, const struct upn_tuple *t)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->client, t->client, 16);
	memcpy(&k->server, t->server, 16);
	k->cport = t->cport;
	k->sport = t->sport;
}

static void tuple4_of(struct upn_tuple *t, const struct upn_key4 *k)
{
	memset(t, 0, sizeof(*t));
	t->family = AF_INET;
	memcpy(t->client, &k->client, 4);
	memcpy(t->server, &k->server, 4);
	t->cport = k->cport;
	t->sport = k->sport;
}

static void tuple6_of(struct upn_tuple *t, const struct upn_key6 *k)
{
	t->family = AF_INET6;
	memcpy(t->client, &k->client, 16);
	memcpy(t->server, &k->server, 16);
	t->cport = k->cport;
	t->sport = k->sport;
}

static void pend4_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(pend4_cache, container_of(head, struct upn_pend4, rcu));
	atomic_dec(&upn_pending_live);
}

static void pend6_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(pend6_cache, container_of(head, struct upn_pend6, rcu));
	atomic_dec(&upn_pending_live);
}

static struct upn_pend *lookup(struct upn_net *un, const struct upn_tuple *t)
{
	if (t->family == AF_INET) {
		struct upn_key4 k;

		key4_of(&k, t);
		return rhashtable_lookup(&un->pend4, &k, pend4_params);
	} else {
		struct upn_key6 k;

		key6_of(&k, t);
		return rhashtable_lookup(&un->pend6, &k, pend6_params);
	}
}

/*
 * Take @e out of its table. Only the caller that succeeds owns it: it drops the
 * counts and frees it after a grace period. Returns whether that is us.
 */
static bool claim(struct upn_net *un, int family, struct upn_pend *e)
{
	if (family == AF_INET) {
		struct upn_pend4 *e4 =
			container_of(&e->node, struct upn_pend4, node);

		if (rhashtable_remove_fast(&un->pend4, &e->node, pend4_params))
			return false;
		call_rcu(&e4->rcu, pend4_free_rcu);
	} else {
		struct upn_pend6 *e6 =
			container_of(&e->node, struct upn_pend6, node);

		if (rhashtable_remove_fast(&un->pend6, &e->node, pend6_params))
			return false;
		call_rcu(&e6->rcu, pend6_free_rcu);
	}
	atomic_dec(&un->npending);
	atomic_dec(&upn_pending_total);
	return true;
}

static unsigned long gc_interval(struct upn_net *un)
{
	unsigned long j;

	rcu_read_lock();
	j = msecs_to_jiffies(rcu_dereference(un->cfg)->syn_timeout_ms) / 4;
	rcu_read_unlock();
	return clamp_t(unsigned long, j, 1,
		       msecs_to_jiffies(UPN_GC_INTERVAL_MAX_MS));
}

/**
 * upn_pending_syn() - track a SYN
 * @un: its namespace
 * @t: the attempt
 * @seq: the SYN's sequence number
 * @reported: already reported (a SYN to a server known down): it is tracked only so
 *	that its retransmissions and ICMP errors are one attempt, and expires silently
 *
 * Return: whether the attempt is new, a retransmission, or could not be tracked.
 */
enum upn_syn_result upn_pending_syn(struct upn_net *un,
				    const struct upn_tuple *t, u32 seq,
				    bool reported)
{
	u32 deadline;
	struct upn_pend *e;
	void *old;
	int ret;

	e = lookup(un, t);
	if (e) {
		/* A retransmission, or a new attempt reusing the ports: the client
		 * has waited since the first SYN either way, so the deadline stays. */
		WRITE_ONCE(e->seq, seq);
		return UPN_SYN_RETRANSMIT;
	}
	if (atomic_inc_return(&upn_pending_total) >
	    READ_ONCE(upn_max_pending)) {
		atomic_dec(&upn_pending_total);
		return UPN_SYN_FULL;
	}

	deadline = (u32)jiffies +
		   (u32)msecs_to_jiffies(
			   READ_ONCE(rcu_dereference(un->cfg)->syn_timeout_ms));
	if (t->family == AF_INET) {
		struct upn_pend4 *e4 =
			kmem_cache_alloc(pend4_cache, GFP_ATOMIC);

		if (!e4)
			goto nomem;
		key4_of(&e4->key, t);
		e = (struct upn_pend *)e4;
	} else {
		struct upn_pend6 *e6 =
			kmem_cache_alloc(pend6_cache, GFP_ATOMIC);

		if (!e6)
			goto nomem;
		key6_of(&e6->key, t);
		e = (struct upn_pend *)e6;
	}
	atomic_inc(&upn_pending_live);
	e->seq = seq;
	e->deadline = deadline;
	e->reported = reported;

	if (t->family == AF_INET)
		old = rhashtable_lookup_get_insert_fast(&un->pend4, &e->node,
							pend4_params);
	else
		old = rhashtable_lookup_get_insert_fast(&un->pend6, &e->node,
							pend6_params);
	if (old) {
		/* Never visible to anyone: free it at once. */
		kmem_cache_free(
			t->family == AF_INET ? pend4_cache : pend6_cache, e);
		atomic_dec(&upn_pending_live);
		atomic_dec(&upn_pending_total);
		if (IS_ERR(old)) {
			net_dbg_ratelimited("pending insert failed: %ld\n",
					    PTR_ERR(old));
			return UPN_SYN_FULL;
		}
		/* Another CPU inserted the same attempt first. */
		WRITE_ONCE(((struct upn_pend *)old)->seq, seq);
		return UPN_SYN_RETRANSMIT;
	}
	ret = atomic_inc_return(&un->npending);
	/* The scan runs only while something is pending. */
	if (ret == 1)
		queue_delayed_work(system_power_efficient_wq, &un->gc,
				   gc_interval(un));
	return UPN_SYN_NEW;

nomem:
	atomic_dec(&upn_pending_total);
	net_dbg_ratelimited("no memory for a pending SYN\n");
	return UPN_SYN_FULL;
}

/**
 * upn_pending_answer() - a SYN/ACK or RST from the server
 * @un: its namespace
 * @t: the attempt it answers, if any
 * @ack: its acknowledgement number
 *
 * Removes the entry if @ack is its seq + 1.
 *
 * Return: UPN_SYN_UNKNOWN when it answers nothing tracked, else whether the attempt
 * had been reported already.
 */
enum upn_syn_report upn_pending_answer(struct upn_net *un,
				       const struct upn_tuple *t, u32 ack)
{
	struct upn_pend *e = lookup(un, t);

	if (!e || READ_ONCE(e->seq) + 1 != ack)
		return UPN_SYN_UNKNOWN;
	if (!claim(un, t->family, e))
		return UPN_SYN_UNKNOWN;
	/* Ours now: the grace period keeps it readable. */
	return xchg(&e->reported, 1) ? UPN_SYN_AGAIN : UPN_SYN_FIRST;
}

/**
 * upn_pending_report() - an ICMP error names this attempt
 * @un: its namespace
 * @t: the attempt
 *
 * Marks it reported, so that neither its retransmissions nor its expiry count again.
 *
 * Return: what was found.
 */
enum upn_syn_report upn_pending_report(struct upn_net *un,
				       const struct upn_tuple *t)
{
	struct upn_pend *e = lookup(un, t);

	if (!e)
		return UPN_SYN_UNKNOWN;
	return xchg(&e->reported, 1) ? UPN_SYN_AGAIN : UPN_SYN_FIRST;
}

typedef bool (*upn_walk_fn)(struct upn_net *un, int family, struct upn_pend *e,
			    const struct upn_tuple *t, void *ctx);

/* Calls @fn for every entry, yielding the CPU between chunks. */
static unsigned int walk(struct upn_net *un, int family, upn_walk_fn fn,
			 void *ctx)
{
	struct rhashtable *ht = family == AF_INET ? &un->pend4 : &un->pend6;
	struct rhashtable_iter iter;
	unsigned int n = 0, seen = 0;
	struct upn_tuple t;
	void *obj;

	rhashtable_walk_enter(ht, &iter);
	rhashtable_walk_start(&iter);
	while ((obj = rhashtable_walk_next(&iter))) {
		if (IS_ERR(obj)) {
			if (PTR_ERR(obj) == -EAGAIN)
				continue; /* resized: some may come twice */
			break;
		}
		if (family == AF_INET)
			tuple4_of(&t, &((struct upn_pend4 *)obj)->key);
		else
			tuple6_of(&t, &((struct upn_pend6 *)obj)->key);
		if (fn(un, family, obj, &t, ctx))
			n++;
		if (++seen % UPN_GC_CHUNK == 0) {
			rhashtable_walk_stop(&iter);
			cond_resched();
			rhashtable_walk_start(&iter);
		}
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
	return n;
}

static bool expire_one(struct upn_net *un, int family, struct upn_pend *e,
		       const struct upn_tuple *t, void *ctx)
{
	u32 now = *(u32 *)ctx;

	if ((s32)(now - READ_ONCE(e->deadline)) < 0)
		return false;
	if (!claim(un, family, e))
		return false;
	/* One already reported (a SYN to a down server, an ICMP error) just goes. */
	if (!xchg(&e->reported, 1))
		upn_detect_expired(un, t);
	return true;
}

static void gc_work(struct work_struct *work)
{
	struct upn_net *un =
		container_of(to_delayed_work(work), struct upn_net, gc);
	u32 now = (u32)jiffies;

	walk(un, AF_INET, expire_one, &now);
	walk(un, AF_INET6, expire_one, &now);
	if (atomic_read(&un->npending))
		queue_delayed_work(system_power_efficient_wq, &un->gc,
				   gc_interval(un));
}

struct report_ctx {
	const u8 *server;
	void (*fn)(struct upn_net *un, const struct upn_tuple *t, void *ctx);
	void *ctx;
};

static bool report_one(struct upn_net *un, int family, struct upn_pend *e,
		       const struct upn_tuple *t, void *ctx)
{
	struct report_ctx *rc = ctx;

	if (memcmp(t->server, rc->server, upn_alen(family)) ||
	    READ_ONCE(e->reported) || xchg(&e->reported, 1))
		return false;
	rc->fn(un, t, rc->ctx);
	return true;
}

/**
 * upn_pending_report_server() - every attempt to a server has failed
 * @un: its namespace
 * @family: AF_INET or AF_INET6
 * @server: its address
 * @fn: called for each attempt not reported yet, which is then marked reported
 * @ctx: passed to @fn
 *
 * A scan of the whole table, for a rare event (SET_SERVER down). Process context.
 *
 * Return: how many attempts were passed to @fn.
 */
unsigned int upn_pending_report_server(
	struct upn_net *un, int family, const u8 *server,
	void (*fn)(struct upn_net *un, const struct upn_tuple *t, void *ctx),
	void *ctx)
{
	struct report_ctx rc = { .server = server, .fn = fn, .ctx = ctx };

	return walk(un, family, report_one, &rc);
}

int upn_pending_net_init(struct upn_net *un)
{
	int ret;

	atomic_set(&un->npending, 0);
	INIT_DEFERRABLE_WORK(&un->gc, gc_work);
	ret = rhashtable_init(&un->pend4, &pend4_params);
	if (ret)
		return ret;
	ret = rhashtable_init(&un->pend6, &pend6_params);
	if (ret)
		rhashtable_destroy(&un->pend4);
	return ret;
}

static void free4(void *ptr, void *arg)
{
	struct upn_pend4 *e = ptr;

	call_rcu(&e->rcu, pend4_free_rcu);
	(*(unsigned int *)arg)++;
}

static void free6(void *ptr, void *arg)
{
	struct upn_pend6 *e = ptr;

	call_rcu(&e->rcu, pend6_free_rcu);
	(*(unsigned int *)arg)++;
}

/**
 * upn_pending_net_exit() - free a namespace's pending SYNs
 * @un: the namespace, whose hooks are gone
 *
 * Return: how many entries were freed.
 */
unsigned int upn_pending_net_exit(struct upn_net *un)
{
	unsigned int n = 0;

	cancel_delayed_work_sync(&un->gc);
	rhashtable_free_and_destroy(&un->pend4, free4, &n);
	rhashtable_free_and_destroy(&un->pend6, free6, &n);
	atomic_sub(n, &upn_pending_total);
	atomic_set(&un->npending, 0);
	return n;
}

unsigned int upn_pending_kmem_size(int family)
{
	return kmem_cache_size(family == AF_INET ? pend4_cache : pend6_cache);
}

/* The default cap: 1/256 of RAM at the IPv6 entry size, within the bounds. */
unsigned int upn_pending_default_max(void)
{
	u64 n = ((u64)totalram_pages() << PAGE_SHIFT) / 256 /
		sizeof(struct upn_pend6);

	return clamp_t(u64, n, UPN_PENDING_MIN, UPN_PENDING_MAX);
}

int upn_pending_init(void)
{
	pend4_cache = KMEM_CACHE(upn_pend4, 0);
	if (!pend4_cache)
		return -ENOMEM;
	pend6_cache = KMEM_CACHE(upn_pend6, 0);
	if (!pend6_cache) {
		kmem_cache_destroy(pend4_cache);
		return -ENOMEM;
	}
	return 0;
}

/**
 * upn_pending_exit() - destroy the caches, every namespace gone
 *
 * Return: the entries still allocated, which must be none.
 */
int upn_pending_exit(void)
{
	int live;

	/* Every call_rcu() of ours must have run before the caches go. */
	rcu_barrier();
	live = atomic_read(&upn_pending_live);
	WARN_ON(live);
	WARN_ON(atomic_read(&upn_pending_total));
	kmem_cache_destroy(pend6_cache);
	kmem_cache_destroy(pend4_cache);
	return live;
}
