/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The client mail table (patent figure 5): an address or prefix maps to the mail
 * address that hears about recoveries; the longest prefix wins. Entries from the
 * config file are held in memory only, so deleting a line there takes effect at the
 * next start; entries added with upnotifyctl are stored. */
#ifndef UPN_CLIENTS_H
#define UPN_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "journal.h"
#include "lpm.h"

struct upn_client {
	struct upn_prefix prefix;
	bool from_config;
	uint32_t marker; /* journal */
	int64_t registered;
	char *mail;
};

struct upn_clients {
	struct upn_lpm lpm; /* prefix -> record index */
	struct upn_arena recs;
	struct upn_journal *journal;
};

int upn_clients_init(struct upn_clients *c, uint32_t max, struct upn_journal *journal);
void upn_clients_destroy(struct upn_clients *c);
/* Insert or replace. Stored (journaled) unless @from_config. 0, -ENOSPC, -ENOMEM, or
 * -EPERM when a stored entry would replace one from the config file. */
int upn_clients_set(struct upn_clients *c, const struct upn_prefix *p, const char *mail,
		    int64_t registered, bool from_config);
/* 0, -ENOENT, or -EPERM for an entry that comes from the config file. */
int upn_clients_del(struct upn_clients *c, const struct upn_prefix *p);
/* The entry for exactly @p, or NULL. */
const struct upn_client *upn_clients_get(const struct upn_clients *c, const struct upn_prefix *p);
/* The entry with the longest prefix containing @a, or NULL. */
const struct upn_client *upn_clients_lookup(const struct upn_clients *c, const struct upn_addr *a);
uint32_t upn_clients_count(const struct upn_clients *c);
void upn_clients_foreach(const struct upn_clients *c,
			 void (*fn)(void *ctx, const struct upn_client *cl), void *ctx);

#endif
