// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The module's generic netlink family "upnotify" (include/uapi/linux/upnotify.h) from
 * a test's point of view, with libmnl only: it shares no code with userspace/lib/genl.c,
 * so that a test checks the module against an independent reading of the header, and
 * it can send what no well-behaved client would.
 *
 *   genlpoke family                 family id, version and the "events" group id
 *   genlpoke stats                  the stats nest as name=value lines
 *   genlpoke stat NAME              one counter's value (e.g. pending, table_full)
 *   genlpoke servers                the GET_SERVERS dump, one "ADDR state cause ns" a
 *                                   line (refusing: then " ports=P,P..."); restarted
 *                                   on NLM_F_DUMP_INTR (noted on stderr as
 *                                   "dump-intr", at most 10 times)
 *   genlpoke set-server ADDR up|down [CAUSE]
 *   genlpoke get-config | set-config KEY=VALUE...   (syn_timeout_ms, count_refused, mode)
 *   genlpoke get-watch | set-watch [watch PREFIX]... [ignore PREFIX]...
 *   genlpoke raw [--dump] CMD [SPEC...]
 *       sends CMD (a name such as set_config, or a number) with the attributes in the
 *       order given, well formed or not. SPEC is NAME=KIND:VALUE, NAME an attribute
 *       name (family, server, syn_timeout_ms, ..., prefix_len) or a number, KIND one
 *       of u8 u16 u32 u64 str hex addr (4 or 16 raw bytes) empty; NAME=nest opens a
 *       nest, a lone "end" closes it:
 *         genlpoke raw set_server family=u8:2 server=hex:cb00710201 state=u8:1
 *         genlpoke raw set_watch watch=nest prefix_family=u8:2 \
 *             prefix_addr=addr:203.0.113.1 prefix_len=u8:24 end
 *   genlpoke listen [--rcvbuf BYTES] [--count N] [--timeout S] [--delay S] [--verbose]
 *       joins "events", prints "listening" when it has, then reads until N events (if
 *       given) or S seconds (default 10); ENOBUFS is counted and reading goes on.
 *       --delay: sleep S seconds after joining before the first read. The socket has
 *       NETLINK_BROADCAST_ERROR, so that the module learns of (and counts in
 *       event_fails) the events this listener loses.
 *       Ends with "events=N failed_access=N server_down=N server_up=N other=N
 *       overruns=N". --rcvbuf sets SO_RCVBUF (the kernel doubles it, minimum ~2 KiB).
 *
 * A request gets NLM_F_ACK and the socket NETLINK_EXT_ACK: an error is printed as
 * "error: -22 (Invalid argument): <extack message>" on stdout (plus "error-offset: N"
 * when the kernel names the bad attribute). Exit status: 0 success; 1 the kernel
 * refused the request; 2 usage; 3 the family is not there or a local failure; 4
 * listen ended by its timeout before --count events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/upnotify.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BUFSZ (1 << 16)

static struct mnl_socket *nl;
static uint16_t fam_id;
static uint8_t fam_version;
static uint32_t grp_events;
static uint32_t seq;
static char buf[BUFSZ];

static const char *const cmd_names[] = {
	[UPNOTIFY_CMD_FAILED_ACCESS_NTF] = "failed_access_ntf",
	[UPNOTIFY_CMD_SERVER_DOWN_NTF] = "server_down_ntf",
	[UPNOTIFY_CMD_SERVER_UP_NTF] = "server_up_ntf",
	[UPNOTIFY_CMD_GET_STATS] = "get_stats",
	[UPNOTIFY_CMD_GET_SERVERS] = "get_servers",
	[UPNOTIFY_CMD_SET_SERVER] = "set_server",
	[UPNOTIFY_CMD_SET_WATCH] = "set_watch",
	[UPNOTIFY_CMD_GET_WATCH] = "get_watch",
	[UPNOTIFY_CMD_SET_CONFIG] = "set_config",
	[UPNOTIFY_CMD_GET_CONFIG] = "get_config",
};

