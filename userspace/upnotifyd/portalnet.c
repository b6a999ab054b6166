// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "portalnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* The kernel caps the backlog at net.core.somaxconn anyway; 1024 rides out a burst
 * of clients reloading a dead site while the loop is busy elsewhere. */
#define LISTEN_BACKLOG 1024
/* A rule added twice by hand or by an old run is deleted this many times at most. */
#define RULE_DEL_MAX 16

struct upn_portalnet {
	struct nft_ctx *nft;
	struct mnl_socket *nl;	 /* rtnetlink: rules and routes */
	struct mnl_socket *nfnl; /* nfnetlink: set elements */
	uint32_t seq;
	uint32_t mark, table;
	uint16_t listen_port;
	bool no_ipv6;		 /* booted with ipv6.disable=1: no IPv6 routing to set up */
	char ports[256];	 /* "80, 443" */
	struct upn_addr *member; /* what the sets hold, sorted, for rebuilds and stats */
	size_t nmember, cap;
	struct upn_portalnet_stats stats;
	char errbuf[512]; /* nft's last complaint, one line */
};

/* libnftables reports failure as -1; errno is left over from its last netlink
 * read (often EAGAIN) unless the kernel refused something. Its message, though, ends
 * with strerror() of the real cause: "Could not process rule: No such file or ...". */
static int nft_errno(const char *msg, int e)
{
	static const int known[] = { ENOENT, EEXIST,	 ENFILE, ENOSPC,  EPERM,   ENOMEM,
				     EINVAL, EOPNOTSUPP, EBUSY,	 ENOBUFS, EMSGSIZE };

	if (e > 0 && strstr(msg, strerror(e)))
		return -e;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(msg, strerror(known[i])))
			return -known[i];
	return -EIO;
}

/* Runs @cmd as one nft transaction. 0 or -errno (-EIO when the cause is unclear);
 * on failure the first line of nft's message (the rest are carets under the
 * culprit) is kept for nft_error(). */
static int nft_run(struct upn_portalnet *pn, const char *cmd)
{
	const char *e;
	int ret, saved;
	size_t n;

	errno = 0;
	ret = nft_run_cmd_from_buffer(pn->nft, cmd);
	saved = errno;
	/* Reading a buffer empties it, so neither grows; we never echo. */
	nft_ctx_get_output_buffer(pn->nft);
	e = nft_ctx_get_error_buffer(pn->nft);
	if (!ret)
		return 0;
	if (!e || !*e)
		e = "unknown error";
	ret = nft_errno(e, saved);
	n = strcspn(e, "\n");
	if (n >= sizeof(pn->errbuf))
		n = sizeof(pn->errbuf) - 1;
	memcpy(pn->errbuf, e, n);
	pn->errbuf[n] = '\0';
	return ret;
}

static const char *nft_error(const struct upn_portalnet *pn)
{
	return pn->errbuf;
}

static const char *set_of(const struct upn_addr *a)
{
	return a->family == AF_INET ? "down4" : "down6";
}

/* The whole table, with the elements we know: made in one transaction that first
 * deletes whatever an earlier run left (the `add table` makes the delete safe when
 * there is nothing to delete). */
static char *render_table(const struct upn_portalnet *pn)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	char abuf[UPN_ADDRSTRLEN], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "add table inet %s\ndelete table inet %s\n", UPN_PORTALNET_TABLE,
		UPN_PORTALNET_TABLE);
	fprintf(f, "table inet %s {\n\tcomment \"upnotifyd: inquiry portal for down servers\"\n",
		UPN_PORTALNET_TABLE);
	for (size_t i = 0; i < 2; i++) {
		bool any = false;

		fprintf(f, "\tset %s {\n\t\ttype %s\n", i ? "down6" : "down4",
			i ? "ipv6_addr" : "ipv4_addr");
		for (size_t m = 0; m < pn->nmember; m++) {
			if (pn->member[m].family != fams[i])
				continue;
			fprintf(f, "%s%s", any ? ", " : "\t\telements = { ",
				upn_addr_fmt(&pn->member[m], abuf));
			any = true;
		}
		fprintf(f, "%s\t}\n", any ? " }\n" : "");
	}
	/* Once tproxy has assigned the listener to a packet, the mark routes it to the
	 * local table; without the route it would still be forwarded to the server.
	 * The first rule keeps a connection the portal already holds when its server
	 * leaves the set (it came back): without it, that connection's next packets
	 * would be forwarded to the server, which answers them with a reset, unless
	 * early demux happened to find the socket first. Never a SYN: a new connection
	 * reusing the ports of one of ours still in TIME-WAIT would match the old
	 * socket, get a bare ACK, and be reset (456 of 1000 connections under a
	 * Connection: close load, bench/README.md); a SYN must meet the set. */
	fprintf(f,
		"\tchain prerouting {\n"
		"\t\ttype filter hook prerouting priority mangle; policy accept;\n"
		"\t\ttcp dport { %s } tcp flags & (fin | syn | rst | ack) != syn "
		"socket transparent 1 meta mark set 0x%x accept\n"
		"\t\tip daddr @down4 tcp dport { %s } tproxy ip to :%u meta mark set 0x%x accept\n"
		"\t\tip6 daddr @down6 tcp dport { %s } tproxy ip6 to :%u meta mark set 0x%x accept\n"
		"\t}\n}\n",
		pn->ports, pn->mark, pn->ports, pn->listen_port, pn->mark, pn->ports,
		pn->listen_port, pn->mark);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int make_table(struct upn_portalnet *pn)
{
	char *cmd = render_table(pn);
	int ret;

	if (!cmd) {
		snprintf(pn->errbuf, sizeof(pn->errbuf), "out of memory");
		return -ENOMEM;
	}
	ret = nft_run(pn, cmd);
	free(cmd);
	return ret;
}

