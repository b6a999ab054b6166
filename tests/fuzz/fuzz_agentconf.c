// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_agent_config_load() on arbitrary bytes, through a memfd as fuzz_config does for
 * upnotifyd's file. A file that loads must hold only what upnotify-agent(8) allows;
 * one that fails must say where and leave nothing to free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "agentconf.h"

static void check_config(const struct upn_agent_config *c)
{
	const char *url = c->mailbox.url;

	CHECK(memchr(url, '\0', sizeof(c->mailbox.url)));
	CHECK(!url[0] || !strncmp(url, "pop3://", 7) || !strncmp(url, "pop3s://", 8));
	CHECK(!c->ntrap_servers == !c->trap_servers);
	for (size_t i = 0; i < c->ntrap_servers; i++)
		CHECK(c->trap_servers[i].len <= upn_addr_maxlen(c->trap_servers[i].addr.family));
	CHECK(c->key_file[0] == '/');
	CHECK(c->max_age_s > 0);
	for (size_t i = 0; i < c->base.nclients; i++)
		CHECK(upn_mail_valid(c->base.clients[i].mail));
	CHECK(c->base.store_path[0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct upn_agent_config cfg;
	char err[512];
	int ret;

	if (fd < 0) {
		fd = memfd_create("fuzz_agentconf", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	err[0] = '\0';
	ret = upn_agent_config_load(path, &cfg, err, sizeof(err));
	if (ret == 0) {
		check_config(&cfg);
		upn_agent_config_free(&cfg);
		return 0;
	}
	CHECK(ret == -EINVAL);
	/* "path:LINE: message" or "path: message", never empty. */
	CHECK(!strncmp(err, path, strlen(path)) && err[strlen(path)] == ':');
	CHECK(strlen(err) > strlen(path) + 2);
	return 0;
}
