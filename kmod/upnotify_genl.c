// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The generic netlink family "upnotify" (include/uapi/linux/upnotify.h): commands
 * from the daemon, and the message format of the events upnotify_events.c batches.
 *
 * The family is per network namespace (netnsok): every command acts on the
 * namespace of the requesting socket, and events go to listeners in the namespace
 * where they happened. Every op is GENL_UNS_ADMIN_PERM, CAP_NET_ADMIN in the user
 * namespace that owns the network namespace, so that a container's administrator
 * can run upnotifyd for its own namespace and nobody else's; joining "events" needs
 * the same (GENL_MCAST_CAP_NET_ADMIN, checked against the namespace's owner).
 *
 * Validation is strict (resv_start_op 0): a per-op policy, unknown attributes
 * rejected, ranges and exact lengths in the policy, what depends on the family
 * (address lengths, prefix lengths, host bits) checked here with extack messages.
 * Ops run in parallel; each takes the namespace's lock where it needs one.
 */
#include <linux/ktime.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "upnotify.h"

static const struct nla_policy prefix_policy[UPNOTIFY_A_PREFIX_MAX + 1] = {
	[UPNOTIFY_A_PREFIX_FAMILY] = { .type = NLA_U8 },
	[UPNOTIFY_A_PREFIX_ADDR] = { .type = NLA_BINARY, .len = 16 },
	[UPNOTIFY_A_PREFIX_LEN] = NLA_POLICY_MAX(NLA_U8, 128),
};

static const struct nla_policy set_server_policy[UPNOTIFY_A_MAX + 1] = {
	[UPNOTIFY_A_FAMILY] = { .type = NLA_U8 },
	[UPNOTIFY_A_SERVER] = { .type = NLA_BINARY, .len = 16 },
	[UPNOTIFY_A_STATE] = NLA_POLICY_MAX(NLA_U8, UPNOTIFY_STATE_MAX),
	[UPNOTIFY_A_CAUSE] = NLA_POLICY_RANGE(
		NLA_U8, UPNOTIFY_CAUSE_ICMP_UNREACH, UPNOTIFY_CAUSE_MAX),
	/* Repeated: every occurrence is checked against this. */
	[UPNOTIFY_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

static const struct nla_policy set_watch_policy[UPNOTIFY_A_MAX + 1] = {
	[UPNOTIFY_A_WATCH] = NLA_POLICY_NESTED(prefix_policy),
	[UPNOTIFY_A_IGNORE] = NLA_POLICY_NESTED(prefix_policy),
};

static struct netlink_range_validation syn_timeout_range = {
	.min = UPN_SYN_TIMEOUT_MIN_MS,
	.max = UPN_SYN_TIMEOUT_MAX_MS,
};

static const struct nla_policy set_config_policy[UPNOTIFY_A_MAX + 1] = {
	[UPNOTIFY_A_SYN_TIMEOUT_MS] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &syn_timeout_range),
	[UPNOTIFY_A_COUNT_REFUSED] = NLA_POLICY_MAX(NLA_U8, 1),
	[UPNOTIFY_A_MODE] = NLA_POLICY_RANGE(NLA_U8, UPNOTIFY_MODE_GATEWAY,
					     UPNOTIFY_MODE_ALL),
	[UPNOTIFY_A_ICMP_CODES] = NLA_POLICY_EXACT_LEN(UPN_CODES_LEN),
	[UPNOTIFY_A_ICMP6_CODES] = NLA_POLICY_EXACT_LEN(UPN_CODES_LEN),
};

static struct upn_net *info_net(struct genl_info *info)
{
	return upn_net(genl_info_net(info));
}

/* An address attribute whose length must match the family's. */
static int get_addr(struct genl_info *info, struct nlattr *fam_attr,
		    struct nlattr *addr_attr, int *family, u8 *addr,
		    struct netlink_ext_ack *extack)
{
	if (!fam_attr) {
		NL_SET_ERR_MSG_MOD(extack, "missing address family");
		return -EINVAL;
	}
	if (!addr_attr) {
		NL_SET_ERR_MSG_MOD(extack, "missing address");
		return -EINVAL;
	}
	*family = nla_get_u8(fam_attr);
	if (*family != AF_INET && *family != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(extack, fam_attr,
				    "family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	if (nla_len(addr_attr) != upn_alen(*family)) {
		NL_SET_ERR_MSG_ATTR(extack, addr_attr,
				    "address length does not match the family");
		return -EINVAL;
	}
	memset(addr, 0, 16);
	nla_memcpy(addr, addr_attr, 16);
	return 0;
}

static int put_stats(struct sk_buff *msg, struct upn_net *un)
{
	u64 v[__UPNOTIFY_STAT_MAX];
	struct nlattr *nest;
	unsigned int i;

	upn_stats_sum(un, v);
	nest = nla_nest_start(msg, UPNOTIFY_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = UPNOTIFY_STAT_UNSPEC + 1; i <= UPNOTIFY_STAT_MAX; i++) {
		if (i == UPNOTIFY_STAT_PAD)
			continue;
		if (nla_put_u64_64bit(msg, i, v[i], UPNOTIFY_STAT_PAD)) {
			nla_nest_cancel(msg, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(msg, nest);
	return 0;
}

static int get_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	int ret;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &upn_genl_family, 0,
				UPNOTIFY_CMD_GET_STATS);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto err;
	}
	ret = put_stats(msg, info_net(info));
	if (ret)
		goto err;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return ret;
}

/**
 * upn_genl_put_server() - one message of a GET_SERVERS dump
 * @skb: the dump's buffer
 * @cb: the dump
 * @family: AF_INET or AF_INET6
 * @addr: the server
 * @state: UPNOTIFY_STATE_DOWN or UPNOTIFY_STATE_REFUSING
 * @cause: why it is down or refusing
 * @since: since when
 * @ports: UPN_SERVER_PORTS refused ports of a refusing server, 0 for none
 *
 * Return: 0, or -EMSGSIZE when @skb is full.
 */
int upn_genl_put_server(struct sk_buff *skb, struct netlink_callback *cb,
			int family, const u8 *addr, u8 state, u8 cause,
			u64 since, const u16 *ports)
{
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &upn_genl_family, NLM_F_MULTI,
			  UPNOTIFY_CMD_GET_SERVERS);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u8(skb, UPNOTIFY_A_FAMILY, family) ||
	    nla_put(skb, UPNOTIFY_A_SERVER, upn_alen(family), addr) ||
	    nla_put_u8(skb, UPNOTIFY_A_STATE, state) ||
	    nla_put_u8(skb, UPNOTIFY_A_CAUSE, cause) ||
	    nla_put_u64_64bit(skb, UPNOTIFY_A_TIMESTAMP, since, UPNOTIFY_A_PAD))
		goto cancel;
	for (i = 0; state == UPNOTIFY_STATE_REFUSING && i < UPN_SERVER_PORTS &&
		    ports[i];
	     i++)
		if (nla_put_u16(skb, UPNOTIFY_A_PORT, ports[i]))
			goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int get_servers_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return upn_servers_dump(upn_net(sock_net(skb->sk)), skb, cb);
}

struct report_ctx {
	u8 cause;
	u64 ts;
};

static void report_failed(struct upn_net *un, const struct upn_tuple *t,
			  void *ctx)
{
	const struct report_ctx *rc = ctx;
	struct upn_event ev = {
		.cmd = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = rc->cause,
		.family = t->family,
		.proto = IPPROTO_TCP,
		.port = t->sport,
		.has_client = true,
		.ts = rc->ts,
	};

	memcpy(ev.client, t->client, sizeof(ev.client));
	memcpy(ev.server, t->server, sizeof(ev.server));
	upn_event_emit(un, &ev);
}

/* The UPNOTIFY_A_PORT attributes of a request, the first UPN_SERVER_PORTS kept. */
static unsigned int get_ports(struct genl_info *info, u16 *ports)
{
	struct nlattr *attr;
	unsigned int n = 0;
	int rem;

	nlmsg_for_each_attr(attr, info->nlhdr, GENL_HDRLEN, rem)
		if (nla_type(attr) == UPNOTIFY_A_PORT && n < UPN_SERVER_PORTS)
			ports[n++] = nla_get_u16(attr);
	return n;
}

/* SET_SERVER down with cause NEIGH: the daemon saw the server's ARP/NDP entry fail.
 * As the daemon's upn_detect_neigh_failed(): the attempts waiting for it have
 * failed, and they alone mark it down (upn_detect_failed(), as a SYN timeout
 * would); with none, nothing changes. */
static void neigh_failed_one(struct upn_net *un, const struct upn_tuple *t,
			     void *ctx)
{
	struct upn_event ev = {
		.cause = UPNOTIFY_CAUSE_NEIGH,
		.family = t->family,
		.proto = IPPROTO_TCP,
		.port = t->sport,
		.ts = *(const u64 *)ctx,
	};

	memcpy(ev.client, t->client, sizeof(ev.client));
	memcpy(ev.server, t->server, sizeof(ev.server));
	upn_detect_failed(un, &ev);
}

static int set_server_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct upn_net *un = info_net(info);
	struct nlattr **a = info->attrs;
	struct report_ctx rc = {
		.cause = UPNOTIFY_CAUSE_MANUAL,
		.ts = ktime_get_real_ns(),
	};
	struct upn_event ev = { .ts = rc.ts };
	u16 ports[UPN_SERVER_PORTS];
	unsigned int nports;
	int family, ret;
	bool watched;
	u8 addr[16];
	u8 state;

	ret = get_addr(info, a[UPNOTIFY_A_FAMILY], a[UPNOTIFY_A_SERVER],
		       &family, addr, info->extack);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, UPNOTIFY_A_STATE)) {
		/* The check names the missing attribute, with no text. */
		NL_SET_ERR_MSG_MOD(info->extack, "missing state");
		return -EINVAL;
	}
	state = nla_get_u8(a[UPNOTIFY_A_STATE]);
	nports = get_ports(info, ports);
	if (state == UPNOTIFY_STATE_REFUSING && !nports) {
		NL_SET_ERR_MSG_ATTR(
			info->extack, a[UPNOTIFY_A_STATE],
			"a refusing server needs at least one port");
		return -EINVAL;
	}
	if (state != UPNOTIFY_STATE_REFUSING && nports) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[UPNOTIFY_A_PORT],
				    "ports go with a refusing server only");
		return -EINVAL;
	}
	if (a[UPNOTIFY_A_CAUSE])
		rc.cause = nla_get_u8(a[UPNOTIFY_A_CAUSE]);
	ev.family = family;
	ev.cause = rc.cause;
	memcpy(ev.server, addr, sizeof(addr));

	switch (state) {
	case UPNOTIFY_STATE_UP:
		if (upn_servers_set_up(un, family, addr)) {
			ev.cmd = UPNOTIFY_CMD_SERVER_UP_NTF;
			upn_event_emit(un, &ev);
		}
		return 0;
	case UPNOTIFY_STATE_REFUSING:
		ret = upn_servers_set_refusing(un, family, addr, ports, nports,
					       rc.cause, rc.ts);
		if (ret < 0) {
			upn_stat_inc(un, UPNOTIFY_STAT_SERVERS_FULL);
			NL_SET_ERR_MSG_MOD(info->extack,
					   "the server table is full");
			return ret;
		}
		return 0;
	}

	rcu_read_lock();
	watched = !upn_watch_check(un, family, NULL, addr);
	rcu_read_unlock();
	if (rc.cause == UPNOTIFY_CAUSE_NEIGH) {
		if (watched)
			upn_pending_report_server(un, family, addr,
						  neigh_failed_one, &rc.ts);
		return 0;
	}

	ret = upn_servers_set_down(un, family, addr, rc.cause, rc.ts);
	if (ret < 0) {
		upn_stat_inc(un, UPNOTIFY_STAT_SERVERS_FULL);
		NL_SET_ERR_MSG_MOD(info->extack, "the server table is full");
		return ret;
	}
	if (ret) {
		ev.cmd = UPNOTIFY_CMD_SERVER_DOWN_NTF;
		upn_event_emit(un, &ev);
	}
	/* Every attempt still waiting for this server has failed now, rather than
	 * at its timeout. */
	if (watched)
		upn_pending_report_server(un, family, addr, report_failed, &rc);
	return 0;
}

