// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "mailsend.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* <openssl/ssl.h> first: libesmtp.h declares smtp_starttls_set_ctx() only then. */
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#include "limits.h"
#include "log.h"

enum {
	/* Our own connect before libesmtp's: libesmtp connects with a blocking
	 * connect(), which waits minutes for a relay behind a dropping firewall, and
	 * the mailer must stay stoppable. */
	CONNECT_TIMEOUT_MS = 10000,
	/* After a session that worked this recently, the relay is trusted to answer
	 * and not probed again: back-to-back sessions cost one connection each. */
	PROBE_SKIP_MS = 10000,
	/* Each SMTP reply. RFC 5321's minimums (5 and 10 minutes) suit an MTA relaying
	 * the world's mail, not a notifier that can fail over to another relay. */
	REPLY_TIMEOUT_MS = 60000,
	/* The reply to the end of the data: the relay may scan the message first. */
	DATA_DONE_TIMEOUT_MS = 180000,
	/* "user password" of the AUTH file. */
	CRED_MAX = 256,
};

struct upn_mailsend {
	enum upn_starttls starttls;
	SSL_CTX *ssl;
	bool auth;
	char user[CRED_MAX], pass[CRED_MAX];
	char from[UPN_MAIL_MAX + 1];
	const atomic_bool *stop;
};

/* One session's view, for the callbacks. */
struct session {
	struct upn_mailsend *s;
	void (*accepted)(void *arg, struct upn_mailsend_msg *m);
	void *arg;
	bool stopped;
	bool authenticated; /* a 235 was seen */
	char why[256];	    /* a relay-level problem an event told of */
};

struct item {
	struct session *ses;
	struct upn_mailsend_msg *m;
	smtp_message_t msg;
	smtp_recipient_t rcpt;
};

/* ---- set-up ---- */

static int read_auth(struct upn_mailsend *s, const char *path, char *err, size_t errlen)
{
	char line[2 * CRED_MAX + 2];
	struct stat sb;
	bool found = false;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		upn_set_err(err, errlen, "auth_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (!fstat(fileno(f), &sb) && (sb.st_mode & 0077))
		upn_warn("mailer: auth_file %s is readable by others than its owner", path);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *pass;
		size_t ulen;

		p[strcspn(p, "\r\n")] = '\0';
		if (!*p || *p == '#')
			continue;
		ulen = strcspn(p, " \t");
		pass = p + ulen + strspn(p + ulen, " \t");
		if (!ulen || !*pass || ulen >= CRED_MAX || strlen(pass) >= CRED_MAX)
			break;
		memcpy(s->user, p, ulen);
		s->user[ulen] = '\0';
		strcpy(s->pass, pass);
		found = true;
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));
	if (!found) {
		upn_set_err(err, errlen, "auth_file %s: expected one line \"user password\"", path);
		return -1;
	}
	return 0;
}

