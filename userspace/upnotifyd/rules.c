// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

static const char *const chains[][2] = {
	{ "FORWARD", "UPNOTIFY_FWD" },
	{ "OUTPUT", "UPNOTIFY_OUT" },
};

/* Runs @argv with @input on stdin (may be NULL), its stdout in @out (NUL-terminated,
 * cut at @outlen) or discarded when @out is NULL, and its stderr kept out of ours
 * unless @loud. Returns the exit status, or -1. */
static int run(char *const argv[], const char *input, int loud, char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int in[2], o[2] = { -1, -1 }, status, devnull;
	size_t got = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (out && pipe2(o, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	else if (devnull >= 0)
		posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	if (!loud && devnull >= 0)
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	status = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	if (out)
		close(o[1]);
	if (devnull >= 0)
		close(devnull);
	if (status) {
		close(in[1]);
		if (out)
			close(o[0]);
		upn_err("rules: cannot run %s: %s", argv[0], strerror(status));
		return -1;
	}
	if (input && write(in[1], input, strlen(input)) < 0)
		upn_err("rules: writing to %s: %s", argv[0], strerror(errno));
	close(in[1]);
	if (out) {
		ssize_t n;

		while ((n = read(o[0], out + got, outlen - 1 - got)) > 0 &&
		       got + (size_t)n < outlen - 1)
			got += (size_t)n;
		if (n > 0)
			got += (size_t)n;
		out[got] = '\0';
		close(o[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *tool(int family, int restore)
{
	if (family == AF_INET)
		return restore ? "iptables-restore" : "iptables";
	return restore ? "ip6tables-restore" : "ip6tables";
}

/* iptables-nft created the mangle table when we first added to it, and leaves it
 * behind, hooked into the packet path, once our chains are gone. A table that holds
 * nothing but ACCEPT policies does nothing: delete it so that a gateway we ran on is
 * left as we found it. A table with anything else in it is somebody's; keep it. */
static void drop_empty_table(int family)
{
	char *list[] = { (char *)tool(family, 0), "-w", "-t", "mangle", "-S", NULL };
	char *del[] = { "nft", "delete", "table", family == AF_INET ? "ip" : "ip6", "mangle", NULL };
	char out[4096], *line, *save = NULL;

	if (run(list, NULL, 0, out, sizeof(out)) || strlen(out) >= sizeof(out) - 1)
		return;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "-P ", 3) || !strstr(line, " ACCEPT"))
			return;
	run(del, NULL, 0, NULL, 0);
}

/* Deletes every rule of @hook that jumps to @chain, whatever its match: what a
 * previous version or a killed run installed, too. */
static void delete_jumps(int family, const char *hook, const char *chain)
{
	char *list[] = { (char *)tool(family, 0), "-w", "-t", "mangle", "-S", (char *)hook, NULL };
	char out[16384], target[64], *line, *save = NULL;

	if (run(list, NULL, 0, out, sizeof(out)))
		return;
	snprintf(target, sizeof(target), " -j %s", chain);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *argv[32] = { (char *)tool(family, 0), "-w", "-t", "mangle" }, *tok,
		     *ts = NULL;
		size_t n = 4;
		const char *end = strstr(line, target);

		/* "-A FORWARD -p tcp -j UPNOTIFY_FWD" becomes "-D FORWARD -p tcp -j ...". */
		if (strncmp(line, "-A ", 3) || !end || end[strlen(target)] != '\0')
			continue;
		line[1] = 'D';
		for (tok = strtok_r(line, " ", &ts); tok && n < 31; tok = strtok_r(NULL, " ", &ts))
			argv[n++] = tok;
		argv[n] = NULL;
		run(argv, NULL, 0, NULL, 0);
	}
}

static void remove_family(int family)
{
	for (size_t i = 0; i < 2; i++) {
		char *flush[] = { (char *)tool(family, 0), "-w", "-t", "mangle", "-F",
				  (char *)chains[i][1],	   NULL };
		char *drop[] = { (char *)tool(family, 0), "-w", "-t", "mangle", "-X",
				 (char *)chains[i][1],	  NULL };

		delete_jumps(family, chains[i][0], chains[i][1]);
		run(flush, NULL, 0, NULL, 0);
		run(drop, NULL, 0, NULL, 0);
	}
	drop_empty_table(family);
}

void upn_rules_remove(void)
{
	remove_family(AF_INET);
	remove_family(AF_INET6);
}

struct out {
	char *buf;
	size_t len;
	FILE *f;
};

static void queue_rule(FILE *f, const char *chain, const char *match, const char *dir,
		       const char *prefix, uint16_t queue)
{
	fprintf(f, "-A %s %s%s%s%s -j NFQUEUE --queue-num %u --queue-bypass\n", chain, match,
		prefix ? " " : "", prefix ? dir : "", prefix ? prefix : "", queue);
}

char *upn_rules_render(const struct upn_config *cfg, int family)
{
	const char *icmp = family == AF_INET ? "-p icmp --icmp-type destination-unreachable" :
					       "-p ipv6-icmp --icmpv6-type destination-unreachable";
	static const char *const tcp[][2] = {
		/* client -> server SYN */
		{ "-p tcp --tcp-flags SYN,ACK,RST SYN", "-d " },
		/* server -> client SYN/ACK and RST */
		{ "-p tcp --tcp-flags SYN,ACK,RST SYN,ACK", "-s " },
		{ "-p tcp --tcp-flags RST RST", "-s " },
	};
	struct out o = { 0 };
	size_t nfam = 0;
	char pbuf[UPN_ADDRSTRLEN];

	o.f = open_memstream(&o.buf, &o.len);
	if (!o.f)
		return NULL;
	for (size_t i = 0; i < cfg->nwatch; i++)
		nfam += cfg->watch[i].addr.family == family;
	fprintf(o.f, "*mangle\n:UPNOTIFY_FWD - [0:0]\n:UPNOTIFY_OUT - [0:0]\n");
	/* With a watch list that has no prefix of this family, nothing of this family
	 * can concern us: the chains stay empty. */
	if (!cfg->nwatch || nfam) {
		for (size_t t = 0; t < 3; t++) {
			if (!cfg->nwatch)
				queue_rule(o.f, "UPNOTIFY_FWD", tcp[t][0], "", NULL, cfg->queue);
			for (size_t i = 0; i < cfg->nwatch; i++)
				if (cfg->watch[i].addr.family == family)
					queue_rule(o.f, "UPNOTIFY_FWD", tcp[t][0], tcp[t][1],
						   upn_prefix_fmt(&cfg->watch[i], pbuf),
						   cfg->queue);
		}
		/* The server is in the inner header, which iptables cannot match. */
		queue_rule(o.f, "UPNOTIFY_FWD", icmp, "", NULL, cfg->queue);
		queue_rule(o.f, "UPNOTIFY_OUT", icmp, "", NULL, cfg->queue);
	}
	/* Jump only for TCP and ICMP: bulk UDP never enters our chains. */
	fprintf(o.f, "-I FORWARD 1 -p tcp -j UPNOTIFY_FWD\n-I FORWARD 2 %s -j UPNOTIFY_FWD\n",
		family == AF_INET ? "-p icmp" : "-p ipv6-icmp");
	fprintf(o.f, "-I OUTPUT 1 %s -j UPNOTIFY_OUT\nCOMMIT\n",
		family == AF_INET ? "-p icmp" : "-p ipv6-icmp");
	fclose(o.f);
	return o.buf;
}

int upn_rules_install(const struct upn_config *cfg)
{
	static const int families[] = { AF_INET, AF_INET6 };

	upn_rules_remove();
	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { (char *)tool(families[i], 1), "-w", "--noflush", NULL };
		char *rules = upn_rules_render(cfg, families[i]);
		int ret;

		if (!rules)
			return -1;
		ret = run(argv, rules, 1, NULL, 0);
		free(rules);
		if (ret) {
			upn_err("rules: %s failed (exit %d); is iptables-nft installed?", argv[0],
				ret);
			upn_rules_remove();
			return -1;
		}
	}
	return 0;
}
