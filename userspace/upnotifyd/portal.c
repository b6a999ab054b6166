// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "portal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sodium.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "portalnet.h"
#include "portalpage.h"
#include "ratelimit.h"
#include "timefmt.h"
#include "token.h"

/* A CSRF token is good for this long after its page was served: time enough to
 * type an address, not enough to be worth harvesting. */
#define CSRF_MAX_AGE_S 3600
/* What the inquiry page asks crawlers and scripts to wait (RFC 9110 Retry-After). */
#define RETRY_AFTER_S 300
/* Memory MHD gives each connection for its request line, headers and buffers: a
 * browser's request fits in 4 KiB; more headers than fit are answered 431. */
#define CONN_MEMORY (16 * 1024)
/* Form fields are copied into fixed buffers; a longer value is a bad request. */
#define FIELD_MAX 64
/* The inquiry page served to a client is served again as it is to the same client
 * for this long: a reload, a script or a crawler hammering the page costs a
 * lookup, not a MAC and a render. Its CSRF token stays as good as a fresh one. */
#define PAGE_CACHE_MS 1000
#define PAGE_CACHE_SLOTS 256 /* a power of two */
/* A connection, even a busy keep-alive one, is closed after this many timeouts: a
 * browser just opens another; a slow-drip client gets no more than this. */
#define CONN_LIFETIMES 6

struct portal_req;

struct upn_portal {
	struct upn_daemon *d;
	const struct upn_portal_config *cfg;
	struct MHD_Daemon *mhd;
	int listen_fd, epfd;
	struct upn_loop_handler h;
	struct upn_portalnet *net;
	struct upn_pages *pages;
	unsigned char key[UPN_TOKEN_KEYBYTES];
	struct upn_ratelimit by_client, by_mail;
	struct upn_addr gateway; /* gateway_url's host, when it is an address */
	char action[UPN_URL_MAX + 32];
	char csp[UPN_URL_MAX + 128];
	uint32_t open_conns;
	struct cached_page {
		struct upn_addr client, server;
		int64_t until_ms;
		struct MHD_Response *r;
		bool registered; /* the "you are registered" page */
	} cache[PAGE_CACHE_SLOTS];
	struct portal_conn *conns, *conns_tail; /* by age */
	struct portal_conn *fresh, *fresh_tail; /* by age, no request yet */
	struct portal_req *waiting;		/* suspended until durable, oldest first */
	struct portal_req **waiting_tail;
	uint32_t nwaiting;
	bool run_now; /* MHD has work it did not signal on its epoll fd */
	bool in_loop;
	struct upn_addr fake_local; /* detached: the local address of every connection */
	struct upn_portal_stats st;
};

/* One request's state, from its first header to its answer. */
struct portal_req {
	struct MHD_PostProcessor *pp;
	size_t body;
	bool too_big, bad_field, long_mail;
	char server[FIELD_MAX], notify[8];
	char mail[UPN_MAIL_MAX + 2];
	char csrf[UPN_TOKEN_TEXT_MAX + 1], t[UPN_TOKEN_TEXT_MAX + 1];
	/* A registration waiting for the store: its answer, sent once durable. */
	struct MHD_Connection *conn;
	struct MHD_Response *resp;
	unsigned int status;
	uint64_t barrier;
	bool queued; /* on the waiting list */
	struct portal_req *next;
};

/* Per connection, oldest first on the portal's list: libmicrohttpd's timeout is an
 * idle timer, which a client trickling one byte a second never trips, so the portal
 * keeps its own: a request's headers must be in within `timeout` of the connect,
 * and no connection lives longer than CONN_LIFETIMES timeouts. */
struct portal_conn {
	int64_t opened_ms;
	int fd;
	bool had_request; /* its first request's headers came in */
	bool cut;	  /* shut down by the portal's own timer, already counted */
	bool local_set;	  /* local, local_port: the socket's own address */
	uint16_t local_port;
	struct upn_addr local;
	struct portal_conn *prev, *next;   /* every connection, by age */
	struct portal_conn *fprev, *fnext; /* those still without a request, by age */
};

/* ---- connections ---- */

static void conn_unlink(struct upn_portal *p, struct portal_conn *pc)
{
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		p->conns = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	else
		p->conns_tail = pc->prev;
}

/* Its first request's headers are in: only the lifetime limit is left. */
static void conn_got_request(struct upn_portal *p, struct portal_conn *pc)
{
	if (pc->had_request)
		return;
	pc->had_request = true;
	if (pc->fprev)
		pc->fprev->fnext = pc->fnext;
	else
		p->fresh = pc->fnext;
	if (pc->fnext)
		pc->fnext->fprev = pc->fprev;
	else
		p->fresh_tail = pc->fprev;
}

/* ---- answers ---- */

static struct MHD_Response *render(struct upn_portal *p, enum upn_page which,
				   const struct upn_page_vals *v)
{
	struct MHD_Response *r;
	size_t len = 0;
	char *html = upn_page_render(p->pages, which, v, &len);

	if (!html)
		return NULL;
	r = MHD_create_response_from_buffer(len, html, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(html);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, UPN_PAGE_CONTENT_TYPE);
	/* Never cached: the page is about this moment, and it carries a token. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	/* The links carry tokens: they must not leak to another site. */
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", p->csp);
	if (v->retry_after) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", v->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	return r;
}

