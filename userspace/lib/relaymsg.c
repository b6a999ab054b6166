// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The relay list: its body and JSON forms, the parser an agent trusts only after
 * upn_relay_verify(), the key file, and the HMAC-SHA256 signature (see relaymsg.h). */
#include "relaymsg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "timefmt.h"

#define BEGIN_LINE "-----BEGIN UPNOTIFY RELAY-----"
#define END_LINE "-----END UPNOTIFY RELAY-----"
#define SERVER_TAG "SERVER IP ADDRESS\t: "
#define CLIENT_TAG "CLIENT IP ADDRESS\t: "
#define MAC_DOMAIN "upnotify-relay-v1\n"

enum {
	/* The longest line of the block: a client line with an IPv6 address and every
	 * field at its widest is ~150 bytes; the server-name line is 13 + 253. */
	LINE_MAX_LEN = 512,
	/* DNS caps a name at 253 characters. */
	NAME_MAX_LEN = 253,
	/* A key file is a few lines; anything this big is not one. */
	KEYFILE_MAX = 1 << 20,
	KEYS_MAX = 4096,
	MAC_LEN = 32,
};

bool upn_relay_name_chars_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* What may be printed as a host name in the body and in mails made from it. */
static bool name_ok(const char *s)
{
	return strlen(s) <= NAME_MAX_LEN && upn_relay_name_chars_ok(s);
}

static bool id_ok(const char *s, size_t n)
{
	if (n != UPN_RELAY_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool upn_relay_keyid_ok(const char *id)
{
	return strnlen(id, UPN_RELAY_KEYID_MAX + 1) <= UPN_RELAY_KEYID_MAX &&
	       upn_relay_name_chars_ok(id);
}

static bool addr_ok(const struct upn_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/* ---- the body ---- */

void upn_relay_span(const struct upn_relay_list *l, int64_t *first, int64_t *last)
{
	*first = l->nclients ? l->clients[0].first : 0;
	*last = l->nclients ? l->clients[0].last : 0;
	for (size_t i = 1; i < l->nclients; i++) {
		if (l->clients[i].first < *first)
			*first = l->clients[i].first;
		if (l->clients[i].last > *last)
			*last = l->clients[i].last;
	}
}

static int list_ok(const struct upn_relay_list *l)
{
	if (!id_ok(l->id, strlen(l->id)) || !addr_ok(&l->server) ||
	    (l->server_name[0] && !name_ok(l->server_name)) ||
	    l->nclients > UPN_RELAY_CLIENTS_MAX || (l->nclients && !l->clients))
		return -EINVAL;
	for (size_t i = 0; i < l->nclients; i++)
		if (!addr_ok(&l->clients[i].client) || l->clients[i].first > l->clients[i].last)
			return -EINVAL;
	return 0;
}

char *upn_relay_body(const struct upn_relay_list *l)
{
	char a[UPN_ADDRSTRLEN], t1[UPN_TIMESTRLEN], t2[UPN_TIMESTRLEN];
	char *buf = NULL;
	size_t len = 0;
	int64_t first, last;
	FILE *f;

	if (list_ok(l)) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	upn_addr_fmt(&l->server, a);
	upn_relay_span(l, &first, &last);
	fprintf(f, "Server %s%s%s%s is reachable again since %s.\n", a,
		l->server_name[0] ? " (" : "", l->server_name, l->server_name[0] ? ")" : "",
		upn_time_fmt(l->recovered, 0, t1));
	if (l->nclients)
		fprintf(f, "%zu client%s tried to reach it while it was down, from %s.\n",
			l->nclients, l->nclients == 1 ? "" : "s", upn_time_fmt(first, 0, t1));
	else
		fprintf(f, "No client tried to reach it while it was down.\n");
	fprintf(f, "Please tell them it is back. The list below is signed; upnotify-agent(8) "
		   "reads it.\n\n");
	fprintf(f, BEGIN_LINE "\nversion: 1\nid: %s\nserver: %s\n", l->id, a);
	if (l->server_name[0])
		fprintf(f, "server-name: %s\n", l->server_name);
	fprintf(f, "down-since: %s\nrecovered: %s\ncause: %s\nclients: %zu\n" SERVER_TAG "%s\n",
		upn_time_fmt(l->down_since, 0, t1), upn_time_fmt(l->recovered, 0, t2),
		upn_cause_name(l->cause), l->nclients, a);
	for (size_t i = 0; i < l->nclients; i++) {
		const struct upn_relay_client *c = &l->clients[i];

		fprintf(f, CLIENT_TAG "%s\tfirst=%s last=%s attempts=%" PRIu32 " port=%u\n",
			upn_addr_fmt(&c->client, a), upn_time_fmt(c->first, 0, t1),
			upn_time_fmt(c->last, 0, t2), c->attempts, (unsigned int)c->port);
	}
	fputs(END_LINE "\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}

/* ---- the JSON document ---- */

static json_t *time_json(int64_t t)
{
	char b[UPN_TIMESTRLEN];

	return json_string(upn_time_fmt(t, 0, b));
}

char *upn_relay_json(const struct upn_relay_list *l)
{
	char a[UPN_ADDRSTRLEN];
	json_t *doc, *arr;
	char *out;

	if (list_ok(l)) {
		errno = EINVAL;
		return NULL;
	}
	arr = json_array();
	doc = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "version", 1, "id", l->id,
			"server", upn_addr_fmt(&l->server, a), "server_name",
			l->server_name[0] ? json_string(l->server_name) : json_null(), "down_since",
			time_json(l->down_since), "recovered", time_json(l->recovered), "cause",
			upn_cause_name(l->cause), "clients", arr);
	if (!doc) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < l->nclients; i++) {
		const struct upn_relay_client *c = &l->clients[i];
		json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:i}", "client",
				      upn_addr_fmt(&c->client, a), "first", time_json(c->first),
				      "last", time_json(c->last), "attempts",
				      (json_int_t)c->attempts, "port", (int)c->port);

		if (!o || json_array_append_new(arr, o)) {
			json_decref(doc);
			errno = ENOMEM;
			return NULL;
		}
	}
	out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!out)
		errno = ENOMEM;
	return out;
}