static int parse_prefix(struct nlattr *nest, struct upn_prefix *p,
			struct netlink_ext_ack *extack)
{
	struct nlattr *tb[UPNOTIFY_A_PREFIX_MAX + 1];
	int ret;

	ret = nla_parse_nested(tb, UPNOTIFY_A_PREFIX_MAX, nest, prefix_policy,
			       extack);
	if (ret)
		return ret;
	if (!tb[UPNOTIFY_A_PREFIX_FAMILY] || !tb[UPNOTIFY_A_PREFIX_ADDR] ||
	    !tb[UPNOTIFY_A_PREFIX_LEN]) {
		NL_SET_ERR_MSG_ATTR(
			extack, nest,
			"a prefix needs family, address and length");
		return -EINVAL;
	}
	memset(p, 0, sizeof(*p));
	p->family = nla_get_u8(tb[UPNOTIFY_A_PREFIX_FAMILY]);
	if (p->family != AF_INET && p->family != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UPNOTIFY_A_PREFIX_FAMILY],
				    "family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	if (nla_len(tb[UPNOTIFY_A_PREFIX_ADDR]) != upn_alen(p->family)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UPNOTIFY_A_PREFIX_ADDR],
				    "address length does not match the family");
		return -EINVAL;
	}
	nla_memcpy(p->addr, tb[UPNOTIFY_A_PREFIX_ADDR], sizeof(p->addr));
	p->len = nla_get_u8(tb[UPNOTIFY_A_PREFIX_LEN]);
	if (p->len > upn_alen(p->family) * 8) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UPNOTIFY_A_PREFIX_LEN],
				    "prefix length too long for the family");
		return -EINVAL;
	}
	if (!upn_prefix_valid(p)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UPNOTIFY_A_PREFIX_ADDR],
				    "host bits set beyond the prefix length");
		return -EINVAL;
	}
	return 0;
}

