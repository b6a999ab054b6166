// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_config_load() on arbitrary bytes, through a memfd so that inih reads them the
 * way it reads a file. Beyond "no crash, no leak", a file that loads must hold only
 * what upnotify.conf(5) allows, and one that fails must say where and leave nothing
 * to free.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "config.h"
#include "daemon.h"
#include "limits.h"

/* Printed and read back, a prefix is itself: canonical, host bits clear. */
static void check_prefix(const struct upn_prefix *p)
{
	char buf[UPN_ADDRSTRLEN];
	struct upn_prefix back;

	CHECK(p->len <= upn_addr_maxlen(p->addr.family));
	CHECK(upn_prefix_parse(upn_prefix_fmt(p, buf), &back) == 0);
	CHECK(back.len == p->len && upn_addr_eq(&back.addr, &p->addr));
}

static void check_config(const struct upn_config *c)
{
	CHECK(c->source == UPN_SOURCE_AUTO || c->source == UPN_SOURCE_NFQUEUE ||
	      c->source == UPN_SOURCE_KMOD);
	CHECK(!c->nwatch == !c->watch && !c->nignore == !c->ignore && !c->nclients == !c->clients);
	for (size_t i = 0; i < c->nwatch; i++)
		check_prefix(&c->watch[i]);
	for (size_t i = 0; i < c->nignore; i++)
		check_prefix(&c->ignore[i]);
	for (size_t i = 0; i < c->nclients; i++) {
		check_prefix(&c->clients[i].prefix);
		CHECK(memchr(c->clients[i].mail, '\0', sizeof(c->clients[i].mail)));
		CHECK(upn_mail_valid(c->clients[i].mail));
	}
	CHECK(c->syn_timeout_ms >= UPN_SYN_TIMEOUT_MIN_MS &&
	      c->syn_timeout_ms <= UPN_SYN_TIMEOUT_MAX_MS);
	CHECK(c->pending_max >= 1 && c->pending_max <= UPN_PENDING_MAX_LIMIT);
	CHECK(c->per_server_max >= 1 && c->per_server_max <= UPN_WAITLIST_TOTAL_LIMIT);
	CHECK(c->total_max >= 1 && c->total_max <= UPN_WAITLIST_TOTAL_LIMIT);
	CHECK(c->ctl_mode <= 0777);
	CHECK(c->store_path[0] == '/' && memchr(c->store_path, '\0', sizeof(c->store_path)));
	CHECK(c->ctl_socket[0] == '/' && strlen(c->ctl_socket) < UPN_CTL_PATH_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct upn_config cfg;
	char err[512];
	int ret;

	if (fd < 0) {
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	err[0] = '\0';
	ret = upn_config_load(path, &cfg, err, sizeof(err));
	if (ret == 0) {
		check_config(&cfg);
		upn_config_free(&cfg);
		return 0;
	}
	CHECK(ret == -EINVAL);
	/* "path:LINE: message" or "path: message", never empty. */
	CHECK(!strncmp(err, path, strlen(path)) && (err[strlen(path)] == ':'));
	CHECK(strlen(err) > strlen(path) + 2);
	CHECK(!cfg.watch && !cfg.ignore && !cfg.clients);
	return 0;
}
