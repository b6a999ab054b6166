// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* A POP3/POP3S session with libcurl: LIST, then RETR, the callback and DELE per
 * message on one connection; the server commits the DELEs at QUIT (cleanup). */
#include "mailbox.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlinit.h"
#include "log.h"
#include "mailmsg.h"

enum {
	/* "N SIZE\r\n" per message: a mailbox of some 100000 messages. Beyond, the
	 * rest waits for the next poll. */
	LIST_MAX = 2 << 20,
	/* The size LIST reports is the size on the server; RETR's may differ by line
	 * ends. */
	RETR_SLACK = 64 << 10,
	PASSWORD_MAX = 1024,
};

void upn_mailbox_config_init(struct upn_mailbox_config *c)
{
	memset(c, 0, sizeof(*c));
	c->delete_after = true;
	c->timeout_ms = UPN_MAILBOX_TIMEOUT_DEFAULT_MS;
	c->max_size = UPN_MAILMSG_MAX;
}

struct buf {
	char *p;
	size_t len, cap, max;
	bool over;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->over = true;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		return -EACCES;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* One line: the file's first line without its end. */
static int read_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!fgets(out, (int)cap, f)) {
		fclose(f);
		upn_set_err(err, errlen, "%s: empty password file", path);
		return -EINVAL;
	}
	fclose(f);
	n = strcspn(out, "\r\n");
	if (n == cap - 1 && !strchr(out, '\n')) {
		upn_set_err(err, errlen, "%s: password line too long", path);
		return -EINVAL;
	}
	out[n] = 0;
	return 0;
}

struct session {
	const struct upn_mailbox_config *c;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	char base[UPN_URL_MAX + 1]; /* the URL without userinfo, ending in '/' */
};

/* One command on the session's connection: @n 0 lists, else RETR or DELE of @n. */
static CURLcode command(struct session *s, unsigned long n, bool dele, struct buf *b)
{
	char url[UPN_URL_MAX + 32];

	if (n)
		snprintf(url, sizeof(url), "%s%lu", s->base, n);
	else
		snprintf(url, sizeof(url), "%s", s->base);
	s->errbuf[0] = 0;
	curl_easy_setopt(s->h, CURLOPT_URL, url);
	curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, dele ? "DELE" : NULL);
	curl_easy_setopt(s->h, CURLOPT_NOBODY, dele ? 1L : 0L);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, b);
	return curl_easy_perform(s->h);
}

static int fail(struct session *s, CURLcode rc, const char *what, unsigned long n, char *err,
		size_t errlen)
{
	if (n)
		upn_set_err(err, errlen, "pop3 %s %lu: %s%s%s", what, n, curl_easy_strerror(rc),
			    s->errbuf[0] ? ": " : "", s->errbuf);
	else
		upn_set_err(err, errlen, "pop3 %s: %s%s%s", what, curl_easy_strerror(rc),
			    s->errbuf[0] ? ": " : "", s->errbuf);
	return curl_errno(rc);
}

/* Splits the configured URL into the user (for CURLOPT_USERNAME) and the URL
 * without userinfo, so that no password ever sits in a URL. */
static int split_url(const char *in, char *base, char *user, size_t usercap, char *err,
		     size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *usr = NULL, *pw = NULL, *out = NULL;
	int rc = -EINVAL;
	size_t n;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, in, 0)) {
		upn_set_err(err, errlen, "bad mailbox URL \"%s\"", in);
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcmp(scheme, "pop3") && strcmp(scheme, "pop3s"))) {
		upn_set_err(err, errlen, "mailbox URL \"%s\": pop3:// or pop3s:// only", in);
		goto out;
	}
	if (!curl_url_get(u, CURLUPART_PASSWORD, &pw, 0)) {
		upn_set_err(err, errlen,
			    "mailbox URL: put the password in password_file, not the URL");
		goto out;
	}
	user[0] = 0;
	if (!curl_url_get(u, CURLUPART_USER, &usr, CURLU_URLDECODE)) {
		if (strlen(usr) >= usercap) {
			upn_set_err(err, errlen, "mailbox URL: user name too long");
			goto out;
		}
		strcpy(user, usr);
	}
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PATH, "/", 0);
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &out, 0) || (n = strlen(out)) > UPN_URL_MAX ||
	    out[n - 1] != '/') {
		upn_set_err(err, errlen, "bad mailbox URL \"%s\"", in);
		goto out;
	}
	memcpy(base, out, n + 1);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(usr);
	curl_free(pw);
	curl_free(out);
	curl_url_cleanup(u);
	return rc;
}

int upn_mailbox_url_check(const char *url, char *err, size_t errlen)
{
	char base[UPN_URL_MAX + 1], user[256];

	return split_url(url, base, user, sizeof(user), err, errlen);
}

