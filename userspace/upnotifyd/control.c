// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdexec.h"
#include "cmdmail.h"
#include "kmod.h"
#include "limits.h"
#include "log.h"
#include "mailer.h"
#include "portal.h"
#include "recovery.h"
#include "timefmt.h"

struct conn {
	struct upn_control *ctl;
	struct upn_loop_handler h;
	int fd;
	bool dead, eof;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	char *held; /* a reply waiting for its changes to be durable */
	uint64_t held_seq;
	int64_t last_active;
	struct conn *next;
};

struct upn_control {
	struct upn_daemon *d;
	struct upn_loop_handler h;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn *conns;
	unsigned int nconns;
	uint64_t durable;
	struct upn_control_stats stats;
};

/* ---- requests ---------------------------------------------------------------- */

static json_t *error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *error_reply(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *ok_reply(json_t *result)
{
	return json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_null());
}

static json_t *time_json(int64_t t)
{
	char buf[UPN_TIMESTRLEN];

	return json_string(upn_time_fmt(t, 0, buf));
}

static json_t *addr_json(const struct upn_addr *a)
{
	char buf[UPN_ADDRSTRLEN];

	return json_string(upn_addr_fmt(a, buf));
}

static const char *state_name(uint8_t state)
{
	switch (state) {
	case UPN_SERVER_DOWN:
		return "down";
	case UPN_SERVER_REFUSING:
		return "refusing";
	}
	return "up";
}

static json_t *server_json(const struct upn_daemon *d, const struct upn_wl_server *s)
{
	json_t *clients = json_array();

	for (uint32_t i = s->head; i != UPN_NIL;) {
		const struct upn_wl_entry *e = upn_waitlist_entry(&d->wl, i);

		json_array_append_new(
			clients,
			json_pack("{s:o, s:o, s:o, s:I, s:s, s:i, s:i}", "client",
				  addr_json(&e->client), "first", time_json(e->first), "last",
				  time_json(e->last), "attempts", (json_int_t)e->attempts, "cause",
				  upn_cause_name(e->cause), "port", e->port, "proto", e->proto));
		i = e->next;
	}
	return json_pack("{s:o, s:s, s:o, s:s, s:o}", "server", addr_json(&s->addr), "state",
			 state_name(s->state), "since", time_json(s->since), "cause",
			 upn_cause_name(s->cause), "clients", clients);
}

static void add_server(void *ctx, const struct upn_wl_server *s)
{
	json_t **out = ctx;

	json_array_append_new(out[0], server_json((struct upn_daemon *)out[1], s));
}

static json_t *cmd_waitlist(struct upn_daemon *d, json_t *req, int *durable)
{
	const char *server = NULL;
	struct upn_addr a;
	const struct upn_wl_server *s;
	json_t *arr = json_array();

	if (json_unpack(req, "{s?:s}", "server", &server))
		return json_decref(arr), error_reply("server must be a string");
	if (server && upn_addr_parse(server, &a))
		return json_decref(arr), error_reply("'%s' is not an IP address", server);
	*durable = 1;
	if (server) {
		s = upn_waitlist_server(&d->wl, &a);
		if (s)
			json_array_append_new(arr, server_json(d, s));
		return ok_reply(arr);
	}
	upn_waitlist_foreach_server(&d->wl, add_server, (json_t *[]){ arr, (json_t *)d });
	return ok_reply(arr);
}

static void add_client(void *ctx, const struct upn_client *cl)
{
	char buf[UPN_ADDRSTRLEN];

	json_array_append_new(ctx, json_pack("{s:s, s:s, s:o, s:s}", "prefix",
					     upn_prefix_fmt(&cl->prefix, buf), "mail", cl->mail,
					     "registered", time_json(cl->registered), "source",
					     cl->from_config ? "config" : "store"));
}

static json_t *cmd_clients_list(struct upn_daemon *d, json_t *req, int *durable)
{
	json_t *arr = json_array();

	*durable = 1;
	upn_clients_foreach(&d->clients, add_client, arr);
	return ok_reply(arr);
}

