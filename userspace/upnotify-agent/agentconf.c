// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent's configuration file: its own sections here, upnotifyd's through
 * upn_config_key(), so that [mail] and [clients] mean exactly the same in both. */
#include "agentconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STORE "/var/lib/upnotify/agent.db"
#define DEFAULT_POLL_MS 60000
#define DEFAULT_MAX_AGE_S (7 * 86400)

struct parse {
	struct upn_config_parse ini;
	struct upn_agent_config *c;
};

static int parse_url(struct upn_config_parse *p, const char *v, char *out)
{
	size_t n = strlen(v);
	char err[256];

	if (!n) {
		out[0] = '\0';
		return 1;
	}
	if ((strncmp(v, "pop3://", 7) && strncmp(v, "pop3s://", 8)) || n > UPN_URL_MAX ||
	    strcspn(v, " \t\r\n\"<>`") != n || n <= (size_t)(v[4] == 's' ? 8 : 7))
		return upn_config_fail(
			p, "url: expected pop3://[user@]host[:port]/ or pop3s://..., got '%s'", v);
	if (upn_mailbox_url_check(v, err, sizeof(err)))
		return upn_config_fail(p, "%s", err);
	strcpy(out, v);
	return 1;
}

static int mailbox_key(struct parse *p, const char *name, const char *v)
{
	struct upn_mailbox_config *m = &p->c->mailbox;

	if (!strcmp(name, "url"))
		return parse_url(&p->ini, v, m->url);
	if (!strcmp(name, "password_file"))
		return upn_config_parse_opt_path(&p->ini, name, v, m->password_file,
						 sizeof(m->password_file));
	if (!strcmp(name, "ca_file"))
		return upn_config_parse_opt_path(&p->ini, name, v, m->ca_file, sizeof(m->ca_file));
	if (!strcmp(name, "delete"))
		return upn_config_parse_bool(&p->ini, name, v, &m->delete_after);
	if (!strcmp(name, "poll")) {
		uint32_t ms = 0;

		if (!upn_config_parse_ms(&p->ini, name, v, 0, 86400000, &ms))
			return 0;
		if (ms && ms < 1000)
			return upn_config_fail(&p->ini, "poll: 0 or at least 1s, got '%s'", v);
		p->c->poll_ms = ms;
		return 1;
	}
	return upn_config_fail(&p->ini, "unknown key '%s' in [mailbox]", name);
}

static int trap_key(struct parse *p, const char *name, const char *v)
{
	char err[256];
	const char *as = NULL;

	if (!strcmp(name, "servers"))
		return upn_config_parse_prefixes(&p->ini, name, v, &p->c->trap_servers,
						 &p->c->ntrap_servers);
	if (!strcmp(name, "listen"))
		as = "snmp_listen";
	else if (!strcmp(name, "community"))
		as = "snmp_community";
	else
		return upn_config_fail(&p->ini, "unknown key '%s' in [trap]", name);
	if (upn_config_key(&p->c->base, "recovery", as, v, err, sizeof(err)))
		return upn_config_fail(&p->ini, "%s", err);
	return 1;
}

static int relay_key(struct parse *p, const char *name, const char *v)
{
	struct upn_agent_config *c = p->c;

	if (!strcmp(name, "key_file"))
		return upn_config_parse_opt_path(&p->ini, name, v, c->key_file,
						 sizeof(c->key_file));
	if (!strcmp(name, "max_age"))
		return upn_config_parse_secs(&p->ini, name, v, 60, 366 * 86400, &c->max_age_s);
	return upn_config_fail(&p->ini, "unknown key '%s' in [relay]", name);
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
			return upn_config_fail(&p->ini, "%s", err);
		return 1;
	}
	return upn_config_fail(&p->ini, "unknown section [%s]", section);
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

	defaults(c);
	if (!upn_config_parse_file(path, &p.ini, handler, &p, err, errlen)) {
		if (c->key_file[0])
			return 0;
		snprintf(err, errlen,
			 "%s: [relay] key_file is required: without keys no relay "
			 "list can be trusted",
			 path);
	}
	upn_agent_config_free(c);
	return -EINVAL;
}
