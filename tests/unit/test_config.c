// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upnotify.conf: each case is a file's text and what loading it must give, either
 * the parsed values or the error with its exact "path:LINE:" prefix. Each text is
 * written to a fresh temporary file, so the path in the message is known.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "store.h"

static const char *pfmt(const struct upn_prefix *p)
{
	static char buf[8][UPN_ADDRSTRLEN];
	static int n;

	return upn_prefix_fmt(p, buf[n++ & 7]);
}

static bool code_set(const uint8_t *bitmap, const uint8_t *codes, size_t n)
{
	uint8_t want[32] = { 0 };

	for (size_t i = 0; i < n; i++)
		want[codes[i] >> 3] |= (uint8_t)(1u << (codes[i] & 7));
	return !memcmp(bitmap, want, sizeof(want));
}

/* ---- checks of parsed values, one per OK case ---------------------------------- */

/* A wrong value is reported and counted, and the table goes on. */
static int chk_failures;

#define expect(cond, ...)                         \
	do {                                      \
		if (!(cond)) {                    \
			print_error(__VA_ARGS__); \
			print_error("\n");        \
			chk_failures++;           \
		}                                 \
	} while (0)

static void chk_defaults(const char *name, const struct upn_config *c)
{
	static const uint8_t v4[] = { 0, 1, 2, 3, 9, 10, 13 }, v6[] = { 0, 1, 3, 4, 5, 6 };

	expect(c->source == UPN_SOURCE_AUTO, "%s: source", name);
	expect(c->mode == UPNOTIFY_MODE_GATEWAY, "%s: mode", name);
	expect(c->nwatch == 0 && !c->watch && c->nignore == 0 && c->nclients == 0, "%s: lists",
	       name);
	expect(c->syn_timeout_ms == UPN_SYN_TIMEOUT_DEFAULT_MS, "%s: syn_timeout %u", name,
	       c->syn_timeout_ms);
	expect(c->count_refused && c->install_rules && !c->only_known_clients, "%s: bools", name);
	expect(c->queue == 0 && c->pending_max == UPN_PENDING_MAX_DEFAULT, "%s: queue", name);
	expect(c->per_server_max == UPN_WAITLIST_PER_SERVER_DEFAULT &&
		       c->total_max == UPN_WAITLIST_TOTAL_DEFAULT,
	       "%s: caps", name);
	expect(!strcmp(c->store_path, "/var/lib/upnotify/upnotify.db"), "%s: store", name);
	expect(!strcmp(c->ctl_socket, "/run/upnotify/upnotifyd.sock") && c->ctl_mode == 0600,
	       "%s: control", name);
	expect(code_set(c->icmp_codes, v4, sizeof(v4)), "%s: icmp codes", name);
	expect(code_set(c->icmp6_codes, v6, sizeof(v6)), "%s: icmp6 codes", name);
	expect(upn_config_code_counts(c->icmp_codes, 13) &&
		       !upn_config_code_counts(c->icmp_codes, 4),
	       "%s: code_counts", name);
}

static void chk_portal_defaults(const char *name, const struct upn_config *c)
{
	const struct upn_portal_config *p = &c->portal;

	expect(!p->enable && p->nports == 1 && p->ports[0] == 80, "%s: enable, ports", name);
	expect(p->mode == UPN_PORTAL_SERVER && !strcmp(p->listen, "[::]:8080") &&
		       !p->gateway_url[0] && !p->confirm,
	       "%s: mode, listen, url, confirm", name);
	expect(p->confirm_ttl_s == 86400 && p->reask_after_s == 30 * 86400, "%s: durations", name);
	expect(p->client_rate == 5 && p->address_rate == 3 && p->server_max == 10000 &&
		       p->max_connections == 1024 && p->timeout_s == 10 && p->max_body == 4096,
	       "%s: limits", name);
	expect(p->fwmark == 0x75706e && p->route_table == 30570, "%s: mark, table", name);
}

static void chk_portal(const char *name, const struct upn_config *c)
{
	const struct upn_portal_config *p = &c->portal;

	expect(p->enable && p->nports == 2 && p->ports[0] == 80 && p->ports[1] == 8000,
	       "%s: enable, ports", name);
	expect(p->mode == UPN_PORTAL_GATEWAY && !strcmp(p->listen, "0.0.0.0:9090"),
	       "%s: mode, listen", name);
	/* Trailing slashes go: links are made by appending "/.upnotify/...". */
	expect(!strcmp(p->gateway_url, "http://192.0.2.1:9090"), "%s: gateway_url '%s'", name,
	       p->gateway_url);
	expect(p->confirm && p->confirm_ttl_s == 7200 && p->reask_after_s == 7 * 86400,
	       "%s: confirm", name);
	expect(p->client_rate == 2 && p->address_rate == 1 && p->server_max == 50 &&
		       p->max_connections == 100 && p->timeout_s == 3 && p->max_body == 1024,
	       "%s: limits", name);
	expect(p->fwmark == 0x10 && p->route_table == 200, "%s: mark, table", name);
}

