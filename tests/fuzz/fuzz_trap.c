// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * One datagram, as any sender may send it, to a trap receiver on 127.0.0.1: sent from
 * a UDP socket and read by upn_trap_read(), the daemon's own path through our v3
 * pre-filter, net-snmp's decoder and USM, the classification, and the Responses and
 * Reports that go back. The receiver is built once, with community "public", one
 * extra OID and the users the seeds were made with, bound to their engine IDs, so
 * that mutated seeds get through USM to the callback:
 *
 *   alice  SHA/AES          alice-auth-pass / alice-priv-pass  8000000001020304
 *   bob    SHA-512/AES-256  bob-auth-pass / bob-priv-pass      80001f8880aabbccdd
 *   carol  MD5/DES          carol-auth-pass / carol-priv-pass  80001f8880636172
 *
 * Seeds in corpus/fuzz_trap are datagrams snmptrap, snmpinform and snmpget sent.
 * Invariants: the datagram is read and ends in exactly one outcome; recovered() is
 * called once per accepted trap, with an OID of the set and an agent address;
 * libFuzzer's leak check finds nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "trap.h"

/* The largest UDP payload over IPv4. */
#define DATAGRAM_MAX 65507

static struct upn_trap *trap;
static int rx, tx;
static struct sockaddr_in to;
static unsigned int recoveries;

static bool wanted(void *ctx, const struct upn_addr *agent)
{
	static const uint8_t no[4] = { 198, 51, 100, 99 };

	return !(agent->family == AF_INET && !memcmp(agent->a, no, sizeof(no)));
}

static void recovered(void *ctx, const struct upn_addr *agent, const char *oid)
{
	static const char *const set[] = { "1.3.6.1.6.3.1.1.5.1", "1.3.6.1.6.3.1.1.5.2",
					   "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.4.1.8072.4.0.7" };
	bool known = false;
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		known |= !strcmp(oid, set[i]);
	CHECK(known);
	CHECK(agent->family == AF_INET || agent->family == AF_INET6);
	recoveries++;
}

static void user(struct upn_snmp_user *u, const char *name, const char *auth, const char *priv,
		 const char *engine)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->auth_proto, sizeof(u->auth_proto), "%s", auth);
	snprintf(u->auth_pass, sizeof(u->auth_pass), "%s-auth-pass", name);
	snprintf(u->priv_proto, sizeof(u->priv_proto), "%s", priv);
	snprintf(u->priv_pass, sizeof(u->priv_pass), "%s-priv-pass", name);
	snprintf(u->engine_id, sizeof(u->engine_id), "%s", engine);
}

static void build_once(void)
{
	static struct upn_snmp_user users[3];
	static char *oids[] = { "1.3.6.1.4.1.8072.4.0.7" };
	static struct upn_config cfg;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char err[256];

	upn_config_defaults(&cfg);
	snprintf(cfg.snmp_listen, sizeof(cfg.snmp_listen), "udp:127.0.0.1:0");
	snprintf(cfg.snmp_community, sizeof(cfg.snmp_community), "public");
	user(&users[0], "alice", "SHA", "AES", "0x8000000001020304");
	user(&users[1], "bob", "SHA-512", "AES-256", "80001f8880aabbccdd");
	user(&users[2], "carol", "MD5", "DES", "80001f8880636172");
	cfg.snmp_users = users;
	cfg.nsnmp_users = 3;
	cfg.trap_oids = oids;
	cfg.ntrap_oids = 1;
	trap = upn_trap_open(&cfg, wanted, recovered, NULL, err, sizeof(err));
	if (!trap) {
		fprintf(stderr, "upn_trap_open: %s\n", err);
		abort();
	}
	CHECK(upn_trap_fds(trap, &rx, 1) == 1);
	CHECK(!getsockname(rx, (struct sockaddr *)&sin, &len));
	to = sin;
	/* Our sender: it gets the Responses and Reports, which we throw away. */
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(tx >= 0);
}

static uint64_t outcomes(const struct upn_trap_stats *s)
{
	return s->accepted + s->bad_community + s->bad_user + s->not_watched + s->other_oid +
	       s->malformed + s->other_pdu + s->engine_probes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upn_trap_stats a, b;
	struct pollfd p;
	unsigned int before = recoveries;
	char sink[2048];

	if (!trap)
		build_once();
	if (size > DATAGRAM_MAX)
		size = DATAGRAM_MAX;
	upn_trap_get_stats(trap, &a);
	CHECK(sendto(tx, data, size, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)size);
	p = (struct pollfd){ .fd = rx, .events = POLLIN };
	CHECK(poll(&p, 1, 1000) == 1); /* loopback: queued before sendto() returned */
	upn_trap_read(trap);
	upn_trap_get_stats(trap, &b);

	CHECK(b.received == a.received + 1);
	CHECK(outcomes(&b) == outcomes(&a) + 1);
	CHECK(b.accepted - a.accepted == recoveries - before);
	CHECK(b.informs_acked + b.ack_failed - a.informs_acked - a.ack_failed <= 1);
	while (recv(tx, sink, sizeof(sink), MSG_DONTWAIT) >= 0)
		;
	return 0;
}
