// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent's configuration file: its own sections here, upnotifyd's through
 * upn_config_key(), so that [mail] and [clients] mean exactly the same in both. */
#include "agentconf.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"

#define DEFAULT_STORE "/var/lib/upnotify/agent.db"
#define DEFAULT_POLL_MS 60000
#define DEFAULT_MAX_AGE_S (7 * 86400)

struct parse {
	struct upn_agent_config *c;
	FILE *f;
	int line; /* of the line inih is handling now */
	int err_line;
	char err[320];
};

/* Count lines as inih reads them, and refuse one longer than inih reads in one piece. */
static char *reader(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	size_t n;

	if (!fgets(buf, size, p->f))
		return NULL;
	p->line++;
	n = strlen(buf);
	if (n == (size_t)size - 1 && buf[n - 1] != '\n' && !feof(p->f) && !p->err_line) {
		p->err_line = p->line;
		snprintf(p->err, sizeof(p->err), "line longer than %d characters", size - 2);
	}
	return buf;
}

static int fail(struct parse *p, const char *fmt, ...)
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

static int parse_bool(struct parse *p, const char *name, const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
			*out = !strcasecmp(v, yes[i]);
			return 1;
		}
	}
	return fail(p, "%s: expected yes or no, got '%s'", name, v);
}

static int parse_path(struct parse *p, const char *name, const char *v, char *out, size_t max)
{
	/* An empty value keeps the default: none. */
	if (!*v) {
		out[0] = '\0';
		return 1;
	}
	if (v[0] != '/')
		return fail(p, "%s: expected an absolute path, got '%s'", name, v);
	if (strlen(v) >= max)
		return fail(p, "%s: longer than %zu characters", name, max - 1);
	strcpy(out, v);
	return 1;
}

/* Durations in whole seconds, @lo_s to @hi_s (0 allowed when @lo_s is 0). */
static int parse_secs(struct parse *p, const char *name, const char *v, uint64_t lo_s,
		      uint64_t hi_s, uint64_t *out_ms)
{
	uint64_t ms = 0;

	if (upn_duration_parse(v, &ms) || ms < lo_s * 1000 || ms > hi_s * 1000)
		return fail(p, "%s: expected a duration from %llus to %llus (e.g. 1m), got '%s'",
			    name, (unsigned long long)lo_s, (unsigned long long)hi_s, v);
	*out_ms = ms;
	return 1;
}

static int parse_url(struct parse *p, const char *v, char *out)
{
	size_t n = strlen(v);

	if (!n) {
		out[0] = '\0';
		return 1;
	}
	if ((strncmp(v, "pop3://", 7) && strncmp(v, "pop3s://", 8)) || n > UPN_URL_MAX ||
	    strcspn(v, " \t\r\n\"<>`") != n || n <= (size_t)(v[4] == 's' ? 8 : 7))
		return fail(p, "url: expected pop3://[user@]host[:port]/ or pop3s://..., got '%s'",
			    v);
	strcpy(out, v);
	return 1;
}

static int mailbox_key(struct parse *p, const char *name, const char *v)
{
	struct upn_agent_config *c = p->c;
	uint64_t ms = 0;

	if (!strcmp(name, "url"))
		return parse_url(p, v, c->mailbox.url);
	if (!strcmp(name, "password_file"))
		return parse_path(p, name, v, c->mailbox.password_file,
				  sizeof(c->mailbox.password_file));
	if (!strcmp(name, "ca_file"))
		return parse_path(p, name, v, c->mailbox.ca_file, sizeof(c->mailbox.ca_file));
	if (!strcmp(name, "delete"))
		return parse_bool(p, name, v, &c->mailbox.delete_after);
	if (!strcmp(name, "poll")) {
		if (!parse_secs(p, name, v, 0, 86400, &ms))
			return 0;
		if (ms && ms < 1000)
			return fail(p, "poll: 0 or at least 1s, got '%s'", v);
		c->poll_ms = (uint32_t)ms;
		return 1;
	}
	return fail(p, "unknown key '%s' in [mailbox]", name);
}