static const char *const attr_names[] = {
	[UPNOTIFY_A_FAMILY] = "family",
	[UPNOTIFY_A_CLIENT] = "client",
	[UPNOTIFY_A_SERVER] = "server",
	[UPNOTIFY_A_PROTO] = "proto",
	[UPNOTIFY_A_PORT] = "port",
	[UPNOTIFY_A_CAUSE] = "cause",
	[UPNOTIFY_A_ICMP_TYPE] = "icmp_type",
	[UPNOTIFY_A_ICMP_CODE] = "icmp_code",
	[UPNOTIFY_A_TIMESTAMP] = "timestamp",
	[UPNOTIFY_A_STATE] = "state",
	[UPNOTIFY_A_STATS] = "stats",
	[UPNOTIFY_A_WATCH] = "watch",
	[UPNOTIFY_A_IGNORE] = "ignore",
	[UPNOTIFY_A_SYN_TIMEOUT_MS] = "syn_timeout_ms",
	[UPNOTIFY_A_COUNT_REFUSED] = "count_refused",
	[UPNOTIFY_A_PAD] = "pad",
	[UPNOTIFY_A_MODE] = "mode",
	[UPNOTIFY_A_ICMP_CODES] = "icmp_codes",
	[UPNOTIFY_A_ICMP6_CODES] = "icmp6_codes",
};

static const char *const prefix_attr_names[] = {
	[UPNOTIFY_A_PREFIX_FAMILY] = "prefix_family",
	[UPNOTIFY_A_PREFIX_ADDR] = "prefix_addr",
	[UPNOTIFY_A_PREFIX_LEN] = "prefix_len",
};

static const char *const stat_names[] = {
	[UPNOTIFY_STAT_PACKETS] = "packets",
	[UPNOTIFY_STAT_SYNS_TRACKED] = "syns_tracked",
	[UPNOTIFY_STAT_EVENTS] = "events",
	[UPNOTIFY_STAT_EVENT_FAILS] = "event_fails",
	[UPNOTIFY_STAT_TABLE_FULL] = "table_full",
	[UPNOTIFY_STAT_MALFORMED] = "malformed",
	[UPNOTIFY_STAT_PENDING] = "pending",
	[UPNOTIFY_STAT_DOWN_SERVERS] = "down_servers",
	[UPNOTIFY_STAT_TRUNCATED] = "truncated",
	[UPNOTIFY_STAT_SYN] = "syn",
	[UPNOTIFY_STAT_SYNACK] = "synack",
	[UPNOTIFY_STAT_RST] = "rst",
	[UPNOTIFY_STAT_UNREACH] = "unreach",
	[UPNOTIFY_STAT_NOT_WATCHED] = "not_watched",
	[UPNOTIFY_STAT_IGNORED_CLIENT] = "ignored_client",
	[UPNOTIFY_STAT_ICMP_CODE_IGNORED] = "icmp_code_ignored",
	[UPNOTIFY_STAT_SYN_RETRANSMITS] = "syn_retransmits",
	[UPNOTIFY_STAT_UNREACH_REPEATS] = "unreach_repeats",
	[UPNOTIFY_STAT_SYN_ANSWERED] = "syn_answered",
	[UPNOTIFY_STAT_SYN_TIMEOUTS] = "syn_timeouts",
	[UPNOTIFY_STAT_REFUSED] = "refused",
	[UPNOTIFY_STAT_REFUSED_IGNORED] = "refused_ignored",
	[UPNOTIFY_STAT_SERVERS_FULL] = "servers_full",
	[UPNOTIFY_STAT_REFUSING_SERVERS] = "refusing_servers",
};

static const char *const cause_names[] = {
	[UPNOTIFY_CAUSE_UNSPEC] = "unspec",
	[UPNOTIFY_CAUSE_ICMP_UNREACH] = "icmp-unreach",
	[UPNOTIFY_CAUSE_SYN_TIMEOUT] = "syn-timeout",
	[UPNOTIFY_CAUSE_REFUSED] = "refused",
	[UPNOTIFY_CAUSE_SERVER_DOWN] = "server-down",
	[UPNOTIFY_CAUSE_SYNACK] = "synack",
	[UPNOTIFY_CAUSE_TRAP] = "trap",
	[UPNOTIFY_CAUSE_NEIGH] = "neigh",
	[UPNOTIFY_CAUSE_PROBE] = "probe",
	[UPNOTIFY_CAUSE_MANUAL] = "manual",
};