/* `add table` first makes the delete safe when there is nothing to delete. */
static void drop_table(struct upn_portalnet *pn)
{
	static const char cmd[] = "add table inet " UPN_PORTALNET_TABLE "\n"
				  "delete table inet " UPN_PORTALNET_TABLE "\n";

	if (nft_run(pn, cmd))
		upn_warn("portal: cannot delete table inet %s: %s", UPN_PORTALNET_TABLE,
			 nft_error(pn));
}

/* rtnetlink: one request, its acknowledgement. @cb sees the replies of a dump. */
static int nl_talk(struct upn_portalnet *pn, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(pn->nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++pn->seq;
	if (mnl_socket_sendto(pn->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(pn->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, pn->seq, portid, cb, data);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *rule_msg(struct upn_portalnet *pn, char *buf, uint16_t type, int family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = type;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = pn->table < 256 ? (uint8_t)pn->table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, pn->table);
	mnl_attr_put_u32(nlh, FRA_FWMARK, pn->mark);
	return nlh;
}

struct rule_find {
	const struct upn_portalnet *pn;
	bool found;
};

static int rule_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, FRA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[FRA_MAX + 1] = { NULL };
	struct rule_find *rf = data;
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	uint32_t table;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh) ||
	    mnl_attr_parse(nlh, sizeof(*frh), rule_attr_cb, tb) < 0)
		return MNL_CB_OK;
	table = tb[FRA_TABLE] && mnl_attr_get_payload_len(tb[FRA_TABLE]) == 4 ?
			mnl_attr_get_u32(tb[FRA_TABLE]) :
			frh->table;
	/* A rule with a mask, a source or an interface is somebody else's. */
	if (frh->action == FR_ACT_TO_TBL && table == rf->pn->table && tb[FRA_FWMARK] &&
	    mnl_attr_get_payload_len(tb[FRA_FWMARK]) == 4 &&
	    mnl_attr_get_u32(tb[FRA_FWMARK]) == rf->pn->mark &&
	    (!tb[FRA_FWMASK] || mnl_attr_get_u32(tb[FRA_FWMASK]) == UINT32_MAX) && !frh->src_len &&
	    !frh->dst_len && !tb[FRA_IIFNAME] && !tb[FRA_OIFNAME])
		rf->found = true;
	return MNL_CB_OK;
}

/* The kernel's own duplicate check (NLM_F_EXCL) compares priorities, and one picked
 * by the kernel differs every time: so look first. */
static int add_rule(struct upn_portalnet *pn, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rule_find rf = { pn, false };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;
	int ret;

	nlh->nlmsg_type = RTM_GETRULE;
	nlh->nlmsg_flags = NLM_F_DUMP;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	ret = nl_talk(pn, nlh, rule_cb, &rf);
	if (ret || rf.found)
		return ret;
	nlh = rule_msg(pn, buf, RTM_NEWRULE, family);
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ret = nl_talk(pn, nlh, NULL, NULL);
	return ret == -EEXIST ? 0 : ret;
}

static void del_rules(struct upn_portalnet *pn, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ret = 0;

	for (int i = 0; i < RULE_DEL_MAX && !ret; i++)
		ret = nl_talk(pn, rule_msg(pn, buf, RTM_DELRULE, family), NULL, NULL);
	if (ret && ret != -ENOENT)
		upn_warn("portal: cannot delete the IPv%d fwmark rule: %s",
			 family == AF_INET ? 4 : 6, strerror(-ret));
}