static int tls_init(struct upn_mailsend *s, const struct upn_mail_config *cfg, char *err,
		    size_t errlen)
{
	s->ssl = SSL_CTX_new(TLS_client_method());
	if (!s->ssl) {
		upn_set_err(err, errlen, "cannot create a TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION);
	/* And no higher. libesmtp 1.1.0 polls the socket after the handshake before it
	 * has sent EHLO; a TLS 1.3 NewSessionTicket arriving then makes it read, and
	 * wait for an EHLO reply until its timeout: a one minute stall in about one
	 * session in three against Postfix. TLS 1.2 has no tickets after the
	 * handshake. (libesmtp 1.1.1 reworked this code; lift the cap with it.) */
	SSL_CTX_set_max_proto_version(s->ssl, TLS1_2_VERSION);
	if (cfg->ca_file[0]) {
		if (!SSL_CTX_load_verify_locations(s->ssl, cfg->ca_file, NULL)) {
			upn_set_err(err, errlen, "ca_file %s: no certificates could be loaded",
				    cfg->ca_file);
			return -1;
		}
	} else if (!SSL_CTX_set_default_verify_paths(s->ssl)) {
		upn_set_err(err, errlen, "cannot load the system's CA certificates");
		return -1;
	}
	/* The handshake never fails on the certificate itself: libesmtp checks the
	 * verification result and the name, and asks us (event_cb) what to do. */
	SSL_CTX_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
	return 0;
}

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void auth_global_init(void)
{
	auth_client_init();
}

struct upn_mailsend *upn_mailsend_new(const struct upn_mail_config *cfg, const atomic_bool *stop,
				      char *err, size_t errlen)
{
	struct upn_mailsend *s = calloc(1, sizeof(*s));

	if (!s) {
		upn_set_err(err, errlen, "out of memory");
		return NULL;
	}
	s->starttls = cfg->starttls;
	s->stop = stop;
	snprintf(s->from, sizeof(s->from), "%s", cfg->from);
	if (cfg->starttls != UPN_STARTTLS_NO && tls_init(s, cfg, err, errlen))
		goto fail;
	if (cfg->auth_file[0]) {
		if (read_auth(s, cfg->auth_file, err, errlen))
			goto fail;
		s->auth = true;
		pthread_once(&auth_once, auth_global_init);
		if (cfg->starttls != UPN_STARTTLS_REQUIRED)
			upn_warn("mailer: AUTH without starttls = required may send the password "
				 "in clear text");
	}
	return s;
fail:
	upn_mailsend_free(s);
	return NULL;
}

void upn_mailsend_free(struct upn_mailsend *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ssl);
	explicit_bzero(s->pass, sizeof(s->pass));
	free(s);
}

/* ---- the probe ---- */

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	struct pollfd p = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int fd, soerr = 0, ret;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return errno;
	if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
		goto out;
	if (errno != EINPROGRESS) {
		soerr = errno;
		goto out;
	}
	p.fd = fd;
	do {
		int64_t left = deadline - mono_ms();

		ret = poll(&p, 1, left > 0 ? (int)left : 0);
	} while (ret < 0 && errno == EINTR);
	if (ret == 0)
		soerr = ETIMEDOUT;
	else if (ret < 0)
		soerr = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		soerr = errno;
out:
	close(fd);
	return soerr;
}

