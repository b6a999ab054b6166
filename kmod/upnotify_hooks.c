// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The netfilter hooks, registered per namespace for the sets its mode needs:
 * gateway mode watches FORWARD (the clients' traffic through the box) and
 * LOCAL_OUT (the ICMP errors the box itself sends, e.g. after an ARP failure);
 * host mode watches LOCAL_IN and LOCAL_OUT (the box is the client or the server).
 *
 * The hooks run after the filter table (NF_IP_PRI_FILTER + 10): a packet the
 * firewall drops never reached its destination, so it is not an attempt the
 * server failed to answer, nor an answer that proves the server up. Mangling and
 * NAT in LOCAL_OUT/FORWARD have happened by then too (DNAT at LOCAL_OUT and
 * FORWARD sees the real server). They only observe: always NF_ACCEPT.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>

#include "upnotify.h"

static unsigned int upn_hook(struct sk_buff *skb,
			     const struct nf_hook_state *state, bool out)
{
	struct upn_net *un;
	struct upn_pkt p;
	int ret;

	ret = upn_parse(skb, skb_network_offset(skb),
			state->pf == NFPROTO_IPV4 ? AF_INET : AF_INET6, &p);
	if (likely(ret == UPN_PARSE_NOT_OURS))
		return NF_ACCEPT;

	un = upn_net(state->net);
	/* In gateway-only mode the box's own TCP is none of our business at
	 * LOCAL_OUT; only the ICMP errors it sends for what it forwards are. */
	if (out && !(READ_ONCE(un->hooks) & UPN_HOOK_LOCAL_IN) &&
	    (ret || p.kind != UPN_KIND_UNREACH))
		return NF_ACCEPT;
	upn_stat_inc(un, UPNOTIFY_STAT_PACKETS);
	if (ret == UPN_PARSE_TRUNCATED) {
		upn_stat_inc(un, UPNOTIFY_STAT_TRUNCATED);
		return NF_ACCEPT;
	}
	if (ret) {
		upn_stat_inc(un, UPNOTIFY_STAT_MALFORMED);
		return NF_ACCEPT;
	}
	upn_detect_packet(un, &p);
	return NF_ACCEPT;
}

static unsigned int upn_hook_in(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	return upn_hook(skb, state, false);
}

static unsigned int upn_hook_out(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	return upn_hook(skb, state, true);
}

#define UPN_OPS(fn, pf_, hooknum_, prio)                                     \
	{                                                                    \
		.hook = fn, .pf = pf_, .hooknum = hooknum_, .priority = prio \
	}

/* Two entries (IPv4, IPv6) per enum upn_hook_set bit, in bit order. */
static const struct nf_hook_ops upn_ops[] = {
	UPN_OPS(upn_hook_in, NFPROTO_IPV4, NF_INET_FORWARD,
		NF_IP_PRI_FILTER + 10),
	UPN_OPS(upn_hook_in, NFPROTO_IPV6, NF_INET_FORWARD,
		NF_IP6_PRI_FILTER + 10),
	UPN_OPS(upn_hook_out, NFPROTO_IPV4, NF_INET_LOCAL_OUT,
		NF_IP_PRI_FILTER + 10),
	UPN_OPS(upn_hook_out, NFPROTO_IPV6, NF_INET_LOCAL_OUT,
		NF_IP6_PRI_FILTER + 10),
	UPN_OPS(upn_hook_in, NFPROTO_IPV4, NF_INET_LOCAL_IN,
		NF_IP_PRI_FILTER + 10),
	UPN_OPS(upn_hook_in, NFPROTO_IPV6, NF_INET_LOCAL_IN,
		NF_IP6_PRI_FILTER + 10),
};

static unsigned int hooks_of(unsigned int mode)
{
	unsigned int h = 0;

	if (mode & UPNOTIFY_MODE_GATEWAY)
		h |= UPN_HOOK_FORWARD | UPN_HOOK_LOCAL_OUT;
	if (mode & UPNOTIFY_MODE_HOST)
		h |= UPN_HOOK_LOCAL_IN | UPN_HOOK_LOCAL_OUT;
	return h;
}

/**
 * upn_hooks_set() - register the hooks a mode needs, and only those
 * @un: the namespace, its lock held
 * @mode: enum upnotify_mode, or 0 to unregister everything
 *
 * Return: 0, or an error from nf_register_net_hooks() with nothing changed.
 */
int upn_hooks_set(struct upn_net *un, unsigned int mode)
{
	unsigned int want = hooks_of(mode), have = un->hooks, bit, i;
	int ret;

	lockdep_assert_held(&un->lock);
	for (i = 0, bit = 1; i < ARRAY_SIZE(upn_ops); i += 2, bit <<= 1) {
		if (!(want & bit) || (have & bit))
			continue;
		ret = nf_register_net_hooks(un->net, &upn_ops[i], 2);
		if (ret)
			goto undo;
		/* Seen by upn_hook_out() of the hooks already registered. */
		WRITE_ONCE(un->hooks, un->hooks | bit);
	}
	for (i = 0, bit = 1; i < ARRAY_SIZE(upn_ops); i += 2, bit <<= 1) {
		if ((want & bit) || !(have & bit))
			continue;
		nf_unregister_net_hooks(un->net, &upn_ops[i], 2);
		WRITE_ONCE(un->hooks, un->hooks & ~bit);
	}
	return 0;

undo:
	for (i = 0, bit = 1; i < ARRAY_SIZE(upn_ops); i += 2, bit <<= 1) {
		if ((un->hooks & bit) && !(have & bit)) {
			nf_unregister_net_hooks(un->net, &upn_ops[i], 2);
			WRITE_ONCE(un->hooks, un->hooks & ~bit);
		}
	}
	return ret;
}