/* ---- parsing the block ---- */

void upn_relay_list_free(struct upn_relay_list *l)
{
	if (!l)
		return;
	free(l->clients);
	l->clients = NULL;
	l->nclients = 0;
}

/* Exactly what upn_time_fmt writes, so that one list has one text. */
static bool time_val(const char *s, int64_t *t)
{
	char back[UPN_TIMESTRLEN];

	return strlen(s) == 20 && s[19] == 'Z' && !upn_time_parse(s, t) &&
	       !strcmp(upn_time_fmt(*t, 0, back), s);
}

/* Decimal without sign or leading zeros, at most @max. */
static bool uint_val(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return false;
	}
	*v = n;
	return true;
}

/* "first=T last=T attempts=N port=N" */
static const char *client_fields(char *s, struct upn_relay_client *c)
{
	static const char *const keys[] = { "first=", "last=", "attempts=", "port=" };
	uint64_t v;

	for (size_t i = 0; i < 4; i++) {
		char *sp = strchr(s, ' ');
		size_t kl = strlen(keys[i]);

		if ((i < 3) != (sp != NULL))
			return i < 3 ? "missing fields" : "text after port";
		if (sp)
			*sp = 0;
		if (strncmp(s, keys[i], kl))
			return "bad field";
		s += kl;
		switch (i) {
		case 0:
			if (!time_val(s, &c->first))
				return "bad first=";
			break;
		case 1:
			if (!time_val(s, &c->last))
				return "bad last=";
			break;
		case 2:
			if (!uint_val(s, UINT32_MAX, &v))
				return "bad attempts=";
			c->attempts = (uint32_t)v;
			break;
		case 3:
			if (!uint_val(s, UINT16_MAX, &v))
				return "bad port=";
			c->port = (uint16_t)v;
			break;
		}
		if (sp)
			s = sp + 1;
	}
	return c->first > c->last ? "first after last" : NULL;
}

static int cmp_addr(const void *x, const void *y)
{
	return upn_addr_cmp(x, y);
}

