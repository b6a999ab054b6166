// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cmdparse.h"
#include "duration.h"
#include "mailbox.h"
#include "srvmap.h"
#include "store.h"

struct parse {
	struct upn_config_parse ini;
	struct upn_config *cfg;
	bool codes_seen[2]; /* icmp_codes / icmp6_codes replace the defaults once */
};

/* Count lines as inih reads them, so handler errors name the right line, and refuse
 * lines longer than inih would read in one piece rather than have it split them. */
static char *reader(char *buf, int size, void *stream)
{
	struct upn_config_parse *p = stream;
	size_t n;

	if (!fgets(buf, size, p->f))
		return NULL;
	p->line++;
	n = strlen(buf);
	if (n == (size_t)size - 1 && buf[n - 1] != '\n' && !feof(p->f) && !p->err_line) {
		p->err_line = p->line;
		snprintf(p->err, sizeof(p->err),
			 "line longer than %d characters; continue a list on an indented line",
			 size - 2);
	}
	return buf;
}

int upn_config_parse_file(const char *path, struct upn_config_parse *p,
			  int (*handler)(void *user, const char *section, const char *name,
					 const char *value),
			  void *user, char *err, size_t errlen)
{
	int ret;

	p->f = fopen(path, "r");
	if (!p->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	ret = ini_parse_stream(reader, p, handler, user);
	fclose(p->f);
	p->f = NULL;
	if (ret == 0 && !p->err_line)
		return 0;
	/* inih reports the first bad line; if that is earlier than ours, it was a line
	 * inih itself could not read. */
	if (ret > 0 && (!p->err_line || ret < p->err_line))
		snprintf(err, errlen, "%s:%d: syntax error: expected [section] or name = value",
			 path, ret);
	else if (ret < 0)
		snprintf(err, errlen, "%s: %s", path, ret == -2 ? "out of memory" : "cannot read");
	else
		snprintf(err, errlen, "%s:%d: %s", path, p->err_line, p->err);
	return -EINVAL;
}

int upn_config_fail(struct upn_config_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->err_line) {
		p->err_line = p->line;
		va_start(ap, fmt);
		vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
	}
	return 0;
}

int upn_config_parse_bool(struct upn_config_parse *p, const char *name, const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return 1;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return 1;
	}
	return upn_config_fail(p, "%s: expected yes or no, got '%s'", name, v);
}

static int parse_u32(struct upn_config_parse *p, const char *name, const char *v, uint32_t lo,
		     uint32_t hi, uint32_t *out)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || n < lo || n > hi)
		return upn_config_fail(p, "%s: expected a whole number from %u to %u, got '%s'",
				       name, lo, hi, v);
	*out = (uint32_t)n;
	return 1;
}

int upn_config_parse_ms(struct upn_config_parse *p, const char *name, const char *v, uint32_t lo,
			uint32_t hi, uint32_t *out)
{
	uint64_t ms;

	if (upn_duration_parse(v, &ms) || ms < lo || ms > hi)
		return upn_config_fail(
			p, "%s: expected a duration from %ums to %ums (e.g. 30s), got '%s'", name,
			lo, hi, v);
	*out = (uint32_t)ms;
	return 1;
}