/* Checks one {"prefix", "mail"} pair; NULL if fine, else the error reply. */
static json_t *check_client(json_t *obj, struct upn_prefix *p, const char **mail)
{
	const char *prefix;
	int ret;

	if (json_unpack(obj, "{s:s, s:s}", "prefix", &prefix, "mail", mail))
		return error_reply("expected {\"prefix\": ..., \"mail\": ...}");
	ret = upn_prefix_parse(prefix, p);
	if (ret == -EDOM)
		return error_reply("'%s' has host bits set beyond its prefix length", prefix);
	if (ret)
		return error_reply("'%s' is not an IP address or prefix", prefix);
	if (!upn_mail_valid(*mail))
		return error_reply("'%s' is not a usable mail address", *mail);
	return NULL;
}

static bool from_config(const struct upn_daemon *d, const struct upn_prefix *p)
{
	const struct upn_client *cl = upn_clients_get(&d->clients, p);

	return cl && cl->from_config;
}

static json_t *cmd_clients_add(struct upn_daemon *d, json_t *req, int *durable)
{
	struct upn_prefix p;
	const char *mail;
	json_t *err = check_client(req, &p, &mail);
	int ret;

	if (err)
		return err;
	ret = upn_clients_set(&d->clients, &p, mail, (int64_t)(upn_now_real_ns() / 1000000000ull),
			      false);
	if (ret == -EPERM)
		return error_reply("%s comes from the config file; change it there",
				   json_string_value(json_object_get(req, "prefix")));
	if (ret)
		return error_reply("cannot add: %s", strerror(-ret));
	*durable = 1;
	return ok_reply(json_pack("{s:i}", "added", 1));
}

static json_t *cmd_clients_import(struct upn_daemon *d, json_t *req, int *durable)
{
	json_t *entries = json_object_get(req, "entries"), *e, *err;
	int64_t now = (int64_t)(upn_now_real_ns() / 1000000000ull);
	struct upn_prefix p;
	const char *mail;
	size_t i;

	if (!json_is_array(entries))
		return error_reply("entries must be an array");
	/* All or nothing: check every entry before changing anything. */
	json_array_foreach(entries, i, e) {
		err = check_client(e, &p, &mail);
		if (!err && from_config(d, &p))
			err = error_reply("%s comes from the config file; change it there",
					  json_string_value(json_object_get(e, "prefix")));
		if (err) {
			json_t *msg = json_object_get(err, "error");
			json_t *r = error_reply("entry %zu: %s", i + 1, json_string_value(msg));

			json_decref(err);
			return r;
		}
	}
	if (upn_clients_count(&d->clients) + json_array_size(entries) > UPN_CLIENTS_MAX)
		return error_reply("the client mail table would exceed %u entries",
				   UPN_CLIENTS_MAX);
	json_array_foreach(entries, i, e) {
		check_client(e, &p, &mail);
		if (upn_clients_set(&d->clients, &p, mail, now, false))
			return error_reply("entry %zu: no room", i + 1);
	}
	*durable = 1;
	return ok_reply(json_pack("{s:I}", "added", (json_int_t)json_array_size(entries)));
}

/* clients.del and servers.del: {"prefix": P} out of one of the two mail tables. */
static json_t *table_del(struct upn_daemon *d, json_t *req, int *durable, bool servers)
{
	const char *prefix;
	struct upn_prefix p;
	int ret;

	if (json_unpack(req, "{s:s}", "prefix", &prefix))
		return error_reply("expected {\"prefix\": ...}");
	if (upn_prefix_parse(prefix, &p))
		return error_reply("'%s' is not an IP address or prefix", prefix);
	ret = servers ? upn_srvmap_del(&d->srvmap, &p) : upn_clients_del(&d->clients, &p);
	if (ret == -ENOENT)
		return error_reply("%s is not in the %s mail table", prefix,
				   servers ? "server" : "client");
	if (ret == -EPERM)
		return error_reply("%s comes from the config file; remove it there", prefix);
	*durable = 1;
	return ok_reply(json_pack("{s:i}", "deleted", 1));
}

static json_t *cmd_clients_del(struct upn_daemon *d, json_t *req, int *durable)
{
	return table_del(d, req, durable, false);
}

/* ---- the server mail table ---------------------------------------------------- */

