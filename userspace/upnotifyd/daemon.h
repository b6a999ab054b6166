/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Everything upnotifyd holds, in one place for the control socket to read. */
#ifndef UPN_DAEMON_H
#define UPN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "clients.h"
#include "config.h"
#include "detect.h"
#include "journal.h"
#include "loop.h"
#include "nfq.h"
#include "store.h"
#include "waitlist.h"

struct upn_control;

struct upn_daemon {
	struct upn_config cfg;
	struct upn_loop loop;
	struct upn_store *store;
	struct upn_journal journal;
	struct upn_clients clients;
	struct upn_waitlist wl;
	struct upn_detect detect;
	struct upn_nfq nfq;
	enum upn_source source; /* the one in use, never AUTO */
	bool rules_installed;
	struct upn_control *ctl;
	int64_t started; /* unix seconds */
};

#endif
