// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotifyd: finds the clients that failed to reach a server and remembers them. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdexec.h"
#include "cmdmail.h"
#include "control.h"
#include "daemon.h"
#include "fsutil.h"
#include "kmod.h"
#include "log.h"
#include "mailer.h"
#include "mailtext.h"
#include "portal.h"
#include "portalpage.h"
#include "recovery.h"
#include "rules.h"
#include "sigfd.h"

#define VERSION "0.1"
/* How often entries older than max_wait are looked for: a scan of the waitlist. */
#define PURGE_INTERVAL_MS 60000

struct runtime {
	struct upn_daemon d;
	struct upn_loop_handler sig_h, nfq_h, kmod_h, store_h;
	int sigfd, storefd;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: upnotifyd -c FILE [-f] [-v]\n"
		   "       upnotifyd -c FILE --check\n"
		   "       upnotifyd -c FILE --print-rules\n"
		   "  -c, --config FILE   configuration (see upnotify.conf(5))\n"
		   "  -f, --foreground    stay in the foreground and log to stderr\n"
		   "  -v, --verbose       log every event\n"
		   "      --check         validate the configuration and exit\n"
		   "      --print-rules   print the iptables rules it would install\n"
		   "  -V, --version\n");
}

/* Every source hands its events here. */
static void on_event(void *ctx, const struct upn_event *ev)
{
	upn_daemon_event(ctx, ev);
}

static void on_packet(void *ctx, const void *pkt, size_t len)
{
	struct upn_daemon *d = ctx;

	upn_detect_packet(&d->detect, pkt, len, upn_now_mono_ms(), upn_now_real_ns());
}

static int load_server(void *ctx, const struct upn_store_server *s)
{
	return upn_waitlist_load_server(&((struct upn_daemon *)ctx)->wl, s);
}

static int load_entry(void *ctx, const struct upn_store_entry *e)
{
	return upn_waitlist_load_entry(&((struct upn_daemon *)ctx)->wl, e);
}

static int load_client(void *ctx, const struct upn_store_client *c)
{
	struct upn_daemon *d = ctx;
	struct upn_journal *j = d->clients.journal;
	int ret;

	/* Read back from the store: nothing to write again. */
	d->clients.journal = NULL;
	ret = upn_clients_set(&d->clients, &c->prefix, c->mail, c->registered, false);
	d->clients.journal = j;
	return ret;
}

/* A stored entry of the server mail table. One without a key id signs with the first
 * key; one whose key has left the key file stays (its mails fail "no key" and show in
 * the outbox) but is named at start. */
static int load_srvmap(void *ctx, const struct upn_store_srvmap *s)
{
	struct upn_daemon *d = ctx;
	const struct upn_relay_keys *k = &d->cfg.mail.relay_keys;
	struct upn_journal *j = d->srvmap.journal;
	const char *key_id = s->key_id;
	char buf[UPN_ADDRSTRLEN];
	int ret;

	if (s->mode != UPN_RELAY_DIRECT) {
		if (!*key_id && k->n)
			key_id = k->v[0].id;
		if (!upn_relay_key_find(k, key_id))
			upn_warn("server map: %s = %s %s: no key '%s' in [relay] key_file",
				 upn_prefix_fmt(&s->prefix, buf), upn_relay_mode_name(s->mode),
				 s->target, key_id);
	}
	/* Read back from the store: nothing to write again. */
	d->srvmap.journal = NULL;
	ret = upn_srvmap_set(&d->srvmap, &s->prefix, s->mode, s->target, key_id, s->registered,
			     false);
	d->srvmap.journal = j;
	if (ret == -EINVAL) {
		upn_warn("server map: skipped a stored entry for %s: not valid",
			 upn_prefix_fmt(&s->prefix, buf));
		return 0;
	}
	return ret;
}