static void add_srv(void *ctx, const struct upn_srv *s)
{
	char buf[UPN_ADDRSTRLEN];

	json_array_append_new(ctx,
			      json_pack("{s:s, s:s, s:s, s:s, s:s}", "prefix",
					upn_prefix_fmt(&s->prefix, buf), "mode",
					upn_relay_mode_name(s->mode), "target", s->target, "key_id",
					s->key_id, "source", s->from_config ? "config" : "stored"));
}

static json_t *cmd_servers_list(struct upn_daemon *d, json_t *req, int *durable)
{
	json_t *arr = json_array();

	*durable = 1;
	upn_srvmap_foreach(&d->srvmap, add_srv, arr);
	return ok_reply(arr);
}

/* {"prefix", "mode", "target"?, "key_id"?}: relaying entries are signed with a key of
 * [relay] key_file, the first one when none is named. */
static json_t *cmd_servers_add(struct upn_daemon *d, json_t *req, int *durable)
{
	const struct upn_relay_keys *keys = &d->cfg.mail.relay_keys;
	const char *prefix, *mode_name, *target = "", *key_id = "", *why;
	struct upn_prefix p;
	const struct upn_srv *old;
	int mode, ret;

	if (json_unpack(req, "{s:s, s:s, s?:s, s?:s}", "prefix", &prefix, "mode", &mode_name,
			"target", &target, "key_id", &key_id))
		return error_reply("expected {\"prefix\": ..., \"mode\": ..., \"target\": ..., "
				   "\"key_id\": ...}");
	ret = upn_prefix_parse(prefix, &p);
	if (ret == -EDOM)
		return error_reply("'%s' has host bits set beyond its prefix length", prefix);
	if (ret)
		return error_reply("'%s' is not an IP address or prefix", prefix);
	mode = upn_relay_mode_parse(mode_name);
	if (mode < 0)
		return error_reply("mode: expected direct, server, nms or webhook, got '%.32s'",
				   mode_name);
	why = upn_srvmap_target_error((uint8_t)mode, target);
	if (why)
		return error_reply("%s: %s", mode_name, why);
	if (mode == UPN_RELAY_DIRECT && *key_id)
		return error_reply("direct takes no key id");
	if (*key_id && !upn_relay_keyid_ok(key_id))
		return error_reply("'%.64s' is not a key id (1 to %d of A-Z a-z 0-9 . _ -)", key_id,
				   UPN_RELAY_KEYID_MAX);
	if (mode != UPN_RELAY_DIRECT) {
		if (!keys->n)
			return error_reply("%s needs [relay] key_file: what it sends is signed",
					   mode_name);
		if (!*key_id)
			key_id = keys->v[0].id;
		else if (!upn_relay_key_find(keys, key_id))
			return error_reply("no key '%s' in %s", key_id, d->cfg.relay_key_file);
	}
	old = upn_srvmap_get(&d->srvmap, &p);
	if (old && old->from_config)
		return error_reply("%s comes from the config file; change it there", prefix);
	ret = upn_srvmap_set(&d->srvmap, &p, (uint8_t)mode, target, key_id,
			     (int64_t)(upn_now_real_ns() / 1000000000ull), false);
	if (ret)
		return error_reply("cannot add: %s", strerror(-ret));
	*durable = 1;
	return ok_reply(json_pack("{s:i}", "added", 1));
}

