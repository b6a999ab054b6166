/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The server mail table (patent figure 16): a server address or prefix maps to how
 * its clients hear of a recovery: directly (the client mail table), or as one signed
 * list relayed to an agent on the server itself or on a management station, or
 * POSTed to a webhook. The longest prefix wins; a server in no entry is direct.
 * Entries from the config file are held in memory only; entries added with
 * upnotifyctl are stored, like the client mail table's. */
#ifndef UPN_SRVMAP_H
#define UPN_SRVMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "journal.h"
#include "lpm.h"
#include "relaymsg.h"
#include "store.h"

struct upn_srv {
	struct upn_prefix prefix;
	bool from_config;
	uint8_t mode;	 /* enum upn_relay_mode */
	uint32_t marker; /* journal */
	int64_t registered;
	char target[UPN_URL_MAX + 1];	      /* the agent's mail address or the URL */
	char key_id[UPN_RELAY_KEYID_MAX + 1]; /* signs what goes there; "" for direct */
};

struct upn_srvmap {
	struct upn_lpm lpm; /* prefix -> record index */
	struct upn_arena recs;
	struct upn_journal *journal;
};

int upn_srvmap_init(struct upn_srvmap *m, uint32_t max, struct upn_journal *journal);
void upn_srvmap_destroy(struct upn_srvmap *m);
/* Insert or replace. Stored (journaled) unless @from_config or the map has no journal.
 * 0, -EINVAL (a bad mode, a target too long, a target where direct takes none),
 * -ENOSPC, or -EPERM when a stored entry would replace one from the config file. The
 * caller checks the target (upn_srvmap_target_error) and that the key exists. */
int upn_srvmap_set(struct upn_srvmap *m, const struct upn_prefix *p, uint8_t mode,
		   const char *target, const char *key_id, int64_t registered, bool from_config);
/* 0, -ENOENT, or -EPERM for an entry that comes from the config file. */
int upn_srvmap_del(struct upn_srvmap *m, const struct upn_prefix *p);
/* The entry for exactly @p, or NULL. */
const struct upn_srv *upn_srvmap_get(const struct upn_srvmap *m, const struct upn_prefix *p);
/* The entry with the longest prefix containing @a, or NULL (direct). */
const struct upn_srv *upn_srvmap_lookup(const struct upn_srvmap *m, const struct upn_addr *a);
uint32_t upn_srvmap_count(const struct upn_srvmap *m);
void upn_srvmap_foreach(const struct upn_srvmap *m, void (*fn)(void *ctx, const struct upn_srv *s),
			void *ctx);

/* Does @target suit @mode: none for direct, a mail address for server and nms, an
 * http:// or https:// URL for webhook? NULL, or why not. Shared by the config file
 * and the control socket. */
const char *upn_srvmap_target_error(uint8_t mode, const char *target);

#endif
