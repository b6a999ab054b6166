// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "genl.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/upnotify.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* A reply skb is at most 32 KiB (the kernel sizes dumps to min(our buffer, 32 KiB)). */
#define UPN_GENL_MSGBUF 32768

/* What each attribute must look like; the kernel's policy, seen from this side. An
 * address (BINARY, length 0 here) is checked against UPNOTIFY_A_FAMILY afterwards. */
static const struct {
	enum mnl_attr_data_type type;
	size_t len; /* exact payload length; 0: any */
} policy[UPNOTIFY_A_MAX + 1] = {
	[UPNOTIFY_A_FAMILY] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_CLIENT] = { MNL_TYPE_BINARY, 0 },
	[UPNOTIFY_A_SERVER] = { MNL_TYPE_BINARY, 0 },
	[UPNOTIFY_A_PROTO] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_PORT] = { MNL_TYPE_U16, 2 },
	[UPNOTIFY_A_CAUSE] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_ICMP_TYPE] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_ICMP_CODE] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_TIMESTAMP] = { MNL_TYPE_U64, 8 },
	[UPNOTIFY_A_STATE] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_STATS] = { MNL_TYPE_NESTED, 0 },
	[UPNOTIFY_A_WATCH] = { MNL_TYPE_NESTED, 0 },
	[UPNOTIFY_A_IGNORE] = { MNL_TYPE_NESTED, 0 },
	[UPNOTIFY_A_SYN_TIMEOUT_MS] = { MNL_TYPE_U32, 4 },
	[UPNOTIFY_A_COUNT_REFUSED] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_PAD] = { MNL_TYPE_UNSPEC, 0 },
	[UPNOTIFY_A_MODE] = { MNL_TYPE_U8, 1 },
	[UPNOTIFY_A_ICMP_CODES] = { MNL_TYPE_BINARY, 32 },
	[UPNOTIFY_A_ICMP6_CODES] = { MNL_TYPE_BINARY, 32 },
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	/* Newer than this header: skipped, as the UAPI asks. */
	if (mnl_attr_type_valid(attr, UPNOTIFY_A_MAX) < 0 || policy[type].type == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	/* mnl_attr_validate() lets a longer attribute pass (libmnl 1.0.4): the length
	 * is checked exactly here, as the kernel's policy would. */
	if (mnl_attr_validate(attr, policy[type].type) < 0 ||
	    (policy[type].len && mnl_attr_get_payload_len(attr) != policy[type].len))
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

/* mnl_attr_parse() stops quietly at a short attribute: here the attributes must
 * fill the message exactly, or it is cut or corrupt. */
static bool attrs_fill(const struct nlmsghdr *nlh, size_t offset)
{
	const char *end = mnl_nlmsg_get_payload_tail(nlh);
	const struct nlattr *a = mnl_nlmsg_get_payload_offset(nlh, offset);

	while (mnl_attr_ok(a, (int)(end - (const char *)a)))
		a = mnl_attr_next(a);
	return (const char *)a == end;
}

/* 0 with the command in @cmd, UPN_GENL_OTHER, or -EINVAL. */
static int parse(const struct nlmsghdr *nlh, uint16_t family_id, const struct nlattr **tb,
		 uint8_t *cmd)
{
	memset(tb, 0, sizeof(*tb) * (UPNOTIFY_A_MAX + 1));
	if (nlh->nlmsg_type != family_id)
		return UPN_GENL_OTHER;
	if (mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN)
		return -EINVAL;
	*cmd = ((const struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd;
	if (!attrs_fill(nlh, GENL_HDRLEN) || mnl_attr_parse(nlh, GENL_HDRLEN, attr_cb, tb) < 0)
		return -EINVAL;
	return 0;
}

static int get_family(const struct nlattr *a, uint8_t *family)
{
	if (!a)
		return -EINVAL;
	*family = mnl_attr_get_u8(a);
	return *family == AF_INET || *family == AF_INET6 ? 0 : -EINVAL;
}

static int get_addr(const struct nlattr *a, uint8_t family, struct upn_addr *out)
{
	if (!a || mnl_attr_get_payload_len(a) != (family == AF_INET ? 4 : 16))
		return -EINVAL;
	upn_addr_set(out, family, mnl_attr_get_payload(a));
	return 0;
}

static int get_cause(const struct nlattr *a, uint8_t *cause)
{
	if (!a)
		return -EINVAL;
	*cause = mnl_attr_get_u8(a);
	return *cause && *cause <= UPNOTIFY_CAUSE_MAX ? 0 : -EINVAL;
}

int upn_genl_decode_event(const struct nlmsghdr *nlh, uint16_t family_id, struct upn_event *ev)
{
	const struct nlattr *tb[UPNOTIFY_A_MAX + 1];
	uint8_t cmd = 0, family = 0;
	int ret = parse(nlh, family_id, tb, &cmd);

	memset(ev, 0, sizeof(*ev));
	if (ret)
		return ret;
	if (cmd != UPNOTIFY_CMD_FAILED_ACCESS_NTF && cmd != UPNOTIFY_CMD_SERVER_DOWN_NTF &&
	    cmd != UPNOTIFY_CMD_SERVER_UP_NTF)
		return UPN_GENL_OTHER;
	ev->type = cmd;
	if (get_family(tb[UPNOTIFY_A_FAMILY], &family) ||
	    get_addr(tb[UPNOTIFY_A_SERVER], family, &ev->server) ||
	    get_cause(tb[UPNOTIFY_A_CAUSE], &ev->cause))
		goto bad;
	/* The client is the point of a failed access; in SERVER_UP it is optional. */
	if ((cmd == UPNOTIFY_CMD_FAILED_ACCESS_NTF || tb[UPNOTIFY_A_CLIENT]) &&
	    get_addr(tb[UPNOTIFY_A_CLIENT], family, &ev->client))
		goto bad;
	if (cmd == UPNOTIFY_CMD_FAILED_ACCESS_NTF) {
		/* The code decides whether the host is down or one service refuses. */
		if (ev->cause == UPNOTIFY_CAUSE_ICMP_UNREACH && !tb[UPNOTIFY_A_ICMP_CODE])
			goto bad;
		if (tb[UPNOTIFY_A_PROTO])
			ev->proto = mnl_attr_get_u8(tb[UPNOTIFY_A_PROTO]);
		if (tb[UPNOTIFY_A_PORT])
			ev->port = mnl_attr_get_u16(tb[UPNOTIFY_A_PORT]);
		if (tb[UPNOTIFY_A_ICMP_TYPE])
			ev->icmp_type = mnl_attr_get_u8(tb[UPNOTIFY_A_ICMP_TYPE]);
		if (tb[UPNOTIFY_A_ICMP_CODE])
			ev->icmp_code = mnl_attr_get_u8(tb[UPNOTIFY_A_ICMP_CODE]);
	}
	if (tb[UPNOTIFY_A_TIMESTAMP])
		ev->ts_ns = mnl_attr_get_u64(tb[UPNOTIFY_A_TIMESTAMP]);
	return UPN_GENL_OK;
bad:
	memset(ev, 0, sizeof(*ev));
	return -EINVAL;
}

int upn_genl_decode_server(const struct nlmsghdr *nlh, uint16_t family_id,
			   struct upn_genl_server *out)
{
	const struct nlattr *tb[UPNOTIFY_A_MAX + 1];
	uint8_t cmd = 0, family = 0;
	int ret = parse(nlh, family_id, tb, &cmd);

	memset(out, 0, sizeof(*out));
	if (ret)
		return ret;
	if (cmd != UPNOTIFY_CMD_GET_SERVERS)
		return UPN_GENL_OTHER;
	if (get_family(tb[UPNOTIFY_A_FAMILY], &family) ||
	    get_addr(tb[UPNOTIFY_A_SERVER], family, &out->addr) || !tb[UPNOTIFY_A_STATE] ||
	    mnl_attr_get_u8(tb[UPNOTIFY_A_STATE]) > UPNOTIFY_STATE_MAX ||
	    (tb[UPNOTIFY_A_CAUSE] && get_cause(tb[UPNOTIFY_A_CAUSE], &out->cause))) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	out->state = mnl_attr_get_u8(tb[UPNOTIFY_A_STATE]);
	if (tb[UPNOTIFY_A_TIMESTAMP])
		out->ts_ns = mnl_attr_get_u64(tb[UPNOTIFY_A_TIMESTAMP]);
	/* Repeated, so not in @tb alone; parse() has checked each one's length. */
	if (tb[UPNOTIFY_A_PORT]) {
		const struct nlattr *a;
		size_t n = 0;

		mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
			uint16_t port;

			if (mnl_attr_get_type(a) != UPNOTIFY_A_PORT)
				continue;
			port = mnl_attr_get_u16(a);
			if (port && n < UPN_GENL_PORTS)
				out->ports[n++] = port;
		}
	}
	return UPN_GENL_OK;
}

struct stats_ctx {
	uint64_t *v;
	size_t n;
};

static int stat_cb(const struct nlattr *attr, void *data)
{
	struct stats_ctx *s = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == UPNOTIFY_STAT_PAD || type == UPNOTIFY_STAT_UNSPEC || type >= s->n)
		return MNL_CB_OK;
	if (mnl_attr_get_payload_len(attr) != sizeof(uint64_t))
		return MNL_CB_ERROR;
	s->v[type] = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

int upn_genl_decode_stats(const struct nlmsghdr *nlh, uint16_t family_id, uint64_t *stats,
			  size_t nstats)
{
	const struct nlattr *tb[UPNOTIFY_A_MAX + 1];
	struct stats_ctx s = { stats, nstats };
	uint8_t cmd = 0;
	int ret = parse(nlh, family_id, tb, &cmd);

	if (ret)
		return ret;
	if (cmd != UPNOTIFY_CMD_GET_STATS)
		return UPN_GENL_OTHER;
	if (!tb[UPNOTIFY_A_STATS] || mnl_attr_parse_nested(tb[UPNOTIFY_A_STATS], stat_cb, &s) < 0)
		return -EINVAL;
	return UPN_GENL_OK;
}

/* ---- the controller ---------------------------------------------------------- */

static int group_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == CTRL_ATTR_MCAST_GRP_NAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	if (type == CTRL_ATTR_MCAST_GRP_ID && mnl_attr_get_payload_len(attr) != sizeof(uint32_t))
		return MNL_CB_ERROR;
	if (type <= CTRL_ATTR_MCAST_GRP_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int ctrl_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == CTRL_ATTR_FAMILY_ID && mnl_attr_get_payload_len(attr) != sizeof(uint16_t))
		return MNL_CB_ERROR;
	if (type == CTRL_ATTR_MCAST_GROUPS && mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
		return MNL_CB_ERROR;
	if (type <= CTRL_ATTR_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

int upn_genl_decode_family(const struct nlmsghdr *nlh, struct upn_genl_family *fam)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { NULL }, *grp;

	if (nlh->nlmsg_type != GENL_ID_CTRL)
		return UPN_GENL_OTHER;
	if (mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN ||
	    mnl_attr_parse(nlh, GENL_HDRLEN, ctrl_cb, tb) < 0 || !tb[CTRL_ATTR_FAMILY_ID])
		return -EINVAL;
	fam->id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	fam->events = 0;
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return UPN_GENL_OK;
	mnl_attr_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS]) {
		const struct nlattr *g[CTRL_ATTR_MCAST_GRP_MAX + 1] = { NULL };

		if (mnl_attr_parse_nested(grp, group_cb, g) < 0)
			return -EINVAL;
		if (g[CTRL_ATTR_MCAST_GRP_NAME] && g[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(mnl_attr_get_str(g[CTRL_ATTR_MCAST_GRP_NAME]), UPNOTIFY_MCGRP_EVENTS))
			fam->events = mnl_attr_get_u32(g[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return UPN_GENL_OK;
}

struct mnl_socket *upn_genl_open(int flags)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, flags | SOCK_CLOEXEC);
	int on = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	/* The kernel's reason for a refusal, and no copy of our request in the ack.
	 * Both are optional: an old kernel just says less. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof(on));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof(on));
	return nl;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return upn_genl_decode_family(nlh, data) < 0 ? -EBADMSG : 0;
}

int upn_genl_resolve(struct mnl_socket *nl, struct upn_genl_family *fam, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	int ret;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, UPNOTIFY_GENL_NAME);
	memset(fam, 0, sizeof(*fam));
	ret = upn_genl_request(nl, nlh, family_cb, fam, err, errlen);
	if (!ret && !fam->id)
		ret = -ENOENT;
	if (!ret && !fam->events) {
		snprintf(err, errlen, "the family has no \"%s\" group", UPNOTIFY_MCGRP_EVENTS);
		ret = -ENOENT;
	}
	return ret;
}

int upn_genl_subscribe(struct mnl_socket *nl, const struct upn_genl_family *fam)
{
	int grp = (int)fam->events, on = 1;

	/* Without it the kernel hides from the sender that our buffer overflowed, and
	 * the module's UPNOTIFY_STAT_EVENT_FAILS would not count what we lost. */
	mnl_socket_setsockopt(nl, NETLINK_BROADCAST_ERROR, &on, sizeof(on));
	return mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) ? -errno : 0;
}

/* ---- requests ---------------------------------------------------------------- */

static struct nlmsghdr *put_cmd(void *buf, size_t len, uint16_t family_id, uint8_t cmd,
				uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	if (len < MNL_NLMSG_HDRLEN + GENL_HDRLEN)
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = UPNOTIFY_GENL_VERSION;
	return nlh;
}

static bool put_addr(struct nlmsghdr *nlh, size_t len, uint16_t fam_type, uint16_t addr_type,
		     const struct upn_addr *a)
{
	return mnl_attr_put_u8_check(nlh, len, fam_type, a->family) &&
	       mnl_attr_put_check(nlh, len, addr_type, upn_addr_len(a), a->a);
}

struct nlmsghdr *upn_genl_put_set_server_ports(void *buf, size_t len, uint16_t family_id,
					       uint32_t seq, const struct upn_addr *server,
					       uint8_t state, uint8_t cause, const uint16_t *ports,
					       size_t nports)
{
	struct nlmsghdr *nlh =
		put_cmd(buf, len, family_id, UPNOTIFY_CMD_SET_SERVER, NLM_F_ACK, seq);

	if (!nlh || !put_addr(nlh, len, UPNOTIFY_A_FAMILY, UPNOTIFY_A_SERVER, server) ||
	    !mnl_attr_put_u8_check(nlh, len, UPNOTIFY_A_STATE, state) ||
	    (cause && !mnl_attr_put_u8_check(nlh, len, UPNOTIFY_A_CAUSE, cause)))
		return NULL;
	for (size_t i = 0; i < nports; i++)
		if (ports[i] && !mnl_attr_put_u16_check(nlh, len, UPNOTIFY_A_PORT, ports[i]))
			return NULL;
	return nlh;
}

struct nlmsghdr *upn_genl_put_set_server(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					 const struct upn_addr *server, uint8_t state,
					 uint8_t cause)
{
	return upn_genl_put_set_server_ports(buf, len, family_id, seq, server, state, cause, NULL,
					     0);
}

static bool put_prefixes(struct nlmsghdr *nlh, size_t len, uint16_t type,
			 const struct upn_prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct nlattr *nest = mnl_attr_nest_start_check(nlh, len, type);

		if (!nest ||
		    !put_addr(nlh, len, UPNOTIFY_A_PREFIX_FAMILY, UPNOTIFY_A_PREFIX_ADDR,
			      &v[i].addr) ||
		    !mnl_attr_put_u8_check(nlh, len, UPNOTIFY_A_PREFIX_LEN, v[i].len))
			return false;
		mnl_attr_nest_end(nlh, nest);
	}
	return true;
}

struct nlmsghdr *upn_genl_put_set_watch(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					const struct upn_prefix *watch, size_t nwatch,
					const struct upn_prefix *ignore, size_t nignore)
{
	struct nlmsghdr *nlh = put_cmd(buf, len, family_id, UPNOTIFY_CMD_SET_WATCH, NLM_F_ACK, seq);

	if (!nlh || !put_prefixes(nlh, len, UPNOTIFY_A_WATCH, watch, nwatch) ||
	    !put_prefixes(nlh, len, UPNOTIFY_A_IGNORE, ignore, nignore))
		return NULL;
	return nlh;
}

struct nlmsghdr *upn_genl_put_set_config(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					 const struct upn_genl_config *c)
{
	struct nlmsghdr *nlh =
		put_cmd(buf, len, family_id, UPNOTIFY_CMD_SET_CONFIG, NLM_F_ACK, seq);

	if (!nlh ||
	    !mnl_attr_put_u32_check(nlh, len, UPNOTIFY_A_SYN_TIMEOUT_MS, c->syn_timeout_ms) ||
	    !mnl_attr_put_u8_check(nlh, len, UPNOTIFY_A_COUNT_REFUSED, c->count_refused) ||
	    (c->mode && !mnl_attr_put_u8_check(nlh, len, UPNOTIFY_A_MODE, c->mode)) ||
	    (c->icmp_codes &&
	     !mnl_attr_put_check(nlh, len, UPNOTIFY_A_ICMP_CODES, 32, c->icmp_codes)) ||
	    (c->icmp6_codes &&
	     !mnl_attr_put_check(nlh, len, UPNOTIFY_A_ICMP6_CODES, 32, c->icmp6_codes)))
		return NULL;
	return nlh;
}

struct nlmsghdr *upn_genl_put_get_stats(void *buf, size_t len, uint16_t family_id, uint32_t seq)
{
	return put_cmd(buf, len, family_id, UPNOTIFY_CMD_GET_STATS, NLM_F_ACK, seq);
}

/* A dump ends with NLMSG_DONE; no ack is asked for. */
struct nlmsghdr *upn_genl_put_get_servers(void *buf, size_t len, uint16_t family_id, uint32_t seq)
{
	return put_cmd(buf, len, family_id, UPNOTIFY_CMD_GET_SERVERS, NLM_F_DUMP, seq);
}

static int ext_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		tb[NLMSGERR_ATTR_MSG] = attr;
	return MNL_CB_OK;
}

