/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* upnotifyd's configuration: an INI file read with inih (upnotify.conf(5)). */
#ifndef UPN_CONFIG_H
#define UPN_CONFIG_H

#include <linux/limits.h>
#include <linux/upnotify.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "addr.h"
#include "limits.h"
#include "relaymsg.h"

enum upn_source {
	UPN_SOURCE_AUTO,
	UPN_SOURCE_NFQUEUE,
	UPN_SOURCE_KMOD,
};

struct upn_config_client {
	struct upn_prefix prefix;
	char mail[UPN_MAIL_MAX + 1];
};

/* A [servers] line: ADDR_OR_PREFIX = MODE [TARGET] [KEYID]. */
struct upn_config_server {
	struct upn_prefix prefix;
	uint8_t mode;			      /* enum upn_relay_mode (store.h) */
	char target[UPN_URL_MAX + 1];	      /* mail address or URL; "" for direct */
	char key_id[UPN_RELAY_KEYID_MAX + 1]; /* "" until upn_config_relay_keys: the first */
	int line;			      /* in the file, for errors found later */
};

/* A [commands] allow line: ADDR:SECRETFILE [COMMAND ...] (mail commands, cmdparse.h). */
#define UPN_CMD_SECRET_MIN 16
#define UPN_CMD_SECRET_MAX 256
struct upn_cmd_allow {
	char addr[UPN_MAIL_MAX + 1];
	char secret_file[PATH_MAX];
	char secret[UPN_CMD_SECRET_MAX + 1]; /* the file's line, read at load */
	size_t secret_len;
	uint8_t verbs; /* bit 1 << enum upn_cmd_verb; all of them without a list */
};

/* [commands]: mail commands read from a POP3 mailbox (cmdmail.h). */
struct upn_commands_config {
	char mailbox[UPN_URL_MAX + 1]; /* pop3:// or pop3s:// URL; "" : no polling */
	char password_file[PATH_MAX];
	char ca_file[PATH_MAX];
	uint32_t poll_ms;
	struct upn_cmd_allow *allow; /* none: every command mail is refused */
	size_t nallow;
	uint32_t reply_rate_s; /* error replies per sender: one per this; 0 no limit */
	/* A subscriber by mail has no address of its own: it gets one in here. */
	struct upn_prefix subscriber_prefix;
};

/* An SNMPv3 USM user allowed to send traps: NAME SHA|SHA-256|MD5 AUTHPASS AES|DES PRIVPASS
 * [ENGINEID]. authPriv only: an unauthenticated v3 trap is no better than a forged one. */
struct upn_snmp_user {
	char name[64];
	char auth_proto[16]; /* "SHA", "SHA-256", "SHA-512", "MD5" */
	char auth_pass[128];
	char priv_proto[16]; /* "AES", "AES-256", "DES" */
	char priv_pass[128];
	char engine_id[80]; /* hex, optional: the sender's engine ID */
};

enum upn_relay_order {
	UPN_RELAY_ORDERED,	/* the first relay that works */
	UPN_RELAY_LEAST_LOADED, /* the working relay with the fewest messages in flight lately */
};

enum upn_starttls {
	UPN_STARTTLS_NO,
	UPN_STARTTLS_YES,      /* when offered */
	UPN_STARTTLS_REQUIRED, /* no TLS, no mail */
};

struct upn_relay {
	char host[256];
	uint16_t port;
};

struct upn_mail_config {
	struct upn_relay *relays; /* none: mail is queued but not sent */
	size_t nrelays;
	enum upn_relay_order order;
	char from[UPN_MAIL_MAX + 1];
	enum upn_starttls starttls;
	char ca_file[PATH_MAX];	      /* empty: the system's CAs */
	char auth_file[PATH_MAX];     /* lines "user password"; empty: no AUTH */
	char template_path[PATH_MAX]; /* empty: the built-in text */
	uint32_t rate;		      /* messages per second in all; 0: no limit */
	uint32_t rate_per_domain;     /* messages per second per recipient domain; 0: none */
	uint32_t retry_min_ms;	      /* first retry after a temporary failure */
	uint32_t retry_max_ms;	      /* backoff cap */
	uint32_t give_up_ms;	      /* a message still failing after this is failed */
	uint32_t relay_retry_ms;      /* a dead relay is tried again after this */
	/* Filled in from [portal] by the daemon, not read from [mail]: the base of the
	 * unsubscribe and confirmation links ("" without a portal: no List-Unsubscribe)
	 * and the key that signs their tokens (the store's secret "portal"). */
	char link_base[UPN_URL_MAX + 1];
	unsigned char link_key[32];
	/* Filled in by the daemon from [relay] key_file: the keys that sign relay
	 * mails and webhooks (upn_config_free frees them). */
	struct upn_relay_keys relay_keys;
	uint32_t webhook_timeout_ms; /* a whole webhook POST */
};

