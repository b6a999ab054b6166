/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Every cap, timeout and buffer size of upnotifyd, with the reason for its value. */
#ifndef UPN_LIMITS_H
#define UPN_LIMITS_H

enum upn_limits {
	/* Pending SYNs waiting for a SYN/ACK. ~100 B each, so the default costs 25 MiB at
	 * worst; a flood beyond it is counted (drops.pending_full), never tracked. */
	UPN_PENDING_MAX_DEFAULT = 262144,
	UPN_PENDING_MAX_LIMIT = 16777216,

	/* Waitlist: clients remembered per down server and in all. An outage seen by a
	 * whole campus fits; a spoofed-source flood cannot exhaust memory. */
	UPN_WAITLIST_PER_SERVER_DEFAULT = 65536,
	UPN_WAITLIST_TOTAL_DEFAULT = 1048576,
	UPN_WAITLIST_TOTAL_LIMIT = 67108864,

	/* Ports remembered per server for recognising a refusing service's return. */
	UPN_WAITLIST_PORTS = 4,

	/* Entries in the client mail table. */
	UPN_CLIENTS_MAX = 1048576,
	/* Entries in the server mail table: one per server or subnet with an agent or a
	 * webhook, written by hand, so a few thousand at most in practice. */
	UPN_SRVMAP_MAX = 65536,
	/* Clients in one relay list unless [relay] max_clients says otherwise: some
	 * 12 MB of mail body, about what an MTA takes in one message by default. */
	UPN_RELAY_MAX_CLIENTS_DEFAULT = 100000,

	/* RFC 5321 caps a path at 256 octets including the brackets. */
	UPN_MAIL_MAX = 254,

	/* The portal's gateway_url, the base of every link in its mails and pages: an
	 * address, a port and a short path, with room to spare. */
	UPN_URL_MAX = 200,

	/* The portal: server ports it intercepts; the defaults of its abuse limits. A
	 * person registers once or twice; a script trying addresses hits these at once. */
	UPN_PORTAL_PORTS_MAX = 16,
	UPN_PORTAL_CLIENT_RATE_DEFAULT = 5,    /* registrations per client per hour */
	UPN_PORTAL_ADDRESS_RATE_DEFAULT = 3,   /* per mail address per hour */
	UPN_PORTAL_SERVER_MAX_DEFAULT = 10000, /* registrations per server and outage */
	UPN_PORTAL_CONNECTIONS_DEFAULT = 1024,
	UPN_PORTAL_TIMEOUT_DEFAULT_S = 10, /* a whole request; slowloris gets no more */
	UPN_PORTAL_BODY_DEFAULT = 4096,	   /* a form with one address is ~300 bytes */
	UPN_PORTAL_BODY_LIMIT = 65536,
	/* Rate-limit buckets (clients and addresses) held at once; beyond, the oldest idle
	 * one is forgotten, so a flood of spoofed sources cannot grow memory. */
	UPN_PORTAL_BUCKETS = 65536,

	/* Bytes copied per queued packet: an IPv6 header with a few extension headers,
	 * ICMPv6, the inner IPv6 header and 8 bytes of TCP fit; bulk payload never does. */
	UPN_NFQ_COPY_RANGE = 256,
	/* Packets the kernel may hold for us before it starts failing open. */
	UPN_NFQ_QUEUE_MAXLEN = 8192,
	/* Socket receive buffer asked for with SO_RCVBUFFORCE. */
	UPN_NFQ_RCVBUF = 8 << 20,

	/* The kernel module's events (source kmod). An event is ~200 bytes of skb; 8 MiB
	 * holds a burst of some 40000 before the first overrun, and every overrun doubles
	 * it up to the cap. */
	UPN_KMOD_RCVBUF = 8 << 20,
	UPN_KMOD_RCVBUF_MAX = 64 << 20,
	/* One read: the module batches events into skbs of at most a few pages. */
	UPN_KMOD_MSGBUF = 65536,
	/* Reads per dispatch before we return to the loop, to keep it fair. */
	UPN_KMOD_READS_PER_DISPATCH = 64,
	/* A dump interrupted this often in a row (the table churns) is given up. */
	UPN_KMOD_DUMP_TRIES = 8,
	/* The module answers at once; a command waiting longer has gone astray. */
	UPN_KMOD_CMD_TIMEOUT_MS = 2000,
	/* Overruns lose failed accesses for good: say so at most once a minute. */
	UPN_KMOD_LOST_LOG_MS = 60000,

	/* Control socket: a request is one JSON line; more is an error, not a read loop.
	 * Room for a command mail (`upnotifyctl mail`) of UPN_CMD_RAW_MAX escaped in
	 * JSON or base64. */
	UPN_CTL_REQUEST_MAX = 4 << 20,
	/* A command mail: a few lines of text; anything larger is not one. */
	UPN_CMD_RAW_MAX = 1 << 20,
	UPN_CTL_CLIENTS_MAX = 32,
	/* A control client that neither finishes a request nor reads its reply. */
	UPN_CTL_IDLE_MS = 30000,

	/* Store: the longest a change waits before it is handed to the writer thread,
	 * so a flood costs at most one commit (one fsync) per interval; a batch this
	 * large goes at once; and how long the writer waits after a failed commit. */
	UPN_STORE_FLUSH_MS = 20,
	UPN_STORE_BATCH_MAX = 65536,
	UPN_STORE_RETRY_MS = 1000,
	UPN_STORE_BUSY_TIMEOUT_MS = 5000,

	/* syn_timeout bounds: below 100 ms a healthy but distant server looks dead. */
	UPN_SYN_TIMEOUT_DEFAULT_MS = 30000,
	UPN_SYN_TIMEOUT_MIN_MS = 100,
	UPN_SYN_TIMEOUT_MAX_MS = 3600000,

	/* A Unix socket path must fit sun_path (108 bytes with its NUL). */
	UPN_CTL_PATH_MAX = 108,

	/* Active probes. */
	/* Servers probed at once. Only servers that are down and have someone waiting
	 * are here, a handful in practice; the cap bounds a flood of spoofed "servers". */
	UPN_PROBE_SERVERS_MAX = 4096,
	/* Ports per server, as upn_probe_watch() documents. */
	UPN_PROBE_PORTS_MAX = 8,
	/* Connects in flight at once, so file descriptors stay bounded well under a
	 * daemon's usual RLIMIT_NOFILE of 1024 whatever the number of servers; a round
	 * that finds no room waits UPN_PROBE_BUSY_RETRY_MS. */
	UPN_PROBE_INFLIGHT_MAX = 256,
	UPN_PROBE_BUSY_RETRY_MS = 100,
	/* A connect gets min(probe_interval, this): a server that takes longer than
	 * 5 s to complete a handshake is not serving anyone yet. */
	UPN_PROBE_CONNECT_TIMEOUT_MS = 5000,

	/* The neighbour monitor. */
	/* A neighbour event costs about 1 KiB of socket buffer (skb overhead included),
	 * so the start holds a burst of ~1000 changes, more than a /22 going stale at
	 * once; each overrun doubles it up to the cap. */
	UPN_NEIGH_RCVBUF = 1 << 20,
	UPN_NEIGH_RCVBUF_MAX = 32 << 20,
	/* A dump reply fills at most 32 KiB (the kernel sizes it to our buffer); a
	 * smaller buffer would truncate it. */
	UPN_NEIGH_MSGBUF = 32768,
};

#endif