static int set_watch_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct upn_net *un = info_net(info);
	struct upn_prefixes *np = NULL;
	u32 nwatch = 0, nignore = 0, iw = 0, ii;
	struct nlattr *attr;
	int rem, ret;

	nlmsg_for_each_attr(attr, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(attr) == UPNOTIFY_A_WATCH)
			nwatch++;
		else if (nla_type(attr) == UPNOTIFY_A_IGNORE)
			nignore++;
	}
	if (nwatch + nignore > UPN_PREFIXES_MAX) {
		NL_SET_ERR_MSG_MOD(info->extack, "too many prefixes");
		return -E2BIG;
	}
	if (nwatch + nignore) {
		np = kzalloc(struct_size(np, p, nwatch + nignore), GFP_KERNEL);
		if (!np)
			return -ENOMEM;
		np->nwatch = nwatch;
		np->nignore = nignore;
	}
	ii = nwatch;
	nlmsg_for_each_attr(attr, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(attr) == UPNOTIFY_A_WATCH)
			ret = parse_prefix(attr, &np->p[iw++], info->extack);
		else if (nla_type(attr) == UPNOTIFY_A_IGNORE)
			ret = parse_prefix(attr, &np->p[ii++], info->extack);
		else
			continue;
		if (ret) {
			kfree(np);
			return ret;
		}
	}
	mutex_lock(&un->lock);
	upn_watch_replace(un, np);
	mutex_unlock(&un->lock);
	return 0;
}

