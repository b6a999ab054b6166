// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotify-agent: reads signed relay lists from a mailbox (or stdin) and mails the
 * clients it knows that their server is back (patent embodiments 2 and 3). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include "agentconf.h"
#include "agentloop.h"
#include "clients.h"
#include "fsutil.h"
#include "log.h"
#include "loop.h"
#include "mailmsg.h"
#include "mailtext.h"
#include "process.h"
#include "relaymsg.h"
#include "sigfd.h"
#include "status.h"
#include "store.h"

#define VERSION "0.1"

/* sysexits(3): what an MTA pipe understands. */
#define EXIT_USAGE 2
#define EX_DATAERR 65
#define EX_TEMPFAIL 75

/* A one-shot run waits this long for a running agent's lock before it gives up
 * with EX_TEMPFAIL (the MTA tries again later). */
#define LOCK_WAIT_MS 60000

struct agent_main {
	struct upn_agent_config cfg;
	struct upn_relay_keys keys;
	struct upn_clients clients;
	bool clients_init;
	struct upn_agent agent;
	struct upn_agent_loop loop;
	int lockfd;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: upnotify-agent -c FILE [-f] [-v]          poll the mailbox, wait for traps\n"
		"       upnotify-agent -c FILE --stdin             one message on stdin\n"
		"       upnotify-agent -c FILE --once              poll once, send, exit\n"
		"       upnotify-agent -c FILE --check\n"
		"       upnotify-agent -c FILE --status [--json]\n"
		"  -c, --config FILE   configuration (see upnotify-agent(8))\n"
		"  -f, --foreground    stay in the foreground and log to stderr\n"
		"  -v, --verbose       log debug messages\n"
		"  -V, --version\n");
}

/* Two agents on one store would both drain its outbox: every mail twice. */
static int take_lock(struct agent_main *m, bool wait)
{
	char path[PATH_MAX + 8];
	int64_t until = upn_now_mono_ms() + LOCK_WAIT_MS;

	snprintf(path, sizeof(path), "%s.lock", m->cfg.base.store_path);
	m->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lockfd < 0) {
		upn_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(m->lockfd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK) {
			upn_err("%s: flock: %s", path, strerror(errno));
			return -1;
		}
		if (!wait || upn_now_mono_ms() > until) {
			upn_err("%s: another upnotify-agent uses the store %s", path,
				m->cfg.base.store_path);
			return -1;
		}
		usleep(50000);
	}
	return 0;
}

/* Everything a run needs; -1 for a start-up failure (logged). */
static int setup(struct agent_main *m, bool wait_lock)
{
	struct upn_agent_config *c = &m->cfg;
	char err[1024];
	int ret;

	ret = upn_relay_keys_load(c->key_file, &m->keys, err, sizeof(err));
	if (ret) {
		upn_err("%s", err);
		return -1;
	}
	if (upn_make_parent(c->base.store_path, 0700)) {
		upn_err("cannot create the directory for %s: %s", c->base.store_path,
			strerror(errno));
		return -1;
	}
	if (take_lock(m, wait_lock))
		return -1;
	m->agent.store = upn_store_open(c->base.store_path, err, sizeof(err));
	if (!m->agent.store) {
		upn_err("store: %s", err);
		return -1;
	}
	if (upn_clients_init(&m->clients, UPN_CLIENTS_MAX, NULL)) {
		upn_err("out of memory");
		return -1;
	}
	m->clients_init = true;
	for (size_t i = 0; i < c->base.nclients; i++) {
		ret = upn_clients_set(&m->clients, &c->base.clients[i].prefix,
				      c->base.clients[i].mail, 0, true);
		if (ret) {
			upn_err("[clients]: cannot add %s: %s", c->base.clients[i].mail,
				strerror(-ret));
			return -1;
		}
	}
	m->agent.keys = &m->keys;
	m->agent.clients = &m->clients;
	m->agent.max_age_s = c->max_age_s;
	m->loop.agent = &m->agent;
	m->loop.cfg = c;
	m->loop.sigfd = upn_sigfd_open();
	if (m->loop.sigfd < 0) {
		upn_err("signalfd: %s", strerror(errno));
		return -1;
	}
	upn_agent_purge(&m->loop, (int64_t)(upn_now_real_ns() / 1000000000ull));
	if (c->base.mail.nrelays) {
		m->loop.mailer =
			upn_mailer_start(&c->base.mail, c->base.store_path, err, sizeof(err));
		if (!m->loop.mailer) {
			upn_err("mail: %s", err);
			return -1;
		}
	} else {
		upn_warn("mail: no relay configured; recovery mails stay in the outbox");
	}
	return 0;
}

