// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upnotify: finds the clients that tried to reach a server and could not, and
 * tells userspace (upnotifyd) over generic netlink. This file: module parameters,
 * the per-namespace state's life, and module-wide counters in sysfs.
 */
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netfilter.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <net/netns/generic.h>

#include "upnotify.h"

unsigned int upn_net_id __read_mostly;
siphash_key_t upn_hash_key __read_mostly;

/* Defaults for new namespaces (SET_CONFIG changes one namespace's own copy). */
static unsigned int upn_syn_timeout_ms = UPN_SYN_TIMEOUT_DEFAULT_MS;
static unsigned int upn_mode = UPNOTIFY_MODE_GATEWAY;
static bool upn_count_refused = true;
/* Module-wide. */
unsigned int upn_max_pending; /* 0 until init: derived from RAM */
unsigned int upn_batch_max = UPN_BATCH_MAX_DEFAULT;
unsigned int upn_batch_delay_us = UPN_BATCH_DELAY_US_DEFAULT;

/* Every namespace's state, for the module-wide totals. */
static LIST_HEAD(upn_nets);
static DEFINE_MUTEX(upn_nets_lock);
/* Counters of the namespaces that are gone, so the totals never go back. */
static u64 upn_retired[__UPNOTIFY_STAT_MAX];

struct upn_range {
	const unsigned int *val;
	unsigned int min, max;
};

static const struct upn_range upn_ranges[] = {
	{ &upn_syn_timeout_ms, UPN_SYN_TIMEOUT_MIN_MS, UPN_SYN_TIMEOUT_MAX_MS },
	{ &upn_max_pending, 1, UPN_PENDING_MAX * 4 },
	{ &upn_batch_max, 1, UPN_BATCH_MAX_LIMIT },
	{ &upn_batch_delay_us, 0, UPN_BATCH_DELAY_US_MAX },
};

static int param_set_ranged(const char *val, const struct kernel_param *kp)
{
	unsigned int i, v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(upn_ranges); i++) {
		if (upn_ranges[i].val != kp->arg)
			continue;
		if (v < upn_ranges[i].min || v > upn_ranges[i].max)
			return -EINVAL;
		WRITE_ONCE(*(unsigned int *)kp->arg, v);
		return 0;
	}
	return -EINVAL;
}

static const struct kernel_param_ops upn_ranged_ops = {
	.set = param_set_ranged,
	.get = param_get_uint,
};

static const char *const upn_mode_names[] = {
	[UPNOTIFY_MODE_GATEWAY] = "gateway",
	[UPNOTIFY_MODE_HOST] = "host",
	[UPNOTIFY_MODE_ALL] = "all",
};

static int param_set_mode(const char *val, const struct kernel_param *kp)
{
	unsigned int m;

	for (m = UPNOTIFY_MODE_GATEWAY; m <= UPNOTIFY_MODE_ALL; m++) {
		if (sysfs_streq(val, upn_mode_names[m])) {
			WRITE_ONCE(upn_mode, m);
			return 0;
		}
	}
	return -EINVAL;
}

static int param_get_mode(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", upn_mode_names[READ_ONCE(upn_mode)]);
}

static const struct kernel_param_ops upn_mode_ops = {
	.set = param_set_mode,
	.get = param_get_mode,
};

module_param_cb(syn_timeout_ms, &upn_ranged_ops, &upn_syn_timeout_ms, 0644);
MODULE_PARM_DESC(syn_timeout_ms,
		 "How long a SYN waits for its SYN/ACK, ms (new namespaces)");
module_param_cb(max_pending, &upn_ranged_ops, &upn_max_pending, 0644);
MODULE_PARM_DESC(max_pending,
		 "Pending SYNs tracked at most, in all namespaces");
module_param_cb(mode, &upn_mode_ops, NULL, 0644);
MODULE_PARM_DESC(mode, "gateway, host or all: the hooks of new namespaces");
module_param_cb(batch_max, &upn_ranged_ops, &upn_batch_max, 0644);
MODULE_PARM_DESC(batch_max, "Events per netlink skb, 1..256");
module_param_cb(batch_delay_us, &upn_ranged_ops, &upn_batch_delay_us, 0644);
MODULE_PARM_DESC(batch_delay_us,
		 "Longest an event waits for a batch, 0..1000000 us (0: none)");
static bool upn_run_selftest;
module_param_named(selftest, upn_run_selftest, bool, 0444);
MODULE_PARM_DESC(selftest,
		 "Run the self-tests at load; fail the load if one fails");
module_param_named(count_refused, upn_count_refused, bool, 0644);
MODULE_PARM_DESC(count_refused,
		 "Is a RST answering a SYN a failed access (new namespaces)");

struct upn_net *upn_net(const struct net *net)
{
	return net_generic(net, upn_net_id);
}

/**
 * upn_stats_sum() - a namespace's counters, summed over the CPUs
 * @un: the namespace
 * @out: __UPNOTIFY_STAT_MAX counters, gauges included
 */
