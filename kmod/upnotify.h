/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* What the module's files share: limits, the per-namespace state, the units' APIs. */
#ifndef _UPNOTIFY_H
#define _UPNOTIFY_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/percpu.h>
#include <linux/rhashtable-types.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/upnotify.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "upnotify_parse.h"

/* Every cap, timeout and size of the module, with the reason for its value. */
enum upn_limits {
	/* Pending SYNs, all namespaces together: the default is 1/256 of RAM at
	 * 48-72 bytes an entry, within these bounds; a flood beyond the cap is
	 * counted (TABLE_FULL) and not tracked. */
	UPN_PENDING_MIN = 4096,
	UPN_PENDING_MAX = 4 << 20,
	/* Down and refusing servers per namespace, together: an outage of a whole
	 * /16 fits; a flood of spoofed ICMP errors or RSTs cannot grow the table
	 * further. */
	UPN_SERVERS_MAX = 65536,
	UPN_SERVERS_HASH_BITS = 10,
	/* The ports a refusing server's clients were refused on, the first few:
	 * a SYN/ACK on one shows the service is back. The daemon's
	 * UPN_WAITLIST_PORTS. */
	UPN_SERVER_PORTS = 4,
	/* Watch plus ignore prefixes per namespace; they are matched linearly. */
	UPN_PREFIXES_MAX = 1024,
	/* Below 100 ms a healthy but distant server looks dead. */
	UPN_SYN_TIMEOUT_MIN_MS = 100,
	UPN_SYN_TIMEOUT_MAX_MS = 3600000,
	UPN_SYN_TIMEOUT_DEFAULT_MS = 30000,
	/* Events per skb before it is sent, and the longest one waits for company. */
	UPN_BATCH_MAX_LIMIT = 256,
	UPN_BATCH_MAX_DEFAULT = 16,
	UPN_BATCH_DELAY_US_DEFAULT = 1000,
	UPN_BATCH_DELAY_US_MAX = 1000000,
	/* The expiry scan runs every min(1 s, syn_timeout / 4): a SYN is reported
	 * at most a quarter late; it yields the CPU every chunk of entries. */
	UPN_GC_INTERVAL_MAX_MS = 1000,
	UPN_GC_CHUNK = 256,
	/* The ICMP code bitmaps: one bit for each of the 256 codes. */
	UPN_CODES_LEN = 32,
};

/* Hook sets, registered per namespace according to the mode. */
enum upn_hook_set {
	UPN_HOOK_FORWARD = 1 << 0,
	UPN_HOOK_LOCAL_OUT = 1 << 1,
	UPN_HOOK_LOCAL_IN = 1 << 2,
};

struct upn_stats {
	u64 c[__UPNOTIFY_STAT_MAX];
};

/* The tuning of a namespace, replaced whole under RCU by SET_CONFIG. */
struct upn_cfg {
	u32 syn_timeout_ms;
	u8 count_refused;
	u8 mode;
	u8 icmp_codes[UPN_CODES_LEN];
	u8 icmp6_codes[UPN_CODES_LEN];
	struct rcu_head rcu;
};

struct upn_prefix {
	u8 family;
	u8 len;
	u8 addr[16];
};

/* Watched prefixes first, then ignored ones; replaced whole under RCU. */
struct upn_prefixes {
	struct rcu_head rcu;
	u32 nwatch, nignore;
	struct upn_prefix p[];
};

struct upn_evq {
	spinlock_t lock;
	struct sk_buff *skb; /* being filled, NULL when none */
	unsigned int n;	     /* events in it */
	bool dead;	     /* the namespace is going: queue nothing more */
	struct timer_list timer;
};

/* One network namespace's state: net_generic(net, upn_net_id). */
struct upn_net {
	struct net *net;
	struct list_head list; /* upn_nets, under upn_nets_lock */
	struct mutex lock;     /* hooks, cfg and prefixes writers */
	unsigned int hooks;    /* enum upn_hook_set registered */
	struct upn_cfg __rcu *cfg;
	struct upn_prefixes __rcu *prefixes;
	struct upn_stats __percpu *stats;

	struct rhashtable pend4, pend6;
	atomic_t npending;
	struct delayed_work gc;

	spinlock_t srv_lock;
	struct hlist_head *srv_hash;
	unsigned int nservers;	/* down and refusing: the table's size */
	unsigned int ndown;	/* of which down */
	unsigned int nrefusing; /* and refusing */
	u32 srv_gen; /* bumped on every change, for consistent dumps */

	struct upn_evq evq;
};

/* An event on its way to the "events" group. */
struct upn_event {
	u8 cmd; /* UPNOTIFY_CMD_*_NTF */
	u8 cause;
	u8 family;
	u8 proto;
	u8 icmp_type, icmp_code;
	bool has_client, has_icmp;
	u16 port;
	u8 client[16], server[16];
	u64 ts;
};

