// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_mailmsg_parse() (GMime) on any bytes, as a POP3 mailbox may hand them over.
 * What it fills must be safe to log and to answer: From and Message-ID without
 * blanks or control characters and within their limits, the subject valid UTF-8
 * without control characters, the text valid UTF-8 of the length it says.
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "mailmsg.h"

static void token_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	CHECK(n < cap);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] > ' ' && s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upn_mailmsg m;
	char err[128];

	if (upn_mailmsg_parse((const char *)data, size, &m, err, sizeof(err))) {
		CHECK(err[0]);
		CHECK(!m.text && !m.signature);
		return 0;
	}
	token_ok(m.from, sizeof(m.from));
	token_ok(m.message_id, sizeof(m.message_id));
	CHECK(strnlen(m.subject, sizeof(m.subject)) < sizeof(m.subject));
	CHECK(g_utf8_validate(m.subject, -1, NULL));
	for (const char *p = m.subject; *p; p = g_utf8_next_char(p))
		CHECK(!g_unichar_iscntrl(g_utf8_get_char(p)));
	CHECK(m.text && strlen(m.text) == m.text_len);
	CHECK(g_utf8_validate(m.text, (gssize)m.text_len, NULL));
	upn_mailmsg_free(&m);
	return 0;
}