static void chk_full(const char *name, const struct upn_config *c)
{
	static const uint8_t v4[] = { 1, 3, 255 }, v6[] = { 4 };

	expect(c->source == UPN_SOURCE_NFQUEUE, "%s: source", name);
	expect(c->nwatch == 2 && !strcmp(pfmt(&c->watch[0]), "10.0.0.0/8") &&
		       !strcmp(pfmt(&c->watch[1]), "2001:db8::/32"),
	       "%s: watch", name);
	expect(c->nignore == 2 && !strcmp(pfmt(&c->ignore[0]), "192.168.1.10/32") &&
		       !strcmp(pfmt(&c->ignore[1]), "192.168.2.0/24"),
	       "%s: ignore_clients", name);
	expect(c->syn_timeout_ms == 250, "%s: syn_timeout %u", name, c->syn_timeout_ms);
	expect(!c->count_refused && !c->install_rules && c->only_known_clients, "%s: bools", name);
	expect(c->queue == 7 && c->pending_max == 1000, "%s: queue %u pending %u", name, c->queue,
	       c->pending_max);
	expect(code_set(c->icmp_codes, v4, sizeof(v4)), "%s: icmp_codes", name);
	expect(code_set(c->icmp6_codes, v6, sizeof(v6)), "%s: icmp6_codes", name);
	expect(c->per_server_max == 10 && c->total_max == 100, "%s: caps", name);
	expect(!strcmp(c->store_path, "/tmp/upn.db"), "%s: store", name);
	expect(!strcmp(c->ctl_socket, "/tmp/upn.sock") && c->ctl_mode == 0660, "%s: control %o",
	       name, c->ctl_mode);
	expect(c->nclients == 2 && !strcmp(pfmt(&c->clients[0].prefix), "10.1.0.0/16") &&
		       !strcmp(c->clients[0].mail, "ops@example.org") &&
		       !strcmp(pfmt(&c->clients[1].prefix), "192.168.1.5/32") &&
		       !strcmp(c->clients[1].mail, "alice@example.org"),
	       "%s: clients", name);
}

static void chk_timeout_2m(const char *name, const struct upn_config *c)
{
	expect(c->syn_timeout_ms == 120000, "%s: %u", name, c->syn_timeout_ms);
}

static void chk_timeout_min(const char *name, const struct upn_config *c)
{
	expect(c->syn_timeout_ms == UPN_SYN_TIMEOUT_MIN_MS, "%s: %u", name, c->syn_timeout_ms);
}

static void chk_timeout_max(const char *name, const struct upn_config *c)
{
	expect(c->syn_timeout_ms == UPN_SYN_TIMEOUT_MAX_MS, "%s: %u", name, c->syn_timeout_ms);
}

static void chk_watch3(const char *name, const struct upn_config *c)
{
	expect(c->nwatch == 3 && !strcmp(pfmt(&c->watch[0]), "10.0.0.0/8") &&
		       !strcmp(pfmt(&c->watch[1]), "172.16.0.0/12") &&
		       !strcmp(pfmt(&c->watch[2]), "192.168.0.0/16"),
	       "%s: %zu watch prefixes", name, c->nwatch);
}

static void chk_watch_repeated(const char *name, const struct upn_config *c)
{
	expect(c->nwatch == 2 && !strcmp(pfmt(&c->watch[1]), "2001:db8::/32"), "%s: %zu", name,
	       c->nwatch);
}

static void chk_watch_empty(const char *name, const struct upn_config *c)
{
	expect(c->nwatch == 0, "%s: %zu", name, c->nwatch);
}

static void chk_codes_continued(const char *name, const struct upn_config *c)
{
	static const uint8_t v4[] = { 0, 1, 3, 13 };

	expect(code_set(c->icmp_codes, v4, sizeof(v4)), "%s: codes %02x %02x", name,
	       c->icmp_codes[0], c->icmp_codes[1]);
}

static void chk_codes_replaced(const char *name, const struct upn_config *c)
{
	static const uint8_t v4[] = { 5 };

	expect(code_set(c->icmp_codes, v4, sizeof(v4)), "%s", name);
}

static void chk_bools_true(const char *name, const struct upn_config *c)
{
	expect(c->count_refused && c->install_rules && c->only_known_clients, "%s", name);
}

static void chk_bools_false(const char *name, const struct upn_config *c)
{
	expect(!c->count_refused && !c->install_rules && !c->only_known_clients, "%s", name);
}

static void chk_sources(const char *name, const struct upn_config *c)
{
	expect(c->source == UPN_SOURCE_KMOD, "%s", name);
}

static void chk_mode_host(const char *name, const struct upn_config *c)
{
	expect(c->mode == UPNOTIFY_MODE_HOST && c->source == UPN_SOURCE_KMOD, "%s", name);
}

static void chk_mode_all_auto(const char *name, const struct upn_config *c)
{
	expect(c->mode == UPNOTIFY_MODE_ALL && c->source == UPN_SOURCE_AUTO, "%s", name);
}

static void chk_mode_gateway(const char *name, const struct upn_config *c)
{
	expect(c->mode == UPNOTIFY_MODE_GATEWAY && c->source == UPN_SOURCE_NFQUEUE, "%s", name);
}

static void chk_limits(const char *name, const struct upn_config *c)
{
	expect(c->queue == 65535 && c->pending_max == UPN_PENDING_MAX_LIMIT &&
		       c->per_server_max == 1 && c->total_max == UPN_WAITLIST_TOTAL_LIMIT &&
		       c->ctl_mode == 0,
	       "%s", name);
}

static void chk_client_v6(const char *name, const struct upn_config *c)
{
	expect(c->nclients == 1 && !strcmp(pfmt(&c->clients[0].prefix), "2001:db8::/32") &&
		       !strcmp(c->clients[0].mail, "v6@example.org"),
	       "%s: %zu clients", name, c->nclients);
}

static void chk_client_loop(const char *name, const struct upn_config *c)
{
	expect(c->nclients == 1 && !strcmp(pfmt(&c->clients[0].prefix), "::1/128") &&
		       !strcmp(c->clients[0].mail, "v6@example.org"),
	       "%s: %zu clients", name, c->nclients);
}

