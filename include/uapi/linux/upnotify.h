/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upnotify: failed-access and recovery events over generic netlink.
 *
 * Family name "upnotify" (UPNOTIFY_GENL_NAME), version 1 (UPNOTIFY_GENL_VERSION).
 * Resolve the family id through the generic netlink controller (CTRL_CMD_GETFAMILY);
 * the reply also carries the id of the multicast group "events" (UPNOTIFY_MCGRP_EVENTS),
 * which a subscriber joins with setsockopt(NETLINK_ADD_MEMBERSHIP).
 *
 * Every operation requires CAP_NET_ADMIN in the user namespace that owns the network
 * namespace. The family is per network namespace: events from one namespace are only
 * multicast to sockets in that namespace.
 *
 * Addresses are raw network-order bytes: 4 bytes for AF_INET, 16 for AF_INET6, always
 * accompanied by UPNOTIFY_A_FAMILY. Ports are u16 in host order. Times are u64
 * nanoseconds since the Unix epoch (CLOCK_REALTIME). Subscribers must skip attributes
 * they do not know; the family grows by adding attributes, never by renumbering.
 *
 * Events (multicast on "events", kernel -> userspace)
 * ---------------------------------------------------
 * UPNOTIFY_CMD_FAILED_ACCESS_NTF: a client tried to reach a server and could not.
 *	UPNOTIFY_A_FAMILY	u8	AF_INET or AF_INET6
 *	UPNOTIFY_A_CLIENT	binary	client address (the SYN's source; the ICMP's inner source)
 *	UPNOTIFY_A_SERVER	binary	server address (the SYN's destination; inner destination)
 *	UPNOTIFY_A_PROTO	u8	IPPROTO_TCP, IPPROTO_UDP, ... of the failed attempt
 *	UPNOTIFY_A_PORT		u16	server port (0 when the protocol has none)
 *	UPNOTIFY_A_CAUSE	u8	enum upnotify_cause: ICMP_UNREACH, SYN_TIMEOUT or REFUSED
 *	UPNOTIFY_A_ICMP_TYPE	u8	only with ICMP_UNREACH: the ICMP or ICMPv6 type
 *	UPNOTIFY_A_ICMP_CODE	u8	only with ICMP_UNREACH: the ICMP or ICMPv6 code
 *	UPNOTIFY_A_TIMESTAMP	u64	when the failure was observed
 *
 * UPNOTIFY_CMD_SERVER_DOWN_NTF: a server is now considered down. Every later SYN to it
 * is a failed access at once, without waiting for the SYN timeout.
 *	UPNOTIFY_A_FAMILY, UPNOTIFY_A_SERVER, UPNOTIFY_A_CAUSE, UPNOTIFY_A_TIMESTAMP
 *
 * UPNOTIFY_CMD_SERVER_UP_NTF: a down server has recovered, or a refusing server answered
 * a SYN on one of its recorded ports with a SYN/ACK.
 *	UPNOTIFY_A_FAMILY, UPNOTIFY_A_SERVER, UPNOTIFY_A_TIMESTAMP
 *	UPNOTIFY_A_CAUSE	u8	SYNACK, TRAP, NEIGH, PROBE or MANUAL
 *	UPNOTIFY_A_CLIENT	binary	with SYNACK: the client whose handshake completed;
 *					it needs no notification
 *
 * Commands (userspace -> kernel)
 * ------------------------------
 * UPNOTIFY_CMD_GET_STATS (doit): replies with one UPNOTIFY_CMD_GET_STATS message holding
 *	a nest UPNOTIFY_A_STATS of u64 counters (enum upnotify_stat_attrs).
 *
 * UPNOTIFY_CMD_GET_SERVERS (dumpit): one message per down or refusing server, each with
 *	UPNOTIFY_A_FAMILY, UPNOTIFY_A_SERVER, UPNOTIFY_A_STATE (STATE_DOWN or
 *	STATE_REFUSING), UPNOTIFY_A_CAUSE and UPNOTIFY_A_TIMESTAMP (since when); a
 *	refusing server also has its recorded ports, one UPNOTIFY_A_PORT each (1 to 4).
 *	The dump is consistent: if the table changes while it is read, the kernel sets
 *	NLM_F_DUMP_INTR and the reader must start over.
 *
 * UPNOTIFY_CMD_SET_SERVER (doit): force a server's state, e.g. after an SNMP trap,
 *	a probe or an operator's command.
 *	UPNOTIFY_A_FAMILY, UPNOTIFY_A_SERVER	required
 *	UPNOTIFY_A_STATE	u8	required, enum upnotify_state
 *	UPNOTIFY_A_CAUSE	u8	optional, reported in the resulting event
 *	UPNOTIFY_A_PORT		u16	repeated; with STATE_REFUSING only, and required
 *					there (at least one, non-zero): the TCP ports
 *					its clients were refused on; the first 4 count
 *	STATE_UP forgets the server, down or refusing (SERVER_UP_NTF if it was known).
 *	STATE_DOWN marks it down (a refusing one too) and reports its pending SYNs;
 *	but with UPNOTIFY_CAUSE_NEIGH (the daemon saw the server's ARP/NDP entry fail)
 *	it only reports, with cause NEIGH, the SYNs to that server still waiting for
 *	their SYN/ACK, and marks it down only if there was at least one, as a SYN
 *	timeout would; with none pending it changes nothing and still returns 0.
 *	STATE_REFUSING records a refusing server with its ports (the daemon pushes its
 *	own at start), adding the ports to those of one already refusing; a server
 *	already down stays down. No event is sent for it.
 *
 * UPNOTIFY_CMD_SET_WATCH (doit): replace the watched prefixes and ignored clients.
 *	Zero or more UPNOTIFY_A_WATCH nests and UPNOTIFY_A_IGNORE nests, each holding
 *	UPNOTIFY_A_PREFIX_FAMILY (u8), UPNOTIFY_A_PREFIX_ADDR (binary) and
 *	UPNOTIFY_A_PREFIX_LEN (u8). No UPNOTIFY_A_WATCH at all means "watch every server".
 *	Host bits set beyond the prefix length are rejected with EINVAL.
 *
 * UPNOTIFY_CMD_GET_WATCH (doit): replies with the same attributes as SET_WATCH.
 *
 * UPNOTIFY_CMD_SET_CONFIG / UPNOTIFY_CMD_GET_CONFIG (doit): tuning of this network
 *	namespace, all optional. A namespace starts with the module's sysfs defaults
 *	(/sys/module/upnotify/parameters/).
 *	UPNOTIFY_A_SYN_TIMEOUT_MS	u32	how long a SYN may wait for its SYN/ACK,
 *						100..3600000
 *	UPNOTIFY_A_COUNT_REFUSED	u8	0/1: is a RST answering a SYN a failed access
 *	UPNOTIFY_A_MODE			u8	enum upnotify_mode: which hooks are registered
 *	UPNOTIFY_A_ICMP_CODES		binary	32 bytes, a bitmap of the ICMP
 *						destination-unreachable codes that count (bit
 *						c of byte c / 8 for code c)
 *	UPNOTIFY_A_ICMP6_CODES		binary	32 bytes, the same for ICMPv6
 *
 * A server becomes down when a SYN to it times out, or when an ICMP/ICMPv6 error says
 * the host itself is unreachable (net or host unreachable or unknown, prohibited,
 * ICMPv6 no route or address unreachable); a RST or a port unreachable says one
 * service is closed, not that the host is down. SET_SERVER with STATE_DOWN also
 * reports at once, as failed accesses with its cause, every SYN to that server still
 * waiting for its SYN/ACK (with cause NEIGH, only that: see SET_SERVER).
 *
 * A server that is not down becomes refusing when a TCP attempt to it is REFUSED, or
 * answered by an ICMP port or protocol unreachable (ICMPv6 port unreachable): one
 * service is closed, the host is up. The server ports of those attempts are
 * recorded, the first 4 (other protocols leave no record: no SYN/ACK could show
 * them back). SYNs to a refusing server are tracked as usual, not failed at once. A
 * SYN/ACK from it on one of its ports forgets it and sends SERVER_UP_NTF with cause
 * SYNACK and the client; a failure that says the host is down makes it down
 * (SERVER_DOWN_NTF). Down and refusing servers share one table and its cap
 * (SERVERS_FULL counts what did not fit). Becoming refusing has no event of its
 * own: the FAILED_ACCESS_NTF says it.
 *
 * A reference subscriber is `upnotifyctl monitor` (userspace/upnotifyctl/monitor.c):
 * it resolves the family, joins "events" and prints every event, like conntrack -E.
 * Events come in batches: one skb may hold several messages; walk them all.
 * A subscriber should set NETLINK_BROADCAST_ERROR on its socket: only then does the
 * module learn that the socket had no room, and count the events in EVENT_FAILS.
 * On ENOBUFS, enlarge the receive buffer and read GET_SERVERS again.
 *
 * Errors come back as netlink error messages with extended ACK text where possible.
 */
#ifndef _UAPI_LINUX_UPNOTIFY_H
#define _UAPI_LINUX_UPNOTIFY_H

#define UPNOTIFY_GENL_NAME	"upnotify"
#define UPNOTIFY_GENL_VERSION	1
#define UPNOTIFY_MCGRP_EVENTS	"events"

enum upnotify_cmd {
	UPNOTIFY_CMD_UNSPEC,
	UPNOTIFY_CMD_FAILED_ACCESS_NTF,
	UPNOTIFY_CMD_SERVER_DOWN_NTF,
	UPNOTIFY_CMD_SERVER_UP_NTF,
	UPNOTIFY_CMD_GET_STATS,
	UPNOTIFY_CMD_GET_SERVERS,
	UPNOTIFY_CMD_SET_SERVER,
	UPNOTIFY_CMD_SET_WATCH,
	UPNOTIFY_CMD_GET_WATCH,
	UPNOTIFY_CMD_SET_CONFIG,
	UPNOTIFY_CMD_GET_CONFIG,
	__UPNOTIFY_CMD_MAX
};
#define UPNOTIFY_CMD_MAX (__UPNOTIFY_CMD_MAX - 1)

/* Why a client failed, why a server went down, or why it came back. */
enum upnotify_cause {
	UPNOTIFY_CAUSE_UNSPEC,
	UPNOTIFY_CAUSE_ICMP_UNREACH,	/* ICMP/ICMPv6 destination unreachable */
	UPNOTIFY_CAUSE_SYN_TIMEOUT,	/* no SYN/ACK (ack = seq + 1) in time */
	UPNOTIFY_CAUSE_REFUSED,		/* the SYN was answered by a RST */
	UPNOTIFY_CAUSE_SERVER_DOWN,	/* SYN to a server already known down */
	UPNOTIFY_CAUSE_SYNACK,		/* recovery: the server answered a SYN */
	UPNOTIFY_CAUSE_TRAP,		/* recovery: SNMP trap from the server */
	UPNOTIFY_CAUSE_NEIGH,		/* recovery or failure: ARP/NDP entry state */
	UPNOTIFY_CAUSE_PROBE,		/* recovery: active probe succeeded */
	UPNOTIFY_CAUSE_MANUAL,		/* an operator's command */
	__UPNOTIFY_CAUSE_MAX
};
#define UPNOTIFY_CAUSE_MAX (__UPNOTIFY_CAUSE_MAX - 1)

enum upnotify_state {
	UPNOTIFY_STATE_UP,
	UPNOTIFY_STATE_DOWN,
	UPNOTIFY_STATE_REFUSING,	/* a service refused its clients; the host is up */
	__UPNOTIFY_STATE_MAX
};
#define UPNOTIFY_STATE_MAX (__UPNOTIFY_STATE_MAX - 1)

enum upnotify_attrs {
	UPNOTIFY_A_UNSPEC,
	UPNOTIFY_A_FAMILY,		/* u8 */
	UPNOTIFY_A_CLIENT,		/* binary, 4 or 16 bytes */
	UPNOTIFY_A_SERVER,		/* binary, 4 or 16 bytes */
	UPNOTIFY_A_PROTO,		/* u8 */
	UPNOTIFY_A_PORT,		/* u16 */
	UPNOTIFY_A_CAUSE,		/* u8, enum upnotify_cause */
	UPNOTIFY_A_ICMP_TYPE,		/* u8 */
	UPNOTIFY_A_ICMP_CODE,		/* u8 */
	UPNOTIFY_A_TIMESTAMP,		/* u64, ns since the epoch */
	UPNOTIFY_A_STATE,		/* u8, enum upnotify_state */
	UPNOTIFY_A_STATS,		/* nest, enum upnotify_stat_attrs */
	UPNOTIFY_A_WATCH,		/* nest, enum upnotify_prefix_attrs; repeated */
	UPNOTIFY_A_IGNORE,		/* nest, enum upnotify_prefix_attrs; repeated */
	UPNOTIFY_A_SYN_TIMEOUT_MS,	/* u32 */
	UPNOTIFY_A_COUNT_REFUSED,	/* u8 */
	UPNOTIFY_A_PAD,
	UPNOTIFY_A_MODE,		/* u8, enum upnotify_mode */
	UPNOTIFY_A_ICMP_CODES,		/* binary, 32 bytes: bitmap of ICMP codes */
	UPNOTIFY_A_ICMP6_CODES,		/* binary, 32 bytes: bitmap of ICMPv6 codes */
	__UPNOTIFY_A_MAX
};
#define UPNOTIFY_A_MAX (__UPNOTIFY_A_MAX - 1)

/* Which traffic the hooks of a namespace see. */
enum upnotify_mode {
	UPNOTIFY_MODE_GATEWAY = 1,	/* FORWARD, and LOCAL_OUT for the box's own ICMP */
	UPNOTIFY_MODE_HOST = 2,		/* LOCAL_IN and LOCAL_OUT: the box is client or server */
	UPNOTIFY_MODE_ALL = 3,		/* both */
};

enum upnotify_prefix_attrs {
	UPNOTIFY_A_PREFIX_UNSPEC,
	UPNOTIFY_A_PREFIX_FAMILY,	/* u8 */
	UPNOTIFY_A_PREFIX_ADDR,		/* binary, 4 or 16 bytes */
	UPNOTIFY_A_PREFIX_LEN,		/* u8, 0..32 or 0..128 */
	__UPNOTIFY_A_PREFIX_MAX
};
#define UPNOTIFY_A_PREFIX_MAX (__UPNOTIFY_A_PREFIX_MAX - 1)

/* Counters in UPNOTIFY_A_STATS, all u64. */
enum upnotify_stat_attrs {
	UPNOTIFY_STAT_UNSPEC,
	UPNOTIFY_STAT_PACKETS,		/* packets that reached the hooks' slow path */
	UPNOTIFY_STAT_SYNS_TRACKED,	/* SYNs that created a pending entry */
	UPNOTIFY_STAT_EVENTS,		/* events multicast */
	UPNOTIFY_STAT_EVENT_FAILS,	/* events lost: no memory or no room in a socket */
	UPNOTIFY_STAT_TABLE_FULL,	/* SYNs not tracked because the table was full */
	UPNOTIFY_STAT_MALFORMED,	/* truncated or inconsistent packets ignored */
	UPNOTIFY_STAT_PENDING,		/* pending SYNs now (a gauge) */
	UPNOTIFY_STAT_DOWN_SERVERS,	/* down servers now (a gauge) */
	UPNOTIFY_STAT_PAD,
	UPNOTIFY_STAT_TRUNCATED,	/* headers cut short */
	UPNOTIFY_STAT_SYN,		/* SYNs to watched servers */
	UPNOTIFY_STAT_SYNACK,
	UPNOTIFY_STAT_RST,
	UPNOTIFY_STAT_UNREACH,		/* ICMP/ICMPv6 destination unreachables */
	UPNOTIFY_STAT_NOT_WATCHED,	/* server outside every watched prefix */
	UPNOTIFY_STAT_IGNORED_CLIENT,	/* client inside an ignored prefix */
	UPNOTIFY_STAT_ICMP_CODE_IGNORED,	/* an unreachable code that does not count */
	UPNOTIFY_STAT_SYN_RETRANSMITS,	/* SYNs of an attempt already pending */
	UPNOTIFY_STAT_UNREACH_REPEATS,	/* ICMP errors for an attempt already reported */
	UPNOTIFY_STAT_SYN_ANSWERED,	/* pending SYNs cleared by their SYN/ACK */
	UPNOTIFY_STAT_SYN_TIMEOUTS,
	UPNOTIFY_STAT_REFUSED,		/* RSTs answering a pending SYN, reported */
	UPNOTIFY_STAT_REFUSED_IGNORED,	/* ... not reported: count_refused is 0 */
	UPNOTIFY_STAT_SERVERS_FULL,	/* servers not marked down or refusing: table full */
	UPNOTIFY_STAT_REFUSING_SERVERS,	/* refusing servers now (a gauge) */
	__UPNOTIFY_STAT_MAX
};
#define UPNOTIFY_STAT_MAX (__UPNOTIFY_STAT_MAX - 1)

#endif /* _UAPI_LINUX_UPNOTIFY_H */
