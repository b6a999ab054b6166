/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
#ifndef UPN_CURLINIT_H
#define UPN_CURLINIT_H

#include <curl/curl.h>

/* curl_global_init() once per process, whoever needs libcurl first (the webhook
 * sender, the mailbox poller): it is not thread-safe, and both run in workers.
 * Returns its result, the same on every call. */
CURLcode upn_curl_init(void);

#endif
