// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The SNMP trap receiver. net-snmp reads the socket, decodes, checks USM (digest,
 * decryption, time window), answers engine-ID discovery with Reports; we decide what a
 * notification means. Four places see a datagram:
 *
 *   recv_filtered()  the transport's read: counts and drops v3 traps from engines no
 *                    user is bound to, before USM remembers them (v3_filter());
 *   pre_parse()      every other datagram: counts it;
 *   post_parse()     after decoding, success or not: failures are counted here,
 *                    because net-snmp drops them without calling the session
 *                    callback, and so are PDUs that are no notification (Get,
 *                    Response, Report...);
 *   on_pdu()         decoded notifications: community or security level, inform ack,
 *                    trap OID, agent address, then the caller's wanted()/recovered().
 *
 * Every datagram read thus ends in exactly one of the outcome counters.
 *
 * net-snmp's state is process-global and not thread safe: the USM user list, our
 * engine ID, the statistics. Everything here runs in the event loop's thread; the
 * library is initialised by the first upn_trap_open() and lives as long as the
 * process. Each receiver takes its USM users out of the global list when it closes.
 */
#include "trap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmpusm.h>
#include <net-snmp/library/snmpUDPIPv6Domain.h>

#include "log.h"

/* Datagrams read per upn_trap_read() before we give the loop back: a flood of traps
 * must not starve the packet path; the fd stays readable, so the loop comes back. */
#define READS_PER_CALL 64
/* Socket receive buffer: a burst of traps from a whole rack restarting at once
 * (every agent sends coldStart) fits; beyond it the kernel drops and counts in
 * /proc/net/snmp (UDP RcvbufErrors), which we cannot see per socket. */
#define RCVBUF_BYTES (1 << 20)
/* Transports in one snmp_listen, comma-separated: udp6:[::] does not take IPv4
 * (net-snmp sets IPV6_V6ONLY), so a dual-stack receiver needs two. */
#define LISTEN_MAX 4
/* A configured OID needs at least two sub-identifiers (X.690). */
#define OID_MIN_LEN 2
/* The longest OID we print: MAX_OID_LEN sub-identifiers of up to 10 digits and a dot. */
#define OID_STR_MAX (MAX_OID_LEN * 11 + 1)

struct trap_oid {
	oid id[MAX_OID_LEN];
	size_t len;
};

/* A USM user we put into net-snmp's global list, to take out again at close. */
struct added_user {
	u_char engine[32]; /* SnmpEngineID is 5..32 octets (RFC 3411) */
	size_t engine_len;
	char name[sizeof(((struct upn_snmp_user *)0)->name)];
};

struct upn_trap;

/* One transport: its session is where the callbacks find us, and where an inform's
 * Response goes out. */
struct listener {
	struct upn_trap *t;
	void *sessp; /* net-snmp single-session handle */
	int fd;
	netsnmp_large_fd_set fdset; /* just fd: what snmp_sess_read2() wants */
	int (*recv)(netsnmp_transport *, void *, int, void **, int *); /* the transport's */
};

struct upn_trap {
	struct listener ls[LISTEN_MAX];
	size_t nls;
	unsigned char community[sizeof(((struct upn_config *)0)->snmp_community)];
	size_t community_len; /* 0: v1/v2c refused */
	struct trap_oid *oids;
	size_t noids;
	struct added_user *users;
	size_t nusers;
	bool (*wanted)(void *ctx, const struct upn_addr *agent);
	void (*recovered)(void *ctx, const struct upn_addr *agent, const char *trap_oid);
	void *ctx;
	struct upn_trap_stats stats;
};

/* snmpTraps (RFC 3418): coldStart is .1, warmStart .2, linkDown .3, linkUp .4... */
static const oid snmp_traps[] = { 1, 3, 6, 1, 6, 3, 1, 1, 5 };
static const oid snmp_trap_oid0[] = { 1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0 };
static const oid snmp_trap_address0[] = { 1, 3, 6, 1, 6, 3, 18, 1, 3, 0 };

/* Outside upn_trap_open() net-snmp only speaks about packets: debug, never louder,
 * so that a flood of junk does not become a flood of log lines. */
static bool lib_opening;
static char lib_last_msg[256];

static int lib_log_cb(int major, int minor, void *serverarg, void *clientarg)
{
	const struct snmp_log_message *m = serverarg;
	const char *msg;
	size_t n;

	if (!m || !m->msg)
		return 0;
	msg = m->msg;
	/* config_perror() names the file of the line, and ours come from no file. */
	if (!strncmp(msg, "(null): line 0: ", 16))
		msg += 16;
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (!n)
		return 0;
	if (lib_opening) {
		/* The first complaint is the cause; later ones are consequences. */
		if (!lib_last_msg[0])
			snprintf(lib_last_msg, sizeof(lib_last_msg), "%.*s", (int)n, msg);
		upn_log(m->priority < LOG_WARNING ? LOG_WARNING : m->priority, "snmp: %.*s", (int)n,
			msg);
	} else {
		upn_dbg("snmp: %.*s", (int)n, msg);
	}
	return 0;
}

