/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent's configuration (upnotify-agent(8)): an INI file read with inih.
 * [mail], [clients] and [store] are upnotifyd's own keys, parsed by config.c; [trap]
 * fills the same SNMP fields upnotifyd's [recovery] does, so trap.c takes it as is. */
#ifndef UPN_AGENTCONF_H
#define UPN_AGENTCONF_H

#include <linux/limits.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "mailbox.h"

struct upn_agent_config {
	/* [mail], [clients], [store]; and from [trap]: snmp_listen, snmp_community. */
	struct upn_config base;
	/* [mailbox] */
	struct upn_mailbox_config mailbox; /* url "": no mailbox (--stdin only) */
	uint32_t poll_ms;		   /* 0: no periodic poll, traps only */
	/* [trap] servers: agents whose traps trigger a poll; none: any agent */
	struct upn_prefix *trap_servers;
	size_t ntrap_servers;
	/* [relay] */
	char key_file[PATH_MAX];
	uint32_t max_age_s; /* older signatures are refused as expired */
};

/* Defaults, then @path on top. -EINVAL with "path:line: message" (or "path: message")
 * in @err; @c then holds nothing to free. The key file is named, not read here. */
int upn_agent_config_load(const char *path, struct upn_agent_config *c, char *err, size_t errlen);
void upn_agent_config_free(struct upn_agent_config *c);

#endif