void upn_stats_sum(struct upn_net *un, u64 *out)
{
	unsigned int cpu, i;

	memset(out, 0, sizeof(u64) * __UPNOTIFY_STAT_MAX);
	for_each_possible_cpu(cpu) {
		const struct upn_stats *s = per_cpu_ptr(un->stats, cpu);

		for (i = 0; i < __UPNOTIFY_STAT_MAX; i++)
			out[i] += READ_ONCE(s->c[i]);
	}
	out[UPNOTIFY_STAT_PENDING] = atomic_read(&un->npending);
	out[UPNOTIFY_STAT_DOWN_SERVERS] = READ_ONCE(un->ndown);
	out[UPNOTIFY_STAT_REFUSING_SERVERS] = READ_ONCE(un->nrefusing);
}

static struct upn_cfg *cfg_defaults(void)
{
	/* The daemon's defaults (config.c): net, host, protocol, port and the
	 * administratively prohibited codes (RFC 1812 / RFC 4443). */
	static const u8 v4[] = { 0, 1, 2, 3, 9, 10, 13 };
	static const u8 v6[] = { 0, 1, 3, 4, 5, 6 };
	struct upn_cfg *cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);
	unsigned int i;

	if (!cfg)
		return NULL;
	cfg->syn_timeout_ms = READ_ONCE(upn_syn_timeout_ms);
	cfg->count_refused = READ_ONCE(upn_count_refused);
	cfg->mode = READ_ONCE(upn_mode);
	for (i = 0; i < ARRAY_SIZE(v4); i++)
		cfg->icmp_codes[v4[i] / 8] |= 1 << (v4[i] % 8);
	for (i = 0; i < ARRAY_SIZE(v6); i++)
		cfg->icmp6_codes[v6[i] / 8] |= 1 << (v6[i] % 8);
	return cfg;
}

static int __net_init upn_net_init(struct net *net)
{
	struct upn_net *un = upn_net(net);
	struct upn_cfg *cfg;
	int ret = -ENOMEM;

	un->net = net;
	mutex_init(&un->lock);
	un->stats = alloc_percpu(struct upn_stats);
	if (!un->stats)
		goto err;
	cfg = cfg_defaults();
	if (!cfg)
		goto err_stats;
	RCU_INIT_POINTER(un->cfg, cfg);
	ret = upn_servers_net_init(un);
	if (ret)
		goto err_cfg;
	un->srv_gen = 1; /* a dump's sequence 0 means "not set" */
	ret = upn_pending_net_init(un);
	if (ret)
		goto err_servers;
	upn_events_net_init(un);
	mutex_lock(&un->lock);
	ret = upn_hooks_set(un, cfg->mode);
	mutex_unlock(&un->lock);
	if (ret)
		goto err_pending;
	mutex_lock(&upn_nets_lock);
	list_add(&un->list, &upn_nets);
	mutex_unlock(&upn_nets_lock);
	pr_debug("netns %u created\n", net->ns.inum);
	return 0;

err_pending:
	upn_events_net_exit(un);
	upn_pending_net_exit(un);
err_servers:
	upn_servers_net_exit(un);
err_cfg:
	kfree(cfg);
err_stats:
	free_percpu(un->stats);
err:
	return ret;
}

static void __net_exit upn_net_exit(struct net *net)
{
	struct upn_net *un = upn_net(net);
	u64 v[__UPNOTIFY_STAT_MAX];
	unsigned int npend, nsrv, i;

	/* No hook runs after this (it waits for a grace period), so nothing
	 * creates entries or events behind our back. */
	mutex_lock(&un->lock);
	upn_hooks_set(un, 0);
	mutex_unlock(&un->lock);
	npend = upn_pending_net_exit(un); /* stops the expiry scan first */
	upn_events_net_exit(un);
	nsrv = upn_servers_net_exit(un);
	upn_watch_net_exit(un);
	kfree(rcu_dereference_protected(un->cfg, true));

	mutex_lock(&upn_nets_lock);
	list_del(&un->list);
	upn_stats_sum(un, v);
	for (i = 0; i < __UPNOTIFY_STAT_MAX; i++)
		if (i != UPNOTIFY_STAT_PENDING &&
		    i != UPNOTIFY_STAT_DOWN_SERVERS &&
		    i != UPNOTIFY_STAT_REFUSING_SERVERS)
			upn_retired[i] += v[i];
	mutex_unlock(&upn_nets_lock);
	free_percpu(un->stats);
	mutex_destroy(&un->lock);
	pr_debug("netns %u destroyed: freed %u pending, %u servers\n",
		 net->ns.inum, npend, nsrv);
}

static struct pernet_operations upn_net_ops = {
	.init = upn_net_init,
	.exit = upn_net_exit,
	.id = &upn_net_id,
	.size = sizeof(struct upn_net),
};

