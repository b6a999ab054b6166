// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * upn_mail_render() on a fuzzed template and fuzzed values. The input is 26 bytes
 * of numbers (recovered, first, now: int64; port: u16; little endian), then up to
 * seven NUL-separated strings: template, from, to, server, server_name, client,
 * message_id (missing ones get plain values).
 *
 * A rendered message must hold no header but the ones the mailer writes and the
 * template adds: every line before the empty one is "Name: value" or a folded
 * continuation, in 7 bit ASCII; From, To, Date and Message-ID appear once each,
 * exactly as given; every line ends in CRLF and no CR or LF stands alone. Values
 * upn_mail_fields_check() accepts, with a template upn_mail_template_check()
 * accepts, must render.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "mailer.h"
#include "mailtext.h"

enum { NUMBERS = 26, STRINGS = 7 };

static bool name_char(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Counts header lines named @name (case-insensitive); checks the first one's value. */
static int count_header(const char *h, size_t len, const char *name, const char *value)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *line = h; line < h + len;) {
		const char *eol = strstr(line, "\r\n");

		if ((size_t)(eol - line) > n && !strncasecmp(line, name, n) && line[n] == ':') {
			if (!count && value) {
				/* Not folded: the mailer writes these on one line. */
				CHECK(line[n + 1] == ' ');
				CHECK((size_t)(eol - line) == n + 2 + strlen(value));
				CHECK(!memcmp(line + n + 2, value, strlen(value)));
			}
			count++;
		}
		line = eol + 2;
	}
	return count;
}

static void check_message(const char *m, const struct upn_mail_fields *f)
{
	const char *end = strstr(m, "\r\n\r\n"), *p;
	size_t hlen, len = strlen(m);
	char mid[UPN_MAIL_MAX + 8];

	CHECK(end);
	hlen = (size_t)(end - m) + 2;
	/* CRLF, and only CRLF. */
	for (p = m; *p; p++) {
		if (*p == '\r')
			CHECK(p[1] == '\n');
		if (*p == '\n')
			CHECK(p > m && p[-1] == '\r');
	}
	CHECK(len >= 2 && !strcmp(m + len - 2, "\r\n"));
	/* Header lines. */
	for (const char *line = m; line < m + hlen;) {
		const char *eol = strstr(line, "\r\n");

		CHECK(eol && eol < m + hlen + 1);
		for (p = line; p < eol; p++)
			CHECK((unsigned char)*p >= 0x20 || *p == '\t');
		for (p = line; p < eol; p++)
			CHECK((unsigned char)*p < 0x7f);
		if (line == m || (*line != ' ' && *line != '\t')) {
			for (p = line; p < eol && name_char((unsigned char)*p); p++)
				;
			CHECK(p > line && p < eol && *p == ':');
		}
		line = eol + 2;
	}
	snprintf(mid, sizeof(mid), "<%s>", f->message_id);
	CHECK(count_header(m, hlen, "From", f->from) == 1);
	CHECK(count_header(m, hlen, "To", f->to) == 1);
	CHECK(count_header(m, hlen, "Message-ID", mid) == 1);
	CHECK(count_header(m, hlen, "Date", NULL) == 1);
	CHECK(count_header(m, hlen, "Subject", NULL) == 1);
	CHECK(count_header(m, hlen, "Bcc", NULL) == 0);
	CHECK(count_header(m, hlen, "Cc", NULL) == 0);
	CHECK(count_header(m, hlen, "Content-Type", "text/plain; charset=UTF-8") == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *defaults[STRINGS] = {
		NULL,
		"upnotify@gw.example.org",
		"client@example.org",
		"192.0.2.1",
		"server.example.org",
		"198.51.100.7",
		"upn-0@gw.example.org",
	};
	char *strs[STRINGS] = { 0 };
	struct upn_mail_fields f = { 0 };
	int64_t num[3] = { 0 };
	uint16_t port = 0;
	size_t off = 0;
	char *m;

	if (size >= NUMBERS) {
		memcpy(num, data, sizeof(num));
		memcpy(&port, data + sizeof(num), sizeof(port));
		off = NUMBERS;
	}
	for (int i = 0; i < STRINGS && off <= size; i++) {
		const uint8_t *nul = memchr(data + off, 0, size - off);
		size_t n = nul ? (size_t)(nul - (data + off)) : size - off;

		strs[i] = strndup((const char *)data + off, n);
		CHECK(strs[i]);
		off += n + 1;
		if (!nul)
			break;
	}
	f.from = strs[1] ? strs[1] : defaults[1];
	f.to = strs[2] ? strs[2] : defaults[2];
	f.server = strs[3] ? strs[3] : defaults[3];
	f.server_name = strs[4] ? strs[4] : defaults[4];
	f.client = strs[5] ? strs[5] : defaults[5];
	f.message_id = strs[6] ? strs[6] : defaults[6];
	f.recovered = num[0];
	f.first = num[1];
	f.now = num[2];
	f.port = port;

	errno = 0;
	m = upn_mail_render(strs[0], &f);
	if (m) {
		CHECK(!upn_mail_fields_check(&f));
		check_message(m, &f);
		free(m);
	} else {
		CHECK(errno == EINVAL || errno == ENOMEM);
		if (errno == EINVAL && !upn_mail_fields_check(&f) && strs[0])
			CHECK(upn_mail_template_check(strs[0], NULL, 0) != 0);
	}
	for (int i = 0; i < STRINGS; i++)
		free(strs[i]);
	return 0;
}