/*
 * Once per process, never shut down: every init_snmp()/snmp_shutdown() cycle leaks
 * about 5 KB inside net-snmp (netsnmp_init_mib_internals), and would give us a new
 * engine ID on every reload, making each v3 inform sender discover it again.
 */
static void lib_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	/*
	 * We are not snmptrapd: no snmp.conf or snmptrapd.conf changes what we accept.
	 * Nothing is read from or written to a persistent directory, and the one net-snmp
	 * insists on creating (cert_indexes, for TLS we do not use) goes under /dev/null,
	 * where mkdir fails. Our engine ID is then new on every start (net-snmp makes a
	 * random one when none is stored), so an inform captured before a restart cannot
	 * be replayed after it. No SIGALRM: alarms would run from run_alarms(), and we
	 * register none.
	 */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR,
			      "/dev/null/upnotifyd");
	/* Numeric OIDs only: parsing MIB files would cost time and memory for nothing. */
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "");
	/* A notification receiver answers no Get, not even RFC 5343's engine-ID Get:
	 * every answer to a spoofed source is a reflection. */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_NO_DISCOVERY, 1);

	/* Before init_snmp(): without a handler, net-snmp prints to stderr. */
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
	snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, lib_log_cb, NULL);
	init_snmp("upnotifyd");
}

/* "1.3.6.1.4.1.8072.2.3.0.1", a leading dot allowed: numeric only, so that no MIB is
 * needed and nothing depends on which MIB files happen to be installed. */
static int parse_oid(const char *s, struct trap_oid *o)
{
	const char *p = s;

	o->len = 0;
	if (*p == '.')
		p++;
	while (*p) {
		unsigned long long v = 0;
		const char *start = p;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned long long)(*p - '0');
			if (v > 0xffffffffull)
				return -EINVAL; /* a sub-identifier is 32 bits (RFC 2578) */
			p++;
		}
		if (p == start || o->len == MAX_OID_LEN)
			return -EINVAL;
		o->id[o->len++] = (oid)v;
		if (*p == '.' && p[1])
			p++;
		else if (*p)
			return -EINVAL;
	}
	if (o->len < OID_MIN_LEN || o->id[0] > 2)
		return -EINVAL;
	return 0;
}