/* @s in its largest whole unit, as the configuration would write it: "1m", "366d". */
static const char *secs_fmt(uint32_t s, char *buf, size_t size)
{
	static const struct {
		uint32_t s;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' } };

	for (size_t i = 0; s && i < sizeof(units) / sizeof(units[0]); i++) {
		if (s % units[i].s == 0) {
			snprintf(buf, size, "%u%c", s / units[i].s, units[i].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%us", s);
	return buf;
}

int upn_config_parse_secs(struct upn_config_parse *p, const char *name, const char *v,
			  uint32_t lo_s, uint32_t hi_s, uint32_t *out_s)
{
	char lo[16], hi[16];
	uint64_t ms;

	if (upn_duration_parse(v, &ms) || ms < lo_s * 1000ull || ms > hi_s * 1000ull) {
		if (!lo_s)
			return upn_config_fail(p, "%s: expected a duration up to %s, got '%s'",
					       name, secs_fmt(hi_s, hi, sizeof(hi)), v);
		return upn_config_fail(p, "%s: expected a duration from %s to %s, got '%s'", name,
				       secs_fmt(lo_s, lo, sizeof(lo)),
				       secs_fmt(hi_s, hi, sizeof(hi)), v);
	}
	*out_s = (uint32_t)(ms / 1000);
	return 1;
}

/* Comma- or space-separated items; inih calls us again for continuation lines. */
static int each_item(struct upn_config_parse *p, const char *v,
		     int (*fn)(struct upn_config_parse *, const char *, void *), void *arg)
{
	char *copy = strdup(v), *save = NULL, *tok;
	int ok = 1;

	if (!copy)
		return upn_config_fail(p, "out of memory");
	for (tok = strtok_r(copy, ", \t", &save); tok && ok; tok = strtok_r(NULL, ", \t", &save))
		ok = fn(p, tok, arg);
	free(copy);
	return ok;
}

struct prefix_list {
	const char *name;
	struct upn_prefix **v;
	size_t *n;
};

static int add_prefix(struct upn_config_parse *p, const char *tok, void *arg)
{
	struct prefix_list *l = arg;
	struct upn_prefix pfx, *nv;
	int ret = upn_prefix_parse(tok, &pfx);

	if (ret == -EDOM)
		return upn_config_fail(p, "%s: '%s' has host bits set beyond its prefix length",
				       l->name, tok);
	if (ret)
		return upn_config_fail(p, "%s: '%s' is not an IPv4 or IPv6 address or prefix",
				       l->name, tok);
	nv = realloc(*l->v, (*l->n + 1) * sizeof(**l->v));
	if (!nv)
		return upn_config_fail(p, "out of memory");
	nv[(*l->n)++] = pfx;
	*l->v = nv;
	return 1;
}

int upn_config_parse_prefixes(struct upn_config_parse *p, const char *name, const char *v,
			      struct upn_prefix **out, size_t *n)
{
	return each_item(p, v, add_prefix, &(struct prefix_list){ name, out, n });
}

struct code_list {
	const char *name;
	uint8_t *bitmap;
};

static int set_code(struct upn_config_parse *p, const char *tok, void *arg)
{
	struct code_list *l = arg;
	uint32_t code;

	if (!parse_u32(p, l->name, tok, 0, 255, &code))
		return 0;
	l->bitmap[code >> 3] |= (uint8_t)(1u << (code & 7));
	return 1;
}

/* The first line of the key replaces the defaults; continuation lines add to it. */
static int parse_codes(struct upn_config_parse *p, const char *name, const char *v, uint8_t *bitmap,
		       bool *seen)
{
	if (!*seen)
		memset(bitmap, 0, 32);
	*seen = true;
	return each_item(p, v, set_code, &(struct code_list){ name, bitmap });
}

int upn_config_parse_path(struct upn_config_parse *p, const char *name, const char *v, char *out,
			  size_t max)
{
	if (v[0] != '/')
		return upn_config_fail(p, "%s: expected an absolute path, got '%s'", name, v);
	if (strlen(v) >= max)
		return upn_config_fail(p, "%s: longer than %zu characters", name, max - 1);
	strcpy(out, v);
	return 1;
}

int upn_config_parse_opt_path(struct upn_config_parse *p, const char *name, const char *v,
			      char *out, size_t max)
{
	if (!*v) {
		out[0] = '\0';
		return 1;
	}
	return upn_config_parse_path(p, name, v, out, max);
}

const char *upn_source_name(enum upn_source s)
{
	switch (s) {
	case UPN_SOURCE_NFQUEUE:
		return "nfqueue";
	case UPN_SOURCE_KMOD:
		return "kmod";
	default:
		return "auto";
	}
}

const char *upn_mode_name(enum upnotify_mode m)
{
	switch (m) {
	case UPNOTIFY_MODE_HOST:
		return "host";
	case UPNOTIFY_MODE_ALL:
		return "all";
	default:
		return "gateway";
	}
}

const char *upn_config_mode_error(enum upn_source source, enum upnotify_mode mode)
{
	if (source != UPN_SOURCE_KMOD && mode != UPNOTIFY_MODE_GATEWAY)
		return "needs the kernel module (source = kmod): the NFQUEUE source sees "
		       "forwarded traffic only, so it supports mode = gateway alone";
	return NULL;
}

bool upn_mail_valid(const char *mail)
{
	const char *at = strrchr(mail, '@');
	size_t n = strlen(mail);

	if (n == 0 || n > UPN_MAIL_MAX || !at || at == mail || !at[1] || !strchr(at, '.'))
		return false;
	for (const char *c = mail; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("<>()[]\\,;:\"", *c))
			return false;
	return true;
}

/* inih splits "name = value" at the first '=' or ':', so an IPv6 key arrives cut at its
 * first colon: glue the pieces back into @line and split at the '=' instead. *key and
 * *val point into @line; *key parses as a prefix into @pfx. 1, or 0 after upn_config_fail(). */
static int split_key(struct parse *p, const char *what, const char *name, const char *v, char *line,
		     size_t size, char **key, char **val, struct upn_prefix *pfx)
{
	char *eq;
	int ret;

	if (snprintf(line, size, "%s=%s", name, v) >= (int)size)
		return upn_config_fail(&p->ini, "'%s' is too long for %s", name, what);
	*key = line;
	eq = strchr(line, '=');
	*eq = '\0';
	*val = eq + 1;
	if (upn_prefix_parse(name, pfx) && strchr(v, '=')) {
		/* Not a key by itself: an IPv6 key cut at its first colon. */
		*eq = ':';
		eq = strchr(line, '=');
		*eq = '\0';
		*val = eq + 1;
		while (eq > line && (eq[-1] == ' ' || eq[-1] == '\t'))
			*--eq = '\0';
		*val += strspn(*val, " \t");
	}
	ret = upn_prefix_parse(*key, pfx);
	if (ret == -EDOM)
		return upn_config_fail(&p->ini, "'%s' has host bits set beyond its prefix length",
				       *key);
	if (ret)
		return upn_config_fail(&p->ini, "'%s' is not an IPv4 or IPv6 address or prefix",
				       *key);
	return 1;
}

static int client_key(struct parse *p, const char *name, const char *v)
{
	struct upn_config *c = p->cfg;
	char line[UPN_ADDRSTRLEN + UPN_MAIL_MAX + 8], *key, *mail;
	struct upn_config_client *nv;
	struct upn_prefix pfx;

	if (!split_key(p, "a client entry", name, v, line, sizeof(line), &key, &mail, &pfx))
		return 0;
	if (!upn_mail_valid(mail))
		return upn_config_fail(&p->ini, "'%s' is not a usable mail address", mail);
	nv = realloc(c->clients, (c->nclients + 1) * sizeof(*nv));
	if (!nv)
		return upn_config_fail(&p->ini, "out of memory");
	c->clients = nv;
	nv[c->nclients].prefix = pfx;
	strcpy(nv[c->nclients].mail, mail);
	c->nclients++;
	return 1;
}

/* ADDR_OR_PREFIX = MODE [TARGET] [KEYID] */
static int server_key(struct parse *p, const char *name, const char *v)
{
	struct upn_config *c = p->cfg;
	char line[UPN_ADDRSTRLEN + UPN_URL_MAX + UPN_RELAY_KEYID_MAX + 32], *key, *val;
	char *f[4] = { 0 }, *save = NULL;
	struct upn_config_server srv = { .line = p->ini.line }, *nv;
	const char *why;
	size_t n = 0;
	int mode;

	if (!split_key(p, "a server entry", name, v, line, sizeof(line), &key, &val, &srv.prefix))
		return 0;
	for (char *t = strtok_r(val, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 3)
			return upn_config_fail(
				&p->ini, "'%s': too many fields; expected MODE [TARGET] [KEYID]",
				key);
		f[n++] = t;
	}
	if (!n)
		return upn_config_fail(&p->ini, "'%s': expected MODE [TARGET] [KEYID]", key);
	mode = upn_relay_mode_parse(f[0]);
	if (mode < 0)
		return upn_config_fail(&p->ini,
				       "'%s': expected direct, server, nms or webhook, got '%s'",
				       key, f[0]);
	srv.mode = (uint8_t)mode;
	why = upn_srvmap_target_error(srv.mode, f[1]);
	if (why)
		return upn_config_fail(&p->ini, "'%s' = %s: %s", key, f[0], why);
	if (f[2] && !upn_relay_keyid_ok(f[2]))
		return upn_config_fail(
			&p->ini, "'%s': '%.64s' is not a key id (1 to %d of A-Z a-z 0-9 . _ -)",
			key, f[2], UPN_RELAY_KEYID_MAX);
	for (size_t i = 0; i < c->nservers; i++)
		if (c->servers[i].prefix.len == srv.prefix.len &&
		    upn_addr_eq(&c->servers[i].prefix.addr, &srv.prefix.addr))
			return upn_config_fail(&p->ini, "'%s' is listed twice (first on line %d)",
					       key, c->servers[i].line);
	if (f[1])
		strcpy(srv.target, f[1]);
	if (f[2])
		strcpy(srv.key_id, f[2]);
	nv = realloc(c->servers, (c->nservers + 1) * sizeof(*nv));
	if (!nv)
		return upn_config_fail(&p->ini, "out of memory");
	nv[c->nservers++] = srv;
	c->servers = nv;
	return 1;
}

static int relay_key(struct parse *p, const char *name, const char *v)
{
	struct upn_config *c = p->cfg;

	if (!strcmp(name, "key_file"))
		return upn_config_parse_path(&p->ini, name, v, c->relay_key_file,
					     sizeof(c->relay_key_file));
	if (!strcmp(name, "webhook_timeout"))
		return upn_config_parse_ms(&p->ini, name, v, 1000, 300000,
					   &c->mail.webhook_timeout_ms);
	if (!strcmp(name, "max_clients"))
		return parse_u32(&p->ini, name, v, 1, UPN_RELAY_CLIENTS_MAX, &c->relay_max_clients);
	return upn_config_fail(&p->ini, "unknown key '%s' in [relay]", name);
}

static int detect_key(struct parse *p, const char *name, const char *v)
{
	struct upn_config *c = p->cfg;

	if (!strcmp(name, "source")) {
		if (!strcmp(v, "auto"))
			c->source = UPN_SOURCE_AUTO;
		else if (!strcmp(v, "nfqueue"))
			c->source = UPN_SOURCE_NFQUEUE;
		else if (!strcmp(v, "kmod"))
			c->source = UPN_SOURCE_KMOD;
		else
			return upn_config_fail(
				&p->ini, "source: expected auto, nfqueue or kmod, got '%s'", v);
		return 1;
	}
	if (!strcmp(name, "mode")) {
		if (!strcmp(v, "gateway"))
			c->mode = UPNOTIFY_MODE_GATEWAY;
		else if (!strcmp(v, "host"))
			c->mode = UPNOTIFY_MODE_HOST;
		else if (!strcmp(v, "all"))
			c->mode = UPNOTIFY_MODE_ALL;
		else
			return upn_config_fail(&p->ini,
					       "mode: expected gateway, host or all, got '%s'", v);
		return 1;
	}
	if (!strcmp(name, "watch"))
		return upn_config_parse_prefixes(&p->ini, name, v, &c->watch, &c->nwatch);
	if (!strcmp(name, "ignore_clients"))
		return upn_config_parse_prefixes(&p->ini, name, v, &c->ignore, &c->nignore);
	if (!strcmp(name, "syn_timeout"))
		return upn_config_parse_ms(&p->ini, name, v, UPN_SYN_TIMEOUT_MIN_MS,
					   UPN_SYN_TIMEOUT_MAX_MS, &c->syn_timeout_ms);
	if (!strcmp(name, "count_refused"))
		return upn_config_parse_bool(&p->ini, name, v, &c->count_refused);
	if (!strcmp(name, "install_rules"))
		return upn_config_parse_bool(&p->ini, name, v, &c->install_rules);
	if (!strcmp(name, "queue")) {
		uint32_t q;

		if (!parse_u32(&p->ini, name, v, 0, 65535, &q))
			return 0;
		c->queue = (uint16_t)q;
		return 1;
	}
	if (!strcmp(name, "pending_max"))
		return parse_u32(&p->ini, name, v, 1, UPN_PENDING_MAX_LIMIT, &c->pending_max);
	if (!strcmp(name, "icmp_codes"))
		return parse_codes(&p->ini, name, v, c->icmp_codes, &p->codes_seen[0]);
	if (!strcmp(name, "icmp6_codes"))
		return parse_codes(&p->ini, name, v, c->icmp6_codes, &p->codes_seen[1]);
	return upn_config_fail(&p->ini, "unknown key '%s' in [detect]", name);
}

static int parse_str(struct upn_config_parse *p, const char *name, const char *v, char *out,
		     size_t max)
{
	if (strlen(v) >= max)
		return upn_config_fail(p, "%s: longer than %zu characters", name, max - 1);
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return upn_config_fail(p, "%s: control characters are not allowed", name);
	strcpy(out, v);
	return 1;
}

/* NAME AUTHPROTO AUTHPASS PRIVPROTO PRIVPASS [ENGINEID] */
static int snmp_user(struct parse *p, const char *v)
{
	static const char *const auths[] = { "SHA", "SHA-256", "SHA-512", "MD5", NULL };
	static const char *const privs[] = { "AES", "AES-256", "DES", NULL };
	struct upn_config *c = p->cfg;
	struct upn_snmp_user u = { 0 }, *nv;
	int n = sscanf(v, "%63s %15s %127s %15s %127s %79s", u.name, u.auth_proto, u.auth_pass,
		       u.priv_proto, u.priv_pass, u.engine_id);
	bool ok_auth = false, ok_priv = false;

	if (n < 5)
		return upn_config_fail(
			&p->ini,
			"snmp_v3_user: expected NAME SHA AUTHPASS AES PRIVPASS [ENGINEID]");
	for (size_t i = 0; auths[i]; i++)
		ok_auth |= !strcasecmp(u.auth_proto, auths[i]);
	for (size_t i = 0; privs[i]; i++)
		ok_priv |= !strcasecmp(u.priv_proto, privs[i]);
	if (!ok_auth)
		return upn_config_fail(
			&p->ini,
			"snmp_v3_user: auth protocol '%s' is not SHA, SHA-256, SHA-512 or MD5",
			u.auth_proto);
	if (!ok_priv)
		return upn_config_fail(
			&p->ini, "snmp_v3_user: privacy protocol '%s' is not AES, AES-256 or DES",
			u.priv_proto);
	/* RFC 3414: the USM needs passphrases of at least eight characters. */
	if (strlen(u.auth_pass) < 8 || strlen(u.priv_pass) < 8)
		return upn_config_fail(&p->ini,
				       "snmp_v3_user: passphrases need at least 8 characters");
	if (n == 6) {
		const char *h = u.engine_id + (strncasecmp(u.engine_id, "0x", 2) ? 0 : 2);

		if (strlen(h) < 10 || strlen(h) % 2 ||
		    strspn(h, "0123456789abcdefABCDEF") != strlen(h))
			return upn_config_fail(
				&p->ini, "snmp_v3_user: engine ID '%s' is not 5-32 bytes of hex",
				u.engine_id);
	}
	nv = realloc(c->snmp_users, (c->nsnmp_users + 1) * sizeof(*nv));
	if (!nv)
		return upn_config_fail(&p->ini, "out of memory");
	nv[c->nsnmp_users++] = u;
	c->snmp_users = nv;
	return 1;
}

static int add_oid(struct upn_config_parse *p, const char *tok, void *arg)
{
	struct upn_config *c = arg;
	char **nv;
	size_t len = strlen(tok);

	/* Numeric OIDs only: names would need MIB files at run time. */
	if (len > 255 || strspn(tok, "0123456789.") != len || tok[0] == '.' ||
	    tok[len - 1] == '.' || strstr(tok, ".."))
		return upn_config_fail(
			p, "trap_oids: '%s' is not a numeric OID like 1.3.6.1.4.1.8072.4.0.1", tok);
	nv = realloc(c->trap_oids, (c->ntrap_oids + 1) * sizeof(*nv));
	if (!nv || !(nv[c->ntrap_oids] = strdup(tok)))
		return upn_config_fail(p, "out of memory");
	c->trap_oids = nv;
	c->ntrap_oids++;
	return 1;
}

static int recovery_key(struct parse *p, const char *name, const char *v)
{
	struct upn_config *c = p->cfg;

	if (!strcmp(name, "snmp_listen"))
		return parse_str(&p->ini, name, v, c->snmp_listen, sizeof(c->snmp_listen));
	if (!strcmp(name, "snmp_community"))
		return parse_str(&p->ini, name, v, c->snmp_community, sizeof(c->snmp_community));
	if (!strcmp(name, "snmp_v3_user"))
		return snmp_user(p, v);
	if (!strcmp(name, "trap_oids"))
		return each_item(&p->ini, v, add_oid, c);
	if (!strcmp(name, "probe"))
		return upn_config_parse_bool(&p->ini, name, v, &c->probe);
	if (!strcmp(name, "probe_interval"))
		return upn_config_parse_ms(&p->ini, name, v, 100, 86400000, &c->probe_interval_ms);
	if (!strcmp(name, "probe_max_interval"))
		return upn_config_parse_ms(&p->ini, name, v, 100, 86400000,
					   &c->probe_max_interval_ms);
	if (!strcmp(name, "rise"))
		return parse_u32(&p->ini, name, v, 1, 100, &c->rise);
	if (!strcmp(name, "neigh"))
		return upn_config_parse_bool(&p->ini, name, v, &c->neigh);
	return upn_config_fail(&p->ini, "unknown key '%s' in [recovery]", name);
}

static int add_relay(struct upn_config_parse *p, const char *tok, void *arg)
{
	struct upn_mail_config *m = arg;
	struct upn_relay r = { .port = 25 }, *nv;
	const char *host = tok, *colon;
	size_t hlen;

	if (!strncmp(tok, "smtp://", 7))
		host = tok + 7;
	else if (strstr(tok, "://"))
		return upn_config_fail(
			p, "relay: '%s': only smtp:// relays (STARTTLS is set with starttls)", tok);
	/* libesmtp takes "host:port" and splits at the first colon. */
	if (*host == '[')
		return upn_config_fail(
			p,
			"relay: '%s': an IPv6 literal cannot be used (libesmtp); give a host name",
			tok);
	colon = strrchr(host, ':');
	hlen = colon ? (size_t)(colon - host) : strlen(host);
	if (!hlen || hlen >= sizeof(r.host))
		return upn_config_fail(p, "relay: '%s': no host", tok);
	memcpy(r.host, host, hlen);
	if (colon) {
		uint32_t port;

		if (!parse_u32(p, "relay port", colon + 1, 1, 65535, &port))
			return 0;
		r.port = (uint16_t)port;
	}
	nv = realloc(m->relays, (m->nrelays + 1) * sizeof(*nv));
	if (!nv)
		return upn_config_fail(p, "out of memory");
	nv[m->nrelays++] = r;
	m->relays = nv;
	return 1;
}

static int parse_rate(struct upn_config_parse *p, const char *name, const char *v, uint32_t *out)
{
	char buf[32];
	const char *slash = strchr(v, '/');

	/* "100" or "100/s" */
	if (slash && strcmp(slash, "/s"))
		return upn_config_fail(p, "%s: expected messages per second like 100 or 100/s",
				       name);
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	return parse_u32(p, name, buf, 0, 1000000, out);
}

static int mail_key(struct parse *p, const char *name, const char *v)
{
	struct upn_mail_config *m = &p->cfg->mail;

	if (!strcmp(name, "relay"))
		return each_item(&p->ini, v, add_relay, m);
	if (!strcmp(name, "relay_order")) {
		if (!strcmp(v, "ordered"))
			m->order = UPN_RELAY_ORDERED;
		else if (!strcmp(v, "least-loaded"))
			m->order = UPN_RELAY_LEAST_LOADED;
		else
			return upn_config_fail(
				&p->ini, "relay_order: expected ordered or least-loaded, got '%s'",
				v);
		return 1;
	}
	if (!strcmp(name, "from")) {
		if (!upn_mail_valid(v))
			return upn_config_fail(&p->ini, "from: '%s' is not a usable mail address",
					       v);
		strcpy(m->from, v);
		return 1;
	}
	if (!strcmp(name, "starttls")) {
		if (!strcmp(v, "no"))
			m->starttls = UPN_STARTTLS_NO;
		else if (!strcmp(v, "yes"))
			m->starttls = UPN_STARTTLS_YES;
		else if (!strcmp(v, "required"))
			m->starttls = UPN_STARTTLS_REQUIRED;
		else
			return upn_config_fail(
				&p->ini, "starttls: expected no, yes or required, got '%s'", v);
		return 1;
	}
	if (!strcmp(name, "ca_file"))
		return upn_config_parse_path(&p->ini, name, v, m->ca_file, sizeof(m->ca_file));
	if (!strcmp(name, "auth_file"))
		return upn_config_parse_path(&p->ini, name, v, m->auth_file, sizeof(m->auth_file));
	if (!strcmp(name, "template"))
		return upn_config_parse_path(&p->ini, name, v, m->template_path,
					     sizeof(m->template_path));
	if (!strcmp(name, "rate"))
		return parse_rate(&p->ini, name, v, &m->rate);
	if (!strcmp(name, "rate_per_domain"))
		return parse_rate(&p->ini, name, v, &m->rate_per_domain);
	if (!strcmp(name, "retry_min"))
		return upn_config_parse_ms(&p->ini, name, v, 100, 86400000, &m->retry_min_ms);
	if (!strcmp(name, "retry_max"))
		return upn_config_parse_ms(&p->ini, name, v, 100, 86400000, &m->retry_max_ms);
	if (!strcmp(name, "give_up"))
		return upn_config_parse_ms(&p->ini, name, v, 1000, 30u * 86400000, &m->give_up_ms);
	if (!strcmp(name, "relay_retry"))
		return upn_config_parse_ms(&p->ini, name, v, 100, 86400000, &m->relay_retry_ms);
	return upn_config_fail(&p->ini, "unknown key '%s' in [mail]", name);
}

static int add_portal_port(struct upn_config_parse *p, const char *tok, void *arg)
{
	struct upn_portal_config *pc = arg;
	uint32_t port;

	if (!parse_u32(p, "ports", tok, 1, 65535, &port))
		return 0;
	if (port == 443)
		return upn_config_fail(
			p, "ports: 443 is HTTPS, which the portal cannot answer without the "
			   "server's certificate");
	for (size_t i = 0; i < pc->nports; i++)
		if (pc->ports[i] == port)
			return 1;
	if (pc->nports == UPN_PORTAL_PORTS_MAX)
		return upn_config_fail(p, "ports: more than %d ports", UPN_PORTAL_PORTS_MAX);
	pc->ports[pc->nports++] = (uint16_t)port;
	return 1;
}

static int parse_url(struct upn_config_parse *p, const char *name, const char *v, char *out)
{
	size_t n = strlen(v);

	/* http only: the portal itself answers plain HTTP. No query or fragment, and no
	 * character that would need escaping in a link or a header. */
	if (strncmp(v, "http://", 7) || n <= 7 || n > UPN_URL_MAX ||
	    strcspn(v, "?#\"<>'` \t\r\n") != n)
		return upn_config_fail(p, "%s: expected a URL like http://192.0.2.1:8080, got '%s'",
				       name, v);
	while (n > 7 && v[n - 1] == '/')
		n--;
	memcpy(out, v, n);
	out[n] = '\0';
	return 1;
}

static int portal_key(struct parse *p, const char *name, const char *v)
{
	struct upn_portal_config *pc = &p->cfg->portal;

	if (!strcmp(name, "enable"))
		return upn_config_parse_bool(&p->ini, name, v, &pc->enable);
	if (!strcmp(name, "ports")) {
		pc->nports = 0;
		return each_item(&p->ini, v, add_portal_port, pc);
	}
	if (!strcmp(name, "mode")) {
		if (!strcmp(v, "server"))
			pc->mode = UPN_PORTAL_SERVER;
		else if (!strcmp(v, "gateway"))
			pc->mode = UPN_PORTAL_GATEWAY;
		else
			return upn_config_fail(&p->ini,
					       "mode: expected server or gateway, got '%s'", v);
		return 1;
	}
	if (!strcmp(name, "listen"))
		return parse_str(&p->ini, name, v, pc->listen, sizeof(pc->listen));
	if (!strcmp(name, "gateway_url"))
		return parse_url(&p->ini, name, v, pc->gateway_url);
	if (!strcmp(name, "confirm"))
		return upn_config_parse_bool(&p->ini, name, v, &pc->confirm);
	if (!strcmp(name, "confirm_ttl"))
		return upn_config_parse_secs(&p->ini, name, v, 1, 366 * 86400, &pc->confirm_ttl_s);
	if (!strcmp(name, "reask_after"))
		return upn_config_parse_secs(&p->ini, name, v, 1, 366 * 86400, &pc->reask_after_s);
	if (!strcmp(name, "templates"))
		return upn_config_parse_path(&p->ini, name, v, pc->templates,
					     sizeof(pc->templates));
	if (!strcmp(name, "client_rate"))
		return parse_u32(&p->ini, name, v, 1, 1000000, &pc->client_rate);
	if (!strcmp(name, "address_rate"))
		return parse_u32(&p->ini, name, v, 1, 1000000, &pc->address_rate);
	if (!strcmp(name, "server_max"))
		return parse_u32(&p->ini, name, v, 1, UPN_WAITLIST_TOTAL_LIMIT, &pc->server_max);
	if (!strcmp(name, "max_connections"))
		return parse_u32(&p->ini, name, v, 1, 65536, &pc->max_connections);
	if (!strcmp(name, "timeout")) {
		uint32_t ms = 0;

		if (!upn_config_parse_ms(&p->ini, name, v, 1000, 3600000, &ms))
			return 0;
		pc->timeout_s = ms / 1000;
		return 1;
	}
	if (!strcmp(name, "max_body"))
		return parse_u32(&p->ini, name, v, 256, UPN_PORTAL_BODY_LIMIT, &pc->max_body);
	if (!strcmp(name, "fwmark") || !strcmp(name, "route_table")) {
		unsigned long long n;
		char *end;

		errno = 0;
		n = strtoull(v, &end, 0);
		if (!*v || *end || errno || n == 0 || n > 0xffffffffull ||
		    (name[0] == 'r' && n >= 253 && n <= 255))
			return upn_config_fail(&p->ini,
					       "%s: expected a number from 1 to 4294967295 (not a "
					       "main, default or local table), got '%s'",
					       name, v);
		*(name[0] == 'f' ? &pc->fwmark : &pc->route_table) = (uint32_t)n;
		return 1;
	}
	return upn_config_fail(&p->ini, "unknown key '%s' in [portal]", name);
}

/* The secret of an allow line: one line of at least UPN_CMD_SECRET_MIN characters in a
 * file no one but its owner can read (like ssh's keys; a readable one is refused). */
static int read_secret(struct parse *p, struct upn_cmd_allow *a)
{
	char buf[UPN_CMD_SECRET_MAX + 3];
	struct stat sb;
	size_t n = 0;
	FILE *f;
	int c;

	f = fopen(a->secret_file, "re");
	if (!f)
		return upn_config_fail(&p->ini, "allow: %s: %s", a->secret_file, strerror(errno));
	if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
		fclose(f);
		return upn_config_fail(&p->ini,
				       "allow: %s: must be a regular file of mode 0600 or stricter",
				       a->secret_file);
	}
	while ((c = fgetc(f)) != EOF && c != '\n' && n < sizeof(buf) - 1)
		buf[n++] = (char)c;
	/* Anything after the first line but blank lines is a mistake to report. */
	while (c == '\n' && (c = fgetc(f)) != EOF && (c == '\n' || c == '\r'))
		;
	fclose(f);
	while (n && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n < UPN_CMD_SECRET_MIN || n > UPN_CMD_SECRET_MAX)
		return upn_config_fail(&p->ini, "allow: %s: the secret must be %d to %d characters",
				       a->secret_file, UPN_CMD_SECRET_MIN, UPN_CMD_SECRET_MAX);
	if (c != EOF)
		return upn_config_fail(&p->ini, "allow: %s: expected one line holding the secret",
				       a->secret_file);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f)
			return upn_config_fail(&p->ini,
					       "allow: %s: control characters in the secret",
					       a->secret_file);
	memcpy(a->secret, buf, n);
	a->secret[n] = '\0';
	a->secret_len = n;
	return 1;
}

/* ADDR:SECRETFILE [COMMAND ...] */
static int allow_line(struct parse *p, const char *v)
{
	struct upn_commands_config *cc = &p->cfg->commands;
	struct upn_cmd_allow a = { 0 }, *nv;
	char *copy = strdup(v), *save = NULL, *tok, *colon;
	int ok = 1;

	if (!copy)
		return upn_config_fail(&p->ini, "out of memory");
	tok = strtok_r(copy, " \t", &save);
	colon = tok ? strchr(tok, ':') : NULL;
	if (!colon) {
		free(copy);
		return upn_config_fail(&p->ini, "allow: expected ADDRESS:SECRETFILE [COMMAND ...]");
	}
	*colon = '\0';
	if (!upn_mail_valid(tok))
		ok = upn_config_fail(&p->ini, "allow: '%s' is not a usable mail address", tok);
	else if (upn_cmd_allow_find(cc->allow, cc->nallow, tok))
		ok = upn_config_fail(&p->ini, "allow: %s is listed twice", tok);
	else if (colon[1] != '/' || strlen(colon + 1) >= sizeof(a.secret_file))
		ok = upn_config_fail(&p->ini, "allow: expected an absolute path after '%s:'", tok);
	if (ok) {
		strcpy(a.addr, tok);
		strcpy(a.secret_file, colon + 1);
	}
	while (ok && (tok = strtok_r(NULL, ", \t", &save))) {
		int verb = upn_cmd_verb_parse(tok);

		if (verb < 0)
			ok = upn_config_fail(
				&p->ini,
				"allow: '%s' is not SUBSCRIBE, UNSUBSCRIBE, STATUS or WAITLIST",
				tok);
		else
			a.verbs |= (uint8_t)(1u << verb);
	}
	free(copy);
	if (!ok || !read_secret(p, &a))
		return 0;
	if (!a.verbs)
		a.verbs = UPN_CMD_ALL;
	nv = realloc(cc->allow, (cc->nallow + 1) * sizeof(*nv));
	if (!nv)
		return upn_config_fail(&p->ini, "out of memory");
	nv[cc->nallow++] = a;
	cc->allow = nv;
	sodium_memzero(&a, sizeof(a));
	return 1;
}

static int commands_key(struct parse *p, const char *name, const char *v)
{
	struct upn_commands_config *cc = &p->cfg->commands;

	if (!strcmp(name, "mailbox")) {
		size_t n = strlen(v);
		char err[256];

		if (n && ((strncmp(v, "pop3://", 7) && strncmp(v, "pop3s://", 8)) ||
			  n > UPN_URL_MAX || strcspn(v, " \t\r\n\"<>`") != n))
			return upn_config_fail(
				&p->ini, "mailbox: expected a pop3:// or pop3s:// URL, got '%s'",
				v);
		if (n && upn_mailbox_url_check(v, err, sizeof(err)))
			return upn_config_fail(&p->ini, "%s", err);
		strcpy(cc->mailbox, v);
		return 1;
	}
	if (!strcmp(name, "password_file"))
		return upn_config_parse_opt_path(&p->ini, name, v, cc->password_file,
						 sizeof(cc->password_file));
	if (!strcmp(name, "ca_file"))
		return upn_config_parse_opt_path(&p->ini, name, v, cc->ca_file,
						 sizeof(cc->ca_file));
	if (!strcmp(name, "poll"))
		return upn_config_parse_ms(&p->ini, name, v, 1000, 86400000, &cc->poll_ms);
	if (!strcmp(name, "allow"))
		return allow_line(p, v);
	if (!strcmp(name, "reply_rate"))
		return upn_config_parse_secs(&p->ini, name, v, 0, 366 * 86400, &cc->reply_rate_s);
	if (!strcmp(name, "subscriber_prefix")) {
		struct upn_prefix pfx;

		if (upn_prefix_parse(v, &pfx) || pfx.addr.family != AF_INET6 || pfx.len > 64)
			return upn_config_fail(
				&p->ini,
				"subscriber_prefix: expected an IPv6 prefix of /64 or "
				"shorter, got '%s'",
				v);
		cc->subscriber_prefix = pfx;
		return 1;
	}
	return upn_config_fail(&p->ini, "unknown key '%s' in [commands]", name);
}

static int handler(void *user, const char *section, const char *name, const char *v)
{
	struct parse *p = user;
	struct upn_config *c = p->cfg;

	if (!strcmp(section, "detect"))
		return detect_key(p, name, v);
	if (!strcmp(section, "waitlist")) {
		if (!strcmp(name, "per_server_max"))
			return parse_u32(&p->ini, name, v, 1, UPN_WAITLIST_TOTAL_LIMIT,
					 &c->per_server_max);
		if (!strcmp(name, "total_max"))
			return parse_u32(&p->ini, name, v, 1, UPN_WAITLIST_TOTAL_LIMIT,
					 &c->total_max);
		if (!strcmp(name, "only_known_clients"))
			return upn_config_parse_bool(&p->ini, name, v, &c->only_known_clients);
		return upn_config_fail(&p->ini, "unknown key '%s' in [waitlist]", name);
	}
	if (!strcmp(section, "store")) {
		if (!strcmp(name, "path"))
			return upn_config_parse_path(&p->ini, name, v, c->store_path,
						     sizeof(c->store_path));
		if (!strcmp(name, "max_wait"))
			return upn_config_parse_secs(&p->ini, name, v, 60, 366 * 86400,
						     &c->max_wait_s);
		return upn_config_fail(&p->ini, "unknown key '%s' in [store]", name);
	}
	if (!strcmp(section, "recovery"))
		return recovery_key(p, name, v);
	if (!strcmp(section, "mail"))
		return mail_key(p, name, v);
	if (!strcmp(section, "control")) {
		if (!strcmp(name, "socket"))
			return upn_config_parse_path(&p->ini, name, v, c->ctl_socket,
						     UPN_CTL_PATH_MAX);
		if (!strcmp(name, "mode")) {
			char *end;
			unsigned long m = strtoul(v, &end, 8);

			if (!*v || *end || m > 0777)
				return upn_config_fail(
					&p->ini, "mode: expected an octal mode like 0600, got '%s'",
					v);
			c->ctl_mode = (mode_t)m;
			return 1;
		}
		return upn_config_fail(&p->ini, "unknown key '%s' in [control]", name);
	}
	if (!strcmp(section, "clients"))
		return client_key(p, name, v);
	if (!strcmp(section, "servers"))
		return server_key(p, name, v);
	if (!strcmp(section, "relay"))
		return relay_key(p, name, v);
	if (!strcmp(section, "portal"))
		return portal_key(p, name, v);
	if (!strcmp(section, "commands"))
		return commands_key(p, name, v);
	return upn_config_fail(&p->ini, "unknown section [%s]", section);
}

const char *upn_config_portal_error(const struct upn_config *c)
{
	const struct upn_portal_config *pc = &c->portal;

	if (!pc->enable)
		return NULL;
	if (pc->mode == UPN_PORTAL_GATEWAY && !pc->gateway_url[0])
		return "mode = gateway needs gateway_url: the form posts there";
	if (pc->confirm && !pc->gateway_url[0])
		return "confirm = yes needs gateway_url: the confirmation link points there";
	if (pc->confirm && !c->mail.nrelays)
		return "confirm = yes needs a [mail] relay to send the confirmation mail";
	return NULL;
}

int upn_config_key(struct upn_config *cfg, const char *section, const char *name, const char *value,
		   char *err, size_t errlen)
{
	struct parse p = { .ini.line = 1, .cfg = cfg };

	if (handler(&p, section, name, value) && !p.ini.err_line)
		return 0;
	snprintf(err, errlen, "%s", p.ini.err_line ? p.ini.err : "invalid value");
	return -EINVAL;
}

void upn_config_defaults(struct upn_config *c)
{
	/* The unreachable codes that say the client could not get through: net, host,
	 * protocol, port, and the administratively prohibited ones (RFC 1812 / 4443). */
	static const uint8_t v4[] = { 0, 1, 2, 3, 9, 10, 13 };
	static const uint8_t v6[] = { 0, 1, 3, 4, 5, 6 };

	memset(c, 0, sizeof(*c));
	c->source = UPN_SOURCE_AUTO;
	c->mode = UPNOTIFY_MODE_GATEWAY;
	c->syn_timeout_ms = UPN_SYN_TIMEOUT_DEFAULT_MS;
	c->count_refused = true;
	c->install_rules = true;
	c->pending_max = UPN_PENDING_MAX_DEFAULT;
	for (size_t i = 0; i < sizeof(v4); i++)
		c->icmp_codes[v4[i] >> 3] |= (uint8_t)(1u << (v4[i] & 7));
	for (size_t i = 0; i < sizeof(v6); i++)
		c->icmp6_codes[v6[i] >> 3] |= (uint8_t)(1u << (v6[i] & 7));
	c->per_server_max = UPN_WAITLIST_PER_SERVER_DEFAULT;
	c->total_max = UPN_WAITLIST_TOTAL_DEFAULT;
	strcpy(c->store_path, "/var/lib/upnotify/upnotify.db");
	c->max_wait_s = 86400;
	/* Traps are opt-in: listening on 162 is a decision for the operator. */
	c->probe = true;
	c->probe_interval_ms = 10000;
	c->probe_max_interval_ms = 300000;
	c->rise = 2;
	c->neigh = true;
	strcpy(c->mail.from, "upnotify@localhost.localdomain");
	c->mail.retry_min_ms = 30000;
	c->mail.retry_max_ms = 3600000;
	c->mail.give_up_ms = 2u * 86400000;
	c->mail.relay_retry_ms = 60000;
	c->mail.webhook_timeout_ms = 10000;
	c->relay_max_clients = UPN_RELAY_MAX_CLIENTS_DEFAULT;
	strcpy(c->ctl_socket, "/run/upnotify/upnotifyd.sock");
	c->ctl_mode = 0600;
	c->portal.ports[0] = 80;
	c->portal.nports = 1;
	strcpy(c->portal.listen, "[::]:8080");
	c->portal.confirm_ttl_s = 86400;
	c->portal.reask_after_s = 30 * 86400;
	c->portal.client_rate = UPN_PORTAL_CLIENT_RATE_DEFAULT;
	c->portal.address_rate = UPN_PORTAL_ADDRESS_RATE_DEFAULT;
	c->portal.server_max = UPN_PORTAL_SERVER_MAX_DEFAULT;
	c->portal.max_connections = UPN_PORTAL_CONNECTIONS_DEFAULT;
	c->portal.timeout_s = UPN_PORTAL_TIMEOUT_DEFAULT_S;
	c->portal.max_body = UPN_PORTAL_BODY_DEFAULT;
	c->portal.fwmark = 0x75706e;
	c->portal.route_table = 30570;
	c->commands.poll_ms = 60000;
	c->commands.reply_rate_s = 3600;
	/* fd75:706e:6d61:696c::/64, "upnmail": a ULA no real client is numbered from. */
	upn_prefix_parse("fd75:706e:6d61:696c::/64", &c->commands.subscriber_prefix);
}

void upn_config_free(struct upn_config *c)
{
	free(c->watch);
	free(c->ignore);
	free(c->clients);
	free(c->servers);
	free(c->snmp_users);
	for (size_t i = 0; i < c->ntrap_oids; i++)
		free(c->trap_oids[i]);
	free(c->trap_oids);
	free(c->mail.relays);
	if (c->commands.allow)
		sodium_memzero(c->commands.allow, c->commands.nallow * sizeof(*c->commands.allow));
	free(c->commands.allow);
	c->commands.allow = NULL;
	c->commands.nallow = 0;
	upn_relay_keys_free(&c->mail.relay_keys);
	c->watch = c->ignore = NULL;
	c->clients = NULL;
	c->servers = NULL;
	c->nservers = 0;
	c->snmp_users = NULL;
	c->trap_oids = NULL;
	c->mail.relays = NULL;
	c->nwatch = c->nignore = c->nclients = c->nsnmp_users = c->ntrap_oids = 0;
	c->mail.nrelays = 0;
}

/* A relay or a webhook is signed: an entry that uses one needs the key file. */
static int servers_unkeyed(const struct upn_config *c, const char *path, char *err, size_t errlen)
{
	char buf[UPN_ADDRSTRLEN];

	if (c->relay_key_file[0])
		return 0;
	for (size_t i = 0; i < c->nservers; i++) {
		const struct upn_config_server *s = &c->servers[i];

		if (s->mode == UPN_RELAY_DIRECT)
			continue;
		snprintf(err, errlen,
			 "%s:%d: [servers] %s = %s needs [relay] key_file: what it sends is "
			 "signed",
			 path, s->line, upn_prefix_fmt(&s->prefix, buf),
			 upn_relay_mode_name(s->mode));
		return -EINVAL;
	}
	return 0;
}

int upn_config_relay_keys(struct upn_config *c, const char *path, char *err, size_t errlen)
{
	struct upn_relay_keys *k = &c->mail.relay_keys;
	char buf[UPN_ADDRSTRLEN], why[512];

	if (!c->relay_key_file[0])
		return 0;
	upn_relay_keys_free(k);
	if (upn_relay_keys_load(c->relay_key_file, k, why, sizeof(why))) {
		snprintf(err, errlen, "%s: [relay] key_file: %s", path, why);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->nservers; i++) {
		struct upn_config_server *s = &c->servers[i];

		if (s->mode == UPN_RELAY_DIRECT)
			continue;
		if (!s->key_id[0] && k->n) {
			strcpy(s->key_id, k->v[0].id);
		} else if (!upn_relay_key_find(k, s->key_id)) {
			if (s->key_id[0])
				snprintf(err, errlen, "%s:%d: [servers] %s: no key '%s' in %s",
					 path, s->line, upn_prefix_fmt(&s->prefix, buf), s->key_id,
					 c->relay_key_file);
			else
				snprintf(err, errlen, "%s:%d: [servers] %s: %s holds no key", path,
					 s->line, upn_prefix_fmt(&s->prefix, buf),
					 c->relay_key_file);
			upn_relay_keys_free(k);
			return -EINVAL;
		}
	}
	return 0;
}

int upn_config_load(const char *path, struct upn_config *cfg, char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg };
	const char *why;

	upn_config_defaults(cfg);
	if (upn_config_parse_file(path, &p.ini, handler, &p, err, errlen)) {
		upn_config_free(cfg);
		return -EINVAL;
	}
	/* With source = auto the choice is made at start, where the same check runs again
	 * once the source is known. */
	why = cfg->source == UPN_SOURCE_NFQUEUE ? upn_config_mode_error(cfg->source, cfg->mode) :
						  NULL;
	if (why)
		snprintf(err, errlen, "%s: [detect] mode = %s with source = nfqueue %s", path,
			 upn_mode_name(cfg->mode), why);
	else if ((why = upn_config_portal_error(cfg)))
		snprintf(err, errlen, "%s: [portal] %s", path, why);
	else if (!servers_unkeyed(cfg, path, err, errlen))
		return 0;
	upn_config_free(cfg);
	return -EINVAL;
}