enum {
	F_VERSION = 1 << 0,
	F_ID = 1 << 1,
	F_SERVER = 1 << 2,
	F_NAME = 1 << 3,
	F_DOWN = 1 << 4,
	F_RECOVERED = 1 << 5,
	F_CAUSE = 1 << 6,
	F_COUNT = 1 << 7,
	F_SRVLINE = 1 << 8,
	F_REQUIRED = F_VERSION | F_ID | F_SERVER | F_DOWN | F_RECOVERED | F_CAUSE | F_COUNT |
		     F_SRVLINE,
};

struct parse_state {
	struct upn_relay_list *l;
	unsigned int seen;
	uint64_t count;
	size_t cap;
	struct upn_addr srvline;
};

static const char *header_line(struct parse_state *ps, char *line)
{
	static const struct {
		const char *key;
		unsigned int flag;
	} keys[] = {
		{ "version: ", F_VERSION }, { "id: ", F_ID },
		{ "server: ", F_SERVER },   { "server-name: ", F_NAME },
		{ "down-since: ", F_DOWN }, { "recovered: ", F_RECOVERED },
		{ "cause: ", F_CAUSE },	    { "clients: ", F_COUNT },
		{ SERVER_TAG, F_SRVLINE },
	};
	struct upn_relay_list *l = ps->l;
	unsigned int flag = 0;
	const char *v = NULL;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i].key);

		if (!strncmp(line, keys[i].key, kl)) {
			flag = keys[i].flag;
			v = line + kl;
			break;
		}
	}
	if (!flag)
		return "unknown line";
	if (ps->seen & flag)
		return "repeated line";
	/* The version comes first: a later version may change everything after it. */
	if (flag != F_VERSION && !(ps->seen & F_VERSION))
		return "no version line first";
	ps->seen |= flag;
	switch (flag) {
	case F_VERSION:
		return strcmp(v, "1") ? "unsupported version" : NULL;
	case F_ID:
		if (!id_ok(v, strlen(v)))
			return "id is not 32 lowercase hex digits";
		memcpy(l->id, v, UPN_RELAY_ID_LEN + 1);
		return NULL;
	case F_SERVER:
		return upn_addr_parse(v, &l->server) ? "bad server address" : NULL;
	case F_NAME:
		if (!name_ok(v))
			return "bad server-name";
		snprintf(l->server_name, sizeof(l->server_name), "%s", v);
		return NULL;
	case F_DOWN:
		return time_val(v, &l->down_since) ? NULL : "bad down-since time";
	case F_RECOVERED:
		return time_val(v, &l->recovered) ? NULL : "bad recovered time";
	case F_CAUSE:
		/* A cause this side does not know (a newer sender) is "unknown", not an
		 * error: it only labels the recovery. */
		if (!*v || strlen(v) > 32 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
			return "bad cause";
		l->cause = (uint8_t)upn_cause_parse(v);
		return NULL;
	case F_COUNT:
		if (!uint_val(v, UPN_RELAY_CLIENTS_MAX, &ps->count))
			return "bad clients count";
		return NULL;
	case F_SRVLINE:
		return upn_addr_parse(v, &ps->srvline) ? "bad SERVER IP ADDRESS" : NULL;
	}
	return "unknown line";
}

static const char *client_line(struct parse_state *ps, char *line)
{
	struct upn_relay_list *l = ps->l;
	struct upn_relay_client c = { 0 };
	char *tab = strchr(line, '\t');
	const char *why;

	if (!(ps->seen & F_COUNT))
		return "client before the clients: line";
	if (!tab)
		return "missing fields";
	*tab = 0;
	if (upn_addr_parse(line, &c.client))
		return "bad client address";
	why = client_fields(tab + 1, &c);
	if (why)
		return why;
	if (l->nclients >= ps->count)
		return "more clients than the clients: line says";
	if (l->nclients == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		struct upn_relay_client *v;

		if (cap > ps->count)
			cap = (size_t)ps->count;
		v = realloc(l->clients, cap * sizeof(*v));
		if (!v)
			return "out of memory";
		l->clients = v;
		ps->cap = cap;
	}
	l->clients[l->nclients++] = c;
	return NULL;
}

