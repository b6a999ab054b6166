/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The daemon's own iptables rules: two chains in the mangle table of each family,
 * UPNOTIFY_FWD (jumped to first thing from FORWARD) and UPNOTIFY_OUT (from OUTPUT),
 * queueing only what detection needs. Nothing outside these chains and their jumps
 * is touched. iptables-nft, because this kernel's nft has no native queue statement. */
#ifndef UPN_RULES_H
#define UPN_RULES_H

#include "config.h"

/* Replaces whatever a previous run (even a killed one) left. 0 or -1, logged. */
int upn_rules_install(const struct upn_config *cfg);
void upn_rules_remove(void);
/* The iptables-restore input for one family (AF_INET or AF_INET6), for tests and
 * `upnotifyd --print-rules`. Caller frees. */
char *upn_rules_render(const struct upn_config *cfg, int family);

#endif