static const char *const mode_names[] = {
	[UPNOTIFY_MODE_GATEWAY] = "gateway",
	[UPNOTIFY_MODE_HOST] = "host",
	[UPNOTIFY_MODE_ALL] = "all",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void usage(void)
{
	fprintf(stderr,
		"usage: genlpoke family | stats | stat NAME | servers |\n"
		"       set-server ADDR up|down [CAUSE] | get-config | set-config K=V... |\n"
		"       get-watch | set-watch [watch|ignore PREFIX]... |\n"
		"       raw [--dump] CMD [NAME=KIND:VALUE | NAME=nest | end]... |\n"
		"       listen [--rcvbuf B] [--count N] [--timeout S] [--delay S] [--verbose]\n");
	exit(2);
}

static void die(const char *what)
{
	fprintf(stderr, "genlpoke: %s: %s\n", what, strerror(errno));
	exit(3);
}

/* name_index: NAME in @names, or NAME as a number below @max; -1 if neither. */
static int name_index(const char *const *names, size_t n, const char *name, long max)
{
	char *end;
	long v;
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return (int)i;
	errno = 0;
	v = strtol(name, &end, 0);
	if (errno || end == name || *end || v < 0 || v > max)
		return -1;
	return (int)v;
}

static const char *name_of(const char *const *names, size_t n, unsigned int i)
{
	return i < n && names[i] ? names[i] : NULL;
}

/* --- requests and their answers ---------------------------------------------------- */

struct answer {
	int error;	/* the ack's error, 0 */
	char msg[512];	/* extack text */
	int offset;	/* extack offset of the bad attribute, -1 */
	bool dump_intr; /* some message of a dump had NLM_F_DUMP_INTR */
	mnl_cb_t cb;	/* each data message */
	void *data;
};

static int extack_attr(const struct nlattr *a, void *data)
{
	struct answer *ans = data;

	switch (mnl_attr_get_type(a)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(ans->msg, sizeof(ans->msg), "%s", mnl_attr_get_str(a));
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			ans->offset = (int)mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct answer *ans = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		ans->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	ans->error = e->error;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < nlh->nlmsg_len - sizeof(struct nlmsghdr))
			mnl_attr_parse(nlh, off, extack_attr, ans);
	}
	return MNL_CB_STOP;
}

static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct answer *ans = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ans->dump_intr = true;
	/* A dump that failed halfway ends with its error in NLMSG_DONE. */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int err = *(const int *)mnl_nlmsg_get_payload(nlh);

		if (err < 0)
			ans->error = err;
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			mnl_attr_parse(nlh, sizeof(int), extack_attr, ans);
	}
	return MNL_CB_STOP;
}

static int on_data(const struct nlmsghdr *nlh, void *data)
{
	struct answer *ans = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ans->dump_intr = true;
	return ans->cb ? ans->cb(nlh, ans->data) : MNL_CB_OK;
}

/* transact: send @nlh, read up to its ack or the end of its dump. */
static void transact(struct nlmsghdr *nlh, struct answer *ans)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = on_error,
		[NLMSG_DONE] = on_done,
	};
	struct answer *a = ans;
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	a->error = 0;
	a->msg[0] = 0;
	a->offset = -1;
	a->dump_intr = false;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("sendto");
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			die("recvfrom");
		ret = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, portid, on_data, a, ctl,
				  NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	if (ret < 0 && !a->error)
		a->error = -errno;
}

/* report: print a refused request; true if there was one. */
static bool report(const struct answer *a)
{
	if (!a->error)
		return false;
	printf("error: %d (%s)", a->error, strerror(-a->error));
	if (a->msg[0])
		printf(": %s", a->msg);
	printf("\n");
	if (a->offset >= 0)
		printf("error-offset: %d\n", a->offset);
	return true;
}

static struct nlmsghdr *put_genl(void *b, uint16_t type, uint16_t flags, uint8_t cmd,
				 uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/* --- the family ------------------------------------------------------------------- */

static int family_grp(const struct nlattr *a, void *data)
{
	const struct nlattr *x;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(x, a) {
		if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_NAME &&
		    mnl_attr_validate(x, MNL_TYPE_NUL_STRING) >= 0)
			name = mnl_attr_get_str(x);
		else if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_ID &&
			 mnl_attr_validate(x, MNL_TYPE_U32) >= 0)
			id = mnl_attr_get_u32(x);
	}
	if (name && !strcmp(name, UPNOTIFY_MCGRP_EVENTS))
		grp_events = id;
	return MNL_CB_OK;
}

static int family_attr(const struct nlattr *a, void *data)
{
	const struct nlattr *g;

	switch (mnl_attr_get_type(a)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(a, MNL_TYPE_U16) >= 0)
			fam_id = mnl_attr_get_u16(a);
		break;
	case CTRL_ATTR_VERSION:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			fam_version = (uint8_t)mnl_attr_get_u32(a);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		mnl_attr_for_each_nested(g, a)
			family_grp(g, data);
		break;
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr, data);
}

