/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* Mail commands, the pure part: the text of a command mail cut into a secret and at
 * most UPN_CMD_MAX commands, and the decision whether its sender may have them run
 * ([commands] allow = ADDR:SECRETFILE [COMMAND ...], upnotify.conf(5)). No state, no
 * I/O: cmdexec.c runs what this accepts, and fuzz_cmdparse feeds it anything. */
#ifndef UPN_CMDPARSE_H
#define UPN_CMDPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "limits.h"

/* A person writes a handful; a longer list is a script gone wrong, or abuse. */
#define UPN_CMD_MAX 20
/* Longer lines are not commands (a server and an address fit in well under this). */
#define UPN_CMD_LINE_MAX 300

enum upn_cmd_verb {
	UPN_CMD_SUBSCRIBE,   /* SUBSCRIBE SERVER [ADDRESS] */
	UPN_CMD_UNSUBSCRIBE, /* UNSUBSCRIBE [SERVER] */
	UPN_CMD_STATUS,	     /* STATUS [SERVER] */
	UPN_CMD_WAITLIST,    /* WAITLIST SERVER */
	UPN_CMD_NVERBS,
};
#define UPN_CMD_ALL ((uint8_t)((1u << UPN_CMD_NVERBS) - 1))

struct upn_cmd {
	uint8_t verb; /* enum upn_cmd_verb */
	bool has_server;
	struct upn_addr server;
	char address[UPN_MAIL_MAX + 1];	 /* SUBSCRIBE's; "" : the sender */
	char line[UPN_CMD_LINE_MAX + 1]; /* as the reply quotes it: verb upper-cased */
};

struct upn_cmd_mail {
	bool has_secret;
	char secret[UPN_CMD_SECRET_MAX + 1];
	size_t secret_len;
	struct upn_cmd cmds[UPN_CMD_MAX];
	size_t n;
	/* The first thing wrong with it ("" : nothing), and the line it was on, made
	 * printable for the reply ("" : not about one line, e.g. no command at all). */
	char error[128];
	char bad_line[UPN_CMD_LINE_MAX + 1];
};

/* "SUBSCRIBE", ...; the inverse is case-insensitive, -1 for an unknown word. */
const char *upn_cmd_verb_name(unsigned int verb);
int upn_cmd_verb_parse(const char *word);

/* Cuts a command mail's text (UTF-8, LF or CRLF, need not end in a NUL). Blank lines,
 * quoted lines ('>') and everything after a signature line ("-- ") are skipped; a
 * SECRET line is looked for even after an error, so that the caller can refuse an
 * unauthenticated mail before telling it what is wrong. 0, or -EINVAL with
 * @out->error set. */
int upn_cmd_parse(const char *text, size_t len, struct upn_cmd_mail *out);

enum upn_cmd_verdict {
	UPN_CMD_OK,
	UPN_CMD_BAD_SENDER,  /* no allow line for the sender */
	UPN_CMD_BAD_SECRET,  /* no SECRET line, or not the sender's secret */
	UPN_CMD_MALFORMED,   /* authenticated, but upn_cmd_parse failed */
	UPN_CMD_NOT_ALLOWED, /* a command the sender's allow line does not list */
};

/* In that order: the sender (case-insensitive), its secret (compared in constant
 * time), the parse, each command's verb. For NOT_ALLOWED, @bad is the first command
 * refused. @allow is NULL when @sender is allowed nowhere. */
enum upn_cmd_verdict upn_cmd_authorise(const struct upn_cmd_allow *allow, size_t nallow,
				       const char *sender, const struct upn_cmd_mail *m,
				       size_t *bad);
/* The allow line for @sender, or NULL. */
const struct upn_cmd_allow *upn_cmd_allow_find(const struct upn_cmd_allow *allow, size_t nallow,
					       const char *sender);

#endif