static void chk_client_eq_v6(const char *name, const struct upn_config *c)
{
	expect(c->nclients == 1 && !strcmp(pfmt(&c->clients[0].prefix), "2001:db8::/32") &&
		       !strcmp(c->clients[0].mail, "a=b@example.org"),
	       "%s: %zu clients", name, c->nclients);
}

static void chk_client_eq_v4(const char *name, const struct upn_config *c)
{
	expect(c->nclients == 1 && !strcmp(pfmt(&c->clients[0].prefix), "10.0.0.0/8") &&
		       !strcmp(c->clients[0].mail, "a=b@example.org"),
	       "%s: %zu clients", name, c->nclients);
}

static void chk_client_comment(const char *name, const struct upn_config *c)
{
	expect(c->nclients == 1 && !strcmp(c->clients[0].mail, "a@example.org"), "%s", name);
}

static void chk_long_ok(const char *name, const struct upn_config *c)
{
	expect(c->nwatch == 1, "%s", name);
}

static void chk_servers(const char *name, const struct upn_config *c)
{
	const struct upn_config_server *s = c->servers;

	expect(c->nservers == 5, "%s: %zu servers", name, c->nservers);
	if (c->nservers != 5)
		return;
	expect(!strcmp(pfmt(&s[0].prefix), "10.0.2.2/32") && s[0].mode == UPN_RELAY_SERVER &&
		       !strcmp(s[0].target, "agent@srv.example.test") && !s[0].key_id[0] &&
		       s[0].line == 4,
	       "%s: 0", name);
	expect(!strcmp(pfmt(&s[1].prefix), "10.0.3.0/24") && s[1].mode == UPN_RELAY_NMS &&
		       !strcmp(s[1].target, "nms@example.test") && !strcmp(s[1].key_id, "nms.2") &&
		       s[1].line == 5,
	       "%s: 1", name);
	expect(!strcmp(pfmt(&s[2].prefix), "2001:db8:2::/64") && s[2].mode == UPN_RELAY_WEBHOOK &&
		       !strcmp(s[2].target, "https://status.example.test/hook?x=1") &&
		       !strcmp(s[2].key_id, "hook_key-1"),
	       "%s: 2", name);
	expect(!strcmp(pfmt(&s[3].prefix), "2001:db8:3::7/128") && s[3].mode == UPN_RELAY_WEBHOOK &&
		       !strcmp(s[3].target, "http://[2001:db8::9]:8080/h"),
	       "%s: 3", name);
	expect(!strcmp(pfmt(&s[4].prefix), "192.0.2.0/24") && s[4].mode == UPN_RELAY_DIRECT &&
		       !s[4].target[0],
	       "%s: 4", name);
	expect(!strcmp(c->relay_key_file, "/etc/upnotify/relay.keys") &&
		       c->mail.webhook_timeout_ms == 3000 && c->relay_max_clients == 500,
	       "%s: [relay]", name);
}

static void chk_relay_defaults_direct(const char *name, const struct upn_config *c)
{
	expect(c->nservers == 1 && c->servers[0].mode == UPN_RELAY_DIRECT, "%s", name);
}

static void chk_relay_defaults(const char *name, const struct upn_config *c)
{
	expect(!c->nservers && !c->relay_key_file[0] && c->mail.webhook_timeout_ms == 10000 &&
		       c->relay_max_clients == 100000,
	       "%s", name);
}

/* ---- the table --------------------------------------------------------------------- */

#define PAD40 "                                        "
#define PAD160 PAD40 PAD40 PAD40 PAD40
/* "watch =" + 181 blanks + "10.0.0.0/8" is 198 characters, the most inih reads in
 * one piece with its 200-byte buffer (the newline and the NUL take the rest). */
#define X40 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define SRV "[relay]\nkey_file = /etc/upnotify/relay.keys\n[servers]\n"
#define LINE198                                  \
	"watch =" PAD160 "                     " \
	"10.0.0.0/8"
#define LINE199                                   \
	"watch =" PAD160 "                      " \
	"10.0.0.0/8"
#define LINE250                                      \
	"watch = 10.0.0.0/8" PAD160 PAD40 "        " \
	"   172.16.0.0/12, 10.0.0.0/8"