enum upn_portal_mode {
	UPN_PORTAL_SERVER,  /* the form posts back to the dead server's address (embodiment 5) */
	UPN_PORTAL_GATEWAY, /* the form posts to gateway_url (embodiment 4) */
};

/* The inquiry portal (upnotify.conf(5), [portal]). */
struct upn_portal_config {
	bool enable;
	uint16_t ports[UPN_PORTAL_PORTS_MAX]; /* intercepted server ports */
	size_t nports;
	enum upn_portal_mode mode;
	char listen[128];		   /* "ADDR:PORT" or "[ADDR]:PORT" */
	char gateway_url[UPN_URL_MAX + 1]; /* "" : no gateway mode, no mail links */
	bool confirm;			   /* double opt-in */
	uint32_t confirm_ttl_s;
	uint32_t reask_after_s;
	char templates[PATH_MAX]; /* "" : the built-in pages */
	uint32_t client_rate;	  /* registrations per client address per hour */
	uint32_t address_rate;	  /* per mail address per hour */
	uint32_t server_max;	  /* registrations per server and outage */
	uint32_t max_connections;
	uint32_t timeout_s; /* per connection */
	uint32_t max_body;  /* bytes */
	uint32_t fwmark, route_table;
};

struct upn_config {
	/* [detect] */
	enum upn_source source;
	enum upnotify_mode mode;  /* kmod: which hooks; NFQUEUE does GATEWAY only */
	struct upn_prefix *watch; /* none: every server is watched */
	size_t nwatch;
	struct upn_prefix *ignore; /* clients never recorded */
	size_t nignore;
	uint32_t syn_timeout_ms;
	bool count_refused;
	uint16_t queue;
	uint32_t pending_max;
	bool install_rules;
	uint8_t icmp_codes[32];	 /* bitmap of ICMP dest-unreachable codes that count */
	uint8_t icmp6_codes[32]; /* the same for ICMPv6 */
	/* [waitlist] */
	uint32_t per_server_max;
	uint32_t total_max;
	bool only_known_clients;
	/* [recovery] */
	char snmp_listen[128];	 /* net-snmp transport spec; empty: no traps */
	char snmp_community[64]; /* v1/v2c; empty: v1/v2c refused */
	struct upn_snmp_user *snmp_users;
	size_t nsnmp_users;
	char **trap_oids; /* beyond coldStart, warmStart, linkUp */
	size_t ntrap_oids;
	bool probe;
	uint32_t probe_interval_ms;
	uint32_t probe_max_interval_ms;
	uint32_t rise;
	bool neigh; /* rtnetlink neighbour events */
	/* [store] */
	char store_path[PATH_MAX];
	uint32_t max_wait_s; /* older clients are not told, and are purged */
	/* [control] */
	char ctl_socket[PATH_MAX];
	mode_t ctl_mode;
	/* [clients] */
	struct upn_config_client *clients;
	size_t nclients;
	/* [servers] */
	struct upn_config_server *servers;
	size_t nservers;
	/* [relay] (webhook_timeout goes to mail.webhook_timeout_ms) */
	char relay_key_file[PATH_MAX]; /* "" : no relay or webhook entry allowed */
	uint32_t relay_max_clients;    /* per relay list; the rest are counted */
	/* [mail] */
	struct upn_mail_config mail;
	/* [portal] */
	struct upn_portal_config portal;
	/* [commands] */
	struct upn_commands_config commands;
};