/* /sys/kernel/upnotify/stats/: every counter, summed over all namespaces. */
struct upn_stat_attr {
	struct kobj_attribute attr;
	unsigned int idx;
};

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	unsigned int idx = container_of(attr, struct upn_stat_attr, attr)->idx;
	u64 v[__UPNOTIFY_STAT_MAX], total;
	struct upn_net *un;

	mutex_lock(&upn_nets_lock);
	total = upn_retired[idx];
	list_for_each_entry(un, &upn_nets, list) {
		upn_stats_sum(un, v);
		total += v[idx];
	}
	mutex_unlock(&upn_nets_lock);
	return sysfs_emit(buf, "%llu\n", total);
}

#define UPN_STAT(_name, _stat)                                \
	{                                                     \
		.attr = __ATTR(_name, 0444, stat_show, NULL), \
		.idx = UPNOTIFY_STAT_##_stat,                 \
	}

static struct upn_stat_attr upn_stat_attrs[] = {
	UPN_STAT(packets, PACKETS),
	UPN_STAT(syns_tracked, SYNS_TRACKED),
	UPN_STAT(events, EVENTS),
	UPN_STAT(event_fails, EVENT_FAILS),
	UPN_STAT(table_full, TABLE_FULL),
	UPN_STAT(malformed, MALFORMED),
	UPN_STAT(pending, PENDING),
	UPN_STAT(down_servers, DOWN_SERVERS),
	UPN_STAT(truncated, TRUNCATED),
	UPN_STAT(syn, SYN),
	UPN_STAT(synack, SYNACK),
	UPN_STAT(rst, RST),
	UPN_STAT(unreach, UNREACH),
	UPN_STAT(not_watched, NOT_WATCHED),
	UPN_STAT(ignored_client, IGNORED_CLIENT),
	UPN_STAT(icmp_code_ignored, ICMP_CODE_IGNORED),
	UPN_STAT(syn_retransmits, SYN_RETRANSMITS),
	UPN_STAT(unreach_repeats, UNREACH_REPEATS),
	UPN_STAT(syn_answered, SYN_ANSWERED),
	UPN_STAT(syn_timeouts, SYN_TIMEOUTS),
	UPN_STAT(refused, REFUSED),
	UPN_STAT(refused_ignored, REFUSED_IGNORED),
	UPN_STAT(servers_full, SERVERS_FULL),
	UPN_STAT(refusing_servers, REFUSING_SERVERS),
};

static struct attribute *upn_stat_attr_ptrs[ARRAY_SIZE(upn_stat_attrs) + 1];

static const struct attribute_group upn_stats_group = {
	.name = "stats",
	.attrs = upn_stat_attr_ptrs,
};

static struct kobject *upn_kobj;

static int __init upn_sysfs_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(upn_stat_attrs); i++)
		upn_stat_attr_ptrs[i] = &upn_stat_attrs[i].attr.attr;
	upn_kobj = kobject_create_and_add("upnotify", kernel_kobj);
	if (!upn_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(upn_kobj, &upn_stats_group);
	if (ret)
		kobject_put(upn_kobj);
	return ret;
}

static void upn_sysfs_exit(void)
{
	sysfs_remove_group(upn_kobj, &upn_stats_group);
	kobject_put(upn_kobj);
}

static int __init upn_init(void)
{
	int ret;

	if (upn_run_selftest) {
		ret = upn_selftest();
		if (ret)
			return ret;
	}
	get_random_bytes(&upn_hash_key, sizeof(upn_hash_key));
	if (!upn_max_pending)
		upn_max_pending = upn_pending_default_max();

	ret = upn_pending_init();
	if (ret)
		goto err;
	/* The namespaces' state first: a netlink op finds it in place. */
	ret = register_pernet_subsys(&upn_net_ops);
	if (ret)
		goto err_pending;
	ret = upn_genl_init();
	if (ret)
		goto err_pernet;
	ret = upn_sysfs_init();
	if (ret)
		goto err_genl;
	pr_info("loaded: max_pending %u, entry sizes %u (IPv4) and %u (IPv6) bytes\n",
		upn_max_pending, upn_pending_kmem_size(AF_INET),
		upn_pending_kmem_size(AF_INET6));
	return 0;

err_genl:
	upn_genl_exit();
err_pernet:
	unregister_pernet_subsys(&upn_net_ops);
err_pending:
	upn_pending_exit();
err:
	return ret;
}

static void __exit upn_exit(void)
{
	upn_sysfs_exit();
	/* No netlink op runs after this one returns. */
	upn_genl_exit();
	/* Hooks, expiry scans, event timers and tables of every namespace. */
	unregister_pernet_subsys(&upn_net_ops);
	pr_info("unloaded: %d pending entries left\n", upn_pending_exit());
}

module_init(upn_init);
module_exit(upn_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The upnotify authors");
MODULE_DESCRIPTION("Failed-access detection and server recovery notification");
MODULE_ALIAS_GENL_FAMILY(UPNOTIFY_GENL_NAME);