static const struct config_case {
	const char *name;
	const char *text;
	void (*ok)(const char *name, const struct upn_config *c); /* NULL: an error */
	int line;	 /* 0: "path: ..." without a line */
	const char *msg; /* substring of the message after the prefix */
} cases[] = {
	{ "empty file", "", chk_defaults, 0, NULL },
	{ "portal defaults", "[portal]\n", chk_portal_defaults, 0, NULL },
	{ "portal",
	  "[mail]\nrelay = 127.0.0.1\n[portal]\nenable = yes\nports = 80, 8000, 80\n"
	  "mode = gateway\nlisten = 0.0.0.0:9090\ngateway_url = http://192.0.2.1:9090//\n"
	  "confirm = yes\nconfirm_ttl = 2h\nreask_after = 7d\nclient_rate = 2\n"
	  "address_rate = 1\nserver_max = 50\nmax_connections = 100\ntimeout = 3s\n"
	  "max_body = 1024\nfwmark = 0x10\nroute_table = 200\n",
	  chk_portal, 0, NULL },
	{ "portal: HTTPS port", "[portal]\nports = 80 443\n", NULL, 2, "443 is HTTPS" },
	{ "portal: bad mode", "[portal]\nmode = proxy\n", NULL, 2,
	  "mode: expected server or gateway" },
	{ "portal: https URL", "[portal]\ngateway_url = https://192.0.2.1\n", NULL, 2,
	  "gateway_url: expected a URL like http://" },
	{ "portal: URL with a quote", "[portal]\ngateway_url = http://a\"b/\n", NULL, 2,
	  "gateway_url" },
	{ "portal: URL with a query", "[portal]\ngateway_url = http://a/?x=1\n", NULL, 2,
	  "gateway_url" },
	{ "portal: gateway mode without URL", "[portal]\nenable = yes\nmode = gateway\n", NULL, 0,
	  "[portal] mode = gateway needs gateway_url" },
	{ "portal: confirm without relay",
	  "[portal]\nenable = yes\nconfirm = yes\ngateway_url = http://192.0.2.1\n", NULL, 0,
	  "confirm = yes needs a [mail] relay" },
	{ "portal: local route table", "[portal]\nroute_table = 255\n", NULL, 2, "route_table" },
	{ "portal: zero mark", "[portal]\nfwmark = 0\n", NULL, 2, "fwmark" },
	{ "portal: body too big", "[portal]\nmax_body = 1000000\n", NULL, 2, "max_body" },
	{ "portal: short confirm_ttl", "[portal]\nconfirm_ttl = 10ms\n", NULL, 2,
	  "confirm_ttl: expected a duration from 1s" },
	{ "portal: unknown key", "[portal]\nenabled = yes\n", NULL, 2,
	  "unknown key 'enabled' in [portal]" },
	{ "portal: too many ports", "[portal]\nports = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
	  NULL, 2, "more than 16 ports" },
	{ "only comments", "; a comment\n# another\n\n   \n", chk_defaults, 0, NULL },
	{ "empty sections", "[detect]\n[waitlist]\n[store]\n[control]\n[clients]\n", chk_defaults,
	  0, NULL },
	{ "everything",
	  "# upnotify.conf\n"
	  "[detect]\n"
	  "source = nfqueue\n"
	  "watch = 10.0.0.0/8, 2001:db8::/32\n"
	  "ignore_clients = 192.168.1.10 192.168.2.0/24\n"
	  "syn_timeout = 250ms\n"
	  "count_refused = no\n"
	  "install_rules = off\n"
	  "queue = 7\n"
	  "pending_max = 1000\n"
	  "icmp_codes = 1, 3,255\n"
	  "icmp6_codes = 4\n"
	  "\n"
	  "[waitlist]\n"
	  "per_server_max = 10\n"
	  "total_max = 100\n"
	  "only_known_clients = yes\n"
	  "[store]\n"
	  "path = /tmp/upn.db\n"
	  "[control]\n"
	  "socket = /tmp/upn.sock\n"
	  "mode = 0660\n"
	  "[clients]\n"
	  "10.1.0.0/16 = ops@example.org\n"
	  "192.168.1.5 = alice@example.org   ; the lab's printer\n",
	  chk_full, 0, NULL },
	{ "duration minutes", "[detect]\nsyn_timeout = 2m\n", chk_timeout_2m, 0, NULL },
	{ "duration minimum", "[detect]\nsyn_timeout = 100ms\n", chk_timeout_min, 0, NULL },
	{ "duration maximum", "[detect]\nsyn_timeout = 1h\n", chk_timeout_max, 0, NULL },
	{ "bare seconds", "[detect]\nsyn_timeout = 3600\n", chk_timeout_max, 0, NULL },
	{ "list continued on indented lines",
	  "[detect]\nwatch = 10.0.0.0/8,\n  172.16.0.0/12\n\t192.168.0.0/16\n", chk_watch3, 0,
	  NULL },
	{ "list continued after a comment",
	  "[detect]\nwatch = 10.0.0.0/8\n; more below\n  172.16.0.0/12, 192.168.0.0/16\n",
	  chk_watch3, 0, NULL },
	{ "repeated key appends", "[detect]\nwatch = 10.0.0.0/8\nwatch = 2001:db8::/32\n",
	  chk_watch_repeated, 0, NULL },
	{ "empty list", "[detect]\nwatch =\n", chk_watch_empty, 0, NULL },
	/* Fails today: a continuation line calls parse_codes() again, which clears the
	 * bitmap, so only the last line's codes are kept. */
	{ "icmp codes continued", "[detect]\nicmp_codes = 0, 1\n  3, 13\n", chk_codes_continued, 0,
	  NULL },
	{ "icmp codes replace the defaults", "[detect]\nicmp_codes = 5\n", chk_codes_replaced, 0,
	  NULL },
	{ "bools true",
	  "[detect]\ncount_refused = TRUE\ninstall_rules = 1\n[waitlist]\nonly_known_clients = On\n",
	  chk_bools_true, 0, NULL },
	{ "bools false",
	  "[detect]\ncount_refused = No\ninstall_rules = 0\n[waitlist]\nonly_known_clients = false\n",
	  chk_bools_false, 0, NULL },
	{ "source kmod", "[detect]\nsource = kmod\n", chk_sources, 0, NULL },
	{ "mode host with kmod", "[detect]\nsource = kmod\nmode = host\n", chk_mode_host, 0, NULL },
	{ "mode before source", "[detect]\nmode = host\nsource = kmod\n", chk_mode_host, 0, NULL },
	/* auto may still pick the module: checked again at start. */
	{ "mode all with auto", "[detect]\nmode = all\n", chk_mode_all_auto, 0, NULL },
	{ "mode gateway with nfqueue", "[detect]\nsource = nfqueue\nmode = gateway\n",
	  chk_mode_gateway, 0, NULL },
	{ "limits at their bounds",
	  "[detect]\nqueue = 65535\npending_max = 16777216\n[waitlist]\nper_server_max = 1\n"
	  "total_max = 67108864\n[control]\nmode = 0\n",
	  chk_limits, 0, NULL },
	/* inih splits "name = value" at the first '=' or ':': an IPv6 key must come back
	 * whole whatever its first colon. */
	{ "IPv6 client", "[clients]\n2001:db8::/32 = v6@example.org\n", chk_client_v6, 0, NULL },
	{ "IPv6 client without blanks", "[clients]\n2001:db8::/32=v6@example.org\n", chk_client_v6,
	  0, NULL },
	{ "IPv6 client with a comment", "[clients]\n2001:db8:0::/32 = v6@example.org ; lab\n",
	  chk_client_v6, 0, NULL },
	{ "IPv6 key starting with a colon", "[clients]\n::1 = v6@example.org\n", chk_client_loop, 0,
	  NULL },
	{ "IPv6 client whose mail has an '='", "[clients]\n2001:db8::/32 = a=b@example.org\n",
	  chk_client_eq_v6, 0, NULL },
	/* Fails today: a '=' in the value is taken for a sign that inih split at a colon,
	 * so the key becomes "10.0.0.0/8:a". '=' is a valid mail character, and the
	 * control socket accepts the same address. */
	{ "IPv4 client whose mail has an '='", "[clients]\n10.0.0.0/8 = a=b@example.org\n",
	  chk_client_eq_v4, 0, NULL },
	{ "client with a comment", "[clients]\n10.0.0.0/8 = a@example.org ; ops\n",
	  chk_client_comment, 0, NULL },
	{ "198-character line", "[detect]\n" LINE198 "\n", chk_long_ok, 0, NULL },
	{ "198 characters at EOF", "[detect]\n" LINE198, chk_long_ok, 0, NULL },

	/* errors: the first bad line is the one reported */
	{ "unknown section", "[detect]\nqueue = 1\n[bogus]\nx = 1\n", NULL, 4,
	  "unknown section [bogus]" },
	{ "key before any section", "queue = 1\n", NULL, 1, "unknown section []" },
	{ "unknown key in detect", "[detect]\nbogus = 1\n", NULL, 2,
	  "unknown key 'bogus' in [detect]" },
	{ "unknown key in waitlist", "[waitlist]\nwatch = 10.0.0.0/8\n", NULL, 2,
	  "unknown key 'watch' in [waitlist]" },
	{ "unknown key in store", "[store]\n\n\nfile = /x\n", NULL, 4,
	  "unknown key 'file' in [store]" },
	{ "unknown key in control", "[control]\nsocket = /x\nowner = root\n", NULL, 3,
	  "unknown key 'owner' in [control]" },
	{ "bad duration", "[detect]\nsyn_timeout = 5x\n", NULL, 2,
	  "syn_timeout: expected a duration" },
	{ "negative duration", "[detect]\nsyn_timeout = -5s\n", NULL, 2, "syn_timeout" },
	{ "duration too short", "[detect]\nsyn_timeout = 99ms\n", NULL, 2, "got '99ms'" },
	{ "duration too long", "[detect]\nsyn_timeout = 2h\n", NULL, 2, "from 100ms to 3600000ms" },
	{ "duration overflow", "[detect]\nsyn_timeout = 99999999999999999999d\n", NULL, 2,
	  "syn_timeout" },
	{ "bad prefix", "[detect]\nwatch = 10.0.0.0/33\n", NULL, 2,
	  "watch: '10.0.0.0/33' is not an IPv4 or IPv6 address or prefix" },
	{ "bad prefix in a list", "[detect]\nwatch = 10.0.0.0/8, banana, 172.16.0.0/12\n", NULL, 2,
	  "'banana' is not" },
	{ "bad prefix on a continuation line", "[detect]\nwatch = 10.0.0.0/8\n  ::/129\n", NULL, 3,
	  "'::/129'" },
	{ "host bits", "[detect]\nignore_clients = 10.0.0.1/8\n", NULL, 2,
	  "ignore_clients: '10.0.0.1/8' has host bits set beyond its prefix length" },
	{ "bad bool", "[detect]\ncount_refused = maybe\n", NULL, 2,
	  "count_refused: expected yes or no, got 'maybe'" },
	{ "bad bool in waitlist", "[waitlist]\nonly_known_clients = 2\n", NULL, 2,
	  "only_known_clients: expected yes or no" },
	{ "bad source", "[detect]\nsource = ebpf\n", NULL, 2,
	  "source: expected auto, nfqueue or kmod" },
	{ "bad mode", "[detect]\nmode = router\n", NULL, 2,
	  "mode: expected gateway, host or all, got 'router'" },
	{ "mode host with nfqueue", "[detect]\nsource = nfqueue\nmode = host\n", NULL, 0,
	  "mode = host with source = nfqueue needs the kernel module" },
	{ "mode all with nfqueue, in either order", "[detect]\nmode = all\nsource = nfqueue\n",
	  NULL, 0, "mode = all with source = nfqueue" },
	{ "queue too big", "[detect]\nqueue = 65536\n", NULL, 2, "queue: expected a whole number" },
	{ "queue negative", "[detect]\nqueue = -1\n", NULL, 2, "queue" },
	{ "queue with junk", "[detect]\nqueue = 7x\n", NULL, 2, "got '7x'" },
	{ "pending_max zero", "[detect]\npending_max = 0\n", NULL, 2, "pending_max" },
	{ "total_max too big", "[waitlist]\ntotal_max = 67108865\n", NULL, 2, "total_max" },
	{ "icmp code too big", "[detect]\nicmp_codes = 3, 256\n", NULL, 2,
	  "icmp_codes: expected a whole number from 0 to 255, got '256'" },
	{ "icmp code on a continuation line", "[detect]\nicmp6_codes = 1\n  4\n  x\n", NULL, 4,
	  "icmp6_codes: " },
	{ "icmp code not a number", "[detect]\nicmp6_codes = port\n", NULL, 2, "got 'port'" },
	{ "relative store path", "[store]\npath = upnotify.db\n", NULL, 2,
	  "path: expected an absolute path" },
	{ "bad mode", "[control]\nmode = 0999\n", NULL, 2, "mode: expected an octal mode" },
	{ "mode too wide", "[control]\nmode = 01777\n", NULL, 2, "mode" },
	{ "empty mode", "[control]\nmode =\n", NULL, 2, "mode" },
	{ "bad mail", "[clients]\n10.0.0.0/8 = not-a-mail\n", NULL, 2,
	  "'not-a-mail' is not a usable mail address" },
	{ "mail without a dot", "[clients]\n10.0.0.0/8 = root@localhost\n", NULL, 2,
	  "not a usable mail address" },
	{ "mail with a space", "[clients]\n10.0.0.0/8 = a b@example.org\n", NULL, 2,
	  "not a usable mail address" },
	{ "mail with brackets", "[clients]\n10.0.0.0/8 = <a@example.org>\n", NULL, 2,
	  "not a usable mail address" },
	{ "client host bits", "[clients]\n10.0.0.1/8 = a@example.org\n", NULL, 2,
	  "'10.0.0.1/8' has host bits set" },
	{ "IPv6 client host bits", "[clients]\n2001:db8::1/32 = a@example.org\n", NULL, 2,
	  "'2001:db8::1/32' has host bits set" },
	{ "IPv6 client bad mail", "[clients]\n2001:db8::/32 = a@b\n", NULL, 2,
	  "'a@b' is not a usable mail address" },
	{ "socket path longer than sun_path", "[control]\nsocket = /run/" X40 X40 "/" X40 "\n",
	  NULL, 2, "socket: longer than 107 characters" },
	{ "servers",
	  "[relay]\nkey_file = /etc/upnotify/relay.keys\n[servers]\n"
	  "10.0.2.2 = server agent@srv.example.test\n"
	  "10.0.3.0/24 = nms nms@example.test nms.2\n"
	  "2001:db8:2::/64 = webhook https://status.example.test/hook?x=1 hook_key-1\n"
	  "2001:db8:3::7 = webhook   http://[2001:db8::9]:8080/h\n"
	  "192.0.2.0/24 = direct\n"
	  "[relay]\nwebhook_timeout = 3s\nmax_clients = 500\n",
	  chk_servers, 0, NULL },
	{ "relay defaults", "[relay]\n[servers]\n", chk_relay_defaults, 0, NULL },
	{ "direct needs no key file", "[servers]\n10.0.0.0/8 = direct\n", chk_relay_defaults_direct,
	  0, NULL },
	{ "server bad mode", SRV "10.0.2.2 = smtp agent@example.test\n", NULL, 4,
	  "'10.0.2.2': expected direct, server, nms or webhook, got 'smtp'" },
	{ "server no mode", SRV "10.0.2.2 =\n", NULL, 4,
	  "'10.0.2.2': expected MODE [TARGET] [KEYID]" },
	{ "server missing target", SRV "10.0.2.2 = server\n", NULL, 4,
	  "'10.0.2.2' = server: needs the agent's mail address" },
	{ "nms missing target", SRV "2001:db8::/32 = nms\n", NULL, 4,
	  "'2001:db8::/32' = nms: needs the agent's mail address" },
	{ "webhook missing target", SRV "10.0.2.2 = webhook\n", NULL, 4,
	  "'10.0.2.2' = webhook: needs a URL" },
	{ "server bad mail", SRV "10.0.2.2 = server agent\n", NULL, 4,
	  "'10.0.2.2' = server: the target is not a usable mail address" },
	{ "webhook bad URL scheme", SRV "10.0.2.2 = webhook ftp://example.test/x\n", NULL, 4,
	  "'10.0.2.2' = webhook: the target is not an http:// or https:// URL" },
	{ "webhook mail target", SRV "10.0.2.2 = webhook ops@example.test\n", NULL, 4,
	  "the target is not an http:// or https:// URL" },
	{ "direct with a target", SRV "10.0.2.2 = direct ops@example.test\n", NULL, 4,
	  "'10.0.2.2' = direct: direct takes no target" },
	{ "server bad key id", SRV "10.0.2.2 = server a@example.test bad/key\n", NULL, 4,
	  "'10.0.2.2': 'bad/key' is not a key id" },
	{ "server too many fields", SRV "10.0.2.2 = server a@example.test k1 extra\n", NULL, 4,
	  "'10.0.2.2': too many fields; expected MODE [TARGET] [KEYID]" },
	{ "server bad prefix", SRV "10.0.2.2/33 = direct\n", NULL, 4,
	  "'10.0.2.2/33' is not an IPv4 or IPv6 address or prefix" },
	{ "server host bits", SRV "2001:db8::1/64 = direct\n", NULL, 4,
	  "'2001:db8::1/64' has host bits set beyond its prefix length" },
	{ "server listed twice", SRV "10.0.2.0/24 = direct\n10.0.2.0/24 = nms n@example.test\n",
	  NULL, 5, "'10.0.2.0/24' is listed twice (first on line 4)" },
	{ "no key_file", "[servers]\n10.0.0.0/8 = direct\n10.0.2.2 = server a@example.test\n", NULL,
	  3, "[servers] 10.0.2.2/32 = server needs [relay] key_file" },
	{ "no key_file for a webhook",
	  "[servers]\n2001:db8::/32 = webhook https://example.test/\n[relay]\nmax_clients = 5\n",
	  NULL, 2, "[servers] 2001:db8::/32 = webhook needs [relay] key_file" },
	{ "relay key_file relative", "[relay]\nkey_file = relay.keys\n", NULL, 2,
	  "key_file: expected an absolute path" },
	{ "relay webhook_timeout", "[relay]\nwebhook_timeout = 0s\n", NULL, 2, "webhook_timeout" },
	{ "relay max_clients", "[relay]\nmax_clients = 0\n", NULL, 2, "max_clients" },
	{ "relay max_clients over", "[relay]\nmax_clients = 1000001\n", NULL, 2, "max_clients" },
	{ "relay unknown key", "[relay]\nmax_age = 1d\n", NULL, 2,
	  "unknown key 'max_age' in [relay]" },
	{ "client bad prefix", "[clients]\nnobody = a@example.org\n", NULL, 2,
	  "'nobody' is not an IPv4 or IPv6 address or prefix" },
	{ "line without =", "[detect]\nqueue = 1\nwatch 10.0.0.0/8\n", NULL, 3,
	  "syntax error: expected [section] or name = value" },
	{ "unterminated section", "[detect\n", NULL, 1, "syntax error" },
	{ "199-character line", "[detect]\n" LINE199 "\n", NULL, 2,
	  "line longer than 198 characters" },
	{ "a line over 200 characters", "[detect]\nqueue = 1\n" LINE250 "\nqueue = 2\n", NULL, 3,
	  "line longer than 198 characters; continue a list on an indented line" },
	{ "long line without =",
	  "[detect]\n"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	  NULL, 2, "line longer" },
	{ "first error wins", "[detect]\nqueue = x\nbogus = 1\n[bogus]\na = b\n", NULL, 2,
	  "queue" },
	{ "error after a long line", "[detect]\n" LINE250 "\nbogus = 1\n", NULL, 2, "line longer" },
	{ "syntax error after a bad value", "[detect]\nqueue = x\nnonsense\n", NULL, 2, "queue" },
	{ "bad value after a syntax error", "[detect]\nnonsense\nqueue = x\n", NULL, 2,
	  "syntax error" },
};