static int add_server(struct parse *p, const char *tok)
{
	struct upn_agent_config *c = p->c;
	struct upn_prefix pfx, *nv;
	int ret = upn_prefix_parse(tok, &pfx);

	if (ret == -EDOM)
		return fail(p, "servers: '%s' has host bits set beyond its prefix length", tok);
	if (ret)
		return fail(p, "servers: '%s' is not an IPv4 or IPv6 address or prefix", tok);
	nv = realloc(c->trap_servers, (c->ntrap_servers + 1) * sizeof(*nv));
	if (!nv)
		return fail(p, "out of memory");
	nv[c->ntrap_servers++] = pfx;
	c->trap_servers = nv;
	return 1;
}

static int trap_key(struct parse *p, const char *name, const char *v)
{
	char err[256];
	const char *as = NULL;

	if (!strcmp(name, "servers")) {
		char *copy = strdup(v), *save = NULL, *tok;
		int ok = copy ? 1 : fail(p, "out of memory");

		for (tok = copy ? strtok_r(copy, ", \t", &save) : NULL; tok && ok;
		     tok = strtok_r(NULL, ", \t", &save))
			ok = add_server(p, tok);
		free(copy);
		return ok;
	}
	if (!strcmp(name, "listen"))
		as = "snmp_listen";
	else if (!strcmp(name, "community"))
		as = "snmp_community";
	else
		return fail(p, "unknown key '%s' in [trap]", name);
	if (upn_config_key(&p->c->base, "recovery", as, v, err, sizeof(err)))
		return fail(p, "%s", err);
	return 1;
}

static int relay_key(struct parse *p, const char *name, const char *v)
{
	struct upn_agent_config *c = p->c;
	uint64_t ms = 0;

	if (!strcmp(name, "key_file"))
		return parse_path(p, name, v, c->key_file, sizeof(c->key_file));
	if (!strcmp(name, "max_age")) {
		if (!parse_secs(p, name, v, 60, 366 * 86400, &ms))
			return 0;
		c->max_age_s = (uint32_t)(ms / 1000);
		return 1;
	}
	return fail(p, "unknown key '%s' in [relay]", name);
}

static int handler(void *user, const char *section, const char *name, const char *v)
{
	struct parse *p = user;
	char err[256];

	if (!strcmp(section, "mailbox"))
		return mailbox_key(p, name, v);
	if (!strcmp(section, "trap"))
		return trap_key(p, name, v);
	if (!strcmp(section, "relay"))
		return relay_key(p, name, v);
	if (!strcmp(section, "mail") || !strcmp(section, "clients") || !strcmp(section, "store")) {
		if (upn_config_key(&p->c->base, section, name, v, err, sizeof(err)))
			return fail(p, "%s", err);
		return 1;
	}
	return fail(p, "unknown section [%s]", section);
}

static void defaults(struct upn_agent_config *c)
{
	memset(c, 0, sizeof(*c));
	upn_config_defaults(&c->base);
	strcpy(c->base.store_path, DEFAULT_STORE);
	/* Agents send traps with the community most of them ship with; a trap only
	 * makes us look into the mailbox early, so a forged one costs a poll. */
	strcpy(c->base.snmp_community, "public");
	upn_mailbox_config_init(&c->mailbox);
	c->poll_ms = DEFAULT_POLL_MS;
	c->max_age_s = DEFAULT_MAX_AGE_S;
}

void upn_agent_config_free(struct upn_agent_config *c)
{
	upn_config_free(&c->base);
	free(c->trap_servers);
	c->trap_servers = NULL;
	c->ntrap_servers = 0;
}

int upn_agent_config_load(const char *path, struct upn_agent_config *c, char *err, size_t errlen)
{
	struct parse p = { .c = c };
	int ret;

	defaults(c);
	p.f = fopen(path, "r");
	if (!p.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	ret = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.f);
	if (ret == 0 && !p.err_line) {
		if (c->key_file[0])
			return 0;
		snprintf(err, errlen,
			 "%s: [relay] key_file is required: without keys no relay "
			 "list can be trusted",
			 path);
	} else if (ret > 0 && (!p.err_line || ret < p.err_line)) {
		snprintf(err, errlen, "%s:%d: syntax error: expected [section] or name = value",
			 path, ret);
	} else if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, ret == -2 ? "out of memory" : "cannot read");
	} else {
		snprintf(err, errlen, "%s:%d: %s", path, p.err_line, p.err);
	}
	upn_agent_config_free(c);
	return -EINVAL;
}
