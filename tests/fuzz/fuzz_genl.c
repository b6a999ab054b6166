// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The generic netlink decoders on arbitrary bytes, read as one recv() worth of netlink
 * messages, the way the daemon and `upnotifyctl monitor` walk a batch from the module.
 * Each message is decoded as if its type were the family's, so that every one reaches
 * the attribute parser. Beyond "no crash, no overread": an event that decodes holds
 * only what the UAPI allows.
 */
#include <errno.h>
#include <linux/genetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "genl.h"

static void check_addr(const struct upn_addr *a)
{
	CHECK(a->family == AF_INET || a->family == AF_INET6);
	if (a->family == AF_INET)
		for (int i = 4; i < 16; i++)
			CHECK(a->a[i] == 0);
}

static void check_event(const struct nlmsghdr *nlh)
{
	struct upn_event ev;
	int ret = upn_genl_decode_event(nlh, nlh->nlmsg_type, &ev);

	CHECK(ret == UPN_GENL_OK || ret == UPN_GENL_OTHER || ret == -EINVAL);
	if (ret != UPN_GENL_OK) {
		CHECK(ev.type == 0);
		return;
	}
	CHECK(ev.type == UPNOTIFY_CMD_FAILED_ACCESS_NTF ||
	      ev.type == UPNOTIFY_CMD_SERVER_DOWN_NTF || ev.type == UPNOTIFY_CMD_SERVER_UP_NTF);
	CHECK(ev.cause >= 1 && ev.cause <= UPNOTIFY_CAUSE_MAX);
	check_addr(&ev.server);
	if (ev.type == UPNOTIFY_CMD_FAILED_ACCESS_NTF || ev.client.family) {
		check_addr(&ev.client);
		CHECK(ev.client.family == ev.server.family);
	}
	if (ev.type != UPNOTIFY_CMD_FAILED_ACCESS_NTF)
		CHECK(!ev.port && !ev.proto && !ev.icmp_type && !ev.icmp_code);
	/* Another family's message is never taken for ours. */
	CHECK(upn_genl_decode_event(nlh, (uint16_t)(nlh->nlmsg_type + 1), &ev) == UPN_GENL_OTHER);
}

static void check_others(const struct nlmsghdr *nlh)
{
	uint64_t stats[UPNOTIFY_STAT_MAX + 1];
	struct upn_genl_server s;
	struct upn_genl_family fam;
	int ret = upn_genl_decode_server(nlh, nlh->nlmsg_type, &s);

	if (ret == UPN_GENL_OK) {
		check_addr(&s.addr);
		CHECK(s.state <= UPNOTIFY_STATE_MAX && s.cause <= UPNOTIFY_CAUSE_MAX);
	}
	upn_genl_decode_stats(nlh, nlh->nlmsg_type, stats, UPNOTIFY_STAT_MAX + 1);
	upn_genl_decode_family(nlh, &fam);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As a socket buffer would be: aligned, with the tail the alignment rounds up to. */
	static uint32_t buf[65536 / 4 + 1];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left;

	if (size > sizeof(buf) - 4)
		return 0;
	memcpy(buf, data, size);
	memset((char *)buf + size, 0, 4);
	for (left = (int)size; upn_genl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		check_event(nlh);
		check_others(nlh);
	}
	return 0;
}
