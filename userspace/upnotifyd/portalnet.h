/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The portal's grip on the packet path. Connections to a down server's portal ports
 * are taken over by a local transparent listener: the nft table `inet upnotify_portal`
 * holds the down servers in sets down4/down6, and its prerouting chain hands their
 * SYNs to the listener with tproxy and a fwmark; a policy rule sends that mark to a
 * routing table whose only route is `local default dev lo`, so the packet is
 * delivered here instead of forwarded. The accepted socket's local address is the
 * server's. The table is written with libnftables; elements come and go with the
 * servers' states as one nf_tables transaction each, sent over nfnetlink directly,
 * because libnftables reads the whole ruleset before every command. */
#ifndef UPN_PORTALNET_H
#define UPN_PORTALNET_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define UPN_PORTALNET_TABLE "upnotify_portal"
#define UPN_PORTALNET_MARK_DEFAULT 0x75706e
#define UPN_PORTALNET_ROUTE_TABLE_DEFAULT 30570

struct upn_portalnet_config {
	const uint16_t *ports; /* portal ports, e.g. 80; at least one */
	size_t nports;
	uint16_t listen_port; /* the transparent listener's port */
	uint32_t mark;	      /* fwmark; 0 means UPN_PORTALNET_MARK_DEFAULT */
	uint32_t table;	      /* routing table; 0 means UPN_PORTALNET_ROUTE_TABLE_DEFAULT */
};

struct upn_portalnet;

struct upn_portalnet_stats {
	uint64_t added;	   /* successful upn_portalnet_add() calls */
	uint64_t removed;  /* successful upn_portalnet_del() calls */
	uint64_t errors;   /* add/del that failed even after rebuilding the table */
	uint64_t rebuilds; /* the table had gone (a firewall reload?) and was made again */
	uint32_t elements; /* addresses meant to be in down4 and down6 */
};

/* Creates (replacing any leftover of a crashed run) the nft table with its sets and
 * chain, plus `ip rule fwmark MARK lookup TABLE` and `local default dev lo table
 * TABLE` for IPv4 and IPv6 (a rule already there is not added twice; with IPv6
 * disabled, IPv4 only, with a warning). NULL with a message in @err; nothing is left
 * behind then. Blocks for a few ms, as does close(). */
struct upn_portalnet *upn_portalnet_open(const struct upn_portalnet_config *cfg, char *err,
					 size_t errlen);
/* Puts @server into (takes it out of) down4 or down6. 0 or -errno; adding an element
 * already present, or deleting an absent one, is 0. If the table is gone (somebody
 * flushed the ruleset) it is made again with every element we know, once per call.
 * Cheap enough for the event loop: one netlink round trip, some 10-30 us whatever
 * else the ruleset holds (a rebuild costs milliseconds). */
int upn_portalnet_add(struct upn_portalnet *pn, const struct upn_addr *server);
int upn_portalnet_del(struct upn_portalnet *pn, const struct upn_addr *server);
/* Removes everything open() added: the table, the rules, the routes. Safe with NULL. */
void upn_portalnet_close(struct upn_portalnet *pn);
void upn_portalnet_get_stats(const struct upn_portalnet *pn, struct upn_portalnet_stats *out);

/* The transparent listener: parses "ADDR:PORT" or "[V6ADDR]:PORT" (port 0: any free
 * port), makes a non-blocking, close-on-exec TCP socket with IP_TRANSPARENT (and
 * IPV6_TRANSPARENT for IPv6), SO_REUSEADDR, IPV6_V6ONLY=0, binds and listens. The
 * port bound goes to @port_out (may be NULL). Returns the fd or -errno with a message
 * in @err. tproxy looks the listener up by the arriving interface's address, so bind
 * it to a wildcard address ([::] or 0.0.0.0), not to one of the gateway's. */
int upn_portal_listen(const char *spec, uint16_t *port_out, char *err, size_t errlen);

#endif