static json_t *cmd_servers_del(struct upn_daemon *d, json_t *req, int *durable)
{
	return table_del(d, req, durable, true);
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

static json_t *cmd_status(struct upn_daemon *d, json_t *req, int *durable)
{
	const struct upn_detect_stats *ds = &d->detect.stats;
	const struct upn_wl_stats *ws = &d->wl.stats;
	struct upn_store_stats ss = { 0 };
	struct upn_control_stats cs;
	struct upn_detect_stats kds;
	uint64_t pending = upn_syntrack_count(&d->detect.syn);
	json_t *c = json_object(), *g = json_object();

	/* With the module the detection counters are its own, under the same names. */
	if (d->kmod) {
		upn_kmod_detect_stats(d->kmod, &kds, &pending);
		ds = &kds;
	}
	if (d->store)
		upn_store_get_stats(d->store, &ss);
	upn_control_get_stats(d->ctl, &cs);
	COUNTER(c, "packets", ds->packets);
	COUNTER(c, "truncated", ds->truncated);
	COUNTER(c, "malformed", ds->malformed);
	COUNTER(c, "syn", ds->syn);
	COUNTER(c, "synack", ds->synack);
	COUNTER(c, "rst", ds->rst);
	COUNTER(c, "unreach", ds->unreach);
	COUNTER(c, "other", ds->other);
	COUNTER(c, "not_watched", ds->not_watched);
	COUNTER(c, "ignored_client", ds->ignored_client);
	COUNTER(c, "icmp_code_ignored", ds->icmp_code_ignored);
	COUNTER(c, "syn_retransmits", ds->retransmits);
	COUNTER(c, "unreach_repeats", ds->unreach_repeat);
	COUNTER(c, "syn_answered", ds->syn_answered);
	COUNTER(c, "syn_timeouts", ds->syn_timeouts);
	COUNTER(c, "refused", ds->refused);
	COUNTER(c, "refused_ignored", ds->refused_ignored);
	COUNTER(c, "events.failed_access", ds->events[UPNOTIFY_CMD_FAILED_ACCESS_NTF]);
	COUNTER(c, "events.server_down", ds->events[UPNOTIFY_CMD_SERVER_DOWN_NTF]);
	COUNTER(c, "events.server_up", ds->events[UPNOTIFY_CMD_SERVER_UP_NTF]);
	COUNTER(c, "waitlist.failed_access", ws->failed_access);
	COUNTER(c, "waitlist.server_down", ws->server_down);
	COUNTER(c, "waitlist.load_over_cap", ws->load_over_cap);
	COUNTER(c, "waitlist.new_entries", ws->new_entries);
	COUNTER(c, "waitlist.repeat_attempts", ws->repeat_attempts);
	COUNTER(c, "drops.pending_full", ds->pending_full);
	COUNTER(c, "drops.server_full", ws->drop_server_full);
	COUNTER(c, "drops.total_full", ws->drop_total_full);
	COUNTER(c, "drops.unknown_client", ws->drop_unknown_client);
	COUNTER(c, "nfq.received", d->nfq.stats.received);
	COUNTER(c, "nfq.verdicts", d->nfq.stats.verdicts);
	COUNTER(c, "nfq.errors",
		d->nfq.stats.recv_errors + d->nfq.stats.verdict_errors + d->nfq.stats.bad_messages);
	COUNTER(c, "store.commits", ss.commits);
	COUNTER(c, "store.writes", ss.ops);
	COUNTER(c, "store.errors", ss.errors);
	COUNTER(c, "store.load_skipped", ss.load_skipped);
	COUNTER(c, "ctl.requests", cs.requests);
	COUNTER(c, "ctl.errors", cs.errors);
	COUNTER(c, "ctl.refused", cs.refused);
	COUNTER(c, "ctl.timeouts", cs.timeouts);
	COUNTER(c, "notify.recoveries", d->notify.stats.recoveries);
	COUNTER(c, "notify.queued", d->notify.stats.queued);
	COUNTER(c, "notify.stale", d->notify.stats.stale);
	COUNTER(c, "notify.no_address", d->notify.stats.no_address);
	COUNTER(c, "notify.reached", d->notify.stats.reached);
	COUNTER(c, "notify.unqueued", d->notify.stats.unqueued);
	COUNTER(c, "notify.purged", d->notify.stats.purged);
	COUNTER(c, "notify.purged_servers", d->notify.stats.purged_servers);
	COUNTER(c, "relay.queued", d->notify.stats.relay_queued);
	COUNTER(c, "relay.clients", d->notify.stats.relay_clients);
	COUNTER(c, "relay.truncated", d->notify.stats.relay_truncated);
	COUNTER(c, "webhook.queued", d->notify.stats.webhook_queued);
	COUNTER(c, "neigh_failures", ds->neigh_failures);
	if (d->kmod)
		upn_kmod_stats_json(d->kmod, c, g);
	upn_recovery_stats_json(d, c);
	if (d->mailer) {
		struct upn_mailer_stats ms;

		upn_mailer_get_stats(d->mailer, &ms);
		COUNTER(c, "mail.sent", ms.sent);
		COUNTER(c, "mail.temp_failures", ms.temp_failures);
		COUNTER(c, "mail.perm_failures", ms.perm_failures);
		COUNTER(c, "mail.sessions", ms.sessions);
		COUNTER(c, "mail.relay_failures", ms.relay_failures);
		COUNTER(c, "mail.rate_limited", ms.rate_limited);
		COUNTER(c, "mail.header_rejected", ms.header_rejected);
		COUNTER(c, "mail.db_errors", ms.db_errors);
		COUNTER(c, "mail.suppressed", ms.suppressed);
		COUNTER(c, "mail.bad_links", ms.bad_links);
		COUNTER(c, "mail.webhooks_sent", ms.webhooks_sent);
		COUNTER(c, "mail.webhook_failures", ms.webhook_failures);
		COUNTER(g, "mail_queued", ms.queued);
	}
	if (d->portal)
		upn_portal_stats_json(d->portal, c, g);
	if (d->cmds)
		upn_cmdexec_stats_json(d->cmds, c);
	upn_cmdmail_stats_json(d->cmdmail, c);
	COUNTER(g, "pending", pending);
	COUNTER(g, "servers", d->wl.servers.live);
	COUNTER(g, "waiting", upn_waitlist_count(&d->wl));
	COUNTER(g, "clients", upn_clients_count(&d->clients));
	COUNTER(g, "server_map", upn_srvmap_count(&d->srvmap));
	COUNTER(g, "waitlist_bytes", upn_waitlist_bytes(&d->wl));
	COUNTER(g, "store_backlog", d->journal.n);
	return ok_reply(json_pack("{s:s, s:I, s:o, s:o}", "source", upn_source_name(d->source),
				  "uptime",
				  (json_int_t)(upn_now_real_ns() / 1000000000ull - d->started),
				  "counters", c, "gauges", g));
}

static json_t *cmd_recover(struct upn_daemon *d, json_t *req, int *durable)
{
	const char *server;
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_SERVER_UP_NTF,
		.cause = UPNOTIFY_CAUSE_MANUAL,
		.ts_ns = upn_now_real_ns(),
	};
	int queued;

	if (json_unpack(req, "{s:s}", "server", &server))
		return error_reply("expected {\"server\": ADDRESS}");
	if (upn_addr_parse(server, &ev.server))
		return error_reply("'%s' is not an IP address", server);
	queued = upn_daemon_event(d, &ev);
	if (queued < 0)
		return error_reply("%s is not down", server);
	*durable = 1;
	return ok_reply(json_pack("{s:s, s:i}", "server", server, "queued", queued));
}

