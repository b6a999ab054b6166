// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "curlinit.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURLcode upn_curl_init(void)
{
	pthread_once(&once, init_once);
	return global_rc;
}