static struct nlmsghdr *route_msg(struct upn_portalnet *pn, char *buf, uint16_t type, int family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = pn->table < 256 ? (uint8_t)pn->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_HOST;
	rtm->rtm_type = RTN_LOCAL;
	mnl_attr_put_u32(nlh, RTA_TABLE, pn->table);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	return nlh;
}

static int add_route(struct upn_portalnet *pn, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = route_msg(pn, buf, RTM_NEWROUTE, family);

	/* REPLACE: a leftover of an earlier run is fine as it is. */
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	return nl_talk(pn, nlh, NULL, NULL);
}

static void del_route(struct upn_portalnet *pn, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ret = nl_talk(pn, route_msg(pn, buf, RTM_DELROUTE, family), NULL, NULL);

	if (ret && ret != -ESRCH && ret != -ENOENT)
		upn_warn("portal: cannot delete the IPv%d local route: %s",
			 family == AF_INET ? 4 : 6, strerror(-ret));
}

static void remove_routing(struct upn_portalnet *pn)
{
	del_rules(pn, AF_INET);
	del_route(pn, AF_INET);
	if (!pn->no_ipv6) {
		del_rules(pn, AF_INET6);
		del_route(pn, AF_INET6);
	}
}

static int format_ports(struct upn_portalnet *pn, const struct upn_portalnet_config *cfg)
{
	size_t off = 0;

	if (!cfg->nports)
		return -EINVAL;
	for (size_t i = 0; i < cfg->nports; i++) {
		int n = snprintf(pn->ports + off, sizeof(pn->ports) - off, "%s%u", i ? ", " : "",
				 cfg->ports[i]);

		if (!cfg->ports[i] || n < 0 || (size_t)n >= sizeof(pn->ports) - off)
			return -EINVAL;
		off += (size_t)n;
	}
	return 0;
}

struct upn_portalnet *upn_portalnet_open(const struct upn_portalnet_config *cfg, char *err,
					 size_t errlen)
{
	struct upn_portalnet *pn = calloc(1, sizeof(*pn));
	static const int fams[] = { AF_INET, AF_INET6 };
	int ret;

	if (!pn) {
		upn_set_err(err, errlen, "portal: out of memory");
		return NULL;
	}
	pn->mark = cfg->mark ? cfg->mark : UPN_PORTALNET_MARK_DEFAULT;
	pn->table = cfg->table ? cfg->table : UPN_PORTALNET_ROUTE_TABLE_DEFAULT;
	pn->listen_port = cfg->listen_port;
	/* Tables 253-255 are default, main and local; 0 is "unspecified". */
	if (format_ports(pn, cfg) || !cfg->listen_port ||
	    (pn->table >= RT_TABLE_DEFAULT && pn->table <= RT_TABLE_LOCAL)) {
		upn_set_err(err, errlen, "portal: bad configuration (ports, listen port or table)");
		free(pn);
		return NULL;
	}
	pn->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!pn->nft || nft_ctx_buffer_output(pn->nft) || nft_ctx_buffer_error(pn->nft)) {
		upn_set_err(err, errlen, "portal: cannot make an nft context");
		goto fail;
	}
	pn->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!pn->nl || mnl_socket_bind(pn->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		upn_set_err(err, errlen, "portal: cannot open an rtnetlink socket: %s",
			    strerror(errno));
		goto fail;
	}
	pn->nfnl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!pn->nfnl || mnl_socket_bind(pn->nfnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		upn_set_err(err, errlen, "portal: cannot open an nfnetlink socket: %s",
			    strerror(errno));
		goto fail;
	}
	ret = make_table(pn);
	if (ret) {
		upn_set_err(err, errlen, "nft: cannot make table inet %s: %s (%s)",
			    UPN_PORTALNET_TABLE, nft_error(pn),
			    ret == -EPERM ? "needs CAP_NET_ADMIN" : "is nft_tproxy available?");
		goto fail;
	}
	for (size_t i = 0; i < 2; i++) {
		ret = add_route(pn, fams[i]);
		/* ipv6.disable=1 (EAFNOSUPPORT) or disable_ipv6 on lo (EACCES): an IPv4
		 * gateway still wants its portal. */
		if ((ret == -EAFNOSUPPORT || ret == -EACCES) && fams[i] == AF_INET6) {
			upn_warn("portal: IPv6 is disabled (%s): intercepting IPv4 only",
				 strerror(-ret));
			pn->no_ipv6 = true;
			break;
		}
		if (ret) {
			upn_set_err(
				err, errlen,
				"portal: cannot add `local default dev lo table %u` (IPv%d): %s",
				pn->table, i ? 6 : 4, strerror(-ret));
			goto fail_routing;
		}
		ret = add_rule(pn, fams[i]);
		if (ret) {
			upn_set_err(
				err, errlen,
				"portal: cannot add `ip rule fwmark 0x%x lookup %u` (IPv%d): %s",
				pn->mark, pn->table, i ? 6 : 4, strerror(-ret));
			goto fail_routing;
		}
	}
	return pn;