static enum MHD_Result answer(struct upn_portal *p, struct MHD_Connection *conn,
			      unsigned int status, enum upn_page which,
			      const struct upn_page_vals *v)
{
	struct MHD_Response *r = render(p, which, v);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result error_page(struct upn_portal *p, struct MHD_Connection *conn,
				  unsigned int status, const char *msg)
{
	struct upn_page_vals v = { .message = msg };

	return answer(p, conn, status, UPN_PAGE_ERROR, &v);
}

/* The answer of a registration, held until the store has committed it. */
static enum MHD_Result answer_when_durable(struct upn_portal *p, struct MHD_Connection *conn,
					   struct portal_req *rq, unsigned int status,
					   enum upn_page which, const struct upn_page_vals *v)
{
	rq->resp = render(p, which, v);
	if (!rq->resp)
		return MHD_NO;
	rq->status = status;
	rq->conn = conn;
	rq->barrier = upn_journal_barrier(&p->d->journal);
	rq->queued = true;
	rq->next = NULL;
	*p->waiting_tail = rq;
	p->waiting_tail = &rq->next;
	p->nwaiting++;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

/* ---- who and where ---- */

static void addr_from_sockaddr(const struct sockaddr *sa, struct upn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		upn_addr_set(out, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* The dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(a6))
			upn_addr_set(out, AF_INET, &a6->s6_addr[12]);
		else
			upn_addr_set(out, AF_INET6, a6);
	}
}

static void client_of(struct MHD_Connection *conn, struct upn_addr *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	memset(out, 0, sizeof(*out));
	if (ci && ci->client_addr)
		addr_from_sockaddr(ci->client_addr, out);
}

/* The connection's local address: a down server's when it was intercepted. Asked
 * of the socket once per connection, not per request. */
static uint16_t local_of(const struct upn_portal *p, struct MHD_Connection *conn,
			 struct upn_addr *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *sc =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct portal_conn *pc = sc ? sc->socket_context : NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;

	if (pc && pc->local_set) {
		*out = pc->local;
		return pc->local_port;
	}
	memset(out, 0, sizeof(*out));
	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		/* Detached (the fuzzer's socketpairs). */
		*out = p->fake_local;
		port = p->cfg->ports[0];
	} else {
		addr_from_sockaddr((struct sockaddr *)&ss, out);
		port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						       ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (pc) {
		pc->local = *out;
		pc->local_port = port;
		pc->local_set = true;
	}
	return port;
}

static bool is_down(struct upn_portal *p, const struct upn_addr *server)
{
	return server->family && upn_waitlist_state(&p->d->wl, server) == UPN_SERVER_DOWN;
}

static int64_t now_s(void)
{
	return (int64_t)(upn_now_real_ns() / 1000000000ull);
}

/* The client tried the server and got the portal instead: a failed access like a
 * SYN to a server known down. The intercepted SYN never reached FORWARD, so neither
 * source saw it. */
static void record_attempt(struct upn_portal *p, const struct upn_addr *client,
			   const struct upn_addr *server, uint16_t port)
{
	struct upn_event ev = {
		.type = UPNOTIFY_CMD_FAILED_ACCESS_NTF,
		.cause = UPNOTIFY_CAUSE_SERVER_DOWN,
		.proto = IPPROTO_TCP,
		.port = port,
		.client = *client,
		.server = *server,
		.ts_ns = upn_now_real_ns(),
	};

	if (upn_detect_watched(&p->d->detect, server))
		upn_daemon_event(p->d, &ev);
}

/* The client's own entry (its exact address), if registered recently enough not to
 * be asked again (¶0183-0185), or any entry covering it from the config file. */
static const struct upn_client *known(struct upn_portal *p, const struct upn_addr *client)
{
	const struct upn_client *cl = upn_clients_lookup(&p->d->clients, client);

	if (!cl)
		return NULL;
	if (cl->from_config)
		return cl;
	if (now_s() - cl->registered > (int64_t)p->cfg->reask_after_s)
		return NULL;
	return cl;
}

/* ---- the pages ---- */

static struct cached_page *cache_slot(struct upn_portal *p, const struct upn_addr *client,
				      const struct upn_addr *server)
{
	uint32_t h = 2166136261u;

	/* FNV-1a: a collision costs a render, nothing else. */
	for (size_t i = 0; i < sizeof(client->a); i++)
		h = (h ^ client->a[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(server->a); i++)
		h = (h ^ server->a[i]) * 16777619u;
	return &p->cache[h & (PAGE_CACHE_SLOTS - 1)];
}

/* A registration changes what the client is shown. */
static void cache_forget(struct upn_portal *p, const struct upn_addr *client,
			 const struct upn_addr *server)
{
	struct cached_page *c = cache_slot(p, client, server);

	if (c->r && upn_addr_eq(&c->client, client) && upn_addr_eq(&c->server, server))
		c->until_ms = 0;
}

static enum MHD_Result inquiry(struct upn_portal *p, struct MHD_Connection *conn,
			       const struct upn_addr *client, const struct upn_addr *server)
{
	struct cached_page *c = cache_slot(p, client, server);
	const struct upn_wl_server *s = upn_waitlist_server(&p->d->wl, server);
	char srv[UPN_ADDRSTRLEN], since[UPN_TIMESTRLEN], csrf[UPN_TOKEN_LEN_MAX + 1];
	char masked[UPN_MAIL_MAX + 8];
	int64_t now = upn_now_mono_ms();
	const struct upn_client *cl;
	struct upn_page_vals v = {
		.action = p->action,
		.csrf = csrf,
		.retry_after = RETRY_AFTER_S,
	};
	struct MHD_Response *r;

	p->st.pages++;
	if (c->r && c->until_ms > now && upn_addr_eq(&c->client, client) &&
	    upn_addr_eq(&c->server, server)) {
		p->st.already_registered += c->registered;
		return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, c->r);
	}
	if (upn_token_csrf_make(p->key, client, server, now_s(), csrf, sizeof(csrf)))
		return error_page(p, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	v.server = upn_addr_fmt(server, srv);
	v.since = s ? upn_time_fmt(s->since, 1, since) : NULL;
	cl = known(p, client);
	if (cl) {
		upn_mail_mask(cl->mail, masked, sizeof(masked));
		v.mail = masked;
		p->st.already_registered++;
	}
	r = render(p, cl ? UPN_PAGE_REGISTERED : UPN_PAGE_INQUIRY, &v);
	if (!r)
		return MHD_NO;
	/* The slot's old page may still be on its way to a client: MHD counts its
	 * references, and this drops only ours. */
	if (c->r)
		MHD_destroy_response(c->r);
	*c = (struct cached_page){
		.client = *client,
		.server = *server,
		.until_ms = now + PAGE_CACHE_MS,
		.r = r,
		.registered = cl != NULL,
	};
	return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
}

static void unsuppress(struct upn_portal *p, const char *mail)
{
	uint32_t marker = 0;
	struct upn_store_op *op = upn_journal_op(&p->d->journal, &marker);

	if (!op)
		return;
	op->kind = UPN_STORE_DEL_SUPPRESS;
	snprintf(op->suppress.mail, sizeof(op->suppress.mail), "%s", mail);
	upn_journal_disown(&p->d->journal, &marker);
}

/* The address goes into the client mail table for the client's own address (figure
 * 28, with the time), and the client onto the server's waitlist (claim 17). */
static int enrol(struct upn_portal *p, const struct upn_addr *client, const struct upn_addr *server,
		 const char *mail, bool count)
{
	struct upn_prefix pfx = { .addr = *client, .len = upn_addr_maxlen(client->family) };
	struct upn_wl_server *s;
	int ret;

	ret = upn_clients_set(&p->d->clients, &pfx, mail, now_s(), false);
	if (ret)
		return ret;
	cache_forget(p, client, server);
	unsuppress(p, mail);
	if (is_down(p, server)) {
		/* Its connection to the portal put it on the waitlist already; one
		 * confirming from elsewhere, or after a purge, goes on it now, as having
		 * tried the portal's first port. Not counted twice either way. */
		if (upn_waitlist_find(&p->d->wl, server, client) == UPN_NIL)
			record_attempt(p, client, server, p->cfg->ports[0]);
		s = upn_waitlist_server(&p->d->wl, server);
		if (s && count)
			s->registrations++;
	}
	p->st.registered++;
	return 0;
}

/* Queues the double opt-in mail: the link carries everything the registration needs. */
static int queue_confirm(struct upn_portal *p, const struct upn_addr *client,
			 const struct upn_addr *server, const char *mail)
{
	uint32_t marker = 0;
	int64_t now = now_s();
	struct upn_store_op *op = upn_journal_op(&p->d->journal, &marker);

	if (!op)
		return -ENOMEM;
	op->kind = UPN_STORE_PUT_MAIL;
	op->mail.kind = UPN_MAIL_CONFIRM;
	op->mail.server = *server;
	op->mail.client = *client;
	op->mail.outage = now;
	op->mail.last = now + p->cfg->confirm_ttl_s; /* the link's expiry */
	snprintf(op->mail.recipient, sizeof(op->mail.recipient), "%s", mail);
	upn_journal_disown(&p->d->journal, &marker);
	p->d->mail_barrier = upn_journal_barrier(&p->d->journal);
	p->st.confirm_sent++;
	return 0;
}

static enum MHD_Result enrol_failed(struct upn_portal *p, struct MHD_Connection *conn, int err)
{
	/* The operator's [clients] entry for exactly this address stands. */
	if (err == -EPERM) {
		p->st.rej_bad_request++;
		return error_page(p, conn, MHD_HTTP_CONFLICT,
				  "The network's operator has set where mail for your address "
				  "goes; ask them to change it.");
	}
	return error_page(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			  "No more addresses can be registered now.");
}

static enum MHD_Result do_register(struct upn_portal *p, struct MHD_Connection *conn,
				   struct portal_req *rq, const struct upn_addr *client)
{
	char srv[UPN_ADDRSTRLEN];
	struct upn_addr server;
	struct upn_wl_server *s;
	struct upn_page_vals v = { 0 };
	int64_t mono = upn_now_mono_ms();
	int ret;

	if (rq->bad_field || upn_addr_parse(rq->server, &server) ||
	    (strcmp(rq->notify, "yes") && strcmp(rq->notify, "no"))) {
		p->st.rej_bad_request++;
		return error_page(p, conn, MHD_HTTP_BAD_REQUEST, "The form was incomplete.");
	}
	if (upn_token_csrf_check(p->key, rq->csrf, client, &server, now_s(), CSRF_MAX_AGE_S)) {
		p->st.rej_csrf++;
		return error_page(p, conn, MHD_HTTP_BAD_REQUEST,
				  "This form has expired or was not ours. Reload the page and "
				  "try again.");
	}
	v.server = upn_addr_fmt(&server, srv);
	if (!is_down(p, &server)) {
		p->st.rej_not_down++;
		p->st.back_up++;
		return answer(p, conn, MHD_HTTP_CONFLICT, UPN_PAGE_BACK_UP, &v);
	}
	if (!strcmp(rq->notify, "no")) {
		p->st.declined++;
		return answer(p, conn, MHD_HTTP_OK, UPN_PAGE_DECLINED, &v);
	}
	/* upn_mail_valid refuses empty, overlong, spaces and controls: no CR, LF or
	 * header can get through. */
	if (rq->long_mail || !upn_mail_valid(rq->mail)) {
		p->st.rej_address++;
		return error_page(p, conn, MHD_HTTP_BAD_REQUEST,
				  "That is not a mail address we can use.");
	}
	if (!upn_ratelimit_take(&p->by_client, client, sizeof(*client), mono)) {
		p->st.rej_rate_client++;
		v.retry_after = 3600 / (p->cfg->client_rate ? p->cfg->client_rate : 1);
		v.message = "Too many registrations from your address. Try again later.";
		return answer(p, conn, MHD_HTTP_TOO_MANY_REQUESTS, UPN_PAGE_ERROR, &v);
	}
	if (!upn_ratelimit_take(&p->by_mail, rq->mail, strlen(rq->mail), mono)) {
		p->st.rej_rate_address++;
		v.retry_after = 3600 / (p->cfg->address_rate ? p->cfg->address_rate : 1);
		v.message = "Too many registrations for this mail address. Try again later.";
		return answer(p, conn, MHD_HTTP_TOO_MANY_REQUESTS, UPN_PAGE_ERROR, &v);
	}
	s = upn_waitlist_server(&p->d->wl, &server);
	if (s && s->registrations >= p->cfg->server_max) {
		p->st.rej_server_full++;
		v.retry_after = RETRY_AFTER_S;
		v.message = "No more registrations are taken for this server.";
		return answer(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE, UPN_PAGE_ERROR, &v);
	}
	v.mail = rq->mail;
	if (p->cfg->confirm) {
		char expires[UPN_TIMESTRLEN];

		/* The same page whatever the address: nothing to learn from it. */
		if (queue_confirm(p, client, &server, rq->mail))
			return error_page(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
		if (s)
			s->registrations++;
		v.expires = upn_time_fmt(now_s() + p->cfg->confirm_ttl_s, 1, expires);
		return answer_when_durable(p, conn, rq, MHD_HTTP_OK, UPN_PAGE_CHECK_MAIL, &v);
	}
	ret = enrol(p, client, &server, rq->mail, true);
	if (ret)
		return enrol_failed(p, conn, ret);
	return answer_when_durable(p, conn, rq, MHD_HTTP_OK, UPN_PAGE_CONFIRMED, &v);
}

static const char *token_arg(struct MHD_Connection *conn, struct portal_req *rq)
{
	const char *t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "t");

	return t ? t : rq->t;
}

static enum MHD_Result do_confirm(struct upn_portal *p, struct MHD_Connection *conn,
				  struct portal_req *rq, bool post)
{
	const char *t = token_arg(conn, rq);
	struct upn_token_confirm c;
	char srv[UPN_ADDRSTRLEN], expires[UPN_TIMESTRLEN];
	struct upn_page_vals v = { .token = t };
	int ret;

	if (!p->cfg->confirm || upn_token_confirm_open(p->key, t, now_s(), &c)) {
		p->st.rej_token++;
		return answer(p, conn, MHD_HTTP_GONE, UPN_PAGE_EXPIRED, &v);
	}
	v.server = upn_addr_fmt(&c.server, srv);
	v.mail = c.mail;
	v.expires = upn_time_fmt(c.expires, 1, expires);
	/* A GET only shows the button: mail scanners follow links. */
	if (!post)
		return answer(p, conn, MHD_HTTP_OK, UPN_PAGE_CONFIRM_ASK, &v);
	/* Counted against server_max when the confirmation mail was queued. */
	ret = enrol(p, &c.client, &c.server, c.mail, false);
	if (ret)
		return enrol_failed(p, conn, ret);
	p->st.confirmed++;
	return answer_when_durable(p, conn, rq, MHD_HTTP_OK, UPN_PAGE_CONFIRM_DONE, &v);
}

struct unsub_ctx {
	const char *mail;
	struct upn_prefix *found;
	size_t n, cap;
};

static void unsub_collect(void *ctx, const struct upn_client *cl)
{
	struct unsub_ctx *u = ctx;

	if (cl->from_config || strcasecmp(cl->mail, u->mail))
		return;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 8;
		struct upn_prefix *nv = realloc(u->found, cap * sizeof(*nv));

		if (!nv)
			return;
		u->found = nv;
		u->cap = cap;
	}
	u->found[u->n++] = cl->prefix;
}

/* RFC 8058: a POST to the List-Unsubscribe URL unsubscribes at once, whatever its
 * body; a GET only shows the button. The stored entries with the address go, and the
 * address is suppressed, so that one from the config file is not mailed either. */
static enum MHD_Result do_unsubscribe(struct upn_portal *p, struct MHD_Connection *conn,
				      struct portal_req *rq, bool post)
{
	const char *t = token_arg(conn, rq);
	char mail[UPN_TOKEN_MAIL_MAX + 1];
	struct upn_page_vals v = { .token = t };
	struct unsub_ctx u = { .mail = mail };
	uint32_t marker = 0;
	struct upn_store_op *op;

	if (upn_token_unsub_open(p->key, t, mail)) {
		p->st.rej_token++;
		return answer(p, conn, MHD_HTTP_BAD_REQUEST, UPN_PAGE_EXPIRED, &v);
	}
	v.mail = mail;
	if (!post)
		return answer(p, conn, MHD_HTTP_OK, UPN_PAGE_UNSUB_ASK, &v);
	upn_clients_foreach(&p->d->clients, unsub_collect, &u);
	for (size_t i = 0; i < u.n; i++)
		upn_clients_del(&p->d->clients, &u.found[i]);
	free(u.found);
	op = upn_journal_op(&p->d->journal, &marker);
	if (!op)
		return error_page(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
	op->kind = UPN_STORE_PUT_SUPPRESS;
	op->suppress.since = now_s();
	snprintf(op->suppress.mail, sizeof(op->suppress.mail), "%s", mail);
	upn_journal_disown(&p->d->journal, &marker);
	p->st.unsubscribed++;
	return answer_when_durable(p, conn, rq, MHD_HTTP_OK, UPN_PAGE_UNSUB_DONE, &v);
}

/* ---- libmicrohttpd's callbacks ---- */

static enum MHD_Result field(void *cls, enum MHD_ValueKind kind, const char *key,
			     const char *filename, const char *content_type,
			     const char *transfer_encoding, const char *data, uint64_t off,
			     size_t size)
{
	struct portal_req *rq = cls;
	char *dst = NULL;
	size_t cap = 0;

	if (!strcmp(key, "server"))
		dst = rq->server, cap = sizeof(rq->server);
	else if (!strcmp(key, "csrf"))
		dst = rq->csrf, cap = sizeof(rq->csrf);
	else if (!strcmp(key, "notify"))
		dst = rq->notify, cap = sizeof(rq->notify);
	else if (!strcmp(key, "mail"))
		dst = rq->mail, cap = sizeof(rq->mail);
	else if (!strcmp(key, "t"))
		dst = rq->t, cap = sizeof(rq->t);
	if (!dst)
		return MHD_YES; /* List-Unsubscribe=One-Click, a submit button's name... */
	if (off + size >= cap || memchr(data, '\0', size)) {
		/* An address too long to be one is a bad address, not a bad form. */
		if (dst == rq->mail)
			rq->long_mail = true;
		else
			rq->bad_field = true;
		return MHD_YES;
	}
	memcpy(dst + off, data, size);
	dst[off + size] = '\0';
	return MHD_YES;
}

static enum MHD_Result dispatch(struct upn_portal *p, struct MHD_Connection *conn,
				struct portal_req *rq, const char *url, bool post)
{
	struct upn_page_vals v = { .retry_after = 1 };
	struct upn_addr client, local;
	char srv[UPN_ADDRSTRLEN];

	local_of(p, conn, &local);
	client_of(conn, &client);
	if (rq->too_big) {
		p->st.rej_too_big++;
		return error_page(p, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				  "The request was too large.");
	}
	if (!strcmp(url, "/.upnotify/register") && post)
		return do_register(p, conn, rq, &client);
	if (!strcmp(url, "/.upnotify/confirm"))
		return do_confirm(p, conn, rq, post);
	if (!strcmp(url, "/.upnotify/unsubscribe"))
		return do_unsubscribe(p, conn, rq, post);
	if (is_down(p, &local)) {
		if (post) {
			p->st.rej_bad_request++;
			return error_page(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					  "The server is down; nothing was sent to it.");
		}
		return inquiry(p, conn, &client, &local);
	}
	/* The gateway's own address, or a server that came back while this connection
	 * was open: only the former has nothing here. */
	if (!local.family || upn_addr_eq(&local, &p->gateway) || !strncmp(url, "/.upnotify/", 11)) {
		p->st.not_found++;
		return answer(p, conn, MHD_HTTP_NOT_FOUND, UPN_PAGE_NOT_FOUND, &v);
	}
	p->st.back_up++;
	v.server = upn_addr_fmt(&local, srv);
	return answer(p, conn, MHD_HTTP_SERVICE_UNAVAILABLE, UPN_PAGE_BACK_UP, &v);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct upn_portal *p = cls;
	struct portal_req *rq = *req_cls;
	bool post = !strcmp(method, MHD_HTTP_METHOD_POST);

	if (!rq) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		const char *cl;

		if (ci && ci->socket_context)
			conn_got_request(p, ci->socket_context);
		if (!post && strcmp(method, MHD_HTTP_METHOD_GET) &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
			p->st.rej_bad_request++;
			return error_page(p, conn, MHD_HTTP_METHOD_NOT_ALLOWED, NULL);
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (post && cl && strtoull(cl, NULL, 10) > p->cfg->max_body) {
			/* Answered before the body is read: MHD then closes. */
			p->st.rej_too_big++;
			return error_page(p, conn, MHD_HTTP_CONTENT_TOO_LARGE,
					  "The request was too large.");
		}
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*req_cls = rq;
		if (post)
			rq->pp = MHD_create_post_processor(conn, 1024, field, rq);
		return MHD_YES;
	}
	if (rq->resp) {
		/* Resumed: the registration is durable. */
		enum MHD_Result ret = MHD_queue_response(conn, rq->status, rq->resp);

		MHD_destroy_response(rq->resp);
		rq->resp = NULL;
		return ret;
	}
	if (*upload_size) {
		rq->body += *upload_size;
		if (rq->body > p->cfg->max_body)
			rq->too_big = true;
		else if (rq->pp && MHD_post_process(rq->pp, upload, *upload_size) != MHD_YES)
			rq->bad_field = true;
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(p, conn, rq, url, post);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upn_portal *p = cls;
	struct portal_req *rq = *req_cls;

	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		p->st.timeouts++;
		/* Counted here; the connection's close must not count it again. */
		if (ci && ci->socket_context)
			conn_got_request(p, ci->socket_context);
	}
	if (!rq)
		return;
	if (rq->queued) {
		/* Closed while waiting (the daemon is stopping): off the list. */
		for (struct portal_req **pp = &p->waiting; *pp; pp = &(*pp)->next)
			if (*pp == rq) {
				*pp = rq->next;
				if (p->waiting_tail == &rq->next)
					p->waiting_tail = pp;
				p->nwaiting--;
				break;
			}
	}
	if (rq->resp)
		MHD_destroy_response(rq->resp);
	if (rq->pp)
		MHD_destroy_post_processor(rq->pp);
	free(rq);
	*req_cls = NULL;
}

/* The client's SYN to a down server was diverted here, before FORWARD, so neither
 * source saw it: the connection itself is the failed access, whether or not an HTTP
 * request follows (a probe, a non-HTTP client on port 80). */
static void connected(struct upn_portal *p, struct MHD_Connection *conn)
{
	struct upn_addr client, local;
	uint16_t port = local_of(p, conn, &local);

	if (!is_down(p, &local))
		return;
	client_of(conn, &client);
	if (client.family)
		record_attempt(p, &client, &local, port);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct upn_portal *p = cls;
	struct portal_conn *pc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		p->open_conns++;
		p->st.connections++;
		pc = calloc(1, sizeof(*pc));
		*socket_context = pc;
		if (!pc)
			return; /* served, just not timed by us: MHD's idle timer remains */
		pc->opened_ms = upn_now_mono_ms();
		pc->fd = ci ? ci->connect_fd : -1;
		pc->prev = p->conns_tail;
		if (p->conns_tail)
			p->conns_tail->next = pc;
		else
			p->conns = pc;
		p->conns_tail = pc;
		pc->fprev = p->fresh_tail;
		if (p->fresh_tail)
			p->fresh_tail->fnext = pc;
		else
			p->fresh = pc;
		p->fresh_tail = pc;
		connected(p, conn);
		return;
	}
	p->open_conns--;
	if (!pc)
		return;
	/* A connection that never finished a request's headers in the whole timeout
	 * was held open on purpose, or by a dead client: MHD's idle timer closed it. */
	if (!pc->cut && !pc->had_request &&
	    upn_now_mono_ms() - pc->opened_ms >= (int64_t)p->cfg->timeout_s * 1000)
		p->st.timeouts++;
	conn_got_request(p, pc); /* off the fresh list */
	conn_unlink(p, pc);
	free(pc);
	*socket_context = NULL;
}

/* Shuts down the connections past their time; MHD sees the socket close and cleans
 * up as for any client that went away. Both lists are by age, so each scan stops at
 * the first connection young enough. A connection cut stays on the lists (marked)
 * until MHD closes it, a loop turn later. */
static void cut(struct upn_portal *p, struct portal_conn *pc)
{
	if (pc->cut || pc->fd < 0)
		return;
	pc->cut = true;
	p->st.timeouts++;
	shutdown(pc->fd, SHUT_RDWR);
}

static void cut_slow(struct upn_portal *p, int64_t now)
{
	int64_t t = (int64_t)p->cfg->timeout_s * 1000;

	for (struct portal_conn *pc = p->fresh; pc && pc->opened_ms + t <= now; pc = pc->fnext)
		cut(p, pc);
	for (struct portal_conn *pc = p->conns; pc && pc->opened_ms + t * CONN_LIFETIMES <= now;
	     pc = pc->next)
		cut(p, pc);
}

/* The portal's own next deadline: the oldest connection still without a request, and
 * the oldest of all for the lifetime; those already cut are skipped. */
static int64_t conn_deadline(const struct upn_portal *p)
{
	int64_t t = (int64_t)p->cfg->timeout_s * 1000, d = INT64_MAX;
	const struct portal_conn *pc;

	for (pc = p->fresh; pc && pc->cut; pc = pc->fnext)
		;
	if (pc)
		d = pc->opened_ms + t;
	for (pc = p->conns; pc && pc->cut; pc = pc->next)
		;
	if (pc && pc->opened_ms + t * CONN_LIFETIMES < d)
		d = pc->opened_ms + t * CONN_LIFETIMES;
	return d;
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct upn_portal *p = cls;

	if (p->open_conns >= p->cfg->max_connections) {
		p->st.conn_limit++;
		return MHD_NO;
	}
	return MHD_YES;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	upn_dbg("portal: %s", buf);
}

/* ---- the loop ---- */

static void run_mhd(struct upn_portal *p)
{
	MHD_UNSIGNED_LONG_LONG t;

	MHD_run(p->mhd);
	/* With edge-triggered epoll inside, MHD may hold work its fd will not show
	 * again (a buffer it did not drain): a zero timeout says so. */
	p->run_now = MHD_get_timeout(p->mhd, &t) == MHD_YES && t == 0;
}

static void on_ready(void *ctx, uint32_t events)
{
	run_mhd(ctx);
}

void upn_portal_tick(struct upn_portal *p, uint64_t durable)
{
	bool resumed = false;

	if (!p)
		return;
	while (p->waiting && p->waiting->barrier <= durable) {
		struct portal_req *rq = p->waiting;

		p->waiting = rq->next;
		if (!p->waiting)
			p->waiting_tail = &p->waiting;
		rq->queued = false;
		p->nwaiting--;
		MHD_resume_connection(rq->conn);
		resumed = true;
	}
	cut_slow(p, upn_now_mono_ms());
	if (resumed || p->run_now || upn_portal_deadline(p) <= upn_now_mono_ms())
		run_mhd(p);
}

int64_t upn_portal_deadline(struct upn_portal *p)
{
	MHD_UNSIGNED_LONG_LONG t;
	int64_t ret;

	if (!p)
		return -1;
	if (p->run_now)
		return 0;
	if (p->waiting)
		return upn_now_mono_ms() + 5; /* the store commits every few ms */
	if (MHD_get_timeout(p->mhd, &t) != MHD_YES)
		t = 60000;
	ret = upn_now_mono_ms() + (int64_t)(t > 60000 ? 60000 : t);
	if (conn_deadline(p) < ret)
		ret = conn_deadline(p);
	return ret;
}

/* ---- the nft set ---- */

void upn_portal_server_state(struct upn_portal *p, const struct upn_addr *server, bool down)
{
	char a[UPN_ADDRSTRLEN];
	int ret;

	if (!p || !p->net)
		return;
	ret = down ? upn_portalnet_add(p->net, server) : upn_portalnet_del(p->net, server);
	if (ret) {
		p->st.nft_errors++;
		upn_warn("portal: cannot %s %s %s the nft set: %s", down ? "add" : "remove",
			 upn_addr_fmt(server, a), down ? "to" : "from", strerror(-ret));
	}
}

static void add_down(void *ctx, const struct upn_wl_server *s)
{
	if (s->state == UPN_SERVER_DOWN)
		upn_portal_server_state(ctx, &s->addr, true);
}

/* ---- start and stop ---- */

static int gateway_of(struct upn_portal *p)
{
	const char *url = p->cfg->gateway_url;
	char host[UPN_URL_MAX + 1];
	const char *h, *end;

	if (!url[0])
		return 0;
	h = url + strlen("http://");
	if (*h == '[') {
		end = strchr(++h, ']');
	} else {
		end = h + strcspn(h, ":/");
	}
	if (!end || (size_t)(end - h) >= sizeof(host))
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	/* A name rather than an address: the gateway is told by its path alone. */
	upn_addr_parse(host, &p->gateway);
	return 0;
}

/* Everything but the listener, the nft table and the loop. */
static struct upn_portal *portal_new(struct upn_daemon *d)
{
	const struct upn_portal_config *cfg = &d->cfg.portal;
	struct upn_portal *p = calloc(1, sizeof(*p));
	char err[512];

	if (!p) {
		upn_err("portal: out of memory");
		return NULL;
	}
	p->d = d;
	p->cfg = cfg;
	p->listen_fd = -1;
	p->waiting_tail = &p->waiting;
	/* Read from the store at start-up (main.c), shared with the mailer's links. */
	memcpy(p->key, d->cfg.mail.link_key, sizeof(p->key));
	if (gateway_of(p)) {
		upn_err("portal: gateway_url %s: cannot tell its host", cfg->gateway_url);
		goto fail;
	}
	if (cfg->mode == UPN_PORTAL_GATEWAY)
		snprintf(p->action, sizeof(p->action), "%s/.upnotify/register", cfg->gateway_url);
	else
		snprintf(p->action, sizeof(p->action), "/.upnotify/register");
	/* Nothing from elsewhere; the form may post only here or to the gateway. */
	snprintf(p->csp, sizeof(p->csp),
		 "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
		 "form-action 'self'%s%s; frame-ancestors 'none'",
		 cfg->gateway_url[0] ? " " : "", cfg->gateway_url);
	if (upn_pages_load(&p->pages, cfg->templates, err, sizeof(err))) {
		upn_err("portal: templates: %s", err);
		goto fail;
	}
	if (upn_ratelimit_init(&p->by_client, cfg->client_rate, UPN_PORTAL_BUCKETS) ||
	    upn_ratelimit_init(&p->by_mail, cfg->address_rate, UPN_PORTAL_BUCKETS)) {
		upn_err("portal: out of memory");
		goto fail;
	}
	return p;
fail:
	upn_portal_close(p);
	return NULL;
}

/* libmicrohttpd on @listen_fd, or with no listener of its own for -1. */
static int start_mhd(struct upn_portal *p, int listen_fd)
{
	const struct upn_portal_config *cfg = p->cfg;
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	struct MHD_OptionItem opts[] = {
		/* Our own count (on_accept) refuses first and counts it; MHD's is a
		 * backstop. */
		{ MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + 16, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, p },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, p },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, p },
		/* Last, so that without a listener it is left off. */
		{ listen_fd < 0 ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (listen_fd < 0)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	p->mhd = MHD_start_daemon(flags, 0, on_accept, p, on_request, p, MHD_OPTION_ARRAY, opts,
				  MHD_OPTION_END);
	if (!p->mhd) {
		upn_err("portal: libmicrohttpd would not start on %s", cfg->listen);
		return -1;
	}
	di = MHD_get_daemon_info(p->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		upn_err("portal: libmicrohttpd has no epoll descriptor");
		return -1;
	}
	p->epfd = di->epoll_fd;
	return 0;
}

struct upn_portal *upn_portal_open(struct upn_daemon *d)
{
	const struct upn_portal_config *cfg = &d->cfg.portal;
	struct upn_portal *p = portal_new(d);
	char ports[UPN_PORTAL_PORTS_MAX * 6 + 1] = "";
	uint16_t port = 0;
	char err[512];
	size_t off = 0;

	if (!p)
		return NULL;
	p->listen_fd = upn_portal_listen(cfg->listen, &port, err, sizeof(err));
	if (p->listen_fd < 0) {
		upn_err("portal: listen = %s: %s", cfg->listen, err);
		goto fail;
	}
	if (start_mhd(p, p->listen_fd))
		goto fail;
	p->h = (struct upn_loop_handler){ on_ready, p };
	if (upn_loop_add(&d->loop, p->epfd, EPOLLIN, &p->h)) {
		upn_err("portal: cannot watch the listener: %s", strerror(errno));
		goto fail;
	}
	p->in_loop = true;
	p->net = upn_portalnet_open(
		&(struct upn_portalnet_config){
			.ports = cfg->ports,
			.nports = cfg->nports,
			.listen_port = port,
			.mark = cfg->fwmark,
			.table = cfg->route_table,
		},
		err, sizeof(err));
	if (!p->net) {
		upn_err("portal: %s", err);
		goto fail;
	}
	upn_waitlist_foreach_server(&d->wl, add_down, p);
	for (size_t i = 0; i < cfg->nports; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%u", i ? "," : "",
					cfg->ports[i]);
	upn_info("portal: answering port %s of down servers on %s (mode %s%s)", ports, cfg->listen,
		 cfg->mode == UPN_PORTAL_GATEWAY ? "gateway" : "server",
		 cfg->confirm ? ", double opt-in" : "");
	return p;
fail:
	upn_portal_close(p);
	return NULL;
}

struct upn_portal *upn_portal_open_detached(struct upn_daemon *d, const struct upn_addr *local)
{
	struct upn_portal *p = portal_new(d);

	if (!p)
		return NULL;
	p->fake_local = *local;
	if (start_mhd(p, -1)) {
		upn_portal_close(p);
		return NULL;
	}
	return p;
}

int upn_portal_add_connection(struct upn_portal *p, int fd, const struct sockaddr *client,
			      socklen_t len)
{
	return MHD_add_connection(p->mhd, fd, client, len) == MHD_YES ? 0 : -1;
}

void upn_portal_run(struct upn_portal *p)
{
	run_mhd(p);
}

void upn_portal_close(struct upn_portal *p)
{
	if (!p)
		return;
	/* The interception goes first: from here on, connections reach the servers. */
	upn_portalnet_close(p->net);
	if (p->in_loop)
		upn_loop_del(&p->d->loop, p->epfd);
	if (p->mhd) {
		/* libmicrohttpd stops only with every connection resumed. */
		while (p->waiting) {
			struct portal_req *rq = p->waiting;

			p->waiting = rq->next;
			rq->queued = false;
			MHD_resume_connection(rq->conn);
		}
		p->waiting_tail = &p->waiting;
		p->nwaiting = 0;
		/* Answers still waiting for the store are dropped with their connections;
		 * the registrations themselves are in the journal, which drain() commits. */
		MHD_stop_daemon(p->mhd);
	}
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	for (size_t i = 0; i < PAGE_CACHE_SLOTS; i++)
		if (p->cache[i].r)
			MHD_destroy_response(p->cache[i].r);
	upn_pages_free(p->pages);
	upn_ratelimit_destroy(&p->by_client);
	upn_ratelimit_destroy(&p->by_mail);
	sodium_memzero(p->key, sizeof(p->key));
	free(p);
}

/* ---- counters ---- */

void upn_portal_get_stats(const struct upn_portal *p, struct upn_portal_stats *out)
{
	*out = p->st;
}

#define COUNTER(obj, name, val) json_object_set_new(obj, name, json_integer((json_int_t)(val)))

void upn_portal_stats_json(const struct upn_portal *p, json_t *c, json_t *g)
{
	const struct upn_portal_stats *s = &p->st;
	struct upn_portalnet_stats ns = { 0 };

	if (p->net)
		upn_portalnet_get_stats(p->net, &ns);
	COUNTER(c, "portal.connections", s->connections);
	COUNTER(c, "portal.pages", s->pages);
	COUNTER(c, "portal.already_registered", s->already_registered);
	COUNTER(c, "portal.registered", s->registered);
	COUNTER(c, "portal.declined", s->declined);
	COUNTER(c, "portal.confirm_sent", s->confirm_sent);
	COUNTER(c, "portal.confirmed", s->confirmed);
	COUNTER(c, "portal.unsubscribed", s->unsubscribed);
	COUNTER(c, "portal.back_up", s->back_up);
	COUNTER(c, "portal.not_found", s->not_found);
	COUNTER(c, "portal.rej_csrf", s->rej_csrf);
	COUNTER(c, "portal.rej_address", s->rej_address);
	COUNTER(c, "portal.rej_rate_client", s->rej_rate_client);
	COUNTER(c, "portal.rej_rate_address", s->rej_rate_address);
	COUNTER(c, "portal.rej_server_full", s->rej_server_full);
	COUNTER(c, "portal.rej_not_down", s->rej_not_down);
	COUNTER(c, "portal.rej_too_big", s->rej_too_big);
	COUNTER(c, "portal.rej_bad_request", s->rej_bad_request);
	COUNTER(c, "portal.rej_token", s->rej_token);
	COUNTER(c, "portal.conn_limit", s->conn_limit);
	COUNTER(c, "portal.timeouts", s->timeouts);
	COUNTER(c, "portal.rate_evicted", p->by_client.evicted + p->by_mail.evicted);
	COUNTER(c, "portal.nft_added", ns.added);
	COUNTER(c, "portal.nft_removed", ns.removed);
	COUNTER(c, "portal.nft_errors", ns.errors + s->nft_errors);
	COUNTER(c, "portal.nft_rebuilds", ns.rebuilds);
	COUNTER(g, "portal_open_connections", p->open_conns);
	COUNTER(g, "portal_intercepted_servers", ns.elements);
	COUNTER(g, "portal_waiting_answers", p->nwaiting);
}