/* After the block: the count, the SERVER line, no client twice. */
static const char *block_done(struct parse_state *ps)
{
	struct upn_relay_list *l = ps->l;
	struct upn_addr *v;
	const char *why = NULL;

	if ((ps->seen & F_REQUIRED) != F_REQUIRED)
		return "a required line is missing";
	if (l->nclients != ps->count)
		return "fewer clients than the clients: line says";
	if (!upn_addr_eq(&ps->srvline, &l->server))
		return "SERVER IP ADDRESS differs from server:";
	if (l->nclients < 2)
		return NULL;
	v = malloc(l->nclients * sizeof(*v));
	if (!v)
		return "out of memory";
	for (size_t i = 0; i < l->nclients; i++)
		v[i] = l->clients[i].client;
	qsort(v, l->nclients, sizeof(*v), cmp_addr);
	for (size_t i = 1; i < l->nclients && !why; i++)
		if (upn_addr_eq(&v[i - 1], &v[i]))
			why = "duplicate client";
	free(v);
	return why;
}

int upn_relay_parse(const char *body, size_t len, struct upn_relay_list *out, char *err,
		    size_t errlen)
{
	struct parse_state ps = { .l = out };
	char line[LINE_MAX_LEN + 2];
	const char *p = body, *end = body + len, *why = NULL;
	size_t lineno = 0;
	bool in = false, done = false;

	memset(out, 0, sizeof(*out));
	while (p < end && !done) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		lineno++;
		/* What the signature's canonical form drops is dropped here too, so what
		 * is parsed is what was signed. */
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
			n--;
		if (!in) {
			in = n == strlen(BEGIN_LINE) && !memcmp(p, BEGIN_LINE, n);
		} else if (n > LINE_MAX_LEN) {
			why = "line too long";
		} else if (memchr(p, 0, n)) {
			why = "NUL in line";
		} else {
			memcpy(line, p, n);
			line[n] = 0;
			if (!strcmp(line, END_LINE)) {
				why = block_done(&ps);
				done = true;
			} else if (n == 0) {
				/* A blank line inside the block says nothing. */
			} else if (!strncmp(line, CLIENT_TAG, strlen(CLIENT_TAG))) {
				why = client_line(&ps, line + strlen(CLIENT_TAG));
			} else {
				why = header_line(&ps, line);
			}
		}
		if (why)
			break;
		p = nl ? nl + 1 : end;
	}
	if (!why && !in)
		why = "no " BEGIN_LINE " line";
	else if (!why && !done)
		why = "no " END_LINE " line";
	if (why) {
		upn_set_err(err, errlen, "line %zu: %s", lineno, why);
		upn_relay_list_free(out);
		return -EINVAL;
	}
	return 0;
}

/* ---- keys ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool unhex(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n / 2; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);

		if (h < 0 || l < 0)
			return false;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return !(n & 1);
}

void upn_relay_keys_free(struct upn_relay_keys *k)
{
	if (!k)
		return;
	if (k->v)
		OPENSSL_cleanse(k->v, k->n * sizeof(*k->v));
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

const struct upn_relay_key *upn_relay_key_find(const struct upn_relay_keys *k, const char *id)
{
	for (size_t i = 0; k && id && i < k->n; i++)
		if (!strcmp(k->v[i].id, id))
			return &k->v[i];
	return NULL;
}

static const char *key_line(struct upn_relay_keys *out, char *s)
{
	struct upn_relay_key key = { 0 };
	char *id, *hex, *rest;
	size_t n;

	id = strtok_r(s, " \t", &rest);
	if (!id)
		return NULL; /* blank */
	if (id[0] == '#')
		return NULL;
	hex = strtok_r(NULL, " \t", &rest);
	if (!hex)
		return "expected \"KEYID HEXKEY\"";
	if (strtok_r(NULL, " \t", &rest))
		return "text after the key";
	if (!upn_relay_keyid_ok(id))
		return "bad key id (1 to 64 of A-Z a-z 0-9 . _ -)";
	n = strlen(hex);
	if (n < 32 || n > 128 || (n & 1))
		return "key must be 32 to 128 hex digits (16 to 64 bytes)";
	if (!unhex(hex, n, key.key))
		return "key is not hex";
	if (upn_relay_key_find(out, id))
		return "duplicate key id";
	if (out->n >= KEYS_MAX)
		return "too many keys";
	memcpy(key.id, id, strlen(id) + 1);
	key.len = n / 2;
	/* Grown one at a time: a key file has a handful of lines. */
	{
		struct upn_relay_key *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (!v) {
			OPENSSL_cleanse(&key, sizeof(key));
			return "out of memory";
		}
		out->v = v;
	}
	out->v[out->n++] = key;
	OPENSSL_cleanse(&key, sizeof(key));
	return NULL;
}