static void teardown(struct agent_main *m)
{
	if (m->loop.mailer)
		upn_mailer_stop(m->loop.mailer);
	if (m->agent.store)
		upn_store_close(m->agent.store);
	if (m->clients_init)
		upn_clients_destroy(&m->clients);
	if (m->loop.sigfd >= 0)
		close(m->loop.sigfd);
	if (m->lockfd >= 0)
		close(m->lockfd);
	upn_relay_keys_free(&m->keys);
	upn_agent_config_free(&m->cfg);
}

/* The whole of stdin, or NULL: too big (errno EFBIG) or unreadable. */
static char *read_stdin(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap > UPN_MAILMSG_MAX) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	free(buf);
	return NULL;
}

static int run_stdin(struct agent_main *m)
{
	size_t len = 0, queued = 0;
	char *raw = read_stdin(&len);
	int status = 0;

	if (!raw) {
		upn_err("stdin: %s", strerror(errno));
		if (errno == EFBIG)
			upn_agent_count(&m->agent, "rejected.unreadable", 1);
		return errno == EFBIG ? EX_DATAERR : EX_TEMPFAIL;
	}
	switch (upn_agent_process(&m->agent, raw, len, (int64_t)(upn_now_real_ns() / 1000000000ull),
				  &queued)) {
	case UPN_AGENT_TEMPFAIL:
		status = EX_TEMPFAIL;
		break;
	case UPN_AGENT_UNREADABLE:
		status = EX_DATAERR;
		break;
	default:
		/* Rejected input too: no bounce to a sender that may be forged. */
		break;
	}
	free(raw);
	upn_agent_drain(&m->loop);
	return status;
}

static int check(struct agent_main *m, const char *config)
{
	char err[1024];
	char *t;

	if (upn_relay_keys_load(m->cfg.key_file, &m->keys, err, sizeof(err))) {
		fprintf(stderr, "%s: [relay] key_file: %s\n", config, err);
		return EXIT_USAGE;
	}
	if (m->cfg.base.mail.template_path[0]) {
		t = upn_mail_template_load(m->cfg.base.mail.template_path, err, sizeof(err));
		if (!t) {
			fprintf(stderr, "%s\n", err);
			return EXIT_USAGE;
		}
		free(t);
	}
	printf("%s: configuration OK (%zu keys, %zu client entries)\n", config, m->keys.n,
	       m->cfg.base.nclients);
	return 0;
}

int main(int argc, char **argv)
{
	enum { RUN, CHECK, STDIN, ONCE, STATUS };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, 'C' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "once", no_argument, NULL, 'O' },
		{ "status", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct agent_main m = { .lockfd = -1, .loop = { .sigfd = -1 } };
	int fg = 0, verbose = 0, json = 0, mode = RUN, opt, status = 1;
	const char *config = NULL;
	char err[1024];

	while ((opt = getopt_long(argc, argv, "c:fvVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'C':
		case 'S':
		case 'O':
		case 's':
			if (mode != RUN) {
				usage(stderr);
				return EXIT_USAGE;
			}
			mode = opt == 'C' ? CHECK : opt == 'S' ? STDIN : opt == 'O' ? ONCE : STATUS;
			break;
		case 'j':
			json = 1;
			break;
		case 'V':
			printf("upnotify-agent %s\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!config || optind != argc || (json && mode != STATUS)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (upn_agent_config_load(config, &m.cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return mode == STDIN ? EX_TEMPFAIL : EXIT_USAGE;
	}
	if (mode == CHECK) {
		status = check(&m, config);
		teardown(&m);
		return status;
	}
	if (mode == STATUS) {
		if (upn_agent_status(m.cfg.base.store_path, json, stdout, err, sizeof(err))) {
			fprintf(stderr, "upnotify-agent: %s\n", err);
			status = 1;
		} else {
			status = 0;
		}
		teardown(&m);
		return status;
	}
	if (mode == RUN && !fg && daemon(0, 0)) {
		perror("upnotify-agent: daemon");
		return 1;
	}
	upn_log_open("upnotify-agent", fg, verbose ? LOG_DEBUG : LOG_INFO);
	if (setup(&m, mode != RUN)) {
		/* A pipe from the MTA: try again later rather than bounce. */
		teardown(&m);
		return mode == STDIN ? EX_TEMPFAIL : 1;
	}
	switch (mode) {
	case STDIN:
		status = run_stdin(&m);
		break;
	case ONCE:
		status = m.cfg.mailbox.url[0] && upn_agent_poll(&m.loop) ? 1 : 0;
		upn_agent_drain(&m.loop);
		break;
	default:
		upn_info("upnotify-agent %s running: mailbox %s, poll %u ms, %zu client entries",
			 VERSION, m.cfg.mailbox.url[0] ? m.cfg.mailbox.url : "(none)",
			 m.cfg.poll_ms, m.cfg.base.nclients);
		status = upn_agent_run(&m.loop);
	}
	teardown(&m);
	return status;
}
