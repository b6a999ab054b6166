/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* One webhook POST with libcurl: the relay list as JSON to an http(s) URL, signed.
 * Synchronous, so it runs in the mailer's thread, one POST at a time, and a stop
 * request cuts it short.
 *
 * The request: Content-Type: application/json, X-Upnotify-Signature (the JSON's
 * exact bytes signed), X-Upnotify-Id (the list id), User-Agent upnotify/VERSION; no
 * redirects followed, http and https only. 2xx is delivered; 408, 429, 5xx and
 * trouble on the way (no connection, a timeout, TLS) are temporary; any other
 * answer is permanent. */
#ifndef UPN_WEBHOOK_H
#define UPN_WEBHOOK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Keep with upnotifyd's VERSION (main.c). */
#define UPN_WEBHOOK_USER_AGENT "upnotify/0.1"

enum upn_webhook_state {
	UPN_WEBHOOK_SENT,
	UPN_WEBHOOK_TEMP,
	UPN_WEBHOOK_PERM,
	UPN_WEBHOOK_STOPPED, /* the stop flag cut it short: try again later */
};

struct upn_webhook_post {
	const char *url;
	const char *body;
	size_t len;
	const char *signature;	 /* the X-Upnotify-Signature value */
	const char *id;		 /* the X-Upnotify-Id value */
	uint32_t timeout_ms;	 /* the whole request */
	const atomic_bool *stop; /* NULL: none */
};

struct upn_webhook_result {
	enum upn_webhook_state state;
	long status;	 /* the HTTP status, 0 when none came */
	char error[256]; /* what went wrong, "" when sent */
	char host[256];	 /* the URL's host, "" when the URL does not parse */
};

void upn_webhook_send(const struct upn_webhook_post *p, struct upn_webhook_result *res);

#endif