fail_routing:
	remove_routing(pn);
	drop_table(pn);
fail:
	if (pn->nfnl)
		mnl_socket_close(pn->nfnl);
	if (pn->nl)
		mnl_socket_close(pn->nl);
	if (pn->nft)
		nft_ctx_free(pn->nft);
	free(pn);
	return NULL;
}

void upn_portalnet_close(struct upn_portalnet *pn)
{
	if (!pn)
		return;
	drop_table(pn);
	remove_routing(pn);
	mnl_socket_close(pn->nfnl);
	mnl_socket_close(pn->nl);
	nft_ctx_free(pn->nft);
	free(pn->member);
	free(pn);
}

/* The index of @a in the sorted member list, or where it would go (*found false). */
static size_t member_find(const struct upn_portalnet *pn, const struct upn_addr *a, bool *found)
{
	size_t lo = 0, hi = pn->nmember;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = upn_addr_cmp(&pn->member[mid], a);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int member_add(struct upn_portalnet *pn, const struct upn_addr *a)
{
	bool found;
	size_t i = member_find(pn, a, &found);

	if (found)
		return 0;
	if (pn->nmember == pn->cap) {
		size_t cap = pn->cap ? pn->cap * 2 : 16;
		struct upn_addr *m = realloc(pn->member, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		pn->member = m;
		pn->cap = cap;
	}
	memmove(pn->member + i + 1, pn->member + i, (pn->nmember - i) * sizeof(*a));
	pn->member[i] = *a;
	pn->nmember++;
	return 0;
}

static void member_del(struct upn_portalnet *pn, const struct upn_addr *a)
{
	bool found;
	size_t i = member_find(pn, a, &found);

	if (!found)
		return;
	memmove(pn->member + i, pn->member + i + 1, (pn->nmember - i - 1) * sizeof(*a));
	pn->nmember--;
}

/* The table is gone or broken: make it again from what we know, which already
 * includes (or excludes) the element being changed. */
static int rebuild(struct upn_portalnet *pn, const char *why)
{
	int ret;

	upn_warn("portal: %s; making table inet %s again", why, UPN_PORTALNET_TABLE);
	ret = make_table(pn);
	if (ret)
		upn_err("portal: cannot make table inet %s again: %s", UPN_PORTALNET_TABLE,
			nft_error(pn));
	else
		pn->stats.rebuilds++;
	return ret;
}

static struct nlmsghdr *batch_msg(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags,
				  uint32_t seq, uint8_t family, uint16_t res_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	return nlh;
}

static void put_elem(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags, uint32_t seq,
		     const struct upn_addr *a)
{
	struct nlmsghdr *nlh = batch_msg(b, (NFNL_SUBSYS_NFTABLES << 8) | type, NLM_F_ACK | flags,
					 seq, NFPROTO_INET, 0);
	struct nlattr *list, *elem, *key;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, UPN_PORTALNET_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set_of(a));
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, upn_addr_len(a), a->a);
	mnl_attr_nest_end(nlh, key);
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
	mnl_nlmsg_batch_next(b);
}

/* One transaction changing one element, straight over nfnetlink: libnftables would
 * first read the whole ruleset into its cache, every time, elements of every other
 * set included, which took 100 ms and more on a host with a large interval set.
 * `add` of a present element is a no-op; `delete` of an absent one fails, so the
 * delete adds the element first in the same transaction: ENOENT then means that the
 * table or the set is gone. 0 or -errno, with a message for nft_error(). */
static int nfnl_element(struct upn_portalnet *pn, const struct upn_addr *a, bool add)
{
	char buf[1024];
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf) / 2);
	uint32_t first = pn->seq + 1, last;
	int fd = mnl_socket_get_fd(pn->nfnl), ret = 0;
	ssize_t n;

	batch_msg(b, NFNL_MSG_BATCH_BEGIN, 0, ++pn->seq, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	put_elem(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, ++pn->seq, a);
	if (!add)
		put_elem(b, NFT_MSG_DELSETELEM, 0, ++pn->seq, a);
	last = pn->seq;
	batch_msg(b, NFNL_MSG_BATCH_END, 0, ++pn->seq, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	n = mnl_socket_sendto(pn->nfnl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b));
	mnl_nlmsg_batch_stop(b);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	/* The kernel runs the batch inside sendmsg(): every answer is queued already. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)n;

		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			/* An answer to an earlier call that gave up is not ours. */
			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq < first ||
			    nlh->nlmsg_seq > last)
				continue;
			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*e) && e->error && !ret)
				ret = e->error;
		}
	}
	if (n < 0 && errno != EAGAIN && !ret)
		ret = -errno;
