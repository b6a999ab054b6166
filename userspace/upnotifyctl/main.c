// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* upnotifyctl: ask upnotifyd what it knows, and manage the client mail table. */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ctlclient.h"
#include "monitor.h"

#define TIMEOUT_MS 60000
/* `mail`: the daemon's UPN_CMD_RAW_MAX. */
#define MAIL_MAX (1u << 20)
/* Entries per import request: well under the daemon's 1 MiB request limit. */
#define IMPORT_CHUNK 4096

enum { EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static const char *sock = UPN_CTL_DEFAULT_SOCKET;
static int as_json;

static void usage(FILE *f)
{
	fprintf(f, "usage: upnotifyctl [-s SOCKET] [--json] COMMAND\n"
		   "commands:\n"
		   "  status                        counters and gauges\n"
		   "  waitlist [SERVER]             down servers and the clients waiting\n"
		   "  recover SERVER                the server is back: tell its clients now\n"
		   "  outbox                        the outbox (mails, webhooks) and its state\n"
		   "  clients list                  the client mail table\n"
		   "  clients add ADDR_OR_PREFIX MAIL\n"
		   "  clients del ADDR_OR_PREFIX\n"
		   "  clients import FILE           lines of 'ADDR_OR_PREFIX MAIL'\n"
		   "  servers list                  the server mail table: how each server's\n"
		   "                                clients hear of its recovery\n"
		   "  servers add ADDR_OR_PREFIX MODE [TARGET] [KEYID]\n"
		   "                                MODE direct, server MAIL, nms MAIL or\n"
		   "                                webhook URL\n"
		   "  servers del ADDR_OR_PREFIX\n"
		   "  mail < MESSAGE                run one command mail (RFC 5322, at most\n"
		   "                                1 MiB) as if the mailbox had it\n"
		   "  monitor                       the kernel module's events, live (one per\n"
		   "                                line; --json: one JSON object per line)\n");
}

static int call(json_t *req, json_t **result)
{
	char err[1024];
	int transport;

	*result = upn_ctl_call(sock, req, TIMEOUT_MS, err, sizeof(err), &transport);
	if (*result)
		return 0;
	fprintf(stderr, "upnotifyctl: %s\n", err);
	return transport ? EXIT_UNREACHABLE : 1;
}

static void print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	putchar('\n');
}

static void print_counters(const char *title, json_t *obj)
{
	const char *k;
	json_t *v;

	printf("%s:\n", title);
	json_object_foreach(obj, k, v)
		printf("  %-28s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
}

static int cmd_status(void)
{
	json_t *r;
	int ret = call(json_pack("{s:s}", "cmd", "status"), &r);

	if (ret)
		return ret;
	if (as_json) {
		print_json(r);
	} else {
		printf("source: %s, up %" JSON_INTEGER_FORMAT " s\n",
		       json_string_value(json_object_get(r, "source")),
		       json_integer_value(json_object_get(r, "uptime")));
		print_counters("gauges", json_object_get(r, "gauges"));
		print_counters("counters", json_object_get(r, "counters"));
	}
	json_decref(r);
	return 0;
}

static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "-";
}