static void resolve(void)
{
	struct answer a = { .cb = family_cb };
	struct nlmsghdr *nlh;
	int one = 1;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		die("socket(NETLINK_GENERIC)");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("bind");
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	/* The error carries the request's header only: the extack follows at once. */
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nlh = put_genl(buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, UPNOTIFY_GENL_NAME);
	transact(nlh, &a);
	if (a.error || !fam_id) {
		fprintf(stderr, "genlpoke: family %s: %s%s\n", UPNOTIFY_GENL_NAME,
			a.error ? strerror(-a.error) : "no id in the reply",
			a.error == -ENOENT ? " (is the module loaded?)" : "");
		exit(3);
	}
}

/* --- addresses ------------------------------------------------------------------ */

struct addr {
	uint8_t family;
	uint8_t len;
	uint8_t bytes[16];
};

static bool parse_addr(const char *s, struct addr *a)
{
	if (inet_pton(AF_INET, s, a->bytes) == 1) {
		a->family = AF_INET;
		a->len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->bytes) == 1) {
		a->family = AF_INET6;
		a->len = 16;
		return true;
	}
	return false;
}

static const char *addr_str(uint8_t family, const void *p, size_t len, char *out, size_t outlen)
{
	if ((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16))
		return inet_ntop(family, p, out, (socklen_t)outlen);
	snprintf(out, outlen, "?(family %u, %zu bytes)", family, len);
	return out;
}

/* --- stats ------------------------------------------------------------------------ */

struct stats_want {
	const char *name; /* one counter, or NULL for all */
	bool found;
};

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats_want *w = data;
	const char *want = w->name;
	const struct nlattr *a, *s;
	char name[32];

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != UPNOTIFY_A_STATS)
			continue;
		mnl_attr_for_each_nested(s, a) {
			uint16_t t = mnl_attr_get_type(s);
			const char *n = name_of(stat_names, NELEM(stat_names), t);

			if (t == UPNOTIFY_STAT_PAD)
				continue;
			if (!n) {
				snprintf(name, sizeof(name), "stat_%u", t);
				n = name;
			}
			if (want && strcmp(want, n))
				continue;
			w->found = true;
			if (mnl_attr_get_payload_len(s) == 8 && want)
				printf("%" PRIu64 "\n", mnl_attr_get_u64(s));
			else if (mnl_attr_get_payload_len(s) == 8)
				printf("%s=%" PRIu64 "\n", n, mnl_attr_get_u64(s));
			else
				printf("%s=?(%u bytes)\n", n, mnl_attr_get_payload_len(s));
		}
	}
	return MNL_CB_OK;
}

static int cmd_stats(const char *want)
{
	struct stats_want w = { .name = want };
	struct answer a = { .cb = stats_cb, .data = &w };

	transact(put_genl(buf, fam_id, NLM_F_ACK, UPNOTIFY_CMD_GET_STATS, UPNOTIFY_GENL_VERSION),
		 &a);
	if (report(&a))
		return 1;
	if (want && !w.found) {
		fprintf(stderr, "genlpoke: no counter %s in the reply\n", want);
		return 3;
	}
	return 0;
}

/* --- servers ---------------------------------------------------------------------- */

static int server_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;
	const void *addr = NULL;
	size_t alen = 0;
	unsigned int family = 0, state = 0, cause = 0;
	uint64_t ts = 0;
	const char *cn;
	char s[INET6_ADDRSTRLEN + 32], ports[64] = "";
	size_t pl = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case UPNOTIFY_A_FAMILY:
			family = mnl_attr_get_u8(a);
			break;
		case UPNOTIFY_A_SERVER:
			addr = mnl_attr_get_payload(a);
			alen = mnl_attr_get_payload_len(a);
			break;
		case UPNOTIFY_A_STATE:
			state = mnl_attr_get_u8(a);
			break;
		case UPNOTIFY_A_CAUSE:
			cause = mnl_attr_get_u8(a);
			break;
		case UPNOTIFY_A_TIMESTAMP:
			ts = mnl_attr_get_u64(a);
			break;
		case UPNOTIFY_A_PORT:
			if (pl < sizeof(ports) - 8)
				pl += (size_t)snprintf(ports + pl, sizeof(ports) - pl, "%s%u",
						       pl ? "," : " ports=", mnl_attr_get_u16(a));
			break;
		}
	}
	cn = name_of(cause_names, NELEM(cause_names), cause);
	printf("%s %s %s %" PRIu64 "%s\n", addr_str((uint8_t)family, addr, alen, s, sizeof(s)),
	       state == UPNOTIFY_STATE_DOWN	? "down" :
	       state == UPNOTIFY_STATE_UP	? "up" :
	       state == UPNOTIFY_STATE_REFUSING ? "refusing" :
						  "?",
	       cn ? cn : "?", ts, ports);
	return MNL_CB_OK;
}