static void test_config_table(void **state)
{
	char path[64];
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct config_case *c = &cases[i];
		struct upn_config cfg;
		char err[512] = "", want[128];
		FILE *f;
		int fd, ret;

		strcpy(path, "/tmp/upn-config-XXXXXX");
		fd = mkstemp(path);
		assert_true(fd >= 0);
		f = fdopen(fd, "w");
		assert_non_null(f);
		assert_int_equal(fputs(c->text, f) >= 0 || !*c->text, 1);
		assert_int_equal(fclose(f), 0);

		memset(&cfg, 0xa5, sizeof(cfg));
		ret = upn_config_load(path, &cfg, err, sizeof(err));
		unlink(path);
		if (c->ok) {
			if (ret) {
				print_error("%s: failed: %s\n", c->name, err);
				failures++;
				continue;
			}
			ret = chk_failures;
			c->ok(c->name, &cfg);
			failures += chk_failures != ret;
			upn_config_free(&cfg);
			continue;
		}
		if (c->line)
			snprintf(want, sizeof(want), "%s:%d: ", path, c->line);
		else
			snprintf(want, sizeof(want), "%s: ", path);
		if (ret != -EINVAL || strncmp(err, want, strlen(want)) ||
		    !strstr(err + strlen(want), c->msg)) {
			print_error("%s: got %d '%s', want '%s...%s'\n", c->name, ret, err, want,
				    c->msg);
			failures++;
			if (!ret)
				upn_config_free(&cfg);
			continue;
		}
		/* A failed load leaves nothing to free. */
		check(!cfg.watch && !cfg.ignore && !cfg.clients && !cfg.nwatch && !cfg.nclients &&
			      !cfg.servers && !cfg.nservers,
		      "%s: lists left after an error", c->name);
	}
	check(!failures, "%d of %zu cases failed", failures, ARRAY_SIZE(cases));
}