out:
	if (ret)
		snprintf(pn->errbuf, sizeof(pn->errbuf), "%s", strerror(-ret));
	return ret;
}

static int element(struct upn_portalnet *pn, const struct upn_addr *a, bool add)
{
	char abuf[UPN_ADDRSTRLEN], why[sizeof(pn->errbuf) + 64];
	int ret = 0;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (add)
		ret = member_add(pn, a);
	else
		member_del(pn, a);
	if (!ret)
		ret = nfnl_element(pn, a, add);
	/* Gone (a firewall reload flushed the ruleset) or changed under us: what we
	 * know is what it should be. */
	if (ret && ret != -ENOMEM && ret != -ENOBUFS) {
		snprintf(why, sizeof(why), "%s %s: %s", add ? "adding" : "deleting",
			 upn_addr_fmt(a, abuf), nft_error(pn));
		ret = rebuild(pn, why);
	}
	if (ret) {
		pn->stats.errors++;
		return ret;
	}
	if (add)
		pn->stats.added++;
	else
		pn->stats.removed++;
	return 0;
}

int upn_portalnet_add(struct upn_portalnet *pn, const struct upn_addr *server)
{
	return element(pn, server, true);
}

int upn_portalnet_del(struct upn_portalnet *pn, const struct upn_addr *server)
{
	return element(pn, server, false);
}

void upn_portalnet_get_stats(const struct upn_portalnet *pn, struct upn_portalnet_stats *out)
{
	*out = pn->stats;
	out->elements = (uint32_t)pn->nmember;
}

/* "ADDR:PORT" or "[V6ADDR]:PORT" into a sockaddr. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[UPN_ADDRSTRLEN];
	const char *colon, *h = spec, *p;
	struct upn_addr a;
	size_t hlen;
	char *end;
	unsigned long port;

	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = spec + 1;
		hlen = (size_t)(close - h);
		p = close + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || memchr(spec, ':', (size_t)(colon - spec)))
			return -EINVAL; /* bare IPv6 needs brackets */
		hlen = (size_t)(colon - spec);
		p = colon + 1;
	}
	if (!hlen || hlen >= sizeof(host) || *p < '0' || *p > '9')
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(p, &end, 10);
	if (errno || *end || port > 65535 || upn_addr_parse(host, &a))
		return -EINVAL;
	/* "[192.0.2.1]:80" is odd but harmless; "::1:80" was refused above. */
	if ((*spec == '[') != (a.family == AF_INET6))
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a.a, 4);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a.a, 16);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

int upn_portal_listen(const char *spec, uint16_t *port_out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *what;
	int fd, one = 1, zero = 0, ret;

	if (parse_listen(spec, &ss, &sslen)) {
		upn_set_err(err, errlen, "portal: listen = %s: want ADDR:PORT or [V6ADDR]:PORT",
			    spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		upn_set_err(err, errlen, "portal: socket for %s: %s", spec, strerror(errno));
		return ret;
	}
	what = "SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	/* Both set the same flag of an inet socket; each family's own name is the one
	 * documented for it. Needs CAP_NET_ADMIN. */
	what = "IP_TRANSPARENT (needs CAP_NET_ADMIN)";
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)))
		goto fail;
	if (ss.ss_family == AF_INET6) {
		what = "IPV6_TRANSPARENT (needs CAP_NET_ADMIN)";
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)))
			goto fail;
		/* One socket for both families: intercepted IPv4 arrives v4-mapped. */
		what = "IPV6_V6ONLY";
		if (setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
			goto fail;
	}
	what = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sslen))
		goto fail;
	what = "listen";
	if (listen(fd, LISTEN_BACKLOG))
		goto fail;
	if (port_out) {
		what = "getsockname";
		sslen = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen))
			goto fail;
		*port_out = ntohs(ss.ss_family == AF_INET ?
					  ((struct sockaddr_in *)&ss)->sin_port :
					  ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;

fail:
	ret = -errno;
	upn_set_err(err, errlen, "portal: %s for %s: %s", what, spec, strerror(errno));
	close(fd);
	return ret;
}
