/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* upnotifyd's configuration: an INI file read with inih (upnotify.conf(5)). */
#ifndef UPN_CONFIG_H
#define UPN_CONFIG_H

#include <linux/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "limits.h"

enum upn_source {
	UPN_SOURCE_AUTO,
	UPN_SOURCE_NFQUEUE,
	UPN_SOURCE_KMOD,
};

struct upn_config_client {
	struct upn_prefix prefix;
	char mail[UPN_MAIL_MAX + 1];
};

struct upn_config {
	/* [detect] */
	enum upn_source source;
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
	/* [store] */
	char store_path[PATH_MAX];
	/* [control] */
	char ctl_socket[PATH_MAX];
	mode_t ctl_mode;
	/* [clients] */
	struct upn_config_client *clients;
	size_t nclients;
};

/* Defaults, then @path on top. On error returns -EINVAL with "path:line: message" (or
 * "path: message") in @err; @cfg then holds nothing to free. */
int upn_config_load(const char *path, struct upn_config *cfg, char *err, size_t errlen);
void upn_config_defaults(struct upn_config *cfg);
void upn_config_free(struct upn_config *cfg);

static inline bool upn_config_code_counts(const uint8_t *bitmap, uint8_t code)
{
	return bitmap[code >> 3] & (1u << (code & 7));
}

const char *upn_source_name(enum upn_source s);

/* Shared with the control socket: is this a mail address we are willing to use? */
bool upn_mail_valid(const char *mail);

#endif