/* A read of at most OUTBOX_LIST_MAX rows on a connection of its own: WAL readers never
 * wait for the writer, so this is the one bounded store read the loop does. */
#define OUTBOX_LIST_MAX 1000

static json_t *cmd_outbox(struct upn_daemon *d, json_t *req, int *durable)
{
	char err[256];
	json_t *rows = upn_mailer_outbox(d->cfg.store_path, OUTBOX_LIST_MAX, err, sizeof(err));

	if (!rows)
		return error_reply("outbox: %s", err);
	return ok_reply(rows);
}

/* `upnotifyctl mail`: one command mail handed over by hand (an MTA's pipe, a test),
 * run as if the mailbox had it; answered once its changes and reply are durable. A
 * message that is not UTF-8 comes base64-encoded, as JSON strings must be UTF-8. */
static json_t *cmd_mail(struct upn_daemon *d, json_t *req, int *durable)
{
	const char *raw = NULL, *b64 = NULL;
	size_t len = 0, b64len = 0;
	unsigned char *buf = NULL;
	struct upn_cmdexec_result res;
	json_t *r;
	int ret;

	if (json_unpack(req, "{s?s%, s?s%}", "raw", &raw, &len, "raw_base64", &b64, &b64len) ||
	    !raw == !b64)
		return error_reply("expected {\"raw\": MESSAGE} or {\"raw_base64\": ...}");
	if (!d->cmds)
		return error_reply("mail commands are not enabled");
	if (b64) {
		buf = malloc(b64len / 4 * 3 + 3);
		if (!buf || sodium_base642bin(buf, b64len / 4 * 3 + 3, b64, b64len, "\n", &len,
					      NULL, sodium_base64_VARIANT_ORIGINAL)) {
			free(buf);
			return error_reply("raw_base64 is not base64");
		}
		raw = (const char *)buf;
	}
	if (len > UPN_CMD_RAW_MAX) {
		free(buf);
		return error_reply("a message of more than %d bytes is not a command mail",
				   UPN_CMD_RAW_MAX);
	}
	ret = upn_cmdexec_raw(d->cmds, raw, len, (int64_t)(upn_now_real_ns() / 1000000000ull),
			      upn_now_mono_ms(), &res);
	free(buf);
	if (ret)
		return error_reply("cannot queue the reply: %s", strerror(-ret));
	*durable = 1;
	r = json_pack("{s:s, s:b, s:s?}", "outcome", upn_cmdexec_outcome_name(res.outcome),
		      "replied", res.replied, "reply", res.text);
	upn_cmdexec_result_free(&res);
	return r ? ok_reply(r) : error_reply("out of memory");
}