static void fmt_oid(const oid *id, size_t len, char *buf)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < len; i++)
		off += (size_t)snprintf(buf + off, OID_STR_MAX - off, "%s%lu", i ? "." : "",
					(unsigned long)id[i]);
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An SnmpEngineID in hex, "0x" allowed, as snmptrap -e takes it. */
static int hex_engine(const char *s, u_char *out, size_t *len)
{
	size_t n, i;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (n % 2 || n / 2 < 5 || n / 2 > 32)
		return -EINVAL;
	for (i = 0; i < n / 2; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (u_char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

/* Appends @s to @line as one quoted word of net-snmp's config syntax (copy_nword). */
static int put_word(char *line, size_t size, size_t *off, const char *s)
{
	if (*off + 3 > size)
		return -ENOSPC;
	line[(*off)++] = ' ';
	line[(*off)++] = '"';
	for (; *s; s++) {
		/* Room for an escaped character, the closing quote and the NUL. */
		if (*off + 4 > size)
			return -ENOSPC;
		if (*s == '"' || *s == '\\')
			line[(*off)++] = '\\';
		line[(*off)++] = *s;
	}
	line[(*off)++] = '"';
	line[*off] = '\0';
	return 0;
}

static const char *canon(const char *s, const char *const *names)
{
	for (; *names; names++)
		if (!strcasecmp(s, *names))
			return *names;
	return NULL;
}

/*
 * The user @u bound to @engine, through net-snmp's own "createUser" parser, which
 * derives and localises the keys (RFC 3414 A.2) and extends them for AES-256 the
 * way net-snmp's senders do; writing that again here would only be a second place
 * for it to go wrong.
 */
static int add_user(struct upn_trap *t, const struct upn_snmp_user *u, const u_char *engine,
		    size_t engine_len, char *err, size_t errlen)
{
	static const char *const auths[] = { "MD5",	"SHA",	   "SHA-224", "SHA-256",
					     "SHA-384", "SHA-512", NULL };
	static const char *const privs[] = { "DES", "AES", "AES-192", "AES-256", NULL };
	const char *auth = canon(u->auth_proto, auths), *priv = canon(u->priv_proto, privs);
	struct added_user *a = &t->users[t->nusers];
	char line[1024], hex[2 * 32 + 1];
	struct usmUser *user;
	size_t off, i;
	int ret;

	/* RFC 3414 11.2 asks for 8 characters at least; net-snmp refuses fewer, but
	 * says so in words that do not name the user. */
	if (!u->name[0] || !auth || !priv || strlen(u->auth_pass) < 8 || strlen(u->priv_pass) < 8) {
		snprintf(err, errlen, "snmp user \"%s\": %s", u->name,
			 !u->name[0] ? "no name" :
			 !auth ? "auth must be MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512" :
			 !priv ? "priv must be DES, AES, AES-192 or AES-256" :
				 "passwords must have 8 characters at least");
		return -EINVAL;
	}
	if (usm_get_user(engine, engine_len, u->name)) {
		/* The same name for the same engine twice: the second would be ignored,
		 * and a password that is silently not the one in use is worse. */
		snprintf(err, errlen, "snmp user \"%s\" is configured twice for one engine ID",
			 u->name);
		return -EEXIST;
	}
	for (i = 0; i < engine_len; i++)
		sprintf(hex + 2 * i, "%02x", engine[i]);
	off = (size_t)snprintf(line, sizeof(line), "-e 0x%s", hex);
	ret = put_word(line, sizeof(line), &off, u->name);
	if (!ret) {
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", auth);
		ret = put_word(line, sizeof(line), &off, u->auth_pass);
	}
	if (!ret) {
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", priv);
		ret = put_word(line, sizeof(line), &off, u->priv_pass);
	}
	if (ret) {
		explicit_bzero(line, sizeof(line));
		snprintf(err, errlen, "snmp user \"%s\": too long", u->name);
		return ret;
	}
	lib_last_msg[0] = '\0';
	usm_parse_create_usmUser("createUser", line);
	explicit_bzero(line, sizeof(line));

	/* The parser reports through the log, not a return value: look for the user. */
	user = usm_get_user(engine, engine_len, u->name);
	if (!user || !user->authKeyLen || !user->privKeyLen) {
		if (user) {
			usm_remove_user(user);
			usm_free_user(user);
		}
		snprintf(err, errlen, "snmp user \"%s\" not created%s%s", u->name,
			 lib_last_msg[0] ? ": " : "", lib_last_msg);
		return -EINVAL;
	}
	memcpy(a->engine, engine, engine_len);
	a->engine_len = engine_len;
	snprintf(a->name, sizeof(a->name), "%s", u->name);
	t->nusers++;
	return 0;
}

static void remove_users(struct upn_trap *t)
{
	size_t i;

	for (i = 0; i < t->nusers; i++) {
		struct usmUser *u =
			usm_get_user(t->users[i].engine, t->users[i].engine_len, t->users[i].name);

		/* usm_remove_user() returns the list's head, not @u. */
		if (u) {
			usm_remove_user(u);
			usm_free_user(u);
		}
	}
	t->nusers = 0;
}

/* 1 if a user before @i has the name of user @i and the same secrets, -1 if it has
 * the name but not the secrets, 0 if none has the name. */
static int same_user_before(const struct upn_config *cfg, size_t i)
{
	const struct upn_snmp_user *u = &cfg->snmp_users[i], *v;
	size_t j;

	for (j = 0; j < i; j++) {
		v = &cfg->snmp_users[j];
		if (strcmp(u->name, v->name))
			continue;
		if (strcasecmp(u->auth_proto, v->auth_proto) ||
		    strcmp(u->auth_pass, v->auth_pass) ||
		    strcasecmp(u->priv_proto, v->priv_proto) || strcmp(u->priv_pass, v->priv_pass))
			return -1;
		return 1;
	}
	return 0;
}

/*
 * Every user is bound to our own engine ID, which is what a v3 inform sender
 * discovers and localises its keys with. A v3 trap is different: its sender is the
 * authoritative engine, so the user must be bound to the sender's engine ID, given
 * as engine_id (snmptrapd's "createUser -e"). A trap from a user without one fails
 * as an unknown user, and is counted in bad_user.
 *
 * One name may come with several engine IDs, one per agent; for informs it is one
 * user still, so its protocols and passwords must then be the same everywhere.
 */
static int add_users(struct upn_trap *t, const struct upn_config *cfg, char *err, size_t errlen)
{
	u_char local[32], eid[32];
	size_t local_len, eid_len = 0, i;
	int ret;

	if (!cfg->nsnmp_users)
		return 0;
	t->users = calloc(2 * cfg->nsnmp_users, sizeof(*t->users));
	if (!t->users) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	local_len = snmpv3_get_engineID(local, sizeof(local));
	if (!local_len) {
		snprintf(err, errlen, "net-snmp has no engine ID");
		return -EIO;
	}
	for (i = 0; i < cfg->nsnmp_users; i++) {
		const struct upn_snmp_user *u = &cfg->snmp_users[i];

		if (u->engine_id[0] && hex_engine(u->engine_id, eid, &eid_len)) {
			snprintf(err, errlen,
				 "snmp user \"%s\": engine ID \"%s\" is not 5 to 32 bytes in hex",
				 u->name, u->engine_id);
			return -EINVAL;
		}
		ret = same_user_before(cfg, i);
		if (ret < 0) {
			snprintf(err, errlen,
				 "snmp users \"%s\" differ in protocols or passwords: informs, "
				 "sent to our one engine ID, can use only one",
				 u->name);
			return -EINVAL;
		}
		if (!ret) {
			ret = add_user(t, u, local, local_len, err, errlen);
			if (ret)
				return ret;
		}
		if (u->engine_id[0] && (eid_len != local_len || memcmp(eid, local, eid_len))) {
			ret = add_user(t, u, eid, eid_len, err, errlen);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Constant time in the configured community: a wrong guess says nothing of how close
 * it came. */
static bool community_ok(const struct upn_trap *t, const netsnmp_pdu *pdu)
{
	unsigned char diff;
	size_t i;

	if (!t->community_len)
		return false;
	diff = pdu->community_len != t->community_len;
	for (i = 0; i < t->community_len; i++)
		diff |= t->community[i] ^ (i < pdu->community_len ? pdu->community[i] : 0);
	return !diff;
}

static void ack(struct listener *l, netsnmp_pdu *pdu)
{
	struct upn_trap *t = l->t;
	netsnmp_pdu *reply = snmp_clone_pdu(pdu);

	if (!reply) {
		t->stats.ack_failed++;
		return;
	}
	/* RFC 3416 4.2.7: the Response echoes request-id and variable bindings. */
	reply->command = SNMP_MSG_RESPONSE;
	reply->errstat = 0;
	reply->errindex = 0;
	if (snmp_sess_send(l->sessp, reply)) {
		t->stats.informs_acked++;
		return;
	}
	/* 0 is also what a sent PDU with request-id 0 returns; then it is not freed
	 * either, and no error is set. */
	snmp_free_pdu(reply);
	if (snmp_sess_session(l->sessp)->s_snmp_errno)
		t->stats.ack_failed++;
	else
		t->stats.informs_acked++;
}

/* RFC 3584 3.1: a v1 trap's snmpTrapOID. */
static bool v1_trap_oid(const netsnmp_pdu *pdu, oid *id, size_t *len)
{
	if (pdu->trap_type >= SNMP_TRAP_COLDSTART &&
	    pdu->trap_type < SNMP_TRAP_ENTERPRISESPECIFIC) {
		memcpy(id, snmp_traps, sizeof(snmp_traps));
		id[OID_LENGTH(snmp_traps)] = (oid)pdu->trap_type + 1;
		*len = OID_LENGTH(snmp_traps) + 1;
		return true;
	}
	if (pdu->trap_type != SNMP_TRAP_ENTERPRISESPECIFIC || pdu->specific_type < 0 ||
	    pdu->specific_type > 0xffffffffl || !pdu->enterprise || !pdu->enterprise_length ||
	    pdu->enterprise_length + 2 > MAX_OID_LEN)
		return false;
	memcpy(id, pdu->enterprise, pdu->enterprise_length * sizeof(oid));
	id[pdu->enterprise_length] = 0;
	id[pdu->enterprise_length + 1] = (oid)pdu->specific_type;
	*len = pdu->enterprise_length + 2;
	return true;
}

static bool trap_oid_of(const netsnmp_pdu *pdu, oid *id, size_t *len)
{
	const netsnmp_variable_list *v;

	if (pdu->command == SNMP_MSG_TRAP)
		return v1_trap_oid(pdu, id, len);
	/* RFC 3416 4.2.6 puts it second, after sysUpTime.0; we take it wherever it is. */
	for (v = pdu->variables; v; v = v->next_variable) {
		if (snmp_oid_compare(v->name, v->name_length, snmp_trap_oid0,
				     OID_LENGTH(snmp_trap_oid0)))
			continue;
		if (v->type != ASN_OBJECT_ID || !v->val.objid || v->val_len % sizeof(oid) ||
		    v->val_len / sizeof(oid) > MAX_OID_LEN || v->val_len / sizeof(oid) < 1)
			return false;
		*len = v->val_len / sizeof(oid);
		memcpy(id, v->val.objid, v->val_len);
		return true;
	}
	return false;
}

static bool source_of(const netsnmp_pdu *pdu, struct upn_addr *out)
{
	/* UDP over IPv4 hands us a netsnmp_indexed_addr_pair, UDP over IPv6 a
	 * sockaddr_in6: both start with the sender's sockaddr. */
	netsnmp_sockaddr_storage ss;
	size_t len = pdu->transport_data_length;

	if (!pdu->transport_data || len < sizeof(ss.sa.sa_family))
		return false;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, pdu->transport_data, len < sizeof(ss) ? len : sizeof(ss));
	if (ss.sa.sa_family == AF_INET && len >= sizeof(ss.sin)) {
		upn_addr_set(out, AF_INET, &ss.sin.sin_addr);
		return true;
	}
	if (ss.sa.sa_family == AF_INET6 && len >= sizeof(ss.sin6)) {
		/* A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&ss.sin6.sin6_addr))
			upn_addr_set(out, AF_INET, &ss.sin6.sin6_addr.s6_addr[12]);
		else
			upn_addr_set(out, AF_INET6, &ss.sin6.sin6_addr);
		return true;
	}
	return false;
}

static bool nonzero4(const void *p)
{
	const u_char *b = p;

	return b[0] | b[1] | b[2] | b[3];
}

/* The agent is who the trap is about, which a relay or a NAT may not be: the v1
 * agent-addr, else snmpTrapAddress.0 (SNMP-COMMUNITY-MIB, set by proxies that turn v1
 * into v2), else the sender. 0.0.0.0 is "unknown", as snmptrap sends it. */
static bool agent_of(const netsnmp_pdu *pdu, struct upn_addr *out)
{
	const netsnmp_variable_list *v;

	if (pdu->command == SNMP_MSG_TRAP && nonzero4(pdu->agent_addr)) {
		upn_addr_set(out, AF_INET, pdu->agent_addr);
		return true;
	}
	for (v = pdu->variables; v; v = v->next_variable) {
		if (v->type != ASN_IPADDRESS || v->val_len != 4 || !v->val.string ||
		    snmp_oid_compare(v->name, v->name_length, snmp_trap_address0,
				     OID_LENGTH(snmp_trap_address0)))
			continue;
		if (!nonzero4(v->val.string))
			break;
		upn_addr_set(out, AF_INET, v->val.string);
		return true;
	}
	return source_of(pdu, out);
}

static bool oid_wanted(const struct upn_trap *t, const oid *id, size_t len)
{
	size_t i;

	for (i = 0; i < t->noids; i++)
		if (!snmp_oid_compare(t->oids[i].id, t->oids[i].len, id, len))
			return true;
	return false;
}

static void classify(struct listener *l, netsnmp_pdu *pdu)
{
	struct upn_trap *t = l->t;
	oid id[MAX_OID_LEN];
	char buf[OID_STR_MAX];
	struct upn_addr agent;
	size_t len;

	switch (pdu->version) {
	case SNMP_VERSION_1:
	case SNMP_VERSION_2c:
		if (!community_ok(t, pdu)) {
			t->stats.bad_community++;
			return;
		}
		break;
	case SNMP_VERSION_3:
		/* USM has checked digest and decryption by now, but it lets a user send
		 * at a lower level than configured: noAuthNoPriv needs no password. */
		if (pdu->securityModel != SNMP_SEC_MODEL_USM ||
		    pdu->securityLevel != SNMP_SEC_LEVEL_AUTHPRIV) {
			t->stats.bad_user++;
			return;
		}
		break;
	default:
		t->stats.malformed++;
		return;
	}
	/* A Trap-PDU exists only in v1, SNMPv2-Trap and Inform only after it. */
	if ((pdu->command == SNMP_MSG_TRAP) != (pdu->version == SNMP_VERSION_1)) {
		t->stats.malformed++;
		return;
	}
	/* Authenticated: acknowledge, whatever we make of it, or the sender retries. */
	if (pdu->command == SNMP_MSG_INFORM)
		ack(l, pdu);
	if (!trap_oid_of(pdu, id, &len) || !agent_of(pdu, &agent)) {
		t->stats.malformed++;
		return;
	}
	if (!t->wanted(t->ctx, &agent)) {
		t->stats.not_watched++;
		return;
	}
	if (!oid_wanted(t, id, len)) {
		t->stats.other_oid++;
		return;
	}
	fmt_oid(id, len, buf);
	t->stats.accepted++;
	t->recovered(t->ctx, &agent, buf);
}

static int on_pdu(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct listener *l = magic;

	/* USM also calls us, from inside the parser, for a wrong digest (that is how
	 * snmpd sends authenticationFailure traps): s_snmp_errno says so, and
	 * post_parse() counts it. */
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu || sp->s_snmp_errno)
		return 1;
	classify(l, pdu);
	return 1;
}

/* One BER header with tag @tag at *@p: moves *@p to the contents and returns their
 * length, or -1. Long-form lengths of up to 8 octets, as net-snmp accepts them. */
static long ber_hdr(const u_char **p, const u_char *end, u_char tag)
{
	const u_char *q = *p;
	size_t len, n;

	if (end - q < 2 || *q++ != tag)
		return -1;
	len = *q++;
	if (len & 0x80) {
		n = len & 0x7f;
		if (!n || n > 8 || (size_t)(end - q) < n)
			return -1;
		for (len = 0; n; n--) {
			if (len >> 55)
				return -1;
			len = len << 8 | *q++;
		}
	}
	if (len > (size_t)(end - q))
		return -1;
	*p = q;
	return (long)len;
}

/* An INTEGER's value, whatever its encoding: a padded 3 is still 3 to net-snmp. */
static bool ber_int(const u_char **p, const u_char *end, long *v)
{
	long l = ber_hdr(p, end, ASN_INTEGER), i;
	unsigned long u;

	if (l < 1 || l > 9)
		return false;
	u = (**p & 0x80) ? ~0ul : 0;
	for (i = 0; i < l; i++)
		u = u << 8 | (*p)[i];
	*v = (long)u;
	*p += l;
	return true;
}

enum verdict { PASS, DROP_USER, DROP_MALFORMED };

/*
 * USM keeps boots and time for every engine that sends it a non-reportable message
 * (a trap), before it looks at the user, and never forgets one: a stream of
 * unauthenticated v3 traps from made-up engine IDs grows our memory without end
 * (about 90 bytes each, measured) and every lookup slower. So such a message only
 * reaches net-snmp when its msgAuthoritativeEngineID is one a configured user is
 * bound to; anything else could only end as an unknown user. Reportable messages
 * (informs, discovery) pass: USM answers those with a Report and stores nothing.
 * A v3 message we cannot take apart this far is dropped: if we could not, net-snmp
 * should not either.
 */
static enum verdict v3_filter(const struct upn_trap *t, const u_char *p, size_t n)
{
	const u_char *end = p + n, *gend;
	long l, v;
	u_char flags;
	size_t i;

	l = ber_hdr(&p, end, ASN_SEQUENCE | ASN_CONSTRUCTOR);
	if (l < 0)
		return PASS;
	end = p + l;
	if (!ber_int(&p, end, &v) || v != SNMP_VERSION_3)
		return PASS; /* v1, v2c, or junk net-snmp will count */
	l = ber_hdr(&p, end, ASN_SEQUENCE | ASN_CONSTRUCTOR); /* msgGlobalData */
	if (l < 0)
		return DROP_MALFORMED;
	gend = p + l;
	if (!ber_int(&p, gend, &v) || !ber_int(&p, gend, &v)) /* msgID, msgMaxSize */
		return DROP_MALFORMED;
	l = ber_hdr(&p, gend, ASN_OCTET_STR);
	if (l != 1)
		return DROP_MALFORMED;
	flags = *p++;
	if (!ber_int(&p, gend, &v))
		return DROP_MALFORMED;
	if (v != SNMP_SEC_MODEL_USM || (flags & SNMP_MSG_FLAG_RPRT_BIT))
		return PASS;
	p = gend;
	l = ber_hdr(&p, end, ASN_OCTET_STR); /* msgSecurityParameters */
	if (l < 0)
		return DROP_MALFORMED;
	end = p + l;
	if (ber_hdr(&p, end, ASN_SEQUENCE | ASN_CONSTRUCTOR) < 0)
		return DROP_MALFORMED;
	l = ber_hdr(&p, end, ASN_OCTET_STR); /* msgAuthoritativeEngineID */
	if (l < 0)
		return DROP_MALFORMED;
	for (i = 0; i < t->nusers; i++)
		if (t->users[i].engine_len == (size_t)l &&
		    !memcmp(t->users[i].engine, p, (size_t)l))
			return PASS;
	return DROP_USER;
}

/* f_recv gets no context of ours: this is the listener being read, set around
 * snmp_sess_read2(), the only caller. */
static struct listener *reading;

static int recv_filtered(netsnmp_transport *tr, void *buf, int size, void **opaque, int *olen)
{
	struct listener *l = reading;
	int n;

	if (!l) {
		errno = EAGAIN;
		return -1;
	}
	n = l->recv(tr, buf, size, opaque, olen);
	if (n <= 0)
		return n;
	switch (v3_filter(l->t, buf, (size_t)n)) {
	case PASS:
		return n;
	case DROP_USER:
		l->t->stats.bad_user++;
		break;
	case DROP_MALFORMED:
		l->t->stats.malformed++;
		break;
	}
	l->t->stats.received++;
	/* A failed read: net-snmp frees @buf and @opaque and parses nothing. */
	errno = EAGAIN;
	return -1;
}

static int pre_parse(netsnmp_session *sp, netsnmp_transport *tr, void *opaque, int olen)
{
	struct listener *l = sp->callback_magic;

	l->t->stats.received++;
	return 1;
}

static int post_parse(netsnmp_session *sp, netsnmp_pdu *pdu, int ret)
{
	struct upn_trap *t = ((struct listener *)sp->callback_magic)->t;

	if (ret == SNMPERR_SUCCESS) {
		switch (pdu->command) {
		case SNMP_MSG_TRAP:
		case SNMP_MSG_TRAP2:
		case SNMP_MSG_INFORM:
			return 1;
		default:
			/* Returning 0 drops it unanswered. */
			t->stats.other_pdu++;
			return 0;
		}
	}
	if (pdu->version == SNMP_VERSION_3) {
		switch (ret) {
		case SNMPERR_USM_UNKNOWNENGINEID:
			/* net-snmp has answered with a Report carrying our engine ID:
			 * the first thing every v3 inform sender does. */
			t->stats.engine_probes++;
			return 1;
		case SNMPERR_USM_UNKNOWNSECURITYNAME:
		case SNMPERR_USM_AUTHENTICATIONFAILURE:
		case SNMPERR_USM_DECRYPTIONERROR:
		case SNMPERR_USM_UNSUPPORTEDSECURITYLEVEL:
		case SNMPERR_USM_NOTINTIMEWINDOW:
		case SNMPERR_UNKNOWN_SEC_MODEL:
			t->stats.bad_user++;
			return 1;
		case SNMPERR_ASN_PARSE_ERR:
			/* USM names the user only once it has parsed the security
			 * parameters, and returns its own errors: a plain parse error
			 * after that is the scoped PDU, which for authPriv means the
			 * digest was right and the decryption produced garbage, i.e. a
			 * wrong privacy password or protocol. */
			if (pdu->securityName && pdu->securityLevel == SNMP_SEC_LEVEL_AUTHPRIV) {
				t->stats.bad_user++;
				return 1;
			}
			break;
		}
	}
	t->stats.malformed++;
	return 1;
}

static int listen_on(struct listener *l, const char *spec, char *err, size_t errlen)
{
	netsnmp_transport *tr;
	netsnmp_session sess;
	int rcvbuf = RCVBUF_BYTES, fl;

	lib_last_msg[0] = '\0';
	tr = netsnmp_transport_open_server("snmptrap", spec);
	if (!tr) {
		snprintf(err, errlen, "snmp_listen %s: cannot listen: %s", spec,
			 lib_last_msg[0] ? lib_last_msg : strerror(errno));
		return -EADDRNOTAVAIL;
	}
	/* TCP would need accept(), which net-snmp does by adding sessions to its global
	 * list behind the single-session API's back; DTLS/TLS need certificates. */
	if (tr->domain != netsnmpUDPDomain && tr->domain != netsnmp_UDPIPv6Domain) {
		tr->f_close(tr);
		netsnmp_transport_free(tr);
		snprintf(err, errlen, "snmp_listen %s: only udp: and udp6: are supported", spec);
		return -EPROTONOSUPPORT;
	}
	/* We read until EAGAIN: a blocking socket would hang the loop on the read
	 * after the last datagram. */
	fl = fcntl(tr->sock, F_GETFL);
	if (fl < 0 || fcntl(tr->sock, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(tr->sock, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "snmp_listen %s: %s", spec, strerror(errno));
		tr->f_close(tr);
		netsnmp_transport_free(tr);
		return -EIO;
	}
	if (setsockopt(tr->sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		upn_dbg("snmp: SO_RCVBUF: %s", strerror(errno));

	snmp_sess_init(&sess);
	sess.version = SNMP_DEFAULT_VERSION; /* any: each PDU says which */
	sess.callback = on_pdu;
	sess.callback_magic = l;
	/* We are authoritative for informs (sent to our engine ID) and not for traps
	 * (the sender's): net-snmp decides per message. */
	sess.isAuthoritative = SNMP_SESS_UNKNOWNAUTH;
	l->fd = tr->sock;
	l->recv = tr->f_recv;
	tr->f_recv = recv_filtered;
	l->sessp = snmp_sess_add(&sess, tr, pre_parse, post_parse);
	if (!l->sessp) {
		/* snmp_sess_add() has closed and freed the transport. */
		snprintf(err, errlen, "snmp_listen %s: %s", spec, snmp_api_errstring(snmp_errno));
		return -EIO;
	}
	netsnmp_large_fd_set_init(&l->fdset, l->fd + 1);
	return 0;
}

/* "udp:0.0.0.0:162,udp6:[::]:162" */
static int listen_all(struct upn_trap *t, const char *specs, char *err, size_t errlen)
{
	char buf[sizeof(((struct upn_config *)0)->snmp_listen)], *save = NULL, *spec;
	int ret;

	snprintf(buf, sizeof(buf), "%s", specs);
	for (spec = strtok_r(buf, ", \t", &save); spec; spec = strtok_r(NULL, ", \t", &save)) {
		if (t->nls == LISTEN_MAX) {
			snprintf(err, errlen, "snmp_listen: more than %d transports", LISTEN_MAX);
			return -E2BIG;
		}
		t->ls[t->nls].t = t;
		ret = listen_on(&t->ls[t->nls], spec, err, errlen);
		if (ret)
			return ret;
		t->nls++;
	}
	if (!t->nls) {
		snprintf(err, errlen, "snmp_listen is empty");
		return -EINVAL;
	}
	return 0;
}

static int load_oids(struct upn_trap *t, const struct upn_config *cfg, char *err, size_t errlen)
{
	static const oid standard[] = { 1, 2, 4 }; /* coldStart, warmStart, linkUp */
	size_t i;

	t->oids = calloc(OID_LENGTH(standard) + cfg->ntrap_oids, sizeof(*t->oids));
	if (!t->oids) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < OID_LENGTH(standard); i++) {
		struct trap_oid *o = &t->oids[t->noids++];

		memcpy(o->id, snmp_traps, sizeof(snmp_traps));
		o->id[OID_LENGTH(snmp_traps)] = standard[i];
		o->len = OID_LENGTH(snmp_traps) + 1;
	}
	for (i = 0; i < cfg->ntrap_oids; i++) {
		if (parse_oid(cfg->trap_oids[i], &t->oids[t->noids])) {
			snprintf(err, errlen, "trap_oids: \"%s\" is not a numeric OID",
				 cfg->trap_oids[i]);
			return -EINVAL;
		}
		t->noids++;
	}
	return 0;
}

struct upn_trap *
upn_trap_open(const struct upn_config *cfg, bool (*wanted)(void *ctx, const struct upn_addr *agent),
	      void (*recovered)(void *ctx, const struct upn_addr *agent, const char *trap_oid),
	      void *ctx, char *err, size_t errlen)
{
	struct upn_trap *t;
	size_t n;

	if (!cfg->snmp_listen[0]) {
		snprintf(err, errlen, "snmp_listen is empty");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->wanted = wanted;
	t->recovered = recovered;
	t->ctx = ctx;
	n = strnlen(cfg->snmp_community, sizeof(cfg->snmp_community));
	memcpy(t->community, cfg->snmp_community, n);
	t->community_len = n;
	if (load_oids(t, cfg, err, errlen)) {
		free(t->oids);
		free(t);
		return NULL;
	}
	lib_init();
	lib_opening = true;
	if (add_users(t, cfg, err, errlen) || listen_all(t, cfg->snmp_listen, err, errlen)) {
		lib_opening = false;
		upn_trap_close(t);
		return NULL;
	}
	lib_opening = false;
	return t;
}

void upn_trap_close(struct upn_trap *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nls; i++) {
		snmp_sess_close(t->ls[i].sessp);
		netsnmp_large_fd_set_cleanup(&t->ls[i].fdset);
	}
	remove_users(t);
	explicit_bzero(t->community, sizeof(t->community));
	free(t->users);
	free(t->oids);
	free(t);
}

int upn_trap_fds(struct upn_trap *t, int *fds, int max)
{
	int n;

	for (n = 0; n < max && (size_t)n < t->nls; n++)
		fds[n] = t->ls[n].fd;
	return n;
}

/* Every transport, until each is empty or has given READS_PER_CALL datagrams: one
 * more recvfrom() on an empty socket costs less than knowing which fd woke us. */
void upn_trap_read(struct upn_trap *t)
{
	size_t i;
	int n;

	for (i = 0; i < t->nls; i++) {
		struct listener *l = &t->ls[i];

		for (n = 0; n < READS_PER_CALL; n++) {
			uint64_t before = t->stats.received;

			/* snmp_sess_read2() clears the fd from the set it has read. */
			NETSNMP_LARGE_FD_SET(l->fd, &l->fdset);
			reading = l;
			snmp_sess_read2(l->sessp, &l->fdset);
			reading = NULL;
			/* pre_parse() or recv_filtered() counts every datagram; nothing
			 * counted means recvfrom() found the socket empty. */
			if (t->stats.received == before)
				break;
		}
	}
}

void upn_trap_get_stats(const struct upn_trap *t, struct upn_trap_stats *out)
{
	*out = t->stats;
}
