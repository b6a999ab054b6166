// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_reply_mail_render() and upn_relay_mail_render() on a fuzzed stored body (the
 * whole input, NUL-terminated). What renders must be CRLF only, with a header
 * section of known names only: nothing stored may add a header (Bcc, a second To)
 * or end the headers early. The relay mail must name the list id the body gives.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "limits.h"
#include "relaymail.h"

static const char *const known[] = {
	"Date",
	"From",
	"To",
	"Subject",
	"Message-ID",
	"In-Reply-To",
	"References",
	"Auto-Submitted",
	"MIME-Version",
	"Content-Type",
	"Content-Transfer-Encoding",
	UPN_RELAY_SIG_HEADER,
};

static void check_message(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n"), *p;

	CHECK(end);
	for (p = m; *p; p++) {
		if (*p == '\r')
			CHECK(p[1] == '\n');
		if (*p == '\n')
			CHECK(p > m && p[-1] == '\r');
	}
	for (const char *line = m; line < end + 2;) {
		const char *eol = strstr(line, "\r\n");
		bool ok = line[0] == ' ' || line[0] == '\t';

		for (size_t i = 0; !ok && i < sizeof(known) / sizeof(known[0]); i++) {
			size_t n = strlen(known[i]);

			ok = !strncasecmp(line, known[i], n) && line[n] == ':';
		}
		CHECK(ok);
		for (p = line; p < eol; p++)
			CHECK((unsigned char)*p >= 0x20 || *p == '\t');
		line = eol + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct upn_relay_key key = { .id = "k1", .key = { 1, 2, 3 }, .len = 32 };
	char *body = malloc(size + 1), *m, err[256], mid[UPN_MAIL_MAX + 1];
	char id[UPN_RELAY_ID_LEN + 1], want[UPN_MAIL_MAX + 1];

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	m = upn_reply_mail_render(&(struct upn_reply_mail){ .from = "upnotify@gw.example.org",
							    .to = "ops@example.org",
							    .message_id = "upn-1@gw.example.org",
							    .body = body,
							    .now = 1790000000 },
				  err, sizeof(err));
	if (m)
		check_message(m);
	free(m);
	m = upn_relay_mail_render(&(struct upn_relay_mail){ .from = "upnotify@gw.example.org",
							    .to = "agent@srv.example.org",
							    .server = "192.0.2.1",
							    .body = body,
							    .len = strlen(body),
							    .key = &key,
							    .now = 1790000000 },
				  mid, err, sizeof(err));
	if (m) {
		check_message(m);
		CHECK(!upn_relay_body_id(body, strlen(body), id));
		snprintf(want, sizeof(want), "upn-relay-%s@gw.example.org", id);
		CHECK(!strcmp(mid, want));
	}
	free(m);
	if (!upn_relay_json_id(body, strlen(body), id))
		CHECK(strlen(id) == UPN_RELAY_ID_LEN);
	free(body);
	return 0;
}
