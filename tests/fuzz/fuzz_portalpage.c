// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The portal's pages on a fuzzed template and fuzzed values. The input is 5 bytes
 * (the page, modulo UPN_PAGE_COUNT; retry_after, u32 little endian), then up to
 * eleven NUL-separated strings: template, server, server_name, since, expires, mail,
 * action, csrf, token, message, title. An empty template keeps the built-in page;
 * missing values are NULL.
 *
 * A template is accepted or refused with a message naming it; an accepted one
 * renders (or fails with ENOMEM only), to exactly the length told. Values never add
 * markup: the page holds as many <, >, " and ' as the template's text, with every
 * value empty. upn_mail_mask() always terminates within its buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "limits.h"
#include "portalpage.h"

enum { NUMBERS = 5, STRINGS = 11 };

static struct upn_pages *pages;

static size_t count_markup(const char *s, size_t len, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static void check_mask(const char *mail)
{
	char out[UPN_MAIL_MAX + 5], small[6];
	size_t n = mail ? strlen(mail) : 0;

	memset(small, 'Z', sizeof(small));
	upn_mail_mask(mail, small, sizeof(small) - 1);
	CHECK(small[sizeof(small) - 1] == 'Z');
	CHECK(strlen(small) < sizeof(small) - 1);
	if (n < UPN_MAIL_MAX) {
		upn_mail_mask(mail, out, sizeof(out));
		CHECK(strlen(out) <= n + 3);
		CHECK(!n || strstr(out, "***"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *strs[STRINGS] = { 0 }, err[256];
	struct upn_page_vals v = { 0 };
	enum upn_page which = 0;
	size_t off = 0, len = 0, blen = 0;
	bool custom = false;
	uint32_t retry = 0;
	char *page, *base;
	int ret;

	if (!pages) {
		CHECK(!upn_pages_load(&pages, NULL, err, sizeof(err)));
	}
	if (size >= NUMBERS) {
		which = (enum upn_page)(data[0] % UPN_PAGE_COUNT);
		memcpy(&retry, data + 1, sizeof(retry));
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

	/* Back to the built-in page, then the fuzzed one if there is one. */
	CHECK(!upn_pages_set(pages, which, upn_page_builtin(which), strlen(upn_page_builtin(which)),
			     "builtin", err, sizeof(err)));
	if (strs[0] && *strs[0]) {
		err[0] = '\0';
		ret = upn_pages_set(pages, which, strs[0], strlen(strs[0]), "fuzz.html", err,
				    sizeof(err));
		if (ret) {
			CHECK(ret == -EINVAL || ret == -ENOMEM);
			CHECK(!strncmp(err, "fuzz.html", 9));
		} else {
			custom = true;
		}
	}

	v.server = strs[1];
	v.server_name = strs[2];
	v.since = strs[3];
	v.expires = strs[4];
	v.mail = strs[5];
	v.action = strs[6];
	v.csrf = strs[7];
	v.token = strs[8];
	v.message = strs[9];
	v.title = strs[10];
	v.retry_after = retry;

	errno = 0;
	page = upn_page_render(pages, which, &v, &len);
	/* With every value empty: what the template's text alone holds. The defaults
	 * of {title}, {message} and {action} are plain text. */
	base = upn_page_render(pages, which, &(struct upn_page_vals){ 0 }, &blen);
	if (page && base) {
		CHECK(strlen(page) == len);
		CHECK(strlen(base) == blen);
		CHECK(count_markup(page, len, '<') == count_markup(base, blen, '<'));
		CHECK(count_markup(page, len, '>') == count_markup(base, blen, '>'));
		CHECK(count_markup(page, len, '"') == count_markup(base, blen, '"'));
		CHECK(count_markup(page, len, '\'') == count_markup(base, blen, '\''));
		if (!custom)
			CHECK(!strncmp(page, "<!DOCTYPE html>", 15));
	} else {
		CHECK(errno == ENOMEM);
	}
	free(page);
	free(base);
	check_mask(strs[5]);

	for (int i = 0; i < STRINGS; i++)
		free(strs[i]);
	return 0;
}
