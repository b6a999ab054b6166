/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The "upnotify" generic netlink family (include/uapi/linux/upnotify.h) from userspace:
 * resolving it, decoding its events strictly, and building its requests. Shared by
 * upnotifyd's kmod source and `upnotifyctl monitor`. */
#ifndef UPN_GENL_H
#define UPN_GENL_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "event.h"

struct upn_genl_family {
	uint16_t id;	 /* nlmsg_type of the family's messages */
	uint32_t events; /* multicast group id of "events"; 0: none */
};

/* What SET_CONFIG carries. */
struct upn_genl_config {
	uint32_t syn_timeout_ms;
	bool count_refused;
	uint8_t mode;				 /* enum upnotify_mode */
	const uint8_t *icmp_codes, *icmp6_codes; /* 32-byte bitmaps */
};

/* The ports of a refusing server that a dump record or SET_SERVER carries, at most;
 * the module's cap, and the daemon's UPN_WAITLIST_PORTS. */
#define UPN_GENL_PORTS 4

/* One record of a GET_SERVERS dump. */
struct upn_genl_server {
	struct upn_addr addr;
	uint8_t state; /* enum upnotify_state */
	uint8_t cause;
	uint64_t ts_ns;
	uint16_t ports[UPN_GENL_PORTS]; /* refusing: its UPNOTIFY_A_PORTs; 0 ends them */
};

/* Results of the decoders: anything negative is a bad message. */
enum {
	UPN_GENL_OK = 0,
	UPN_GENL_OTHER = 1, /* well formed, but not what was asked for (another family,
			     * command or control message): skip it */
};

/* mnl_nlmsg_ok() for walking a received buffer, without its flaw: libmnl compares
 * nlmsg_len as an int, so a length of 2^31 or more passes and the walk runs off. */
static inline bool upn_genl_msg_ok(const struct nlmsghdr *nlh, int len)
{
	return mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (unsigned int)len;
}

/* Opens a NETLINK_GENERIC socket (@flags: SOCK_NONBLOCK, ...) and binds it. */
struct mnl_socket *upn_genl_open(int flags);
/* Asks the controller for the family; -ENOENT when the module is not loaded, other
 * -errno with a message in @err. */
int upn_genl_resolve(struct mnl_socket *nl, struct upn_genl_family *fam, char *err, size_t errlen);
/* Joins the "events" group, with NETLINK_BROADCAST_ERROR so that the module counts
 * the events our socket had no room for. 0 or -errno. */
int upn_genl_subscribe(struct mnl_socket *nl, const struct upn_genl_family *fam);

/* Decoders of one message. A message of another type or command is UPN_GENL_OTHER;
 * wrong lengths, a family other than AF_INET/AF_INET6, an address whose length does
 * not match it, a cause or state out of range or a missing attribute are -EINVAL.
 * Attributes this header does not know are skipped. An event without a timestamp
 * gets ts_ns 0. */
int upn_genl_decode_event(const struct nlmsghdr *nlh, uint16_t family_id, struct upn_event *ev);
int upn_genl_decode_server(const struct nlmsghdr *nlh, uint16_t family_id,
			   struct upn_genl_server *out);
/* GET_STATS reply into @stats, indexed by enum upnotify_stat_attrs; counters the
 * reply lacks stay as they were. */
int upn_genl_decode_stats(const struct nlmsghdr *nlh, uint16_t family_id, uint64_t *stats,
			  size_t nstats);
/* The controller's reply to CTRL_CMD_GETFAMILY. */
int upn_genl_decode_family(const struct nlmsghdr *nlh, struct upn_genl_family *fam);

/* Request builders: each writes one message at the start of @buf (@len bytes) and
 * returns it, or NULL when it does not fit. NLM_F_ACK is set; @seq is the caller's. */
struct nlmsghdr *upn_genl_put_set_server(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					 const struct upn_addr *server, uint8_t state,
					 uint8_t cause);
/* The same with one UPNOTIFY_A_PORT for each non-zero of @ports (STATE_REFUSING). */
struct nlmsghdr *upn_genl_put_set_server_ports(void *buf, size_t len, uint16_t family_id,
					       uint32_t seq, const struct upn_addr *server,
					       uint8_t state, uint8_t cause, const uint16_t *ports,
					       size_t nports);
struct nlmsghdr *upn_genl_put_set_watch(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					const struct upn_prefix *watch, size_t nwatch,
					const struct upn_prefix *ignore, size_t nignore);
struct nlmsghdr *upn_genl_put_set_config(void *buf, size_t len, uint16_t family_id, uint32_t seq,
					 const struct upn_genl_config *c);
struct nlmsghdr *upn_genl_put_get_stats(void *buf, size_t len, uint16_t family_id, uint32_t seq);
struct nlmsghdr *upn_genl_put_get_servers(void *buf, size_t len, uint16_t family_id, uint32_t seq);

/* Sends @req on a blocking socket and reads its answer: @cb (may be NULL) sees each
 * reply message, up to the ack or the end of a dump. Returns 0, -EINTR when a dump
 * was interrupted (NLM_F_DUMP_INTR: read to its end; start it over), the @cb's
 * negative return, or -errno with the kernel's extended ack text, if any, in @err. */
int upn_genl_request(struct mnl_socket *nl, struct nlmsghdr *req,
		     int (*cb)(const struct nlmsghdr *nlh, void *data), void *data, char *err,
		     size_t errlen);

#endif