static int put_prefixes(struct sk_buff *msg, int type,
			const struct upn_prefix *p, u32 n)
{
	struct nlattr *nest;
	u32 i;

	for (i = 0; i < n; i++) {
		nest = nla_nest_start(msg, type);
		if (!nest ||
		    nla_put_u8(msg, UPNOTIFY_A_PREFIX_FAMILY, p[i].family) ||
		    nla_put(msg, UPNOTIFY_A_PREFIX_ADDR, upn_alen(p[i].family),
			    p[i].addr) ||
		    nla_put_u8(msg, UPNOTIFY_A_PREFIX_LEN, p[i].len))
			return -EMSGSIZE;
		nla_nest_end(msg, nest);
	}
	return 0;
}

static int get_watch_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct upn_net *un = info_net(info);
	const struct upn_prefixes *ps;
	struct sk_buff *msg;
	size_t size;
	void *hdr;
	int ret;

	/* The lock keeps the set still while the reply is sized and filled. */
	mutex_lock(&un->lock);
	ps = rcu_dereference_protected(un->prefixes,
				       lockdep_is_held(&un->lock));
	size = nla_total_size(0) + 2 * nla_total_size(sizeof(u8)) +
	       nla_total_size(16);
	size *= ps ? ps->nwatch + ps->nignore : 0;
	msg = genlmsg_new(size, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	hdr = genlmsg_put_reply(msg, info, &upn_genl_family, 0,
				UPNOTIFY_CMD_GET_WATCH);
	ret = -EMSGSIZE;
	if (!hdr ||
	    (ps && (put_prefixes(msg, UPNOTIFY_A_WATCH, ps->p, ps->nwatch) ||
		    put_prefixes(msg, UPNOTIFY_A_IGNORE, ps->p + ps->nwatch,
				 ps->nignore)))) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_end(msg, hdr);
	mutex_unlock(&un->lock);
	return genlmsg_reply(msg, info);
out:
	mutex_unlock(&un->lock);
	return ret;
}

