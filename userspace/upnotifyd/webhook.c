// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "webhook.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "curlinit.h"
#include "log.h"

enum {
	/* A connection that takes this long is not going to serve a POST; the rest of
	 * the timeout is for the receiver's work. */
	CONNECT_TIMEOUT_MS = 10000,
	/* The answer's body is read and dropped; a receiver that sends more than
	 * this is cut off (the status line has come by then). */
	RESPONSE_MAX = 64 * 1024,
};

struct xfer {
	const atomic_bool *stop;
	size_t got;
	bool stopped;
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	(void)ptr;
	x->got += n;
	/* A short count makes libcurl end the transfer (CURLE_WRITE_ERROR). */
	return x->got > RESPONSE_MAX ? 0 : n;
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct xfer *x = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->stop && atomic_load(x->stop)) {
		x->stopped = true;
		return 1;
	}
	return 0;
}

static void url_host(const char *url, char *host, size_t size)
{
	CURLU *u = curl_url();
	char *h = NULL;

	host[0] = '\0';
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_HOST, &h, 0))
		snprintf(host, size, "%s", h);
	curl_free(h);
	curl_url_cleanup(u);
}

/* What a failed transfer means: the URL itself is wrong (permanent), or the way
 * to the receiver is (temporary: it may be back, or its certificate fixed). */
static enum upn_webhook_state curl_state(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return UPN_WEBHOOK_PERM;
	default:
		return UPN_WEBHOOK_TEMP;
	}
}

static enum upn_webhook_state http_state(long status)
{
	if (status >= 200 && status <= 299)
		return UPN_WEBHOOK_SENT;
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return UPN_WEBHOOK_TEMP;
	return UPN_WEBHOOK_PERM;
}

static struct curl_slist *headers(const struct upn_webhook_post *p)
{
	char sig[300], id[80];
	struct curl_slist *h = NULL, *t;
	const char *lines[] = { "Content-Type: application/json", sig, id,
				/* libcurl would wait up to a second for a 100
				 * before sending a large body. */
				"Expect:" };

	snprintf(sig, sizeof(sig), "X-Upnotify-Signature: %s", p->signature);
	snprintf(id, sizeof(id), "X-Upnotify-Id: %s", p->id);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		t = curl_slist_append(h, lines[i]);
		if (!t) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

void upn_webhook_send(const struct upn_webhook_post *p, struct upn_webhook_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xfer x = { .stop = p->stop };
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	CURLcode rc;
	long status = 0;

	memset(res, 0, sizeof(*res));
	url_host(p->url, res->host, sizeof(res->host));
	rc = upn_curl_init();
	if (rc != CURLE_OK) {
		res->state = UPN_WEBHOOK_TEMP;
		snprintf(res->error, sizeof(res->error), "libcurl: %s", curl_easy_strerror(rc));
		return;
	}
	c = curl_easy_init();
	hdrs = headers(p);
	if (!c || !hdrs) {
		res->state = UPN_WEBHOOK_TEMP;
		snprintf(res->error, sizeof(res->error), "out of memory");
		goto out;
	}
	if (curl_easy_setopt(c, CURLOPT_URL, p->url) ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(c, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body) ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len) ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, UPN_WEBHOOK_USER_AGENT) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			     (long)(p->timeout_ms && p->timeout_ms < CONNECT_TIMEOUT_MS ?
					    p->timeout_ms :
					    CONNECT_TIMEOUT_MS)) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress) ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x) ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf)) {
		res->state = UPN_WEBHOOK_PERM;
		snprintf(res->error, sizeof(res->error), "libcurl refused an option");
		goto out;
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	res->status = status;
	if (x.stopped) {
		res->state = UPN_WEBHOOK_STOPPED;
		snprintf(res->error, sizeof(res->error), "stopped");
	} else if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && status)) {
		res->state = http_state(status);
		if (res->state != UPN_WEBHOOK_SENT)
			snprintf(res->error, sizeof(res->error), "HTTP %ld%s", status,
				 status >= 300 && status <= 399 ? " (redirects are not followed)" :
								  "");
	} else {
		res->state = curl_state(rc);
		snprintf(res->error, sizeof(res->error), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}