/* [servers]: in memory only, over any stored entry for the same prefix. */
static int config_servers(struct upn_daemon *d)
{
	char buf[UPN_ADDRSTRLEN];

	for (size_t i = 0; i < d->cfg.nservers; i++) {
		const struct upn_config_server *s = &d->cfg.servers[i];
		int ret = upn_srvmap_set(&d->srvmap, &s->prefix, s->mode, s->target, s->key_id,
					 d->started, true);

		if (ret) {
			upn_err("[servers]: cannot add %s: %s", upn_prefix_fmt(&s->prefix, buf),
				strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static void on_signal(void *ctx, uint32_t events)
{
	struct runtime *rt = ctx;
	struct signalfd_siginfo si;

	while (read(rt->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			upn_info("SIGHUP: the configuration is read at start; restart to apply it");
			continue;
		}
		upn_info("signal %u: shutting down", si.ssi_signo);
		rt->d.loop.stop = true;
	}
}

static void on_nfq(void *ctx, uint32_t events)
{
	upn_nfq_dispatch(&((struct upn_daemon *)ctx)->nfq);
}

static void on_kmod(void *ctx, uint32_t events)
{
	upn_kmod_dispatch(((struct upn_daemon *)ctx)->kmod);
}

static void on_store(void *ctx, uint32_t events)
{
	struct runtime *rt = ctx;
	uint64_t n;

	if (read(rt->storefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		upn_warn("store: eventfd: %s", strerror(errno));
}

static int select_source(struct upn_daemon *d)
{
	const char *why;

	switch (d->cfg.source) {
	case UPN_SOURCE_KMOD:
		if (!upn_kmod_available()) {
			upn_err("source = kmod: the upnotify module is not loaded (modprobe "
				"upnotify)");
			return -1;
		}
		d->source = UPN_SOURCE_KMOD;
		upn_info("event source: kmod (source = kmod)");
		break;
	case UPN_SOURCE_NFQUEUE:
		d->source = UPN_SOURCE_NFQUEUE;
		upn_info("event source: nfqueue (source = nfqueue)");
		break;
	default:
		d->source = upn_kmod_available() ? UPN_SOURCE_KMOD : UPN_SOURCE_NFQUEUE;
		upn_info("event source: %s (source = auto: the upnotify module is %s)",
			 upn_source_name(d->source),
			 d->source == UPN_SOURCE_KMOD ? "loaded" : "not loaded");
	}
	why = upn_config_mode_error(d->source, d->cfg.mode);
	if (why) {
		upn_err("[detect] mode = %s %s", upn_mode_name(d->cfg.mode), why);
		return -1;
	}
	return 0;
}

/* The module, or NFQUEUE with its iptables rules. */
static int open_source(struct runtime *rt)
{
	struct upn_daemon *d = &rt->d;

	if (d->source == UPN_SOURCE_KMOD) {
		d->kmod = upn_kmod_open(d);
		if (!d->kmod)
			return -1;
		rt->kmod_h = (struct upn_loop_handler){ on_kmod, d };
		return upn_loop_add(&d->loop, upn_kmod_fd(d->kmod), EPOLLIN, &rt->kmod_h);
	}
	if (upn_nfq_open(&d->nfq, d->cfg.queue, on_packet, d))
		return -1;
	rt->nfq_h = (struct upn_loop_handler){ on_nfq, d };
	if (upn_loop_add(&d->loop, upn_nfq_fd(&d->nfq), EPOLLIN, &rt->nfq_h))
		return -1;
	if (d->cfg.install_rules) {
		if (upn_rules_install(&d->cfg))
			return -1;
		d->rules_installed = true;
	}
	return 0;
}

/* Every portal connection is a descriptor: raise the soft limit to the hard one, so
 * that max_connections is what limits them, not a default of 1024. */
static void raise_nofile(const struct upn_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->portal.max_connections + 256;

	if (!cfg->portal.enable || getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		upn_warn("portal: only %llu file descriptors for max_connections = %u; raise "
			 "LimitNOFILE",
			 (unsigned long long)rl.rlim_cur, cfg->portal.max_connections);
}

/* The portal intercepts exactly the servers that are down. */
static void on_server_state(void *ctx, const struct upn_addr *server, uint8_t old, uint8_t now)
{
	if ((old == UPN_SERVER_DOWN) != (now == UPN_SERVER_DOWN))
		upn_portal_server_state(ctx, server, now == UPN_SERVER_DOWN);
}

/* The portal's links (confirmation, unsubscribe) are signed with the store's key and
 * point at gateway_url; the mailer makes them too. Read before the writer starts. */
static int link_setup(struct upn_daemon *d)
{
	if (!d->cfg.portal.enable)
		return 0;
	if (upn_store_secret(d->store, "portal", d->cfg.mail.link_key,
			     sizeof(d->cfg.mail.link_key))) {
		upn_err("store: cannot read or create the portal's signing key");
		return -1;
	}
	snprintf(d->cfg.mail.link_base, sizeof(d->cfg.mail.link_base), "%s",
		 d->cfg.portal.gateway_url);
	return 0;
}

/* [commands]: always ready for `upnotifyctl mail`; the mailbox is polled if set. */
static int mail_commands(struct upn_daemon *d)
{
	const struct upn_commands_config *cc = &d->cfg.commands;
	char err[512];

	d->cmds = malloc(sizeof(*d->cmds));
	if (!d->cmds || upn_cmdexec_init(d->cmds, d)) {
		free(d->cmds);
		d->cmds = NULL;
		upn_err("out of memory");
		return -1;
	}
	if (!cc->mailbox[0])
		return 0;
	if (!cc->nallow)
		upn_warn("commands: no allow line: every command mail will be refused");
	d->cmdmail = upn_cmdmail_start(d, err, sizeof(err));
	if (!d->cmdmail) {
		upn_err("commands: %s", err);
		return -1;
	}
	upn_info("commands: polling %s every %u s, %zu senders allowed", cc->mailbox,
		 cc->poll_ms / 1000, cc->nallow);
	return 0;
}

static int setup(struct runtime *rt)
{
	struct upn_daemon *d = &rt->d;
	struct upn_store_loader loader = { d, load_server, load_entry, load_client, load_srvmap };
	char err[512];
	int ret;

	d->started = (int64_t)(upn_now_real_ns() / 1000000000ull);
	if (upn_loop_init(&d->loop))
		return -1;
	if (upn_make_parent(d->cfg.store_path, 0700) || upn_make_parent(d->cfg.ctl_socket, 0755)) {
		upn_err("cannot create the directories for %s and %s: %s", d->cfg.store_path,
			d->cfg.ctl_socket, strerror(errno));
		return -1;
	}
	d->store = upn_store_open(d->cfg.store_path, err, sizeof(err));
	if (!d->store) {
		upn_err("store: %s", err);
		return -1;
	}
	upn_journal_init(&d->journal, d->store);
	if (upn_clients_init(&d->clients, UPN_CLIENTS_MAX, &d->journal) ||
	    upn_srvmap_init(&d->srvmap, UPN_SRVMAP_MAX, &d->journal) ||
	    upn_waitlist_init(&d->wl, d->cfg.total_max, d->cfg.per_server_max, &d->journal)) {
		upn_err("out of memory");
		return -1;
	}
	d->wl.clients = &d->clients;
	d->wl.only_known_clients = d->cfg.only_known_clients;
	ret = upn_store_load(d->store, &loader);
	if (ret) {
		upn_err("store: cannot load %s: %s", d->cfg.store_path, strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < d->cfg.nclients; i++) {
		ret = upn_clients_set(&d->clients, &d->cfg.clients[i].prefix,
				      d->cfg.clients[i].mail, d->started, true);
		if (ret) {
			upn_err("[clients]: cannot add %s: %s", d->cfg.clients[i].mail,
				strerror(-ret));
			return -1;
		}
	}
	if (config_servers(d))
		return -1;
	if (link_setup(d))
		return -1;
	upn_info("loaded %u servers, %u waiting clients, %u mail addresses, %u server map entries",
		 d->wl.servers.live, upn_waitlist_count(&d->wl), upn_clients_count(&d->clients),
		 upn_srvmap_count(&d->srvmap));
	upn_notify_init(&d->notify, &d->wl, &d->clients, &d->journal, d->cfg.max_wait_s);
	upn_notify_set_relay(&d->notify, &d->srvmap, d->cfg.relay_max_clients);
	/* Subscribers by mail may be stored from an earlier [commands]: always direct. */
	upn_notify_set_subscriber(&d->notify, &d->cfg.commands.subscriber_prefix);
	if (upn_detect_init(&d->detect, &d->cfg, &d->wl, on_event, d)) {
		upn_err("out of memory");
		return -1;
	}
	if (select_source(d))
		return -1;

	rt->sigfd = upn_sigfd_open();
	rt->sig_h = (struct upn_loop_handler){ on_signal, rt };
	if (rt->sigfd < 0 || upn_loop_add(&d->loop, rt->sigfd, EPOLLIN, &rt->sig_h))
		return -1;

	rt->storefd = upn_store_start(d->store);
	rt->store_h = (struct upn_loop_handler){ on_store, rt };
	if (rt->storefd < 0 || upn_loop_add(&d->loop, rt->storefd, EPOLLIN, &rt->store_h)) {
		upn_err("store: cannot start the writer thread");
		return -1;
	}

	if (open_source(rt))
		return -1;

	if (d->cfg.portal.enable) {
		raise_nofile(&d->cfg);
		d->portal = upn_portal_open(d);
		if (!d->portal)
			return -1;
		d->wl.on_state = on_server_state;
		d->wl.on_state_ctx = d->portal;
	}
	/* Always: webhooks go out without an SMTP relay, and stored servers may name
	 * one at any time. Without a relay, mails wait in the outbox. */
	d->mailer = upn_mailer_start(&d->cfg.mail, d->cfg.store_path, err, sizeof(err));
	if (!d->mailer) {
		upn_err("mail: %s", err);
		return -1;
	}
	if (!d->cfg.mail.nrelays)
		upn_warn("mail: no relay configured; mails stay in the outbox");
	if (upn_recovery_open(d))
		return -1;
	upn_recovery_probe_all(d);

	d->ctl = upn_control_open(d, d->cfg.ctl_socket, d->cfg.ctl_mode);
	if (!d->ctl)
		return -1;
	if (mail_commands(d))
		return -1;
	if (d->kmod)
		upn_info("upnotifyd %s running: source kmod, mode %s, syn_timeout %u ms", VERSION,
			 upn_mode_name(d->cfg.mode), d->cfg.syn_timeout_ms);
	else
		upn_info("upnotifyd %s running: source nfqueue, queue %u, syn_timeout %u ms",
			 VERSION, d->cfg.queue, d->cfg.syn_timeout_ms);
	return 0;
}

static int run(struct runtime *rt)
{
	struct upn_daemon *d = &rt->d;

	int64_t next_purge = upn_now_mono_ms() + PURGE_INTERVAL_MS;
	uint64_t durable;

	while (!d->loop.stop) {
		int64_t now = upn_now_mono_ms(), next = upn_detect_next_deadline(&d->detect);
		int64_t deadlines[] = { upn_journal_deadline(&d->journal), upn_recovery_deadline(d),
					upn_portal_deadline(d->portal) };
		int timeout = 1000;

		for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++)
			if (deadlines[i] >= 0 && (next < 0 || deadlines[i] < next))
				next = deadlines[i];
		if (next >= 0 && next - now < timeout)
			timeout = next > now ? (int)(next - now) : 0;
		if (upn_loop_once(&d->loop, timeout) < 0) {
			upn_err("event loop: %s", strerror(errno));
			return 1;
		}
		now = upn_now_mono_ms();
		upn_detect_expire(&d->detect, now, upn_now_real_ns());
		upn_recovery_tick(d, now);
		if (now >= next_purge) {
			upn_notify_purge(&d->notify, (int64_t)(upn_now_real_ns() / 1000000000ull));
			next_purge = now + PURGE_INTERVAL_MS;
		}
		if (upn_journal_due(&d->journal, now))
			upn_journal_flush(&d->journal);
		durable = upn_store_durable_seq(d->store);
		/* Mails are the mailer's to see only once they are committed. */
		if (d->mail_barrier && durable >= d->mail_barrier) {
			d->mail_barrier = 0;
			if (d->mailer)
				upn_mailer_kick(d->mailer);
		}
		upn_control_tick(d->ctl, durable, now);
		upn_portal_tick(d->portal, durable);
		upn_cmdmail_tick(d->cmdmail, durable);
	}
	return 0;
}

/* Nothing recorded may be lost on a clean stop: hand over and commit everything. */
static void drain(struct upn_daemon *d)
{
	for (int i = 0; i < 600 && d->journal.n; i++) {
		if (!upn_journal_flush(&d->journal))
			usleep(10000);
	}
	if (d->journal.n)
		upn_err("store: %zu changes could not be written", d->journal.n);
}

static void teardown(struct runtime *rt)
{
	struct upn_daemon *d = &rt->d;

	if (d->rules_installed)
		upn_rules_remove();
	d->wl.on_state = NULL;
	upn_portal_close(d->portal);
	d->portal = NULL;
	upn_recovery_close(d);
	if (d->mailer)
		upn_mailer_stop(d->mailer);
	if (d->nfq.nl)
		upn_nfq_close(&d->nfq);
	if (d->kmod) {
		upn_loop_del(&d->loop, upn_kmod_fd(d->kmod));
		upn_kmod_close(d->kmod);
		d->kmod = NULL;
	}
	/* A command mail in hand stays in the mailbox for the next start. */
	upn_cmdmail_stop(d->cmdmail);
	d->cmdmail = NULL;
	upn_control_close(d->ctl);
	if (d->cmds) {
		upn_cmdexec_destroy(d->cmds);
		free(d->cmds);
		d->cmds = NULL;
	}
	if (d->store) {
		drain(d);
		upn_store_close(d->store);
	}
	upn_detect_destroy(&d->detect);
	upn_waitlist_destroy(&d->wl);
	upn_clients_destroy(&d->clients);
	upn_srvmap_destroy(&d->srvmap);
	upn_journal_destroy(&d->journal);
	upn_loop_destroy(&d->loop);
	upn_config_free(&d->cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, 'C' },
		{ "print-rules", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	int fg = 0, verbose = 0, check = 0, print_rules = 0, opt, status = 1;
	static struct runtime rt = { .sigfd = -1, .storefd = -1 };
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
			check = 1;
			break;
		case 'R':
			print_rules = 1;
			break;
		case 'V':
			printf("upnotifyd %s\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (upn_config_load(config, &rt.d.cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* The relay keys are part of the configuration too: --check reads them. */
	if (upn_config_relay_keys(&rt.d.cfg, config, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		upn_config_free(&rt.d.cfg);
		return 2;
	}
	if (check) {
		/* The template is part of the configuration: a bad one must fail here, not
		 * at start. */
		if (rt.d.cfg.mail.template_path[0]) {
			char *t = upn_mail_template_load(rt.d.cfg.mail.template_path, err,
							 sizeof(err));

			if (!t) {
				fprintf(stderr, "%s\n", err);
				upn_config_free(&rt.d.cfg);
				return 2;
			}
			free(t);
		}
		/* So are the portal's pages. */
		if (rt.d.cfg.portal.enable && rt.d.cfg.portal.templates[0]) {
			struct upn_pages *pages;

			if (upn_pages_load(&pages, rt.d.cfg.portal.templates, err, sizeof(err))) {
				fprintf(stderr, "%s: [portal] templates: %s\n", config, err);
				upn_config_free(&rt.d.cfg);
				return 2;
			}
			upn_pages_free(pages);
		}
		printf("%s: configuration OK\n", config);
		upn_config_free(&rt.d.cfg);
		return 0;
	}
	if (print_rules) {
		char *v4 = upn_rules_render(&rt.d.cfg, AF_INET);
		char *v6 = upn_rules_render(&rt.d.cfg, AF_INET6);

		printf("# iptables-restore --noflush\n%s# ip6tables-restore --noflush\n%s", v4, v6);
		free(v4);
		free(v6);
		upn_config_free(&rt.d.cfg);
		return 0;
	}
	if (!fg && daemon(0, 0)) {
		perror("upnotifyd: daemon");
		return 1;
	}
	upn_log_open("upnotifyd", fg, verbose ? LOG_DEBUG : LOG_INFO);
	if (!setup(&rt))
		status = run(&rt);
	teardown(&rt);
	return status;
}