static int cmd_servers(void)
{
	struct answer a = { .cb = server_cb };
	int tries;

	for (tries = 0; tries < 10; tries++) {
		transact(put_genl(buf, fam_id, NLM_F_DUMP, UPNOTIFY_CMD_GET_SERVERS,
				  UPNOTIFY_GENL_VERSION),
			 &a);
		if (report(&a))
			return 1;
		if (!a.dump_intr)
			return 0;
		fprintf(stderr, "dump-intr\n");
		printf("--- restart\n");
	}
	fprintf(stderr, "genlpoke: the dump was interrupted 10 times\n");
	return 3;
}

static int cmd_set_server(int argc, char **argv)
{
	struct answer a = { 0 };
	struct nlmsghdr *nlh;
	struct addr ad;
	int cause = -1;

	if (argc < 2 || argc > 3 || !parse_addr(argv[0], &ad))
		usage();
	if (strcmp(argv[1], "up") && strcmp(argv[1], "down"))
		usage();
	if (argc == 3 && (cause = name_index(cause_names, NELEM(cause_names), argv[2], 255)) < 0)
		usage();
	nlh = put_genl(buf, fam_id, NLM_F_ACK, UPNOTIFY_CMD_SET_SERVER, UPNOTIFY_GENL_VERSION);
	mnl_attr_put_u8(nlh, UPNOTIFY_A_FAMILY, ad.family);
	mnl_attr_put(nlh, UPNOTIFY_A_SERVER, ad.len, ad.bytes);
	mnl_attr_put_u8(nlh, UPNOTIFY_A_STATE,
			strcmp(argv[1], "down") ? UPNOTIFY_STATE_UP : UPNOTIFY_STATE_DOWN);
	if (cause >= 0)
		mnl_attr_put_u8(nlh, UPNOTIFY_A_CAUSE, (uint8_t)cause);
	transact(nlh, &a);
	return report(&a) ? 1 : 0;
}

/* --- config and watch --------------------------------------------------------------- */

static int config_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;
	const char *m;
	unsigned int i;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case UPNOTIFY_A_SYN_TIMEOUT_MS:
			printf("syn_timeout_ms=%u\n", mnl_attr_get_u32(a));
			break;
		case UPNOTIFY_A_COUNT_REFUSED:
			printf("count_refused=%u\n", mnl_attr_get_u8(a));
			break;
		case UPNOTIFY_A_MODE:
			m = name_of(mode_names, NELEM(mode_names), mnl_attr_get_u8(a));
			printf("mode=%s\n", m ? m : "?");
			break;
		case UPNOTIFY_A_ICMP_CODES:
		case UPNOTIFY_A_ICMP6_CODES:
			printf("%s=", mnl_attr_get_type(a) == UPNOTIFY_A_ICMP_CODES ?
					      "icmp_codes" :
					      "icmp6_codes");
			for (i = 0; i < mnl_attr_get_payload_len(a); i++)
				printf("%02x", ((const uint8_t *)mnl_attr_get_payload(a))[i]);
			printf("\n");
			break;
		}
	}
	return MNL_CB_OK;
}

static int cmd_get(uint8_t cmd, mnl_cb_t cb)
{
	struct answer a = { .cb = cb };

	transact(put_genl(buf, fam_id, NLM_F_ACK, cmd, UPNOTIFY_GENL_VERSION), &a);
	return report(&a) ? 1 : 0;
}

static int cmd_set_config(int argc, char **argv)
{
	struct answer a = { 0 };
	struct nlmsghdr *nlh;
	int i, m;

	nlh = put_genl(buf, fam_id, NLM_F_ACK, UPNOTIFY_CMD_SET_CONFIG, UPNOTIFY_GENL_VERSION);
	for (i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');

		if (!v)
			usage();
		*v++ = 0;
		if (!strcmp(argv[i], "syn_timeout_ms"))
			mnl_attr_put_u32(nlh, UPNOTIFY_A_SYN_TIMEOUT_MS,
					 (uint32_t)strtoul(v, NULL, 0));
		else if (!strcmp(argv[i], "count_refused"))
			mnl_attr_put_u8(nlh, UPNOTIFY_A_COUNT_REFUSED,
					(uint8_t)strtoul(v, NULL, 0));
		else if (!strcmp(argv[i], "mode") &&
			 (m = name_index(mode_names, NELEM(mode_names), v, 255)) >= 0)
			mnl_attr_put_u8(nlh, UPNOTIFY_A_MODE, (uint8_t)m);
		else
			usage();
	}
	transact(nlh, &a);
	return report(&a) ? 1 : 0;
}