/* The error of an ack (0 for success), with the extended ack's text in @err. */
static int ack_error(const struct nlmsghdr *nlh, char *err, size_t errlen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	size_t off = sizeof(*e), plen = mnl_nlmsg_get_payload_len(nlh);

	if (plen < sizeof(*e))
		return -EBADMSG;
	if (e->error >= 0)
		return 0;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= sizeof(e->msg))
		off += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(e->msg));
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off < plen)
		mnl_attr_parse(nlh, (unsigned int)off, ext_cb, tb);
	snprintf(err, errlen, "%s%s%s", strerror(-e->error), tb[NLMSGERR_ATTR_MSG] ? ": " : "",
		 tb[NLMSGERR_ATTR_MSG] ? mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]) : "");
	return e->error;
}

int upn_genl_request(struct mnl_socket *nl, struct nlmsghdr *req,
		     int (*cb)(const struct nlmsghdr *nlh, void *data), void *data, char *err,
		     size_t errlen)
{
	char buf[UPN_GENL_MSGBUF];
	uint32_t portid = mnl_socket_get_portid(nl), seq = req->nlmsg_seq;
	bool intr = false;
	int ret = 0;

	if (errlen)
		err[0] = '\0';
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		ret = -errno;
		snprintf(err, errlen, "send: %s", strerror(errno));
		return ret;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			snprintf(err, errlen, "receive: %s", strerror(errno));
			return ret;
		}
		for (; upn_genl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			/* An answer to an earlier request that timed out, say. */
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				int e = ack_error(nlh, err, errlen);

				return e ? e : intr ? -EINTR : ret;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				const int *e = mnl_nlmsg_get_payload(nlh);

				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*e) && *e < 0) {
					snprintf(err, errlen, "%s", strerror(-*e));
					return *e;
				}
				return intr ? -EINTR : ret;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (cb && !ret && !intr) {
				int r = cb(nlh, data);

				if (r < 0) {
					ret = r;
					snprintf(err, errlen, "bad reply: %s", strerror(-r));
				}
			}
			/* A lone reply to a request that asked for no ack ends it. */
			if (!(nlh->nlmsg_flags & NLM_F_MULTI) && !(req->nlmsg_flags & NLM_F_ACK))
				return ret;
		}
	}
}