static const struct {
	const char *name;
	json_t *(*fn)(struct upn_daemon *d, json_t *req, int *durable);
} commands[] = {
	{ "status", cmd_status },
	{ "waitlist", cmd_waitlist },
	{ "recover", cmd_recover },
	{ "outbox", cmd_outbox },
	{ "mail", cmd_mail },
	{ "clients.list", cmd_clients_list },
	{ "clients.add", cmd_clients_add },
	{ "clients.del", cmd_clients_del },
	{ "clients.import", cmd_clients_import },
	{ "servers.list", cmd_servers_list },
	{ "servers.add", cmd_servers_add },
	{ "servers.del", cmd_servers_del },
};

json_t *upn_control_handle(struct upn_daemon *d, const char *line, size_t len, int *needs_durable)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *reply = NULL;
	const char *cmd;

	*needs_durable = 0;
	if (!req)
		return error_reply("malformed JSON at column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(req) || json_unpack(req, "{s:s}", "cmd", &cmd)) {
		json_decref(req);
		return error_reply("a request is an object with a string \"cmd\"");
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			reply = commands[i].fn(d, req, needs_durable);
	if (!reply)
		reply = error_reply("unknown command '%.64s'", cmd);
	json_decref(req);
	return reply;
}

/* ---- connections ------------------------------------------------------------- */

static void conn_close(struct conn *k)
{
	if (k->dead)
		return;
	upn_loop_del(&k->ctl->d->loop, k->fd);
	close(k->fd);
	k->dead = true;
}

static void conn_flush(struct conn *k)
{
	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(k);
			return;
		}
		k->out_off += (size_t)n;
	}
	if (k->out_off == k->out_len)
		k->out_off = k->out_len = 0;
	upn_loop_mod(&k->ctl->d->loop, k->fd,
		     (k->eof ? 0u : EPOLLIN) | (k->out_len ? EPOLLOUT : 0u), &k->h);
	if (k->eof && !k->out_len && !k->held)
		conn_close(k);
}

static void conn_queue(struct conn *k, const char *text)
{
	size_t n = strlen(text);
	char *o = realloc(k->out, k->out_len + n + 1);

	if (!o) {
		conn_close(k);
		return;
	}
	k->out = o;
	memcpy(k->out + k->out_len, text, n);
	k->out[k->out_len + n] = '\n';
	k->out_len += n + 1;
}

static void reply(struct conn *k, json_t *r, int durable)
{
	struct upn_control *c = k->ctl;
	char *text = json_dumps(r, JSON_COMPACT);
	uint64_t barrier = upn_journal_barrier(&c->d->journal);

	if (json_is_false(json_object_get(r, "ok")))
		c->stats.errors++;
	json_decref(r);
	if (!text) {
		conn_close(k);
		return;
	}
	if (durable && c->d->store && barrier > c->durable) {
		k->held = text;
		k->held_seq = barrier;
		return;
	}
	conn_queue(k, text);
	free(text);
}

/* Handles the complete lines in the input buffer, one at a time: a held reply
 * stops the line after it until it is sent, so replies keep their order. */
static void conn_process(struct conn *k)
{
	char *nl;

	while (!k->dead && !k->held && (nl = memchr(k->in, '\n', k->in_len))) {
		size_t len = (size_t)(nl - k->in);
		int durable;
		json_t *r;

		k->ctl->stats.requests++;
		r = upn_control_handle(k->ctl->d, k->in, len, &durable);
		memmove(k->in, nl + 1, k->in_len - len - 1);
		k->in_len -= len + 1;
		reply(k, r, durable);
	}
	if (!k->dead)
		conn_flush(k);
}