static int cmd_waitlist(const char *server)
{
	json_t *req = json_pack("{s:s}", "cmd", "waitlist"), *r, *s, *c;
	struct upn_addr a;
	size_t i, j;
	int ret;

	if (server) {
		if (upn_addr_parse(server, &a)) {
			fprintf(stderr, "upnotifyctl: '%s' is not an IP address\n", server);
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "server", json_string(server));
	}
	ret = call(req, &r);
	if (ret)
		return ret;
	if (as_json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	if (!json_array_size(r))
		printf("no server is waited for\n");
	json_array_foreach(r, i, s) {
		json_t *clients = json_object_get(s, "clients");

		printf("%s  %s since %s (%s), %zu waiting\n", str(s, "server"), str(s, "state"),
		       str(s, "since"), str(s, "cause"), json_array_size(clients));
		json_array_foreach(clients, j, c)
			printf("  %-39s port %-5" JSON_INTEGER_FORMAT
			       " attempts %-6" JSON_INTEGER_FORMAT " first %s last %s (%s)\n",
			       str(c, "client"), json_integer_value(json_object_get(c, "port")),
			       json_integer_value(json_object_get(c, "attempts")), str(c, "first"),
			       str(c, "last"), str(c, "cause"));
	}
	json_decref(r);
	return 0;
}

static int cmd_recover(const char *server)
{
	json_t *r;
	int ret = call(json_pack("{s:s, s:s}", "cmd", "recover", "server", server), &r);

	if (ret)
		return ret;
	if (as_json)
		print_json(r);
	else
		printf("%s recovered: %" JSON_INTEGER_FORMAT " mails queued\n", server,
		       json_integer_value(json_object_get(r, "queued")));
	json_decref(r);
	return 0;
}

static int cmd_outbox(void)
{
	json_t *r, *m;
	size_t i;
	int ret = call(json_pack("{s:s}", "cmd", "outbox"), &r);

	if (ret)
		return ret;
	if (as_json) {
		print_json(r);
	} else {
		if (!json_array_size(r))
			printf("the outbox is empty\n");
		json_array_foreach(r, i, m)
			printf("%-6" JSON_INTEGER_FORMAT
			       " %-8s %-8s %-32s %-20s tries %" JSON_INTEGER_FORMAT "%s%s\n",
			       json_integer_value(json_object_get(m, "id")), str(m, "state"),
			       str(m, "kind"), str(m, "recipient"), str(m, "server"),
			       json_integer_value(json_object_get(m, "tries")),
			       json_is_string(json_object_get(m, "last_error")) ? "  " : "",
			       json_is_string(json_object_get(m, "last_error")) ?
				       str(m, "last_error") :
				       "");
	}
	json_decref(r);
	return 0;
}

/* Reads FILE into [{"prefix", "mail"}], reporting the first bad line as file:line. */
static json_t *read_import(const char *path)
{
	FILE *f = fopen(path, "r");
	json_t *entries = json_array();
	char line[1024], prefix[512], mail[512], extra[2];
	struct upn_prefix p;
	int n = 0;

	if (!f) {
		fprintf(stderr, "upnotifyctl: %s: %s\n", path, strerror(errno));
		json_decref(entries);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");
		int fields;

		n++;
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		fields = sscanf(s, "%511s %511s %1s", prefix, mail, extra);
		if (fields != 2 || upn_prefix_parse(prefix, &p)) {
			fprintf(stderr, "upnotifyctl: %s:%d: expected 'ADDR_OR_PREFIX MAIL'\n",
				path, n);
			json_decref(entries);
			fclose(f);
			return NULL;
		}
		json_array_append_new(entries,
				      json_pack("{s:s, s:s}", "prefix", prefix, "mail", mail));
	}
	fclose(f);
	return entries;
}

/* The daemon takes a request of at most 1 MiB, so a large file goes in chunks; each
 * chunk is all-or-nothing, and the whole file was checked before the first is sent. */
static int cmd_import(const char *path)
{
	json_t *entries = read_import(path), *chunk, *r;
	size_t i, total = 0;
	int ret = 0;

	if (!entries)
		return 1;
	for (i = 0; i < json_array_size(entries) && !ret; i += IMPORT_CHUNK) {
		chunk = json_array();
		for (size_t j = i; j < i + IMPORT_CHUNK && j < json_array_size(entries); j++)
			json_array_append(chunk, json_array_get(entries, j));
		ret = call(json_pack("{s:s, s:o}", "cmd", "clients.import", "entries", chunk), &r);
		if (!ret) {
			total += (size_t)json_integer_value(json_object_get(r, "added"));
			json_decref(r);
		}
	}
	json_decref(entries);
	if (as_json)
		printf("{\"added\": %zu}\n", total);
	else
		printf("imported %zu entries%s\n", total, ret ? " before the error" : "");
	return ret;
}

static int cmd_clients(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "list";
	json_t *req, *r, *c;
	size_t i;
	int ret;

	if (!strcmp(sub, "list") && argc <= 1) {
		req = json_pack("{s:s}", "cmd", "clients.list");
	} else if (!strcmp(sub, "add") && argc == 3) {
		req = json_pack("{s:s, s:s, s:s}", "cmd", "clients.add", "prefix", argv[1], "mail",
				argv[2]);
	} else if (!strcmp(sub, "del") && argc == 2) {
		req = json_pack("{s:s, s:s}", "cmd", "clients.del", "prefix", argv[1]);
	} else if (!strcmp(sub, "import") && argc == 2) {
		return cmd_import(argv[1]);
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	ret = call(req, &r);
	if (ret)
		return ret;
	if (as_json)
		print_json(r);
	else if (!strcmp(sub, "list"))
		json_array_foreach(r, i, c)
			printf("%-43s %s (%s, %s)\n", str(c, "prefix"), str(c, "mail"),
			       str(c, "source"), str(c, "registered"));
	json_decref(r);
	return 0;
}

static int cmd_servers(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "list";
	json_t *req, *r, *s;
	size_t i;
	int ret;

	if (!strcmp(sub, "list") && argc <= 1) {
		req = json_pack("{s:s}", "cmd", "servers.list");
	} else if (!strcmp(sub, "add") && argc >= 3 && argc <= 5) {
		req = json_pack("{s:s, s:s, s:s}", "cmd", "servers.add", "prefix", argv[1], "mode",
				argv[2]);
		/* direct KEYID makes no sense, so a third word is always the target. */
		if (argc >= 4)
			json_object_set_new(req, "target", json_string(argv[3]));
		if (argc == 5)
			json_object_set_new(req, "key_id", json_string(argv[4]));
	} else if (!strcmp(sub, "del") && argc == 2) {
		req = json_pack("{s:s, s:s}", "cmd", "servers.del", "prefix", argv[1]);
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	ret = call(req, &r);
	if (ret)
		return ret;
	if (as_json) {
		print_json(r);
	} else if (!strcmp(sub, "list")) {
		if (!json_array_size(r))
			printf("the server mail table is empty: every server is direct\n");
		json_array_foreach(r, i, s)
			printf("%-43s %-7s %s%s%s (%s)\n", str(s, "prefix"), str(s, "mode"),
			       str(s, "target"), *str(s, "key_id") ? " key " : "", str(s, "key_id"),
			       str(s, "source"));
	}
	json_decref(r);
	return 0;
}

/* Reads a command mail from stdin and hands it to the daemon: as a JSON string when
 * it is UTF-8, else base64-encoded. The daemon answers once the reply is durable. */
static int cmd_mail(void)
{
	size_t cap = 65536, len = 0, n;
	char *buf = malloc(cap), *b64;
	json_t *raw, *req, *r;
	int ret;

	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len > MAIL_MAX)
			break;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (!buf || ferror(stdin)) {
		fprintf(stderr, "upnotifyctl: cannot read the message: %s\n",
			buf ? strerror(errno) : "out of memory");
		free(buf);
		return 1;
	}
	if (len > MAIL_MAX || !len) {
		fprintf(stderr, "upnotifyctl: %s\n",
			len ? "a message of more than 1 MiB is not a command mail" :
			      "no message on standard input");
		free(buf);
		return EXIT_USAGE;
	}
	raw = json_stringn(buf, len);
	if (raw) {
		req = json_pack("{s:s, s:o}", "cmd", "mail", "raw", raw);
	} else {
		size_t blen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);

		b64 = malloc(blen);
		if (!b64) {
			free(buf);
			fprintf(stderr, "upnotifyctl: out of memory\n");
			return 1;
		}
		sodium_bin2base64(b64, blen, (unsigned char *)buf, len,
				  sodium_base64_VARIANT_ORIGINAL);
		req = json_pack("{s:s, s:s}", "cmd", "mail", "raw_base64", b64);
		free(b64);
	}
	free(buf);
	ret = call(req, &r);
	if (ret)
		return ret;
	if (as_json) {
		print_json(r);
	} else {
		const char *text = json_string_value(json_object_get(r, "reply"));

		printf("%s, %s\n", str(r, "outcome"),
		       json_is_true(json_object_get(r, "replied")) ? "reply queued" :
								     "no reply sent");
		if (text)
			printf("%s", text);
	}
	json_decref(r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	/* "+" would stop at the command; we accept --json after it too. */
	while ((opt = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "status") && argc == 1)
		return cmd_status();
	if (!strcmp(argv[0], "waitlist") && argc <= 2)
		return cmd_waitlist(argc == 2 ? argv[1] : NULL);
	if (!strcmp(argv[0], "clients"))
		return cmd_clients(argc - 1, argv + 1);
	if (!strcmp(argv[0], "servers"))
		return cmd_servers(argc - 1, argv + 1);
	if (!strcmp(argv[0], "recover") && argc == 2)
		return cmd_recover(argv[1]);
	if (!strcmp(argv[0], "outbox") && argc == 1)
		return cmd_outbox();
	if (!strcmp(argv[0], "mail") && argc == 1)
		return cmd_mail();
	/* Straight from the kernel: the daemon need not run. */
	if (!strcmp(argv[0], "monitor") && argc == 1)
		return upn_monitor(as_json);
	usage(stderr);
	return EXIT_USAGE;
}