int upn_relay_keys_load(const char *path, struct upn_relay_keys *out, char *err, size_t errlen)
{
	char *buf = NULL, *p, *nl;
	const char *why = NULL;
	struct stat sb;
	size_t lineno = 0;
	ssize_t r;
	size_t len = 0;
	int fd, rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &sb)) {
		rc = -errno;
		upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		upn_set_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Like ssh with a private key: a secret others can read is no secret. */
	if (sb.st_mode & 077) {
		upn_set_err(err, errlen, "%s: mode %04o lets group or others in; chmod 600 it",
			    path, (unsigned int)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size > KEYFILE_MAX) {
		upn_set_err(err, errlen, "%s: too big for a key file", path);
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		upn_set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)sb.st_size) {
		r = read(fd, buf + len, (size_t)sb.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			upn_set_err(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	if (memchr(buf, 0, len)) {
		upn_set_err(err, errlen, "%s: NUL byte in key file", path);
		goto out;
	}
	for (p = buf; *p && !why; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		lineno++;
		if (nl && nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		why = key_line(out, p);
	}
	if (why) {
		upn_set_err(err, errlen, "%s:%zu: %s", path, lineno, why);
		goto out;
	}
	if (!out->n) {
		upn_set_err(err, errlen, "%s: no keys", path);
		goto out;
	}
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	if (rc)
		upn_relay_keys_free(out);
	return rc;
}

/* ---- signatures ---- */

/* The canonical form of a mail body, appended at @dst (room for @len + 1 bytes):
 * each line loses its trailing blanks, tabs and CRs (so CRLF becomes LF), trailing
 * empty lines go, and the result ends in exactly one LF. */
static size_t canonical(const char *src, size_t len, char *dst)
{
	const char *p = src, *end = src + len;
	size_t out = 0, keep = 0; /* @keep: length up to the last non-empty line */

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
			n--;
		memcpy(dst + out, p, n);
		out += n;
		dst[out++] = '\n';
		if (n)
			keep = out;
		p = nl ? nl + 1 : end;
	}
	if (!keep) {
		dst[0] = '\n';
		return 1;
	}
	return keep;
}

static int compute(const struct upn_relay_key *k, int64_t t, const char *payload, size_t len,
		   bool mail, unsigned char mac[MAC_LEN])
{
	char head[sizeof(MAC_DOMAIN) + UPN_RELAY_KEYID_MAX + 32];
	unsigned int maclen = MAC_LEN;
	unsigned char *buf, *ok;
	size_t hl, n;

	hl = (size_t)snprintf(head, sizeof(head), MAC_DOMAIN "k=%s\nt=%" PRId64 "\n", k->id, t);
	if (hl >= sizeof(head))
		return -EINVAL;
	buf = malloc(hl + len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, head, hl);
	if (mail) {
		n = hl + canonical(payload, len, (char *)buf + hl);
	} else {
		if (len)
			memcpy(buf + hl, payload, len);
		n = hl + len;
	}
	ok = HMAC(EVP_sha256(), k->key, (int)k->len, buf, n, mac, &maclen);
	free(buf);
	return ok && maclen == MAC_LEN ? 0 : -EIO;
}

int upn_relay_sign(const struct upn_relay_key *k, int64_t t, const char *payload, size_t len,
		   bool mail, char *hdr, size_t hdrlen)
{
	unsigned char mac[MAC_LEN];
	char hex[2 * MAC_LEN + 1];
	int rc, n;

	if (!k || !upn_relay_keyid_ok(k->id) || k->len == 0 || k->len > sizeof(k->key) ||
	    (len && !payload) || !hdr)
		return -EINVAL;
	rc = compute(k, t, payload ? payload : "", len, mail, mac);
	if (rc)
		return rc;
	for (size_t i = 0; i < MAC_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
	n = snprintf(hdr, hdrlen, "v=1; k=%s; t=%" PRId64 "; s=%s", k->id, t, hex);
	return n < 0 || (size_t)n >= hdrlen ? -ENOSPC : 0;
}

/* An optional '-' and 1 to 18 digits: any such number fits an int64_t. */
static bool time_tag(const char *v, int64_t *t)
{
	const char *d = v + (v[0] == '-');
	size_t n = strlen(d);

	if (n == 0 || n > 18 || strspn(d, "0123456789") != n)
		return false;
	*t = strtoll(v, NULL, 10);
	return true;
}

/* "v=1; k=KEYID; t=UNIX; s=HEX", tags in any order, blanks (and a fold) around
 * them allowed, each tag once, nothing else. */
static bool sig_parse(const char *hdr, char *key_id, int64_t *t, unsigned char mac[MAC_LEN])
{
	char buf[UPN_RELAY_SIG_MAX + 1], *tag, *rest;
	unsigned int seen = 0;
	size_t n = strnlen(hdr, sizeof(buf));

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, hdr, n + 1);
	for (tag = strtok_r(buf, ";", &rest); tag; tag = strtok_r(NULL, ";", &rest)) {
		char *v;
		size_t l;

		tag += strspn(tag, " \t\r\n");
		l = strlen(tag);
		while (l && strchr(" \t\r\n", tag[l - 1]))
			tag[--l] = 0;
		if (l < 2 || tag[1] != '=')
			return false;
		v = tag + 2;
		l -= 2;
		switch (tag[0]) {
		case 'v':
			if ((seen & 1) || strcmp(v, "1"))
				return false;
			seen |= 1;
			break;
		case 'k':
			if ((seen & 2) || !upn_relay_keyid_ok(v))
				return false;
			memcpy(key_id, v, l + 1);
			seen |= 2;
			break;
		case 't':
			if ((seen & 4) || !time_tag(v, t))
				return false;
			seen |= 4;
			break;
		case 's':
			/* Lowercase only, as written: one MAC, one text. */
			if ((seen & 8) || l != 2 * MAC_LEN || strspn(v, "0123456789abcdef") != l ||
			    !unhex(v, l, mac))
				return false;
			seen |= 8;
			break;
		default:
			return false;
		}
	}
	return seen == 15;
}

enum upn_relay_verdict upn_relay_verify(const struct upn_relay_keys *k, const char *hdr,
					const char *payload, size_t len, bool mail, int64_t now,
					uint32_t max_age_s, char *key_id)
{
	unsigned char got[MAC_LEN], want[MAC_LEN];
	char id[UPN_RELAY_KEYID_MAX + 1] = "";
	const struct upn_relay_key *key;
	int64_t t = 0;
	bool same;

	if (key_id)
		key_id[0] = 0;
	if (!hdr)
		return UPN_RELAY_UNSIGNED;
	if (!sig_parse(hdr, id, &t, got))
		return UPN_RELAY_MALFORMED;
	if (key_id)
		memcpy(key_id, id, strlen(id) + 1);
	key = upn_relay_key_find(k, id);
	if (!key)
		return UPN_RELAY_UNKNOWN_KEY;
	if (compute(key, t, payload ? payload : "", payload ? len : 0, mail, want))
		return UPN_RELAY_MALFORMED;
	same = !CRYPTO_memcmp(got, want, MAC_LEN);
	OPENSSL_cleanse(want, sizeof(want));
	if (!same)
		return UPN_RELAY_FORGED;
	/* Only an authentic time is judged: a forged one says nothing. */
	if (t < now - (int64_t)max_age_s || t > now + UPN_RELAY_FUTURE_S)
		return UPN_RELAY_EXPIRED;
	return UPN_RELAY_OK;
}

const char *upn_relay_verdict_name(enum upn_relay_verdict v)
{
	switch (v) {
	case UPN_RELAY_OK:
		return "ok";
	case UPN_RELAY_UNSIGNED:
		return "unsigned";
	case UPN_RELAY_MALFORMED:
		return "malformed";
	case UPN_RELAY_UNKNOWN_KEY:
		return "unknown-key";
	case UPN_RELAY_FORGED:
		return "forged";
	case UPN_RELAY_EXPIRED:
		return "expired";
	}
	return "unknown";
}
