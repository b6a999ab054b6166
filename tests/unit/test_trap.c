// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The trap receiver against real senders: snmptrap, snmpinform and snmpget from the
 * snmp package, and snmpd, run against 127.0.0.1 on a free port. Each table line is
 * one command, the counters it must move (every other counter must stay), and what
 * recovered() must be told. The receiver is read while a command runs, because
 * snmpinform waits for our Response; every wait is bounded.
 *
 * The receiver's configuration: community "public"; users alice (SHA/AES, bound to
 * engine 8000000001020304), bob (SHA-512/AES-256, engine 80001f8880aabbccdd), carol
 * (MD5/DES, no engine ID: informs only), dan (SHA-256/AES, engine 80001f888064616e,
 * for snmpd alone: USM remembers each engine's boots and time, and a second sender
 * claiming alice's engine with fewer boots would rightly be refused); extra OIDs 1.3.6.1.4.1.8072.4.0.7 and
 * 1.3.6.1.4.1.99999.1.2; every agent is watched but 198.51.100.99.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/lcd_time.h>

#include "config.h"
#include "trap.h"

#define TOOL_TIMEOUT_MS 10000
/* After a sender has exited, its datagrams are queued: read until this long quiet. */
#define QUIET_MS 150
#define SNMPD_TIMEOUT_MS 15000

static char dir[] = "/tmp/upn-test-trap.XXXXXX";

struct fx {
	struct upn_config cfg;
	struct upn_snmp_user users[4];
	char *oids[2];
	struct upn_trap *t;
	uint16_t port;
	char target[64]; /* 127.0.0.1:PORT */
	unsigned int nrecovered;
	struct upn_addr agent;
	char oid[1500];
};

static bool wanted(void *ctx, const struct upn_addr *agent)
{
	struct upn_addr no = addr("198.51.100.99");

	return !upn_addr_eq(agent, &no);
}

static void recovered(void *ctx, const struct upn_addr *agent, const char *trap_oid)
{
	struct fx *f = ctx;

	f->nrecovered++;
	f->agent = *agent;
	snprintf(f->oid, sizeof(f->oid), "%s", trap_oid);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port nobody uses right now; the receiver binds it a moment later. */
static uint16_t free_port(int family)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	int fd = socket(family, SOCK_DGRAM, 0);
	uint16_t port;

	assert_true(fd >= 0);
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return 0;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

/* Reads whatever arrives within @ms, returning once it has been quiet that long. */
static void pump(struct upn_trap *t, int ms)
{
	struct pollfd p[4];
	int fds[4], n, i;
	int64_t end = now_ms() + 3000;

	n = upn_trap_fds(t, fds, 4);
	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	while (now_ms() < end && poll(p, (nfds_t)n, ms) > 0)
		upn_trap_read(t);
}

/* Runs @argv with stdout and stderr in @log, reading the receiver meanwhile. Returns
 * the exit status, or -1 if it had to be killed. */
static int run(struct upn_trap *t, char *const argv[], const char *log, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	int status, fds[4], n, i;
	struct pollfd p[4];
	pid_t pid;

	if (access(argv[0], X_OK))
		fail_msg("%s is missing: run scripts/deps.sh (packages snmp, snmpd)", argv[0]);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	n = t ? upn_trap_fds(t, fds, 4) : 0;
	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		if (poll(p, (nfds_t)n, 20) > 0)
			upn_trap_read(t);
	}
	if (t)
		pump(t, QUIET_MS);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void read_log(const char *log, char *buf, size_t size)
{
	FILE *f = fopen(log, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
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

static void config(struct fx *f, const char *listen)
{
	upn_config_defaults(&f->cfg);
	snprintf(f->cfg.snmp_listen, sizeof(f->cfg.snmp_listen), "%s", listen);
	snprintf(f->cfg.snmp_community, sizeof(f->cfg.snmp_community), "public");
	user(&f->users[0], "alice", "SHA", "AES", "0x8000000001020304");
	user(&f->users[1], "bob", "SHA-512", "AES-256", "80001f8880aabbccdd");
	user(&f->users[2], "carol", "MD5", "DES", "");
	user(&f->users[3], "dan", "SHA-256", "AES", "0x80001f888064616e");
	f->cfg.snmp_users = f->users;
	f->cfg.nsnmp_users = ARRAY_SIZE(f->users);
	f->oids[0] = "1.3.6.1.4.1.8072.4.0.7";
	f->oids[1] = ".1.3.6.1.4.1.99999.1.2";
	f->cfg.trap_oids = f->oids;
	f->cfg.ntrap_oids = ARRAY_SIZE(f->oids);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char listen[96], err[256];

	if (!f)
		return -1;
	f->port = free_port(AF_INET);
	snprintf(f->target, sizeof(f->target), "127.0.0.1:%u", f->port);
	snprintf(listen, sizeof(listen), "udp:%s", f->target);
	config(f, listen);
	f->t = upn_trap_open(&f->cfg, wanted, recovered, f, err, sizeof(err));
	if (!f->t) {
		print_error("upn_trap_open: %s\n", err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	upn_trap_close(f->t);
	free(f);
	return 0;
}

/* The counters a line may move; all others must stay where they were. */
struct delta {
	unsigned int accepted, acked, community, user, watched, oid, malformed, other_pdu, probes;
};

struct line {
	const char *name;
	const char *argv[32]; /* "@" is the receiver, 127.0.0.1:PORT */
	int exit;
	struct delta d;
	const char *agent, *oid; /* what recovered() was told, when accepted */
};

#define TRAP "/usr/bin/snmptrap"
#define INFORM "/usr/bin/snmpinform"
/* One try, one second: a line that expects no answer must not take long. */
#define ONCE "-r", "0", "-t", "1"
#define ALICE \
	"-u", "alice", "-a", "SHA", "-A", "alice-auth-pass", "-x", "AES", "-X", "alice-priv-pass"
#define ALICE_E "-e", "0x8000000001020304"
#define COLD "1.3.6.1.6.3.1.1.5.1"
#define WARM "1.3.6.1.6.3.1.1.5.2"
#define LINKDOWN "1.3.6.1.6.3.1.1.5.3"
#define LINKUP "1.3.6.1.6.3.1.1.5.4"

static const struct line lines[] = {
	/* v1: the agent-addr field is the agent, generic-trap the OID (RFC 3584 3.1). */
	{ "v1 coldStart",
	  { TRAP, "-v", "1", "-c", "public", "@", "", "127.0.0.1", "0", "0", "" },
	  0,
	  { .accepted = 1 },
	  "127.0.0.1",
	  COLD },
	{ "v1 warmStart, agent-addr is not the sender",
	  { TRAP, "-v", "1", "-c", "public", "@", "", "10.1.2.3", "1", "0", "" },
	  0,
	  { .accepted = 1 },
	  "10.1.2.3",
	  WARM },
	{ "v1 linkUp",
	  { TRAP, "-v", "1", "-c", "public", "@", "", "10.1.2.4", "3", "0", "" },
	  0,
	  { .accepted = 1 },
	  "10.1.2.4",
	  LINKUP },
	{ "v1 linkDown is no recovery",
	  { TRAP, "-v", "1", "-c", "public", "@", "", "10.1.2.4", "2", "0", "" },
	  0,
	  { .oid = 1 },
	  NULL,
	  NULL },
	{ "v1 enterprise-specific, configured: enterprise.0.specific",
	  { TRAP, "-v", "1", "-c", "public", "@", "1.3.6.1.4.1.8072.4", "10.1.2.5", "6", "7", "" },
	  0,
	  { .accepted = 1 },
	  "10.1.2.5",
	  "1.3.6.1.4.1.8072.4.0.7" },
	{ "v1 enterprise-specific, not configured",
	  { TRAP, "-v", "1", "-c", "public", "@", "1.3.6.1.4.1.8072.4", "10.1.2.5", "6", "8", "" },
	  0,
	  { .oid = 1 },
	  NULL,
	  NULL },
	{ "v1 agent not watched",
	  { TRAP, "-v", "1", "-c", "public", "@", "", "198.51.100.99", "0", "0", "" },
	  0,
	  { .watched = 1 },
	  NULL,
	  NULL },
	{ "v1 wrong community",
	  { TRAP, "-v", "1", "-c", "publi", "@", "", "127.0.0.1", "0", "0", "" },
	  0,
	  { .community = 1 },
	  NULL,
	  NULL },
	/* v2c: snmpTrapOID.0, the agent from snmpTrapAddress.0 or the sender. */
	{ "v2c coldStart",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", COLD },
	  0,
	  { .accepted = 1 },
	  "127.0.0.1",
	  COLD },
	{ "v2c snmpTrapAddress.0 names the agent",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", WARM, "1.3.6.1.6.3.18.1.3.0", "a",
	    "192.0.2.7" },
	  0,
	  { .accepted = 1 },
	  "192.0.2.7",
	  WARM },
	{ "v2c snmpTrapAddress.0 not watched",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", COLD, "1.3.6.1.6.3.18.1.3.0", "a",
	    "198.51.100.99" },
	  0,
	  { .watched = 1 },
	  NULL,
	  NULL },
	{ "v2c configured OID, written with a leading dot",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", "1.3.6.1.4.1.99999.1.2" },
	  0,
	  { .accepted = 1 },
	  "127.0.0.1",
	  "1.3.6.1.4.1.99999.1.2" },
	{ "v2c a prefix of a configured OID is another OID",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", "1.3.6.1.4.1.99999.1" },
	  0,
	  { .oid = 1 },
	  NULL,
	  NULL },
	{ "v2c linkDown",
	  { TRAP, "-v", "2c", "-c", "public", "@", "", LINKDOWN },
	  0,
	  { .oid = 1 },
	  NULL,
	  NULL },
	{ "v2c wrong community",
	  { TRAP, "-v", "2c", "-c", "private", "@", "", COLD },
	  0,
	  { .community = 1 },
	  NULL,
	  NULL },
	{ "v2c community longer than ours",
	  { TRAP, "-v", "2c", "-c", "publicx", "@", "", COLD },
	  0,
	  { .community = 1 },
	  NULL,
	  NULL },
	{ "v2c inform is acknowledged",
	  { INFORM, ONCE, "-v", "2c", "-c", "public", "@", "", COLD },
	  0,
	  { .accepted = 1, .acked = 1 },
	  "127.0.0.1",
	  COLD },
	{ "v2c inform of another OID is acknowledged too",
	  { INFORM, ONCE, "-v", "2c", "-c", "public", "@", "", LINKDOWN },
	  0,
	  { .oid = 1, .acked = 1 },
	  NULL,
	  NULL },
	{ "v2c inform with a wrong community is not",
	  { INFORM, ONCE, "-v", "2c", "-c", "wrong", "@", "", COLD },
	  1,
	  { .community = 1 },
	  NULL,
	  NULL },
	{ "a Get is no notification, and is not answered",
	  { "/usr/bin/snmpget", ONCE, "-v", "2c", "-c", "public", "@", "1.3.6.1.2.1.1.3.0" },
	  1,
	  { .other_pdu = 1 },
	  NULL,
	  NULL },
	/* v3: USM authPriv, traps bound to the sender's engine ID. */
	{ "v3 trap, SHA/AES",
	  { TRAP, "-v", "3", ALICE_E, ALICE, "-l", "authPriv", "@", "", LINKUP },
	  0,
	  { .accepted = 1 },
	  "127.0.0.1",
	  LINKUP },
	{ "v3 trap, SHA-512/AES-256",
	  { TRAP,
	    "-v",
	    "3",
	    "-e",
	    "0x80001f8880aabbccdd",
	    "-u",
	    "bob",
	    "-a",
	    "SHA-512",
	    "-A",
	    "bob-auth-pass",
	    "-x",
	    "AES-256",
	    "-X",
	    "bob-priv-pass",
	    "-l",
	    "authPriv",
	    "@",
	    "",
	    COLD },
	  0,
	  { .accepted = 1 },
	  "127.0.0.1",
	  COLD },
	{ "v3 inform: engine-ID discovery, then acknowledged",
	  { INFORM, ONCE, "-v", "3", ALICE, "-l", "authPriv", "@", "", WARM },
	  0,
	  { .probes = 1, .accepted = 1, .acked = 1 },
	  "127.0.0.1",
	  WARM },
	{ "v3 inform, MD5/DES, user without engine ID",
	  { INFORM, ONCE, "-v", "3", "-u", "carol", "-a", "MD5", "-A", "carol-auth-pass", "-x",
	    "DES", "-X", "carol-priv-pass", "-l", "authPriv", "@", "", COLD },
	  0,
	  { .probes = 1, .accepted = 1, .acked = 1 },
	  "127.0.0.1",
	  COLD },
	{ "v3 trap from a user without engine ID: unknown there",
	  { TRAP,
	    "-v",
	    "3",
	    "-e",
	    "0x8000000001020304",
	    "-u",
	    "carol",
	    "-a",
	    "MD5",
	    "-A",
	    "carol-auth-pass",
	    "-x",
	    "DES",
	    "-X",
	    "carol-priv-pass",
	    "-l",
	    "authPriv",
	    "@",
	    "",
	    COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 trap from an engine alice is not bound to",
	  { TRAP, "-v", "3", "-e", "0x8000000001020399", ALICE, "-l", "authPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 wrong auth password",
	  { TRAP, "-v", "3", ALICE_E, "-u", "alice", "-a", "SHA", "-A", "alice-auth-wrong", "-x",
	    "AES", "-X", "alice-priv-pass", "-l", "authPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 wrong priv password",
	  { TRAP, "-v", "3", ALICE_E, "-u", "alice", "-a", "SHA", "-A", "alice-auth-pass", "-x",
	    "AES", "-X", "alice-priv-wrong", "-l", "authPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 unknown user",
	  { TRAP, "-v", "3", ALICE_E, "-u", "mallory", "-a", "SHA", "-A", "alice-auth-pass", "-x",
	    "AES", "-X", "alice-priv-pass", "-l", "authPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 authNoPriv",
	  { TRAP, "-v", "3", ALICE_E, "-u", "alice", "-a", "SHA", "-A", "alice-auth-pass", "-l",
	    "authNoPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 noAuthNoPriv",
	  { TRAP, "-v", "3", ALICE_E, "-u", "alice", "-l", "noAuthNoPriv", "@", "", COLD },
	  0,
	  { .user = 1 },
	  NULL,
	  NULL },
	{ "v3 noAuthNoPriv inform: discovery, then refused and not acknowledged",
	  { INFORM, ONCE, "-v", "3", "-u", "alice", "-l", "noAuthNoPriv", "@", "", COLD },
	  1,
	  { .probes = 1, .user = 1 },
	  NULL,
	  NULL },
};

static void check_delta(const char *name, const struct upn_trap_stats *a,
			const struct upn_trap_stats *b, const struct delta *d, const char *log)
{
	struct {
		const char *what;
		uint64_t got, want;
	} c[] = {
		{ "accepted", b->accepted - a->accepted, d->accepted },
		{ "informs_acked", b->informs_acked - a->informs_acked, d->acked },
		{ "bad_community", b->bad_community - a->bad_community, d->community },
		{ "bad_user", b->bad_user - a->bad_user, d->user },
		{ "not_watched", b->not_watched - a->not_watched, d->watched },
		{ "other_oid", b->other_oid - a->other_oid, d->oid },
		{ "malformed", b->malformed - a->malformed, d->malformed },
		{ "other_pdu", b->other_pdu - a->other_pdu, d->other_pdu },
		{ "engine_probes", b->engine_probes - a->engine_probes, d->probes },
		{ "ack_failed", b->ack_failed - a->ack_failed, 0 },
	};
	uint64_t outcomes = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(c); i++)
		if (c[i].got != c[i].want)
			fail_msg("%s: %s moved by %llu, want %llu; sender said: %s", name,
				 c[i].what, (unsigned long long)c[i].got,
				 (unsigned long long)c[i].want, log);
	/* Every datagram read ends in exactly one outcome (informs_acked is extra). */
	outcomes = c[0].got + c[2].got + c[3].got + c[4].got + c[5].got + c[6].got + c[7].got +
		   c[8].got;
	check(b->received - a->received == outcomes, "%s: %llu datagrams, %llu outcomes", name,
	      (unsigned long long)(b->received - a->received), (unsigned long long)outcomes);
}

static void run_line(struct fx *f, const struct line *l)
{
	char *argv[ARRAY_SIZE(l->argv) + 1] = { 0 };
	char logpath[128], log[512], buf[UPN_ADDRSTRLEN];
	struct upn_trap_stats a, b;
	unsigned int before = f->nrecovered;
	size_t i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(l->argv) && l->argv[i]; i++)
		argv[i] = strcmp(l->argv[i], "@") ? (char *)l->argv[i] : f->target;
	snprintf(logpath, sizeof(logpath), "%s/sender.log", dir);
	upn_trap_get_stats(f->t, &a);
	rc = run(f->t, argv, logpath, TOOL_TIMEOUT_MS);
	upn_trap_get_stats(f->t, &b);
	read_log(logpath, log, sizeof(log));
	check(rc == l->exit, "%s: exit %d, want %d; sender said: %s", l->name, rc, l->exit, log);
	check_delta(l->name, &a, &b, &l->d, log);
	check(f->nrecovered - before == l->d.accepted, "%s: recovered() called %u times", l->name,
	      f->nrecovered - before);
	if (l->agent) {
		struct upn_addr want = addr(l->agent);

		check(upn_addr_eq(&f->agent, &want), "%s: agent %s, want %s", l->name,
		      upn_addr_fmt(&f->agent, buf), l->agent);
		check(!strcmp(f->oid, l->oid), "%s: OID %s, want %s", l->name, f->oid, l->oid);
	}
}

static void test_senders(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lines); i++)
		run_line(f, &lines[i]);
}

/* Without a community every v1/v2c notification is refused, and counted. */
static void test_no_community(void **state)
{
	struct fx *f = *state;
	char listen[96], err[256];
	struct fx g = { 0 };
	static const struct line l[] = {
		{ "v2c, no community configured",
		  { TRAP, "-v", "2c", "-c", "", "@", "", COLD },
		  0,
		  { .community = 1 },
		  NULL,
		  NULL },
		{ "v1, no community configured",
		  { TRAP, "-v", "1", "-c", "public", "@", "", "127.0.0.1", "0", "0", "" },
		  0,
		  { .community = 1 },
		  NULL,
		  NULL },
	};

	g.port = free_port(AF_INET);
	snprintf(g.target, sizeof(g.target), "127.0.0.1:%u", g.port);
	snprintf(listen, sizeof(listen), "udp:%s", g.target);
	config(&g, listen);
	g.cfg.snmp_community[0] = '\0';
	g.cfg.nsnmp_users = 0; /* alice & co. are the fixture's */
	g.t = upn_trap_open(&g.cfg, wanted, recovered, &g, err, sizeof(err));
	if (!g.t)
		fail_msg("upn_trap_open: %s", err);
	run_line(&g, &l[0]);
	run_line(&g, &l[1]);
	upn_trap_close(g.t);
	(void)f;
}

static int udp_to(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
	}
	return fd;
}

/* Junk is counted, and a flood is read in bounded batches: the loop gets control
 * back, and the next readiness reads on. Nothing blocks on an empty socket. */
static void test_junk_and_batches(void **state)
{
	static const uint8_t junk[][8] = { { 0 }, { 0x30, 0x03, 0x02, 0x01, 0x07 }, { 'h', 'i' } };
	struct fx *f = *state;
	struct upn_trap_stats a, b;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = udp_to(AF_INET, f->port, &ss, &len), i, reads;

	assert_true(fd >= 0);
	upn_trap_get_stats(f->t, &a);
	for (i = 0; i < 300; i++)
		assert_true(sendto(fd, junk[i % 3], i % 3 ? 5 : 0, 0, (struct sockaddr *)&ss,
				   len) >= 0);
	upn_trap_read(f->t);
	upn_trap_get_stats(f->t, &b);
	check(b.received - a.received > 0 && b.received - a.received < 300,
	      "one read took %llu of 300 datagrams", (unsigned long long)(b.received - a.received));
	for (reads = 1; reads < 100 && b.received - a.received < 300; reads++) {
		upn_trap_read(f->t);
		upn_trap_get_stats(f->t, &b);
	}
	assert_int_equal(b.received - a.received, 300);
	assert_int_equal(b.malformed - a.malformed, 300);
	assert_int_equal(b.accepted, a.accepted);
	/* Empty now: a blocking read would hang here, and SIGALRM end the test. */
	alarm(5);
	upn_trap_read(f->t);
	alarm(0);
	close(fd);
}

/* A udp6 transport, alone and next to udp: the sender's IPv6 address is the agent. */
static void test_ipv6(void **state)
{
	struct fx *f = *state, g = { 0 };
	char listen[128], err[256], target6[64];
	uint16_t port6 = free_port(AF_INET6);
	int fds[4];
	const struct line l6 = { "v2c over IPv6",
				 { TRAP, "-v", "2c", "-c", "public", "@", "", COLD },
				 0,
				 { .accepted = 1 },
				 "::1",
				 COLD };
	const struct line l4 = { "v2c over IPv4 next to IPv6",
				 { TRAP, "-v", "2c", "-c", "public", "@", "", COLD },
				 0,
				 { .accepted = 1 },
				 "127.0.0.1",
				 COLD };

	if (!port6)
		skip(); /* no IPv6 loopback here */
	g.port = free_port(AF_INET);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u, udp6:[::1]:%u", g.port, port6);
	config(&g, listen);
	g.cfg.nsnmp_users = 0;
	g.t = upn_trap_open(&g.cfg, wanted, recovered, &g, err, sizeof(err));
	if (!g.t)
		fail_msg("upn_trap_open(%s): %s", listen, err);
	assert_int_equal(upn_trap_fds(g.t, fds, 4), 2);
	assert_int_equal(upn_trap_fds(g.t, fds, 1), 1);
	snprintf(target6, sizeof(target6), "udp6:[::1]:%u", port6);
	memcpy(g.target, target6, sizeof(target6));
	run_line(&g, &l6);
	snprintf(g.target, sizeof(g.target), "127.0.0.1:%u", g.port);
	run_line(&g, &l4);
	upn_trap_close(g.t);
	(void)f;
}

/* USM remembers every engine that sends it a trap, before it looks at the user: made-up
 * engine IDs must not reach it, or unauthenticated traps grow our memory for ever. */
static void test_v3_engines_not_remembered(void **state)
{
	static const u_char alice[] = { 0x80, 0, 0, 0, 1, 2, 3, 4 };
	struct fx *f = *state;
	uint16_t cport = free_port(AF_INET);
	char target[64], logpath[128], log[512];
	char *argv[] = { TRAP, "-v",	"3",  "-e",	      "0x8000000001020304",
			 "-u", "alice", "-l", "noAuthNoPriv", target,
			 "",   COLD,	NULL };
	struct sockaddr_storage ss, to;
	struct upn_trap_stats a, b;
	struct pollfd p;
	u_char pkt[2048], *e;
	socklen_t len, tolen;
	ssize_t n;
	int c, i;

	/* A real v3 trap, caught on a socket of ours. */
	c = udp_to(AF_INET, cport, &ss, &len);
	assert_true(c >= 0);
	assert_int_equal(bind(c, (struct sockaddr *)&ss, len), 0);
	snprintf(target, sizeof(target), "127.0.0.1:%u", cport);
	snprintf(logpath, sizeof(logpath), "%s/sender.log", dir);
	assert_int_equal(run(NULL, argv, logpath, TOOL_TIMEOUT_MS), 0);
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 1000), 1);
	n = recv(c, pkt, sizeof(pkt), 0);
	read_log(logpath, log, sizeof(log));
	check(n > 0, "no trap caught; snmptrap said: %s", log);
	e = memmem(pkt, (size_t)n, alice, sizeof(alice));
	assert_non_null(e);

	close(c);
	c = udp_to(AF_INET, f->port, &to, &tolen);
	upn_trap_get_stats(f->t, &a);
	for (i = 0; i < 200; i++) {
		e[5] = 0xee;
		e[6] = (u_char)(i >> 8);
		e[7] = (u_char)i;
		assert_true(sendto(c, pkt, (size_t)n, 0, (struct sockaddr *)&to, tolen) == n);
	}
	pump(f->t, QUIET_MS);
	upn_trap_get_stats(f->t, &b);
	assert_int_equal(b.received - a.received, 200);
	assert_int_equal(b.bad_user - a.bad_user, 200);
	for (i = 0; i < 200; i += 199) {
		e[6] = (u_char)(i >> 8);
		e[7] = (u_char)i;
		check(!search_enginetime_list(e, sizeof(alice)), "engine %d remembered", i);
	}
	/* alice's own engine reaches USM (and is refused there: noAuthNoPriv). */
	memcpy(e, alice, sizeof(alice));
	assert_true(sendto(c, pkt, (size_t)n, 0, (struct sockaddr *)&to, tolen) == n);
	pump(f->t, QUIET_MS);
	upn_trap_get_stats(f->t, &a);
	assert_int_equal(a.bad_user - b.bad_user, 1);
	check(search_enginetime_list(e, sizeof(alice)), "alice's engine not remembered");
	close(c);
}

struct open_case {
	const char *name, *listen, *oid;
	struct upn_snmp_user u[2];
	size_t nu;
	const char *err; /* a substring of the message */
};

/* Bad configurations are refused with a message naming the problem, and a failed
 * open leaves nothing behind: no socket bound, no USM user registered. */
static void test_open_errors(void **state)
{
	struct fx *f = *state;
	char busy[96], five[256], any[64], err[256];
#define DAVE "dave", "SHA", "dave-auth-pass", "AES"
	static const struct upn_snmp_user ok = { DAVE, "dave-priv-pass", "" },
					  e1 = { DAVE, "dave-priv-pass", "8000000001020311" },
					  e2 = { DAVE, "dave-priv-pass", "8000000001020322" },
					  other = { DAVE, "dave-priv-other", "8000000001020322" };
	struct open_case c[] = {
		{ "empty listen", "", NULL, { ok }, 1, "empty" },
		{ "only commas", " , ", NULL, { ok }, 1, "empty" },
		{ "tcp", "tcp:127.0.0.1:10999", NULL, { ok }, 1, "only udp" },
		{ "address not ours", "udp:203.0.113.1:10999", NULL, { ok }, 1, "cannot listen" },
		{ "port in use", busy, NULL, { ok }, 1, "cannot listen" },
		{ "five transports", five, NULL, { ok }, 1, "more than" },
		{ "OID with a name", any, "1.3.6.1.4.1.netSnmp", { ok }, 1, "numeric" },
		{ "OID of one arc", any, "1", { ok }, 1, "numeric" },
		{ "OID under 3", any, "3.6.1", { ok }, 1, "numeric" },
		{ "OID with an empty arc", any, "1.3..6", { ok }, 1, "numeric" },
		{ "OID arc over 32 bits", any, "1.3.4294967296", { ok }, 1, "numeric" },
		{ "short auth password",
		  any,
		  NULL,
		  { { "eve", "SHA", "short", "AES", "eve-priv-pass", "" } },
		  1,
		  "8 characters" },
		{ "short priv password",
		  any,
		  NULL,
		  { { "eve", "SHA", "eve-auth-pass", "AES", "short", "" } },
		  1,
		  "8 characters" },
		{ "unknown auth",
		  any,
		  NULL,
		  { { "eve", "SHA-1024", "eve-auth-pass", "AES", "eve-priv-pass", "" } },
		  1,
		  "auth" },
		{ "no privacy",
		  any,
		  NULL,
		  { { "eve", "SHA", "eve-auth-pass", "none", "eve-priv-pass", "" } },
		  1,
		  "priv" },
		{ "engine ID too short",
		  any,
		  NULL,
		  { { "eve", "SHA", "eve-auth-pass", "AES", "eve-priv-pass", "0x80000001" } },
		  1,
		  "engine ID" },
		{ "engine ID not hex",
		  any,
		  NULL,
		  { { "eve", "SHA", "eve-auth-pass", "AES", "eve-priv-pass", "80000000010203zz" } },
		  1,
		  "engine ID" },
		{ "the same user twice for one engine", any, NULL, { e1, e1 }, 2, "twice" },
		{ "one name, two privacy passwords", any, NULL, { e1, other }, 2, "differ" },
		/* dave is registered, then the listen fails: dave must be gone again. */
		{ "user, then no socket", "tcp:127.0.0.1:10999", NULL, { ok }, 1, "only udp" },
	};
	struct upn_config cfg;
	struct upn_trap *t;
	char *oid;
	size_t i;

	snprintf(busy, sizeof(busy), "udp:%s", f->target);
	snprintf(any, sizeof(any), "udp:127.0.0.1:%u", free_port(AF_INET));
	snprintf(five, sizeof(five),
		 "udp:127.0.0.1:%u,udp:127.0.0.1:%u,udp:127.0.0.1:%u,"
		 "udp:127.0.0.1:%u,udp:127.0.0.1:%u",
		 free_port(AF_INET), free_port(AF_INET), free_port(AF_INET), free_port(AF_INET),
		 free_port(AF_INET));
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		upn_config_defaults(&cfg);
		snprintf(cfg.snmp_listen, sizeof(cfg.snmp_listen), "%s", c[i].listen);
		oid = (char *)c[i].oid;
		cfg.trap_oids = &oid;
		cfg.ntrap_oids = oid ? 1 : 0;
		cfg.snmp_users = c[i].u;
		cfg.nsnmp_users = c[i].nu;
		err[0] = '\0';
		t = upn_trap_open(&cfg, wanted, recovered, f, err, sizeof(err));
		if (t)
			upn_trap_close(t);
		check(!t, "%s: opened", c[i].name);
		check(strstr(err, c[i].err), "%s: \"%s\" does not say \"%s\"", c[i].name, err,
		      c[i].err);
	}
	/* One name for two agents, and the same user twice: both fine. */
	upn_config_defaults(&cfg);
	snprintf(cfg.snmp_listen, sizeof(cfg.snmp_listen), "%s", any);
	c[0].u[0] = e1;
	c[0].u[1] = e2;
	cfg.snmp_users = c[0].u;
	cfg.nsnmp_users = 2;
	t = upn_trap_open(&cfg, wanted, recovered, f, err, sizeof(err));
	if (!t)
		fail_msg("dave for two engines: %s", err);
	upn_trap_close(t);
	c[0].u[0] = ok;
	c[0].u[1] = ok;
	t = upn_trap_open(&cfg, wanted, recovered, f, err, sizeof(err));
	if (!t)
		fail_msg("dave twice: %s", err);
	upn_trap_close(t);
	/* Nothing left behind: dave can be registered again, the port bound again. */
	upn_config_defaults(&cfg);
	snprintf(cfg.snmp_listen, sizeof(cfg.snmp_listen), "%s", any);
	cfg.snmp_users = c[0].u;
	cfg.nsnmp_users = 1;
	t = upn_trap_open(&cfg, wanted, recovered, f, err, sizeof(err));
	if (!t)
		fail_msg("after the failures: %s", err);
	upn_trap_close(t);
	t = upn_trap_open(&cfg, wanted, recovered, f, err, sizeof(err));
	if (!t)
		fail_msg("after a close: %s", err);
	upn_trap_close(t);
}

/* A real agent: snmpd started with a private configuration sends coldStart when it
 * starts. These are the lines a scenario needs. */
static void snmpd_case(struct fx *f, const char *sink, const char *agent)
{
	char conf[128], log[128], pidf[128], persist[160], text[512], buf[UPN_ADDRSTRLEN];
	char *argv[] = { "/usr/sbin/snmpd", "-f", "-Lo", "-C", "-c", conf, "-p", pidf, NULL };
	struct upn_addr want = addr(agent);
	unsigned int before = f->nrecovered;
	int64_t end;
	FILE *c;
	pid_t pid;
	int fd, status;

	if (access(argv[0], X_OK))
		fail_msg("%s is missing: run scripts/deps.sh (package snmpd)", argv[0]);
	snprintf(conf, sizeof(conf), "%s/snmpd.conf", dir);
	snprintf(log, sizeof(log), "%s/snmpd.log", dir);
	snprintf(pidf, sizeof(pidf), "%s/snmpd.pid", dir);
	snprintf(persist, sizeof(persist), "%s/snmpd", dir);
	c = fopen(conf, "w");
	assert_non_null(c);
	fprintf(c, "agentaddress udp:127.0.0.1:%u\n%s\n", free_port(AF_INET), sink);
	fclose(c);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		setenv("SNMP_PERSISTENT_DIR", persist, 1);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	end = now_ms() + SNMPD_TIMEOUT_MS;
	while (f->nrecovered == before && now_ms() < end)
		pump(f->t, 50);
	kill(pid, SIGTERM);
	pump(f->t, QUIET_MS); /* its nsNotifyShutdown, not a recovery */
	end = now_ms() + 5000;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(20000);
	}
	read_log(log, text, sizeof(text));
	check(f->nrecovered == before + 1, "snmpd with \"%s\": %u recoveries; snmpd said: %s", sink,
	      f->nrecovered - before, text);
	check(upn_addr_eq(&f->agent, &want), "snmpd with \"%s\": agent %s, want %s", sink,
	      upn_addr_fmt(&f->agent, buf), agent);
	check(!strcmp(f->oid, COLD), "snmpd with \"%s\": OID %s", sink, f->oid);
}

static void test_snmpd(void **state)
{
	struct fx *f = *state;
	char sink[256];

	snprintf(sink, sizeof(sink), "trap2sink %s public", f->target);
	snmpd_case(f, sink, "127.0.0.1");
	snprintf(sink, sizeof(sink), "informsink %s public", f->target);
	snmpd_case(f, sink, "127.0.0.1");
	/* v1 puts the host's first address in agent-addr, unless told otherwise. */
	snprintf(sink, sizeof(sink), "trapsink %s public\nv1trapaddress 192.0.2.55", f->target);
	snmpd_case(f, sink, "192.0.2.55");
	/* v3 traps: snmpd is the authoritative engine, and -e says which it is. */
	snprintf(sink, sizeof(sink),
		 "trapsess -v 3 -e 0x80001f888064616e -u dan -l authPriv -a SHA-256 -A "
		 "dan-auth-pass -x AES -X dan-priv-pass %s",
		 f->target);
	snmpd_case(f, sink, "127.0.0.1");
}

static int group_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	/* The senders keep their state (engine boots) here, read no snmp.conf of the
	 * host, and load no MIB: every OID in the table is numeric. */
	setenv("SNMP_PERSISTENT_DIR", dir, 1);
	setenv("SNMPCONFPATH", dir, 1);
	setenv("MIBS", "", 1);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_senders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_community, setup, teardown),
		cmocka_unit_test_setup_teardown(test_junk_and_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v3_engines_not_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snmpd, setup, teardown),
	};

	return cmocka_run_group_tests_name("trap", tests, group_setup, group_teardown);
}
