// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * A command mail's text (cmdparse.h), as anyone may send it, parsed and checked
 * against a fixed allow list. The parse must say 0 exactly when it found no error;
 * keep at most UPN_CMD_MAX commands, each quoted as printable ASCII that parses back
 * to the same command; quote a bad line as printable ASCII only; and take a secret
 * no longer than a file may hold. The verdict must follow the documented order: a
 * sender not listed, then the secret, then the parse, then the verbs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdparse.h"
#include "fuzz.h"

#define SECRET "correct horse battery staple"

static const struct upn_cmd_allow allow[] = {
	{ .addr = "ops@example.test",
	  .secret = SECRET,
	  .secret_len = sizeof(SECRET) - 1,
	  .verbs = UPN_CMD_ALL },
	{ .addr = "hd@example.test",
	  .secret = SECRET,
	  .secret_len = sizeof(SECRET) - 1,
	  .verbs = (1u << UPN_CMD_SUBSCRIBE) | (1u << UPN_CMD_STATUS) },
};

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s >= 0x7f)
			return false;
	return true;
}

static void check_cmd(const struct upn_cmd *c)
{
	struct upn_cmd_mail again;

	CHECK(c->verb < UPN_CMD_NVERBS);
	CHECK(printable(c->line) && strlen(c->line) <= UPN_CMD_LINE_MAX);
	CHECK(!c->address[0] || upn_mail_valid(c->address));
	CHECK(c->verb != UPN_CMD_WAITLIST || c->has_server);
	CHECK(c->verb != UPN_CMD_SUBSCRIBE || c->has_server);
	CHECK(!c->address[0] || c->verb == UPN_CMD_SUBSCRIBE);
	/* The quote is itself a command line meaning the same. */
	CHECK(upn_cmd_parse(c->line, strlen(c->line), &again) == 0 && again.n == 1);
	CHECK(again.cmds[0].verb == c->verb && again.cmds[0].has_server == c->has_server);
	CHECK(!c->has_server || upn_addr_eq(&again.cmds[0].server, &c->server));
	CHECK(!strcmp(again.cmds[0].address, c->address));
	CHECK(!strcmp(again.cmds[0].line, c->line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const senders[] = { "ops@example.test", "HD@example.test",
					       "eve@example.test", "" };
	struct upn_cmd_mail *m = malloc(sizeof(*m));
	int ret;

	CHECK(m);
	ret = upn_cmd_parse((const char *)data, size, m);
	CHECK((ret == 0) == (m->error[0] == '\0'));
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK(ret || m->n > 0);
	CHECK(m->n <= UPN_CMD_MAX);
	CHECK(printable(m->bad_line) && strlen(m->bad_line) <= UPN_CMD_LINE_MAX);
	CHECK(memchr(m->error, '\0', sizeof(m->error)));
	CHECK(!m->has_secret ||
	      (m->secret_len > 0 && m->secret_len <= UPN_CMD_SECRET_MAX &&
	       m->secret_len == strlen(m->secret)) ||
	      memchr(m->secret, '\0', m->secret_len));
	for (size_t i = 0; i < m->n; i++)
		check_cmd(&m->cmds[i]);
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		size_t bad = SIZE_MAX;
		enum upn_cmd_verdict v = upn_cmd_authorise(allow, sizeof(allow) / sizeof(allow[0]),
							   senders[i], m, &bad);
		const struct upn_cmd_allow *a =
			upn_cmd_allow_find(allow, sizeof(allow) / sizeof(allow[0]), senders[i]);
		bool secret_ok = m->has_secret && m->secret_len == sizeof(SECRET) - 1 &&
				 !memcmp(m->secret, SECRET, m->secret_len);

		if (!a) {
			CHECK(v == UPN_CMD_BAD_SENDER);
			continue;
		}
		if (!secret_ok) {
			CHECK(v == UPN_CMD_BAD_SECRET);
			continue;
		}
		if (ret) {
			CHECK(v == UPN_CMD_MALFORMED);
			continue;
		}
		CHECK(v == UPN_CMD_OK || v == UPN_CMD_NOT_ALLOWED);
		if (v == UPN_CMD_NOT_ALLOWED) {
			CHECK(bad < m->n && !(a->verbs & (1u << m->cmds[bad].verb)));
			for (size_t j = 0; j < bad; j++)
				CHECK(a->verbs & (1u << m->cmds[j].verb));
		} else {
			for (size_t j = 0; j < m->n; j++)
				CHECK(a->verbs & (1u << m->cmds[j].verb));
		}
	}
	free(m);
	return 0;
}