static void test_config_missing_file(void **state)
{
	struct upn_config cfg;
	char err[512];

	assert_int_equal(upn_config_load("/nonexistent/upnotify.conf", &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "/nonexistent/upnotify.conf: No such file or directory");
	/* A message longer than the buffer is cut, not overrun. */
	assert_int_equal(upn_config_load("/nonexistent/upnotify.conf", &cfg, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
}

/* Writes @text to a fresh file with @mode; the path goes into @path (64 bytes). */
static void write_file(char *path, const char *text, mode_t mode)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/upn-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

#define HEX32 "00112233445566778899aabbccddeeff"

static const struct keys_case {
	const char *name;
	const char *keys;    /* the key file; NULL: none written (a missing file) */
	mode_t mode;	     /* of the key file */
	const char *servers; /* the [servers] lines, from line 4 */
	int line;	     /* of the error; -1: OK; 0: "path: ..." */
	const char *msg;     /* substring of the error, or the key ids given, ','-joined */
} keys_cases[] = {
	{ "default is the first key", "# keys\nfirst " HEX32 "\nsecond " HEX32 HEX32 "\n", 0600,
	  "10.0.2.2 = server a@example.test\n10.0.3.0/24 = nms b@example.test second\n"
	  "192.0.2.0/24 = direct\n",
	  -1, "first,second,," },
	{ "unknown key id", "first " HEX32 "\n", 0600,
	  "10.0.2.2 = server a@example.test\n10.0.3.0/24 = nms b@example.test nope\n", 5,
	  "[servers] 10.0.3.0/24: no key 'nope' in " },
	{ "key file without keys", "# none yet\n", 0600, "10.0.2.2 = direct\n", 0,
	  "[relay] key_file: " },
	{ "keys, direct only", "first " HEX32 "\n", 0600, "10.0.2.2 = direct\n", -1, "," },
	{ "key file readable by others", "first " HEX32 "\n", 0644,
	  "10.0.2.2 = server a@example.test\n", 0, "[relay] key_file: " },
	{ "bad key line", "first 0011\n", 0600, "10.0.2.2 = server a@example.test\n", 0,
	  "[relay] key_file: " },
	{ "missing key file", NULL, 0600, "10.0.2.2 = server a@example.test\n", 0,
	  "[relay] key_file: " },
};

/* Lines of a key file that hold a key. */
static size_t key_lines(const char *text)
{
	size_t n = 0;

	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
		n += *l != '#' && *l != '\n';
	return n;
}

static void test_config_relay_keys(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys_cases); i++) {
		const struct keys_case *c = &keys_cases[i];
		char kpath[64], cpath[64], text[1024], err[1024] = "", want[128], ids[256] = "";
		struct upn_config cfg;
		int ret;

		if (c->keys)
			write_file(kpath, c->keys, c->mode);
		else
			strcpy(kpath, "/nonexistent/relay.keys");
		snprintf(text, sizeof(text), "[relay]\nkey_file = %s\n[servers]\n%s", kpath,
			 c->servers);
		write_file(cpath, text, 0600);
		ret = upn_config_load(cpath, &cfg, err, sizeof(err));
		check(!ret, "%s: load: %s", c->name, err);
		ret = upn_config_relay_keys(&cfg, cpath, err, sizeof(err));
		if (c->keys)
			unlink(kpath);
		unlink(cpath);
		if (c->line < 0) {
			check(!ret, "%s: %s", c->name, err);
			for (size_t j = 0; j < cfg.nservers; j++)
				snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s,",
					 cfg.servers[j].key_id);
			check(!strcmp(ids, c->msg), "%s: key ids '%s', want '%s'", c->name, ids,
			      c->msg);
			check(cfg.mail.relay_keys.n == key_lines(c->keys), "%s: %zu keys", c->name,
			      cfg.mail.relay_keys.n);
		} else {
			if (c->line)
				snprintf(want, sizeof(want), "%s:%d: ", cpath, c->line);
			else
				snprintf(want, sizeof(want), "%s: ", cpath);
			check(ret == -EINVAL && !strncmp(err, want, strlen(want)) &&
				      strstr(err + strlen(want), c->msg),
			      "%s: got %d '%s', want '%s...%s'", c->name, ret, err, want, c->msg);
			/* The keys are freed on error. */
			check(!cfg.mail.relay_keys.v && !cfg.mail.relay_keys.n, "%s: keys left",
			      c->name);
		}
		upn_config_free(&cfg);
	}
}