static int watch_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *p;
	char s[INET6_ADDRSTRLEN + 32];

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		uint16_t t = mnl_attr_get_type(a);
		unsigned int family = 0, len = 0;
		const void *addr = NULL;
		size_t alen = 0;

		if (t != UPNOTIFY_A_WATCH && t != UPNOTIFY_A_IGNORE)
			continue;
		mnl_attr_for_each_nested(p, a) {
			switch (mnl_attr_get_type(p)) {
			case UPNOTIFY_A_PREFIX_FAMILY:
				family = mnl_attr_get_u8(p);
				break;
			case UPNOTIFY_A_PREFIX_ADDR:
				addr = mnl_attr_get_payload(p);
				alen = mnl_attr_get_payload_len(p);
				break;
			case UPNOTIFY_A_PREFIX_LEN:
				len = mnl_attr_get_u8(p);
				break;
			}
		}
		printf("%s %s/%u\n", t == UPNOTIFY_A_WATCH ? "watch" : "ignore",
		       addr_str((uint8_t)family, addr, alen, s, sizeof(s)), len);
	}
	return MNL_CB_OK;
}

static int cmd_set_watch(int argc, char **argv)
{
	struct answer a = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct addr ad;
	char *slash;
	int i;

	nlh = put_genl(buf, fam_id, NLM_F_ACK, UPNOTIFY_CMD_SET_WATCH, UPNOTIFY_GENL_VERSION);
	for (i = 0; i + 1 < argc; i += 2) {
		bool watch = !strcmp(argv[i], "watch");
		unsigned long len;

		if (!watch && strcmp(argv[i], "ignore"))
			usage();
		slash = strchr(argv[i + 1], '/');
		if (slash)
			*slash++ = 0;
		if (!parse_addr(argv[i + 1], &ad))
			usage();
		len = slash ? strtoul(slash, NULL, 10) : ad.len * 8u;
		nest = mnl_attr_nest_start(nlh, watch ? UPNOTIFY_A_WATCH : UPNOTIFY_A_IGNORE);
		mnl_attr_put_u8(nlh, UPNOTIFY_A_PREFIX_FAMILY, ad.family);
		mnl_attr_put(nlh, UPNOTIFY_A_PREFIX_ADDR, ad.len, ad.bytes);
		mnl_attr_put_u8(nlh, UPNOTIFY_A_PREFIX_LEN, (uint8_t)len);
		mnl_attr_nest_end(nlh, nest);
	}
	if (i != argc)
		usage();
	transact(nlh, &a);
	return report(&a) ? 1 : 0;
}