static int set_config_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct upn_net *un = info_net(info);
	struct nlattr **a = info->attrs;
	struct upn_cfg *old, *cfg;
	int ret = 0;

	mutex_lock(&un->lock);
	old = rcu_dereference_protected(un->cfg, lockdep_is_held(&un->lock));
	cfg = kmemdup(old, sizeof(*old), GFP_KERNEL);
	if (!cfg) {
		ret = -ENOMEM;
		goto out;
	}
	if (a[UPNOTIFY_A_SYN_TIMEOUT_MS])
		cfg->syn_timeout_ms = nla_get_u32(a[UPNOTIFY_A_SYN_TIMEOUT_MS]);
	if (a[UPNOTIFY_A_COUNT_REFUSED])
		cfg->count_refused = nla_get_u8(a[UPNOTIFY_A_COUNT_REFUSED]);
	if (a[UPNOTIFY_A_ICMP_CODES])
		nla_memcpy(cfg->icmp_codes, a[UPNOTIFY_A_ICMP_CODES],
			   UPN_CODES_LEN);
	if (a[UPNOTIFY_A_ICMP6_CODES])
		nla_memcpy(cfg->icmp6_codes, a[UPNOTIFY_A_ICMP6_CODES],
			   UPN_CODES_LEN);
	if (a[UPNOTIFY_A_MODE]) {
		cfg->mode = nla_get_u8(a[UPNOTIFY_A_MODE]);
		ret = upn_hooks_set(un, cfg->mode);
		if (ret) {
			NL_SET_ERR_MSG_MOD(info->extack,
					   "cannot register the hooks");
			kfree(cfg);
			goto out;
		}
	}
	rcu_assign_pointer(un->cfg, cfg);
	kfree_rcu(old, rcu);
out:
	mutex_unlock(&un->lock);
	return ret;
}

