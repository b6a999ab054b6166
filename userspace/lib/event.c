// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "event.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* These names are an interface: the store, JSON output and logs use them. */
static const char *const cause_names[] = {
	[UPNOTIFY_CAUSE_UNSPEC] = "unknown",
	[UPNOTIFY_CAUSE_ICMP_UNREACH] = "icmp-unreachable",
	[UPNOTIFY_CAUSE_SYN_TIMEOUT] = "syn-timeout",
	[UPNOTIFY_CAUSE_REFUSED] = "refused",
	[UPNOTIFY_CAUSE_SERVER_DOWN] = "server-down",
	[UPNOTIFY_CAUSE_SYNACK] = "syn-ack",
	[UPNOTIFY_CAUSE_TRAP] = "trap",
	[UPNOTIFY_CAUSE_NEIGH] = "neighbour",
	[UPNOTIFY_CAUSE_PROBE] = "probe",
	[UPNOTIFY_CAUSE_MANUAL] = "manual",
};

const char *upn_cause_name(unsigned int cause)
{
	return cause <= UPNOTIFY_CAUSE_MAX ? cause_names[cause] : "unknown";
}

unsigned int upn_cause_parse(const char *name)
{
	for (unsigned int i = 1; i <= UPNOTIFY_CAUSE_MAX; i++)
		if (!strcmp(name, cause_names[i]))
			return i;
	return UPNOTIFY_CAUSE_UNSPEC;
}

const char *upn_event_name(unsigned int type)
{
	switch (type) {
	case UPNOTIFY_CMD_FAILED_ACCESS_NTF:
		return "failed-access";
	case UPNOTIFY_CMD_SERVER_DOWN_NTF:
		return "server-down";
	case UPNOTIFY_CMD_SERVER_UP_NTF:
		return "server-up";
	}
	return "unknown";
}

bool upn_event_host_down(const struct upn_event *ev)
{
	switch (ev->cause) {
	case UPNOTIFY_CAUSE_REFUSED:
		return false;
	case UPNOTIFY_CAUSE_ICMP_UNREACH:
		if (ev->server.family == AF_INET)
			return ev->icmp_code != 2 && ev->icmp_code != 3;
		return ev->icmp_code != 4;
	default:
		return true;
	}
}