/* --- raw ---------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool put_spec(struct nlmsghdr *nlh, char *spec, bool in_nest)
{
	char *kind = strchr(spec, '='), *val;
	uint8_t bytes[256];
	struct addr ad;
	size_t n = 0;
	int type;

	if (!kind)
		return false;
	*kind++ = 0;
	type = in_nest ? name_index(prefix_attr_names, NELEM(prefix_attr_names), spec, 0x7fff) :
			 name_index(attr_names, NELEM(attr_names), spec, 0x7fff);
	if (type < 0)
		type = name_index(attr_names, NELEM(attr_names), spec, 0x7fff);
	if (type < 0)
		type = name_index(prefix_attr_names, NELEM(prefix_attr_names), spec, 0x7fff);
	if (type < 0) {
		fprintf(stderr, "genlpoke: unknown attribute %s\n", spec);
		return false;
	}
	val = strchr(kind, ':');
	if (val)
		*val++ = 0;
	if (!strcmp(kind, "empty")) {
		mnl_attr_put(nlh, (uint16_t)type, 0, NULL);
		return true;
	}
	if (!val)
		return false;
	if (!strcmp(kind, "u8"))
		mnl_attr_put_u8(nlh, (uint16_t)type, (uint8_t)strtoull(val, NULL, 0));
	else if (!strcmp(kind, "u16"))
		mnl_attr_put_u16(nlh, (uint16_t)type, (uint16_t)strtoull(val, NULL, 0));
	else if (!strcmp(kind, "u32"))
		mnl_attr_put_u32(nlh, (uint16_t)type, (uint32_t)strtoull(val, NULL, 0));
	else if (!strcmp(kind, "u64"))
		mnl_attr_put_u64(nlh, (uint16_t)type, (uint64_t)strtoull(val, NULL, 0));
	else if (!strcmp(kind, "str"))
		mnl_attr_put_strz(nlh, (uint16_t)type, val);
	else if (!strcmp(kind, "addr") && parse_addr(val, &ad))
		mnl_attr_put(nlh, (uint16_t)type, ad.len, ad.bytes);
	else if (!strcmp(kind, "hex")) {
		for (; val[0] && val[1] && n < sizeof(bytes); val += 2) {
			if (hexval(val[0]) < 0 || hexval(val[1]) < 0)
				return false;
			bytes[n++] = (uint8_t)(hexval(val[0]) << 4 | hexval(val[1]));
		}
		if (*val)
			return false;
		mnl_attr_put(nlh, (uint16_t)type, n, bytes);
	} else
		return false;
	return true;
}

static int raw_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	const char *cn = name_of(cmd_names, NELEM(cmd_names), g->cmd);

	printf("reply cmd=%s", cn ? cn : "?");
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		const char *an = name_of(attr_names, NELEM(attr_names), mnl_attr_get_type(a));
		const uint8_t *p = mnl_attr_get_payload(a);
		unsigned int i;

		if (an)
			printf(" %s=", an);
		else
			printf(" %u=", mnl_attr_get_type(a));
		for (i = 0; i < mnl_attr_get_payload_len(a); i++)
			printf("%02x", p[i]);
	}
	printf("\n");
	return MNL_CB_OK;
}

static int cmd_raw(int argc, char **argv)
{
	struct answer a = { .cb = raw_cb };
	struct nlattr *nests[8];
	struct nlmsghdr *nlh;
	int depth = 0, cmd, i = 0;
	bool dump = false;

	if (i < argc && !strcmp(argv[i], "--dump")) {
		dump = true;
		i++;
	}
	if (i >= argc)
		usage();
	cmd = name_index(cmd_names, NELEM(cmd_names), argv[i], 255);
	if (cmd < 0)
		usage();
	if (cmd == UPNOTIFY_CMD_GET_SERVERS)
		dump = true;
	nlh = put_genl(buf, fam_id, dump ? NLM_F_DUMP | NLM_F_ACK : NLM_F_ACK, (uint8_t)cmd,
		       UPNOTIFY_GENL_VERSION);
	for (i++; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (!strcmp(argv[i], "end")) {
			if (!depth)
				usage();
			mnl_attr_nest_end(nlh, nests[--depth]);
		} else if (l > 5 && !strcmp(argv[i] + l - 5, "=nest")) {
			int t;

			argv[i][l - 5] = 0;
			t = name_index(attr_names, NELEM(attr_names), argv[i], 0x7fff);
			if (t < 0 || depth == (int)NELEM(nests))
				usage();
			nests[depth++] = mnl_attr_nest_start(nlh, (uint16_t)t);
		} else if (!put_spec(nlh, argv[i], depth > 0)) {
			fprintf(stderr, "genlpoke: bad attribute spec %s\n", argv[i]);
			usage();
		}
	}
	while (depth)
		mnl_attr_nest_end(nlh, nests[--depth]);
	transact(nlh, &a);
	if (report(&a))
		return 1;
	printf(a.dump_intr ? "ok (dump-intr)\n" : "ok\n");
	return 0;
}

/* --- listen -------------------------------------------------------------------------- */

struct tally {
	unsigned long events, failed, down, up, other;
	bool verbose;
};