/* "N SIZE" lines: the next message, or false at the end. */
static bool next_entry(const char **p, const char *end, unsigned long *n, unsigned long long *size)
{
	while (*p < end) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		const char *line = *p;
		char tmp[64];
		size_t l = (size_t)((nl ? nl : end) - line);

		*p = nl ? nl + 1 : end;
		if (l >= sizeof(tmp))
			continue;
		memcpy(tmp, line, l);
		tmp[l] = 0;
		if (sscanf(tmp, "%lu %llu", n, size) == 2 && *n > 0)
			return true;
	}
	return false;
}

static int session_run(struct session *s, int (*cb)(void *ctx, const char *raw, size_t len),
		       void *ctx, struct upn_mailbox_stats *st, char *err, size_t errlen)
{
	const struct upn_mailbox_config *c = s->c;
	size_t max = c->max_size ? c->max_size : UPN_MAILMSG_MAX;
	struct buf list = { .max = LIST_MAX }, none = { .max = 0 };
	const char *p, *end;
	unsigned long n;
	unsigned long long size;
	CURLcode rc;
	int ret = 0;

	rc = command(s, 0, false, &list);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && list.over)) {
		free(list.p);
		return fail(s, rc, "LIST", 0, err, errlen);
	}
	p = list.p;
	end = list.p + list.len;
	while (p && next_entry(&p, end, &n, &size)) {
		struct buf msg = { .max = max + RETR_SLACK };
		bool big = size > max;
		int r = 0;

		if (!big) {
			rc = command(s, n, false, &msg);
			big = msg.over || (rc == CURLE_OK && msg.len > max);
			if (rc != CURLE_OK && !msg.over) {
				free(msg.p);
				ret = fail(s, rc, "RETR", n, err, errlen);
				break;
			}
		}
		if (big) {
			/* Unreadable by design: delete it, or it blocks every poll. */
			st->too_big++;
			r = 0;
		} else {
			st->fetched++;
			r = cb(ctx, msg.p ? msg.p : "", msg.len);
		}
		free(msg.p);
		if (r < 0)
			break;
		if (r > 0 || !c->delete_after)
			continue;
		rc = command(s, n, true, &none);
		if (rc != CURLE_OK) {
			ret = fail(s, rc, "DELE", n, err, errlen);
			break;
		}
		st->deleted++;
	}
	free(list.p);
	return ret;
}

int upn_mailbox_poll(const struct upn_mailbox_config *c,
		     int (*cb)(void *ctx, const char *raw, size_t len), void *ctx,
		     struct upn_mailbox_stats *st, char *err, size_t errlen)
{
	struct upn_mailbox_stats dummy = { 0 };
	struct session s = { .c = c };
	char user[256], pass[PASSWORD_MAX];
	uint32_t tmo = c->timeout_ms ? c->timeout_ms : UPN_MAILBOX_TIMEOUT_DEFAULT_MS;
	CURLcode grc;
	int rc;

	if (!st)
		st = &dummy;
	st->polls++;
	grc = upn_curl_init();
	if (grc != CURLE_OK) {
		upn_set_err(err, errlen, "curl_global_init: %s", curl_easy_strerror(grc));
		st->errors++;
		return -ENOMEM;
	}
	rc = split_url(c->url, s.base, user, sizeof(user), err, errlen);
	if (rc) {
		st->errors++;
		return rc;
	}
	pass[0] = 0;
	if (c->password_file[0]) {
		rc = read_password(c->password_file, pass, sizeof(pass), err, errlen);
		if (rc) {
			st->errors++;
			return rc;
		}
	}
	s.h = curl_easy_init();
	if (!s.h) {
		upn_set_err(err, errlen, "curl_easy_init failed");
		st->errors++;
		return -ENOMEM;
	}
	curl_easy_setopt(s.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s.h, CURLOPT_PROTOCOLS_STR, "pop3,pop3s");
	curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, s.errbuf);
	curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, (long)tmo);
	curl_easy_setopt(s.h, CURLOPT_CONNECTTIMEOUT_MS, (long)tmo);
	if (user[0])
		curl_easy_setopt(s.h, CURLOPT_USERNAME, user);
	if (pass[0])
		curl_easy_setopt(s.h, CURLOPT_PASSWORD, pass);
	if (c->ca_file[0])
		curl_easy_setopt(s.h, CURLOPT_CAINFO, c->ca_file);
	rc = session_run(&s, cb, ctx, st, err, errlen);
	/* QUIT: the server commits the DELEs only now. */
	curl_easy_cleanup(s.h);
	explicit_bzero(pass, sizeof(pass));
	if (rc)
		st->errors++;
	return rc;
}