/* Without key_file there is nothing to read, and nothing is needed. */
static void test_config_relay_no_keys(void **state)
{
	struct upn_config cfg;
	char err[256];

	upn_config_defaults(&cfg);
	assert_int_equal(upn_config_relay_keys(&cfg, "x.conf", err, sizeof(err)), 0);
	assert_int_equal(cfg.mail.relay_keys.n, 0);
	upn_config_free(&cfg);
}

static const struct mail_case {
	const char *mail;
	bool ok;
} mail_cases[] = {
	{ "ops@example.org", true },
	{ "first.last+tag@mail.example.org", true },
	{ "a@b.c", true },
	{ "", false },
	{ "@example.org", false },
	{ "ops@", false },
	{ "ops", false },
	{ "ops@example", false },
	{ "ops@example.org\r\nBcc: x@y.z", false },
	{ "a@b.c\nBcc:x@y.z", false },
	{ "a@b.c\r", false },
	{ "a\tb@example.org", false },
	{ "<ops@example.org>", false },
	{ "ops@example.org,x@y.z", false },
	{ "ops@example.org;x@y.z", false },
	{ "\"ops\"@example.org", false },
	{ "ops@[192.0.2.1]", false },
	{ "ops\x7f@example.org", false },
};

static void test_mail_valid(void **state)
{
	char longest[UPN_MAIL_MAX + 2];

	for (size_t i = 0; i < ARRAY_SIZE(mail_cases); i++)
		check(upn_mail_valid(mail_cases[i].mail) == mail_cases[i].ok, "'%s': want %d",
		      mail_cases[i].mail, mail_cases[i].ok);
	memset(longest, 'm', sizeof(longest));
	memcpy(longest + UPN_MAIL_MAX - 12, "@example.org", 12);
	longest[UPN_MAIL_MAX] = '\0';
	assert_true(upn_mail_valid(longest));
	memset(longest, 'm', sizeof(longest));
	memcpy(longest + UPN_MAIL_MAX + 1 - 12, "@example.org", 12);
	longest[UPN_MAIL_MAX + 1] = '\0';
	assert_false(upn_mail_valid(longest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_table),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_relay_keys),
		cmocka_unit_test(test_config_relay_no_keys),
		cmocka_unit_test(test_mail_valid),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
