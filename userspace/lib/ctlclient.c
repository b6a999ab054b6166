// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "ctlclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A waitlist of a million entries is ~150 MB of JSON; more is not a reply. */
#define REPLY_MAX (512u << 20)

static int connect_to(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to upnotifyd at %s: %s%s", path,
			 strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ? " (is upnotifyd running?)" :
			 errno == EACCES ? " (the control socket is root-only)" :
					   "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one line. Returns a malloc'ed string, NULL on error with @err set. */
static char *read_line(int fd, int timeout_ms, char *err, size_t errlen)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nl = NULL;

	while (buf && !nl) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = cap >= REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				snprintf(err, errlen, "reply too large");
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		if (wait_fd(fd, POLLIN, timeout_ms) <= 0) {
			snprintf(err, errlen, "no reply from upnotifyd within %d ms", timeout_ms);
			free(buf);
			return NULL;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0) {
			snprintf(err, errlen, "upnotifyd closed the connection%s%s",
				 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			free(buf);
			return NULL;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (buf)
		*nl = '\0';
	return buf;
}

json_t *upn_ctl_call(const char *socket_path, json_t *req, int timeout_ms, char *err, size_t errlen,
		     int *transport)
{
	char *text = json_dumps(req, JSON_COMPACT), *line;
	json_t *reply, *result = NULL;
	json_error_t jerr;
	int fd;

	json_decref(req);
	*transport = 1;
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fd = connect_to(socket_path, err, errlen);
	if (fd < 0) {
		free(text);
		return NULL;
	}
	if (send_all(fd, text, strlen(text)) || send_all(fd, "\n", 1)) {
		snprintf(err, errlen, "sending to upnotifyd: %s", strerror(errno));
		free(text);
		close(fd);
		return NULL;
	}
	free(text);
	line = read_line(fd, timeout_ms, err, errlen);
	close(fd);
	if (!line)
		return NULL;
	reply = json_loads(line, 0, &jerr);
	free(line);
	if (!reply) {
		snprintf(err, errlen, "malformed reply from upnotifyd: %s", jerr.text);
		return NULL;
	}
	*transport = 0;
	if (json_is_true(json_object_get(reply, "ok"))) {
		result = json_incref(json_object_get(reply, "result"));
	} else {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		snprintf(err, errlen, "%s", msg ? msg : "request failed");
	}
	json_decref(reply);
	return result;
}