/* A pending attempt as the callers see it; the tables store it smaller. */
struct upn_tuple {
	u8 family;
	u16 cport, sport;
	u8 client[16], server[16];
};

static inline unsigned int upn_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* upnotify_main.c */
extern unsigned int upn_net_id;
extern siphash_key_t upn_hash_key;
extern unsigned int upn_max_pending;
extern unsigned int upn_batch_max;
extern unsigned int upn_batch_delay_us;
struct upn_net *upn_net(const struct net *net);
void upn_stats_sum(struct upn_net *un, u64 *out);

static inline void upn_stat_inc(struct upn_net *un, unsigned int idx)
{
	this_cpu_inc(un->stats->c[idx]);
}

static inline void upn_stat_add(struct upn_net *un, unsigned int idx, u64 n)
{
	this_cpu_add(un->stats->c[idx], n);
}

/* upnotify_hooks.c */
int upn_hooks_set(struct upn_net *un, unsigned int mode);

/* upnotify_detect.c */
void upn_detect_packet(struct upn_net *un, const struct upn_pkt *p);
void upn_detect_failed(struct upn_net *un, struct upn_event *ev);
void upn_detect_expired(struct upn_net *un, const struct upn_tuple *t);

/* upnotify_pending.c */
enum upn_syn_result {
	UPN_SYN_NEW,	    /* now pending */
	UPN_SYN_RETRANSMIT, /* already pending; its deadline stands */
	UPN_SYN_FULL,	    /* the table is at its cap (or out of memory) */
};

enum upn_syn_report {
	UPN_SYN_UNKNOWN, /* no such attempt pending */
	UPN_SYN_FIRST,	 /* pending and not yet reported: report it now */
	UPN_SYN_AGAIN,	 /* already reported */
};

int upn_pending_init(void);
int upn_pending_exit(void);
int upn_pending_net_init(struct upn_net *un);
unsigned int upn_pending_net_exit(struct upn_net *un);
enum upn_syn_result upn_pending_syn(struct upn_net *un,
				    const struct upn_tuple *t, u32 seq,
				    bool reported);
enum upn_syn_report upn_pending_answer(struct upn_net *un,
				       const struct upn_tuple *t, u32 ack);
enum upn_syn_report upn_pending_report(struct upn_net *un,
				       const struct upn_tuple *t);
unsigned int upn_pending_report_server(
	struct upn_net *un, int family, const u8 *server,
	void (*fn)(struct upn_net *un, const struct upn_tuple *t, void *ctx),
	void *ctx);
unsigned int upn_pending_kmem_size(int family);
unsigned int upn_pending_default_max(void);

/* upnotify_servers.c */
int upn_servers_net_init(struct upn_net *un);
unsigned int upn_servers_net_exit(struct upn_net *un);
bool upn_servers_is_down(struct upn_net *un, int family, const u8 *addr);
int upn_servers_set_down(struct upn_net *un, int family, const u8 *addr,
			 u8 cause, u64 ts);
int upn_servers_set_refusing(struct upn_net *un, int family, const u8 *addr,
			     const u16 *ports, unsigned int nports, u8 cause,
			     u64 ts);
bool upn_servers_set_up(struct upn_net *un, int family, const u8 *addr);
bool upn_servers_synack(struct upn_net *un, int family, const u8 *addr,
			u16 port);
int upn_servers_dump(struct upn_net *un, struct sk_buff *skb,
		     struct netlink_callback *cb);

/* upnotify_watch.c */
int upn_watch_check(struct upn_net *un, int family, const u8 *client,
		    const u8 *server);
bool upn_prefix_valid(const struct upn_prefix *p);
bool upn_prefix_match(const struct upn_prefix *p, int family, const u8 *addr);
void upn_watch_replace(struct upn_net *un, struct upn_prefixes *np);
void upn_watch_net_exit(struct upn_net *un);

/* upnotify_events.c */
void upn_event_emit(struct upn_net *un, const struct upn_event *ev);
void upn_events_net_init(struct upn_net *un);
void upn_events_net_exit(struct upn_net *un);

/* upnotify_selftest.c */
int upn_selftest(void);

/* upnotify_genl.c */
extern struct genl_family upn_genl_family;
extern bool upn_genl_ready;
int upn_genl_init(void);
void upn_genl_exit(void);
int upn_genl_put_server(struct sk_buff *skb, struct netlink_callback *cb,
			int family, const u8 *addr, u8 state, u8 cause,
			u64 since, const u16 *ports);
int upn_genl_put_event(struct sk_buff *skb, const struct upn_event *ev);

#endif /* _UPNOTIFY_H */