static int get_config_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct upn_net *un = info_net(info);
	const struct upn_cfg *cfg;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &upn_genl_family, 0,
				UPNOTIFY_CMD_GET_CONFIG);
	if (!hdr)
		goto err;
	rcu_read_lock();
	cfg = rcu_dereference(un->cfg);
	if (nla_put_u32(msg, UPNOTIFY_A_SYN_TIMEOUT_MS, cfg->syn_timeout_ms) ||
	    nla_put_u8(msg, UPNOTIFY_A_COUNT_REFUSED, cfg->count_refused) ||
	    nla_put_u8(msg, UPNOTIFY_A_MODE, cfg->mode) ||
	    nla_put(msg, UPNOTIFY_A_ICMP_CODES, UPN_CODES_LEN,
		    cfg->icmp_codes) ||
	    nla_put(msg, UPNOTIFY_A_ICMP6_CODES, UPN_CODES_LEN,
		    cfg->icmp6_codes)) {
		rcu_read_unlock();
		goto err;
	}
	rcu_read_unlock();
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/**
 * upn_genl_put_event() - append one event message to @skb
 * @skb: the batch under construction
 * @ev: the event
 *
 * Return: 0, or -EMSGSIZE when it does not fit (nothing is left behind).
 */
int upn_genl_put_event(struct sk_buff *skb, const struct upn_event *ev)
{
	unsigned int alen = upn_alen(ev->family);
	void *hdr;

	hdr = genlmsg_put(skb, 0, 0, &upn_genl_family, 0, ev->cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u8(skb, UPNOTIFY_A_FAMILY, ev->family) ||
	    nla_put(skb, UPNOTIFY_A_SERVER, alen, ev->server) ||
	    nla_put_u8(skb, UPNOTIFY_A_CAUSE, ev->cause) ||
	    nla_put_u64_64bit(skb, UPNOTIFY_A_TIMESTAMP, ev->ts,
			      UPNOTIFY_A_PAD))
		goto cancel;
	if (ev->has_client && nla_put(skb, UPNOTIFY_A_CLIENT, alen, ev->client))
		goto cancel;
	if (ev->cmd == UPNOTIFY_CMD_FAILED_ACCESS_NTF &&
	    (nla_put_u8(skb, UPNOTIFY_A_PROTO, ev->proto) ||
	     nla_put_u16(skb, UPNOTIFY_A_PORT, ev->port)))
		goto cancel;
	if (ev->has_icmp &&
	    (nla_put_u8(skb, UPNOTIFY_A_ICMP_TYPE, ev->icmp_type) ||
	     nla_put_u8(skb, UPNOTIFY_A_ICMP_CODE, ev->icmp_code)))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static const struct genl_ops upn_genl_ops[] = {
	{
		.cmd = UPNOTIFY_CMD_GET_STATS,
		.doit = get_stats_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_GET_SERVERS,
		.dumpit = get_servers_dumpit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_SET_SERVER,
		.doit = set_server_doit,
		.policy = set_server_policy,
		.maxattr = UPNOTIFY_A_MAX,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_SET_WATCH,
		.doit = set_watch_doit,
		.policy = set_watch_policy,
		.maxattr = UPNOTIFY_A_MAX,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_GET_WATCH,
		.doit = get_watch_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_SET_CONFIG,
		.doit = set_config_doit,
		.policy = set_config_policy,
		.maxattr = UPNOTIFY_A_MAX,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = UPNOTIFY_CMD_GET_CONFIG,
		.doit = get_config_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group upn_mcgrps[] = {
	{ .name = UPNOTIFY_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

struct genl_family upn_genl_family __ro_after_init = {
	.name = UPNOTIFY_GENL_NAME,
	.version = UPNOTIFY_GENL_VERSION,
	.netnsok = true,
	.parallel_ops = true,
	.resv_start_op = 0,
	.ops = upn_genl_ops,
	.n_ops = ARRAY_SIZE(upn_genl_ops),
	.mcgrps = upn_mcgrps,
	.n_mcgrps = ARRAY_SIZE(upn_mcgrps),
	.module = THIS_MODULE,
};

/* Events are built only once the family has its ids. */
bool upn_genl_ready __read_mostly;

int upn_genl_init(void)
{
	int ret = genl_register_family(&upn_genl_family);

	if (!ret)
		WRITE_ONCE(upn_genl_ready, true);
	return ret;
}

void upn_genl_exit(void)
{
	WRITE_ONCE(upn_genl_ready, false);
	genl_unregister_family(&upn_genl_family);
}