static void print_event(const struct nlmsghdr *nlh, uint8_t cmd)
{
	const struct nlattr *a;
	unsigned int family = 0;
	char s[INET6_ADDRSTRLEN + 32];
	const char *cn;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == UPNOTIFY_A_FAMILY)
			family = mnl_attr_get_u8(a);
	cn = name_of(cmd_names, NELEM(cmd_names), cmd);
	printf("%s", cn ? cn : "?");
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case UPNOTIFY_A_CLIENT:
		case UPNOTIFY_A_SERVER:
			printf(" %s=%s",
			       mnl_attr_get_type(a) == UPNOTIFY_A_CLIENT ? "client" : "server",
			       addr_str((uint8_t)family, mnl_attr_get_payload(a),
					mnl_attr_get_payload_len(a), s, sizeof(s)));
			break;
		case UPNOTIFY_A_PORT:
			printf(" port=%u", mnl_attr_get_u16(a));
			break;
		case UPNOTIFY_A_PROTO:
			printf(" proto=%u", mnl_attr_get_u8(a));
			break;
		case UPNOTIFY_A_CAUSE:
			cn = name_of(cause_names, NELEM(cause_names), mnl_attr_get_u8(a));
			printf(" cause=%s", cn ? cn : "?");
			break;
		}
	}
	printf("\n");
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tally *t = data;
	const struct genlmsghdr *g;

	if (nlh->nlmsg_type != fam_id || mnl_nlmsg_get_payload_len(nlh) < sizeof(*g))
		return MNL_CB_OK;
	g = mnl_nlmsg_get_payload(nlh);
	t->events++;
	switch (g->cmd) {
	case UPNOTIFY_CMD_FAILED_ACCESS_NTF:
		t->failed++;
		break;
	case UPNOTIFY_CMD_SERVER_DOWN_NTF:
		t->down++;
		break;
	case UPNOTIFY_CMD_SERVER_UP_NTF:
		t->up++;
		break;
	default:
		t->other++;
	}
	if (t->verbose)
		print_event(nlh, g->cmd);
	return MNL_CB_OK;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_listen(int argc, char **argv)
{
	struct tally t = { 0 };
	unsigned long count = 0, overruns = 0;
	double timeout = 10, delay = 0, end;
	int rcvbuf = 0, i, fd, ret = 0, one = 1;
	struct pollfd pfd;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose"))
			t.verbose = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--rcvbuf"))
			rcvbuf = atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--count"))
			count = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && !strcmp(argv[i], "--timeout"))
			timeout = strtod(argv[++i], NULL);
		else if (i + 1 < argc && !strcmp(argv[i], "--delay"))
			delay = strtod(argv[++i], NULL);
		else
			usage();
	}
	if (!grp_events) {
		fprintf(stderr, "genlpoke: the family has no group %s\n", UPNOTIFY_MCGRP_EVENTS);
		return 3;
	}
	fd = mnl_socket_get_fd(nl);
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		die("SO_RCVBUF");
	/* Without it the kernel tells the sender nothing of a listener's overrun, and
	 * the module could not count the events lost here in event_fails. */
	if (mnl_socket_setsockopt(nl, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) < 0)
		die("NETLINK_BROADCAST_ERROR");
	if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp_events, sizeof(grp_events)) < 0)
		die("NETLINK_ADD_MEMBERSHIP");
	printf("listening\n");
	fflush(stdout);
	end = now_s() + timeout;
	/* Not reading for a while lets a burst fill the buffer: an overrun for sure. */
	if (delay > 0) {
		struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };

		nanosleep(&ts, NULL);
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!count || t.events < count) {
		double left = end - now_s();
		ssize_t n;

		if (left <= 0) {
			ret = count ? 4 : 0;
			break;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (!(pfd.revents & (POLLIN | POLLERR)))
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) {
				overruns++;
				continue;
			}
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("recv");
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, event_cb, &t);
		if (t.verbose)
			fflush(stdout);
	}
	printf("events=%lu failed_access=%lu server_down=%lu server_up=%lu other=%lu overruns=%lu\n",
	       t.events, t.failed, t.down, t.up, t.other, overruns);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int ret;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	cmd = argv[1];
	{
		static const char known[] = " family stats stat servers set-server get-config "
					    "set-config get-watch set-watch raw listen ";
		char word[64];

		snprintf(word, sizeof(word), " %s ", cmd);
		if (strlen(cmd) > 40 || !strstr(known, word))
			usage();
	}
	resolve();
	if (!strcmp(cmd, "family")) {
		printf("id=%u version=%u events=%u\n", fam_id, fam_version, grp_events);
		ret = 0;
	} else if (!strcmp(cmd, "stats") && argc == 2)
		ret = cmd_stats(NULL);
	else if (!strcmp(cmd, "stat") && argc == 3)
		ret = cmd_stats(argv[2]);
	else if (!strcmp(cmd, "servers") && argc == 2)
		ret = cmd_servers();
	else if (!strcmp(cmd, "set-server"))
		ret = cmd_set_server(argc - 2, argv + 2);
	else if (!strcmp(cmd, "get-config") && argc == 2)
		ret = cmd_get(UPNOTIFY_CMD_GET_CONFIG, config_cb);
	else if (!strcmp(cmd, "set-config"))
		ret = cmd_set_config(argc - 2, argv + 2);
	else if (!strcmp(cmd, "get-watch") && argc == 2)
		ret = cmd_get(UPNOTIFY_CMD_GET_WATCH, watch_cb);
	else if (!strcmp(cmd, "set-watch"))
		ret = cmd_set_watch(argc - 2, argv + 2);
	else if (!strcmp(cmd, "raw"))
		ret = cmd_raw(argc - 2, argv + 2);
	else if (!strcmp(cmd, "listen"))
		ret = cmd_listen(argc - 2, argv + 2);
	else
		usage();
	mnl_socket_close(nl);
	return ret;
}
