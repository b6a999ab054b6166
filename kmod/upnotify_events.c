// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * Events to the "events" multicast group, batched as nfnetlink_log batches its
 * packets: per namespace, one skb under construction collects genetlink messages
 * and goes out when it holds batch_max events, when the next one does not fit, or
 * when batch_delay_us has passed since the first. A burst of failures (a server
 * with a thousand clients goes down) costs a few skbs rather than one each.
 *
 * Everything here may run in softirq (the hooks, the flush timer) or in process
 * context (the expiry scan, SET_SERVER), so the lock is taken with BHs off, and
 * the skb is sent outside it.
 */
#include <linux/skbuff.h>

#include "upnotify.h"

/* An event is well under 200 bytes: a page-sized skb holds a full batch of 16. */
#define UPN_EVENT_SKB_SIZE NLMSG_GOODSIZE

static void send(struct upn_net *un, struct sk_buff *skb, unsigned int n)
{
	int ret;

	ret = genlmsg_multicast_netns(&upn_genl_family, un->net, skb, 0, 0,
				      GFP_ATOMIC);
	/*
	 * -ESRCH: nobody listens in this namespace (genl_has_listeners() looks at
	 * every namespace's sockets), or the last listener left: nothing was lost
	 * that anyone wanted, and nothing was multicast either.
	 */
	if (!ret) {
		upn_stat_add(un, UPNOTIFY_STAT_EVENTS, n);
	} else if (ret != -ESRCH) {
		upn_stat_add(un, UPNOTIFY_STAT_EVENT_FAILS, n);
		net_dbg_ratelimited("%u events lost: %d\n", n, ret);
	}
}

/* Takes the skb under construction out of the queue, with the queue locked. */
static struct sk_buff *take(struct upn_evq *q, unsigned int *n)
{
	struct sk_buff *skb = q->skb;

	*n = q->n;
	q->skb = NULL;
	q->n = 0;
	return skb;
}

static void flush_timer(struct timer_list *t)
{
	struct upn_net *un = from_timer(un, t, evq.timer);
	struct sk_buff *skb;
	unsigned int n;

	spin_lock_bh(&un->evq.lock);
	skb = take(&un->evq, &n);
	spin_unlock_bh(&un->evq.lock);
	if (skb)
		send(un, skb, n);
}

/**
 * upn_event_emit() - queue an event for the "events" group
 * @un: the namespace where it happened
 * @ev: the event
 *
 * Costs nothing when nobody listens. Never sleeps.
 */
void upn_event_emit(struct upn_net *un, const struct upn_event *ev)
{
	struct sk_buff *full = NULL, *ready = NULL;
	unsigned int nfull = 0, nready = 0, delay;
	struct upn_evq *q = &un->evq;
	bool retried = false;

	if (!READ_ONCE(upn_genl_ready) ||
	    !genl_has_listeners(&upn_genl_family, un->net, 0))
		return;

	spin_lock_bh(&q->lock);
	if (q->dead)
		goto fail;
again:
	if (!q->skb) {
		q->skb = alloc_skb(UPN_EVENT_SKB_SIZE, GFP_ATOMIC);
		if (!q->skb)
			goto fail;
	}
	if (upn_genl_put_event(q->skb, ev)) {
		/* No room left: this skb goes as it is, the event to a new one. */
		if (retried || !q->n)
			goto fail;
		full = take(q, &nfull);
		retried = true;
		goto again;
	}
	q->n++;
	delay = READ_ONCE(upn_batch_delay_us);
	if (q->n >= READ_ONCE(upn_batch_max) || !delay)
		ready = take(q, &nready);
	else if (q->n == 1)
		mod_timer(&q->timer, jiffies + usecs_to_jiffies(delay));
	spin_unlock_bh(&q->lock);
	if (full)
		send(un, full, nfull);
	if (ready)
		send(un, ready, nready);
	return;

fail:
	spin_unlock_bh(&q->lock);
	if (full)
		send(un, full, nfull);
	upn_stat_inc(un, UPNOTIFY_STAT_EVENT_FAILS);
	net_dbg_ratelimited("an event lost: no memory\n");
}

void upn_events_net_init(struct upn_net *un)
{
	spin_lock_init(&un->evq.lock);
	timer_setup(&un->evq.timer, flush_timer, 0);
}

/* Hooks are gone; no more events. Sends what is queued, stops the timer. */
void upn_events_net_exit(struct upn_net *un)
{
	struct sk_buff *skb;
	unsigned int n;

	spin_lock_bh(&un->evq.lock);
	un->evq.dead = true;
	skb = take(&un->evq, &n);
	spin_unlock_bh(&un->evq.lock);
	timer_shutdown_sync(&un->evq.timer);
	/* The namespace is going away, so are its listeners: drop, not send. */
	if (skb) {
		kfree_skb(skb);
		upn_stat_add(un, UPNOTIFY_STAT_EVENT_FAILS, n);
	}
}