/* Can a TCP connection to the relay be made, within CONNECT_TIMEOUT_MS? */
static int probe(const struct upn_mailrelay *r, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int64_t deadline = mono_ms() + CONNECT_TIMEOUT_MS;
	char port[8];
	int rc, e = ENOENT;

	snprintf(port, sizeof(port), "%u", r->cfg->port);
	rc = getaddrinfo(r->cfg->host, port, &hints, &res);
	if (rc) {
		upn_set_err(err, errlen, "%s: %s", r->cfg->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		e = connect_one(ai, deadline);
		if (!e || mono_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (e)
		upn_set_err(err, errlen, "connect: %s", strerror(e));
	return e ? -1 : 0;
}

/* ---- libesmtp callbacks ---- */

/* Hands libesmtp the whole text at once (it cuts lines, stuffs dots, frames BDAT
 * chunks). Asked for the first bytes while a stop is pending, it reports an error
 * instead: libesmtp then drops the connection before a byte of this message went
 * out, so the relay cannot have accepted it. */
static const char *message_cb(void **ctx, int *len, void *arg)
{
	struct item *it = arg;
	int *done;

	if (!*ctx) {
		/* libesmtp frees it with free(). */
		*ctx = calloc(1, sizeof(int));
		if (!*ctx) {
			errno = ENOMEM;
			if (len)
				*len = 0;
			return NULL;
		}
	}
	done = *ctx;
	if (!len) {
		*done = 0;
		return NULL;
	}
	if (*done) {
		*len = 0;
		return NULL;
	}
	if (atomic_load(it->ses->s->stop)) {
		it->ses->stopped = true;
		errno = ECANCELED;
		*len = 0;
		return NULL;
	}
	*done = 1;
	*len = (int)strlen(it->m->text);
	return it->m->text;
}

static void copy_status(struct upn_mailsend_msg *m, const smtp_status_t *st, const char *what)
{
	const char *t = st->text ? st->text : "";
	size_t n = strcspn(t, "\r\n");

	m->code = st->code;
	snprintf(m->error, sizeof(m->error), "%s: %d %.*s", what, st->code, (int)n, t);
}

static bool is2xx(const smtp_status_t *st)
{
	return st && st->code >= 200 && st->code <= 299;
}

static void message_sent(struct session *ses, smtp_message_t msg)
{
	struct item *it = smtp_message_get_application_data(msg);
	const smtp_status_t *st = smtp_message_transfer_status(msg);

	/* Also called when DATA itself was refused: only a 2xx for the data, with
	 * the recipient accepted, is the relay taking responsibility. */
	if (!it || !is2xx(st) || !is2xx(smtp_recipient_status(it->rcpt)))
		return;
	it->m->state = UPN_MAILSEND_SENT;
	it->m->code = st->code;
	it->m->error[0] = '\0';
	ses->accepted(ses->arg, it->m);
}

/* Certificate events: with starttls = required the certificate must be valid for
 * the relay's name; with "yes" TLS is opportunistic, like Postfix's "may": better
 * than clear text, and no reason to stop mail that would go in clear text anyway. */
static void cert_event(struct session *ses, int *ok, SSL *ssl, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void cert_event(struct session *ses, int *ok, SSL *ssl, const char *fmt, ...)
{
	va_list ap;
	int fd;

	*ok = ses->s->starttls != UPN_STARTTLS_REQUIRED;
	if (*ok)
		return;
	va_start(ap, fmt);
	vsnprintf(ses->why, sizeof(ses->why), fmt, ap);
	va_end(ap);
	/* libesmtp then sends QUIT into the TLS session and, now and then, waits for
	 * a reply until its timeout (a minute, seen with Postfix): cut the connection
	 * instead, nothing more is to be said over it. */
	fd = ssl ? SSL_get_fd(ssl) : -1;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void event_cb(smtp_session_t session, int event, void *arg, ...)
{
	struct session *ses = arg;
	va_list ap;
	int *ok;

	va_start(ap, arg);
	switch (event) {
	case SMTP_EV_MESSAGESENT:
		message_sent(ses, va_arg(ap, smtp_message_t));
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		snprintf(ses->why, sizeof(ses->why), "the relay offers no STARTTLS");
		break;
	case SMTP_EV_EXTNA_8BITMIME:
		snprintf(ses->why, sizeof(ses->why), "the relay offers no 8BITMIME");
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		long result = va_arg(ap, long);

		ok = va_arg(ap, int *);
		cert_event(ses, ok, va_arg(ap, SSL *),
			   "TLS: the relay's certificate does not verify (X509 error %ld)", result);
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE:
		ok = va_arg(ap, int *);
		cert_event(ses, ok, NULL, "TLS: the relay shows no certificate");
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE: {
		const char *name;

		ok = va_arg(ap, int *);
		name = va_arg(ap, const char *);
		cert_event(ses, ok, va_arg(ap, SSL *),
			   "TLS: the relay's certificate is for %s, not %s",
			   name && *name ? name : "another name", smtp_get_server_name(session));
		break;
	}
	case SMTP_EV_WEAK_CIPHER:
		(void)va_arg(ap, int);
		ok = va_arg(ap, int *);
		*ok = 0;
		snprintf(ses->why, sizeof(ses->why), "TLS: weak cipher");
		break;
	case SMTP_EV_NO_CLIENT_CERTIFICATE:
		ok = va_arg(ap, int *);
		*ok = 1;
		break;
	case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
	case SMTP_EV_UNUSABLE_CA_LIST:
		snprintf(ses->why, sizeof(ses->why), "TLS: unusable certificate files");
		break;
	default:
		/* SYNTAXWARNING's quit_now and the EXTNA quit flags default to
		 * going on, which is what we want. */
		break;
	}
	va_end(ap);
}

/* libesmtp says nothing of how AUTH went and carries on without it, so that a wrong
 * password would have every RCPT refused and every message failed for good. Its
 * protocol monitor shows the replies: 235 is success, 53x/454 a failure to report. */
static void monitor_cb(const char *buf, int len, int writing, void *arg)
{
	struct session *ses = arg;

	if (writing != SMTP_CB_READING)
		return;
	for (const char *p = buf, *end = buf + len; p + 3 <= end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!memcmp(p, "235", 3))
			ses->authenticated = true;
		else if (!memcmp(p, "535", 3) || !memcmp(p, "534", 3) || !memcmp(p, "538", 3) ||
			 !memcmp(p, "454", 3))
			snprintf(ses->why, sizeof(ses->why), "AUTH: %.*s",
				 (int)(n && p[n - 1] == '\r' ? n - 1 : n), p);
		if (!nl)
			break;
		p = nl + 1;
	}
}

static int auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct upn_mailsend *s = arg;

	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = s->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = s->pass;
		else if (req[i].flags & AUTH_REALM)
			result[i] = (char *)"";
		else
			return 0;
	}
	return 1;
}

/* ---- the session ---- */

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static int build(smtp_session_t session, struct session *ses, const struct upn_mailrelay *r,
		 struct item *items, struct upn_mailsend_msg *msgs, size_t n)
{
	static const int timeouts[] = { Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
					Timeout_TRANSFER };

	if (!smtp_set_server(session, r->name) || !smtp_set_eventcb(session, event_cb, ses))
		return -1;
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
		smtp_set_timeout(session, timeouts[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
				 REPLY_TIMEOUT_MS);
	smtp_set_timeout(session, Timeout_DATA2 | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 DATA_DONE_TIMEOUT_MS);
	if (ses->s->starttls != UPN_STARTTLS_NO &&
	    (!smtp_starttls_enable(session, ses->s->starttls == UPN_STARTTLS_REQUIRED ?
						    Starttls_REQUIRED :
						    Starttls_ENABLED) ||
	     !smtp_starttls_set_ctx(session, ses->s->ssl)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct item *it = &items[i];

		it->ses = ses;
		it->m = &msgs[i];
		it->msg = smtp_add_message(session);
		if (!it->msg || !smtp_set_reverse_path(it->msg, ses->s->from) ||
		    !smtp_set_messagecb(it->msg, message_cb, it))
			return -1;
		smtp_message_set_application_data_release(it->msg, it, NULL);
		it->rcpt = smtp_add_recipient(it->msg, msgs[i].recipient);
		if (!it->rcpt)
			return -1;
		/* BODY=8BITMIME only when it is true: a relay without 8BITMIME then
		 * ends the session, which is right for 8 bit text and only for it. */
		if (has_8bit(msgs[i].text))
			smtp_8bitmime_set_body(it->msg, E8bitmime_8BITMIME);
	}
	return 0;
}

/* A refusal that speaks of us, not of the recipient: authentication required or
 * failed (530, X.7.0, X.7.8, X.7.9), encryption required (X.7.11), credentials
 * expired (X.7.12). Fixing the relay's configuration makes them go through, so they
 * are retried rather than failed. (X.7.1 is not among them: relays also use it for
 * a recipient refused by policy.) */
static bool relay_policy(const smtp_status_t *st)
{
	if (st->code == 530)
		return true;
	return st->enh_class == 5 && st->enh_subject == 7 &&
	       (st->enh_detail == 0 ||
		(st->enh_detail >= 8 && st->enh_detail <= 12 && st->enh_detail != 10));
}

/* What became of a message the relay did not take: the first refusal in protocol
 * order (MAIL, RCPT, data), or a connection that broke on the way. */
static void classify(struct item *it, bool stopped)
{
	const smtp_status_t *rp = smtp_reverse_path_status(it->msg);
	const smtp_status_t *rs = smtp_recipient_status(it->rcpt);
	const smtp_status_t *ms = smtp_message_transfer_status(it->msg);
	struct upn_mailsend_msg *m = it->m;

	if (m->state == UPN_MAILSEND_SENT)
		return;
	if (rp && rp->code >= 400) {
		/* A refused sender is the relay's policy for all our mail (AUTH, our
		 * domain...), never this recipient's fault: temporary. */
		copy_status(m, rp, "MAIL FROM");
		m->state = UPN_MAILSEND_TEMP;
	} else if (rs && rs->code >= 400) {
		copy_status(m, rs, "RCPT TO");
		m->state = rs->code >= 500 && !relay_policy(rs) ? UPN_MAILSEND_PERM :
								  UPN_MAILSEND_TEMP;
	} else if (ms && ms->code >= 400) {
		copy_status(m, ms, "DATA");
		m->state = ms->code >= 500 ? UPN_MAILSEND_PERM : UPN_MAILSEND_TEMP;
	} else if (stopped || !(rp && rp->code)) {
		/* Never started, or cut before its text went out. */
		m->state = UPN_MAILSEND_PENDING;
	} else {
		/* Past MAIL, yet neither refused nor taken: the connection broke. If the
		 * relay's 2xx was on its way, this one will be sent twice. */
		m->code = 0;
		snprintf(m->error, sizeof(m->error), "connection lost during the transaction");
		m->state = UPN_MAILSEND_TEMP;
	}
}

static bool any_sent(const struct upn_mailsend_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (msgs[i].state == UPN_MAILSEND_SENT)
			return true;
	return false;
}

enum upn_mailsend_result upn_mailsend_session(struct upn_mailsend *s, const struct upn_mailrelay *r,
					      struct upn_mailsend_msg *msgs, size_t n,
					      void (*accepted)(void *arg,
							       struct upn_mailsend_msg *m),
					      void *arg, char *err, size_t errlen)
{
	struct session ses = { .s = s, .accepted = accepted, .arg = arg };
	enum upn_mailsend_result res = UPN_MAILSEND_DONE;
	auth_context_t actx = NULL;
	smtp_session_t session;
	struct item *items;
	bool engaged = false;
	char buf[128];

	for (size_t i = 0; i < n; i++) {
		msgs[i].state = UPN_MAILSEND_PENDING;
		msgs[i].code = 0;
		msgs[i].error[0] = '\0';
	}
	if (!n)
		return UPN_MAILSEND_DONE;
	if (mono_ms() - r->last_used > PROBE_SKIP_MS && probe(r, err, errlen))
		return UPN_MAILSEND_RELAY_FAILED;
	items = calloc(n, sizeof(*items));
	session = smtp_create_session();
	if (!items || !session || build(session, &ses, r, items, msgs, n)) {
		upn_set_err(err, errlen, "setting up the SMTP session: %s",
			    smtp_strerror(smtp_errno(), buf, sizeof(buf)));
		res = UPN_MAILSEND_RELAY_FAILED;
		goto out;
	}
	if (s->auth) {
		actx = auth_create_context();
		if (!actx) {
			upn_set_err(err, errlen, "cannot create an AUTH context");
			res = UPN_MAILSEND_RELAY_FAILED;
			goto out;
		}
		auth_set_mechanism_flags(actx, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(actx, auth_interact, s);
		smtp_auth_set_context(session, actx);
		smtp_set_monitorcb(session, monitor_cb, &ses, 0);
	}

	smtp_start_session(session);
	for (size_t i = 0; i < n; i++) {
		const smtp_status_t *rs = smtp_recipient_status(items[i].rcpt);

		classify(&items[i], ses.stopped);
		/* The relay took part when any message got past MAIL FROM. */
		if (msgs[i].state == UPN_MAILSEND_SENT || (rs && rs->code))
			engaged = true;
	}
	if (ses.stopped) {
		res = UPN_MAILSEND_STOPPED;
	} else if (s->auth && !ses.authenticated && !any_sent(msgs, n)) {
		/* AUTH was asked for and did not happen (failed, or not offered): what the
		 * relay refused then says nothing of the messages. */
		for (size_t i = 0; i < n; i++)
			msgs[i].state = UPN_MAILSEND_PENDING;
		upn_set_err(err, errlen, "%s", ses.why[0] ? ses.why : "AUTH did not succeed");
		res = UPN_MAILSEND_RELAY_FAILED;
	} else if (!engaged) {
		const smtp_status_t *rp = smtp_reverse_path_status(items[0].msg);
		int e = smtp_errno();

		if (ses.why[0])
			upn_set_err(err, errlen, "%s", ses.why);
		else if (rp && rp->code >= 400)
			upn_set_err(err, errlen, "%s", msgs[0].error);
		else if (e)
			upn_set_err(err, errlen, "%s", smtp_strerror(e, buf, sizeof(buf)));
		else
			upn_set_err(err, errlen, "the session ended before any message");
		res = UPN_MAILSEND_RELAY_FAILED;
	}
out:
	if (session)
		smtp_destroy_session(session);
	if (actx)
		auth_destroy_context(actx);
	free(items);
	return res;
}