/* Defaults, then @path on top. On error returns -EINVAL with "path:line: message" (or
 * "path: message") in @err; @cfg then holds nothing to free. */
int upn_config_load(const char *path, struct upn_config *cfg, char *err, size_t errlen);
void upn_config_defaults(struct upn_config *cfg);
/* One "name = value" of @section, parsed into @cfg exactly as upn_config_load does
 * (for upnotify-agent, whose file shares the [mail], [clients] and [store] keys). 0, or
 * -EINVAL with the message, without file or line, in @err. A key that continues on an
 * indented line is passed again with the continuation, as inih does. */
int upn_config_key(struct upn_config *cfg, const char *section, const char *name, const char *value,
		   char *err, size_t errlen);
void upn_config_free(struct upn_config *cfg);

/* Reading an INI file, shared with upnotify-agent's parser (agentconf.c) so that both
 * count lines, report errors and read each kind of value alike. A parser embeds this
 * state in its own; its handler reports through upn_config_fail(). */
struct upn_config_parse {
	FILE *f;
	int line;     /* of the line inih is handling now */
	int err_line; /* of the first error; 0: none yet */
	char err[320];
};

/* Reads @path with inih into @p, calling @handler(@user, section, name, value) for each
 * key (@user holds @p). 0, or -EINVAL with "path:line: message" (or "path: message") in
 * @err: inih's syntax error or the first upn_config_fail(), whichever came first. */
int upn_config_parse_file(const char *path, struct upn_config_parse *p,
			  int (*handler)(void *user, const char *section, const char *name,
					 const char *value),
			  void *user, char *err, size_t errlen);
/* Records the first error, at the line being read; returns 0, inih's "stop". */
int upn_config_fail(struct upn_config_parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The value parsers: each returns 1 with *@out set, or 0 after upn_config_fail() with a
 * message that starts with @name. */
/* yes/true/on/1 or no/false/off/0, any case */
int upn_config_parse_bool(struct upn_config_parse *p, const char *name, const char *v, bool *out);
/* An absolute path shorter than @max; upn_config_parse_opt_path also takes "": none. */
int upn_config_parse_path(struct upn_config_parse *p, const char *name, const char *v, char *out,
			  size_t max);
int upn_config_parse_opt_path(struct upn_config_parse *p, const char *name, const char *v,
			      char *out, size_t max);
/* A duration (upn_duration_parse) from @lo to @hi milliseconds. */
int upn_config_parse_ms(struct upn_config_parse *p, const char *name, const char *v, uint32_t lo,
			uint32_t hi, uint32_t *out);
/* A duration from @lo_s to @hi_s seconds, kept in whole seconds (a year of them does
 * not fit a u32 of milliseconds). */
int upn_config_parse_secs(struct upn_config_parse *p, const char *name, const char *v,
			  uint32_t lo_s, uint32_t hi_s, uint32_t *out_s);
/* Addresses or prefixes, comma- or space-separated, appended to *@v (*@n of them). */
int upn_config_parse_prefixes(struct upn_config_parse *p, const char *name, const char *v,
			      struct upn_prefix **out, size_t *n);

static inline bool upn_config_code_counts(const uint8_t *bitmap, uint8_t code)
{
	return bitmap[code >> 3] & (1u << (code & 7));
}

const char *upn_source_name(enum upn_source s);
const char *upn_mode_name(enum upnotify_mode m);
/* Can @source watch the traffic @mode asks for? NULL, or why not. */
const char *upn_config_mode_error(enum upn_source source, enum upnotify_mode mode);

/* Does the [portal] section hang together? NULL, or why not. */
const char *upn_config_portal_error(const struct upn_config *c);

/* Shared with the control socket: is this a mail address we are willing to use? */
bool upn_mail_valid(const char *mail);

/* Reads [relay] key_file (if set) into cfg->mail.relay_keys, gives each relaying
 * [servers] entry without a KEYID the file's first key, and checks that every KEYID
 * named is in the file. Run after upn_config_load, by --check too. 0, or -EINVAL with
 * "path:line: message" (@path: the config file) in @err and the keys freed. */
int upn_config_relay_keys(struct upn_config *cfg, const char *path, char *err, size_t errlen);

#endif