static void conn_event(void *ctx, uint32_t events)
{
	struct conn *k = ctx;
	ssize_t n;

	if (k->dead)
		return;
	k->last_active = upn_now_mono_ms();
	if (events & EPOLLIN) {
		if (!k->in)
			k->in = malloc(UPN_CTL_REQUEST_MAX);
		n = k->in ? recv(k->fd, k->in + k->in_len, UPN_CTL_REQUEST_MAX - k->in_len,
				 MSG_DONTWAIT) :
			    -1;
		if (n == 0) {
			k->eof = true;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(k);
			return;
		} else if (n > 0) {
			k->in_len += (size_t)n;
		}
		if (k->in_len == UPN_CTL_REQUEST_MAX && !memchr(k->in, '\n', k->in_len)) {
			k->ctl->stats.requests++;
			reply(k, error_reply("request longer than %d bytes", UPN_CTL_REQUEST_MAX),
			      0);
			k->in_len = 0;
			k->eof = true;
		}
	}
	conn_process(k);
}

static void accept_event(void *ctx, uint32_t events)
{
	struct upn_control *c = ctx;
	struct conn *k;
	int fd;

	while ((fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (c->nconns >= UPN_CTL_CLIENTS_MAX || !(k = calloc(1, sizeof(*k)))) {
			c->stats.refused++;
			close(fd);
			continue;
		}
		c->stats.accepted++;
		k->ctl = c;
		k->fd = fd;
		k->h.cb = conn_event;
		k->h.ctx = k;
		k->last_active = upn_now_mono_ms();
		k->next = c->conns;
		c->conns = k;
		c->nconns++;
		if (upn_loop_add(&c->d->loop, fd, EPOLLIN, &k->h))
			conn_close(k);
	}
}

void upn_control_tick(struct upn_control *c, uint64_t durable_seq, int64_t mono_ms)
{
	struct conn **pp = &c->conns;

	c->durable = durable_seq;
	while (*pp) {
		struct conn *k = *pp;

		if (!k->dead && k->held && k->held_seq <= durable_seq) {
			conn_queue(k, k->held);
			free(k->held);
			k->held = NULL;
			conn_process(k);
		}
		if (!k->dead && !k->held && mono_ms - k->last_active > UPN_CTL_IDLE_MS) {
			c->stats.timeouts++;
			conn_close(k);
		}
		if (k->dead) {
			*pp = k->next;
			c->nconns--;
			free(k->in);
			free(k->out);
			free(k->held);
			free(k);
			continue;
		}
		pp = &k->next;
	}
}

struct upn_control *upn_control_open(struct upn_daemon *d, const char *path, mode_t mode)
{
	struct upn_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;

	if (!c)
		return NULL;
	c->d = d;
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		upn_err("control: socket path too long: %s", path);
		goto fail;
	}
	strcpy(sa.sun_path, path);
	strcpy(c->path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail_errno;
	/* A socket left by a killed daemon is stale: we already hold the queue and
	 * the store, so no live daemon can be behind it. */
	unlink(path);
	old = umask(0777 & ~mode);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		umask(old);
		goto fail_errno;
	}
	umask(old);
	chmod(path, mode);
	if (listen(c->fd, 16))
		goto fail_errno;
	c->h.cb = accept_event;
	c->h.ctx = c;
	if (upn_loop_add(&d->loop, c->fd, EPOLLIN, &c->h))
		goto fail_errno;
	return c;
fail_errno:
	upn_err("control: %s: %s", path, strerror(errno));
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void upn_control_close(struct upn_control *c)
{
	if (!c)
		return;
	for (struct conn *k = c->conns; k; k = k->next)
		conn_close(k);
	upn_control_tick(c, UINT64_MAX, 0);
	upn_loop_del(&c->d->loop, c->fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}

void upn_control_get_stats(const struct upn_control *c, struct upn_control_stats *out)
{
	if (c)
		*out = c->stats;
	else
		memset(out, 0, sizeof(*out));
}
