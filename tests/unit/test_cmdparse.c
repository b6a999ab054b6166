// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/*
 * The command mail parser and the authorisation check (cmdparse.h). Each table line
 * is a mail text and what must come of it: the commands as the reply quotes them, or
 * the error; then the verdict for a few senders against a fixed allow list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdparse.h"

#define SECRET "correct horse battery staple"

static const struct parse_case {
	const char *text;
	const char *cmds;  /* the quoted lines joined with '|', or NULL */
	const char *error; /* a substring of the error, or NULL */
	const char *bad;   /* the bad line as quoted, or NULL */
	const char *secret;
} parse_cases[] = {
	{ "SECRET " SECRET "\nSTATUS\n", "STATUS", NULL, NULL, SECRET },
	{ "secret " SECRET "\r\nstatus 10.0.2.2\r\n", "STATUS 10.0.2.2", NULL, NULL, SECRET },
	{ "SECRET " SECRET "\n\n  subscribe   10.0.2.2\tops@example.test  \n",
	  "SUBSCRIBE 10.0.2.2 ops@example.test", NULL, NULL, SECRET },
	{ "SECRET " SECRET "\nSubscribe 2001:db8::1\nUNSUBSCRIBE\nunsubscribe 10.0.2.2\n"
	  "WAITLIST 10.0.2.2\nSTATUS\n",
	  "SUBSCRIBE 2001:db8::1|UNSUBSCRIBE|UNSUBSCRIBE 10.0.2.2|WAITLIST 10.0.2.2|STATUS", NULL,
	  NULL, SECRET },
	/* Quoted lines, blank lines and the signature are not read. */
	{ "SECRET " SECRET "\n> FOO\n>SUBSCRIBE 1.2.3.4\n\nSTATUS\n-- \nJane\nBOGUS\n", "STATUS",
	  NULL, NULL, SECRET },
	{ "SECRET " SECRET "\nSTATUS\n--\nBOGUS\n", "STATUS", NULL, NULL, SECRET },
	{ "  SECRET   " SECRET "  \nSTATUS", "STATUS", NULL, NULL, SECRET },
	/* A secret with blanks inside is kept whole. */
	{ "SECRET a b  c\nSTATUS\n", "STATUS", NULL, NULL, "a b  c" },
	/* Errors. */
	{ "", NULL, "no command found", "", NULL },
	{ "SECRET " SECRET "\n", NULL, "no command found", "", SECRET },
	{ "SECRET " SECRET "\n> STATUS\n-- \nSTATUS\n", NULL, "no command found", "", SECRET },
	{ "SECRET " SECRET "\nHello,\nSTATUS\n", NULL, "unknown command", "Hello,", SECRET },
	{ "SECRET " SECRET "\nSTATUS 10.0.2\n", NULL, "IP address", "STATUS 10.0.2", SECRET },
	{ "SECRET " SECRET "\nSTATUS 10.0.2.2 extra\n", NULL, "expected STATUS [SERVER]",
	  "STATUS 10.0.2.2 extra", SECRET },
	{ "SECRET " SECRET "\nSUBSCRIBE\n", NULL, "expected SUBSCRIBE SERVER [ADDRESS]",
	  "SUBSCRIBE", SECRET },
	{ "SECRET " SECRET "\nSUBSCRIBE 10.0.2.2 not-an-address\n", NULL,
	  "not a usable mail address", "SUBSCRIBE 10.0.2.2 not-an-address", SECRET },
	{ "SECRET " SECRET "\nSUBSCRIBE 10.0.2.2 a@b.c d\n", NULL, "expected SUBSCRIBE",
	  "SUBSCRIBE 10.0.2.2 a@b.c d", SECRET },
	{ "SECRET " SECRET "\nSUBSCRIBE 10.0.2.2 a b c d e\n", NULL, "too many words", NULL,
	  SECRET },
	{ "SECRET " SECRET "\nWAITLIST\n", NULL, "expected WAITLIST SERVER", "WAITLIST", SECRET },
	{ "SECRET " SECRET "\nUNSUBSCRIBE 10.0.0.0/8\n", NULL, "IP address", NULL, SECRET },
	{ "SECRET " SECRET "\nSUBSCRIBE 10.0.2.2 j\xc3\xb6rg@example.test\n", NULL,
	  "not a usable mail address", "SUBSCRIBE 10.0.2.2 j??rg@example.test", SECRET },
	/* The bad line is quoted in printable ASCII only. */
	{ "SECRET " SECRET "\nST\x01TUS\n", NULL, "unknown command", "ST?TUS", SECRET },
	/* SECRET is still found after an error, and only once. */
	{ "BOGUS\nSECRET " SECRET "\nSTATUS\n", NULL, "unknown command", "BOGUS", SECRET },
	{ "SECRET " SECRET "\nSECRET " SECRET "\nSTATUS\n", NULL, "more than one SECRET", "SECRET",
	  SECRET },
	{ "SECRET " SECRET "\nSTATUS\nSECRET x\n", NULL, "more than one SECRET", "SECRET", SECRET },
	{ "STATUS\nSECRET " SECRET "\n", NULL, "must come before the commands", "SECRET", SECRET },
	{ "SECRET\nSTATUS\n", NULL, "without a usable secret", "SECRET", NULL },
	/* "Secretly" is not a SECRET line. */
	{ "Secretly\n", NULL, "unknown command", "Secretly", NULL },
};

static void join(const struct upn_cmd_mail *m, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		size_t n = strlen(buf);

		snprintf(buf + n, cap - n, "%s%s", i ? "|" : "", m->cmds[i].line);
	}
}

static void test_parse_table(void **state)
{
	struct upn_cmd_mail m;
	char got[4096];

	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		int ret = upn_cmd_parse(c->text, strlen(c->text), &m);

		if (c->cmds) {
			join(&m, got, sizeof(got));
			check(ret == 0 && !m.error[0], "case %zu: error '%s'", i, m.error);
			check(!strcmp(got, c->cmds), "case %zu: '%s', expected '%s'", i, got,
			      c->cmds);
		} else {
			check(ret == -EINVAL && strstr(m.error, c->error), "case %zu: error '%s'",
			      i, m.error);
			check(!c->bad || !strcmp(m.bad_line, c->bad),
			      "case %zu: bad line '%s', expected '%s'", i, m.bad_line, c->bad);
		}
		check(m.has_secret == (c->secret != NULL), "case %zu: has_secret %d", i,
		      m.has_secret);
		check(!c->secret ||
			      (!strcmp(m.secret, c->secret) && m.secret_len == strlen(c->secret)),
		      "case %zu: secret '%s'", i, m.secret);
	}
}

static void test_limits(void **state)
{
	struct upn_cmd_mail m;
	char *text = malloc(8192);
	char line[UPN_CMD_LINE_MAX + 10];
	size_t n;

	/* Exactly UPN_CMD_MAX commands pass; one more is refused. */
	n = (size_t)sprintf(text, "SECRET " SECRET "\n");
	for (int i = 0; i < UPN_CMD_MAX; i++)
		n += (size_t)sprintf(text + n, "STATUS 10.0.0.%d\n", i);
	assert_int_equal(upn_cmd_parse(text, n, &m), 0);
	assert_int_equal(m.n, UPN_CMD_MAX);
	n += (size_t)sprintf(text + n, "STATUS\n");
	assert_int_equal(upn_cmd_parse(text, n, &m), -EINVAL);
	assert_non_null(strstr(m.error, "more than 20 commands"));
	assert_string_equal(m.bad_line, "STATUS");

	/* A line longer than UPN_CMD_LINE_MAX is refused, cut in the quote. */
	memset(line, 'A', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	n = (size_t)sprintf(text, "SECRET " SECRET "\n%s\n", line);
	assert_int_equal(upn_cmd_parse(text, n, &m), -EINVAL);
	assert_non_null(strstr(m.error, "longer than"));
	assert_int_equal(strlen(m.bad_line), UPN_CMD_LINE_MAX);

	/* A secret longer than any file may hold is not taken. */
	n = (size_t)sprintf(text, "SECRET ");
	memset(text + n, 's', UPN_CMD_SECRET_MAX + 1);
	n += UPN_CMD_SECRET_MAX + 1;
	n += (size_t)sprintf(text + n, "\nSTATUS\n");
	assert_int_equal(upn_cmd_parse(text, n, &m), -EINVAL);
	assert_false(m.has_secret);

	/* No NUL needed at the end, and a NUL inside is just a bad character. */
	memcpy(text, "SECRET " SECRET "\nSTATUSXXXX", 7 + strlen(SECRET) + 7);
	assert_int_equal(upn_cmd_parse(text, 7 + strlen(SECRET) + 7, &m), 0);
	assert_string_equal(m.cmds[0].line, "STATUS");
	assert_int_equal(upn_cmd_parse("SECRET " SECRET "\nSTA\0TUS\n", 7 + strlen(SECRET) + 9, &m),
			 -EINVAL);
	assert_string_equal(m.bad_line, "STA?TUS");
	/* A line that starts with a NUL has no word at all (found by fuzz_cmdparse). */
	assert_int_equal(upn_cmd_parse("\0\1\0", 3, &m), -EINVAL);
	assert_string_equal(m.bad_line, "???");
	free(text);
}

static const struct upn_cmd_allow allow[] = {
	{ .addr = "ops@example.test",
	  .secret = SECRET,
	  .secret_len = sizeof(SECRET) - 1,
	  .verbs = UPN_CMD_ALL },
	{ .addr = "helpdesk@example.test",
	  .secret = "helpdesk secret 1234",
	  .secret_len = 20,
	  .verbs = (1u << UPN_CMD_SUBSCRIBE) | (1u << UPN_CMD_UNSUBSCRIBE) |
		   (1u << UPN_CMD_STATUS) },
};

static const struct auth_case {
	const char *sender, *text;
	enum upn_cmd_verdict verdict;
	size_t bad; /* NOT_ALLOWED: the command refused */
} auth_cases[] = {
	{ "ops@example.test", "SECRET " SECRET "\nWAITLIST 10.0.2.2\n", UPN_CMD_OK, 0 },
	{ "OPS@Example.TEST", "SECRET " SECRET "\nSTATUS\n", UPN_CMD_OK, 0 },
	{ "ops@example.test", "SECRET " SECRET "\nBOGUS\n", UPN_CMD_MALFORMED, 0 },
	{ "ops@example.test", "SECRET " SECRET "x\nSTATUS\n", UPN_CMD_BAD_SECRET, 0 },
	{ "ops@example.test", "SECRET correct horse battery stapl\nSTATUS\n", UPN_CMD_BAD_SECRET,
	  0 },
	{ "ops@example.test", "SECRET helpdesk secret 1234\nSTATUS\n", UPN_CMD_BAD_SECRET, 0 },
	{ "ops@example.test", "STATUS\n", UPN_CMD_BAD_SECRET, 0 },
	/* An unauthenticated mail learns nothing about its syntax. */
	{ "ops@example.test", "BOGUS\n", UPN_CMD_BAD_SECRET, 0 },
	{ "eve@example.test", "SECRET " SECRET "\nSTATUS\n", UPN_CMD_BAD_SENDER, 0 },
	{ "", "SECRET " SECRET "\nSTATUS\n", UPN_CMD_BAD_SENDER, 0 },
	{ "helpdesk@example.test", "SECRET helpdesk secret 1234\nSTATUS\nSUBSCRIBE 10.0.2.2\n",
	  UPN_CMD_OK, 0 },
	{ "helpdesk@example.test",
	  "SECRET helpdesk secret 1234\nSTATUS\nWAITLIST 10.0.2.2\nSTATUS\n", UPN_CMD_NOT_ALLOWED,
	  1 },
};

static void test_authorise_table(void **state)
{
	struct upn_cmd_mail m;

	for (size_t i = 0; i < ARRAY_SIZE(auth_cases); i++) {
		const struct auth_case *c = &auth_cases[i];
		size_t bad = 99;
		enum upn_cmd_verdict v;

		upn_cmd_parse(c->text, strlen(c->text), &m);
		v = upn_cmd_authorise(allow, ARRAY_SIZE(allow), c->sender, &m, &bad);
		check(v == c->verdict, "case %zu: verdict %d, expected %d", i, v, c->verdict);
		check(v != UPN_CMD_NOT_ALLOWED || bad == c->bad, "case %zu: bad %zu", i, bad);
	}
	/* No allow list: nobody. */
	upn_cmd_parse("SECRET " SECRET "\nSTATUS\n", 7 + strlen(SECRET) + 8, &m);
	assert_int_equal(upn_cmd_authorise(NULL, 0, "ops@example.test", &m, NULL),
			 UPN_CMD_BAD_SENDER);
}

static void test_verbs(void **state)
{
	for (int i = 0; i < UPN_CMD_NVERBS; i++)
		assert_int_equal(upn_cmd_verb_parse(upn_cmd_verb_name((unsigned int)i)), i);
	assert_int_equal(upn_cmd_verb_parse("waitList"), UPN_CMD_WAITLIST);
	assert_int_equal(upn_cmd_verb_parse("SECRET"), -1);
	assert_int_equal(upn_cmd_verb_parse(""), -1);
	assert_string_equal(upn_cmd_verb_name(99), "?");
}

/* [commands] in the config file: the allow lines and their secret files. */
static int load(const char *dir, const char *body, struct upn_config *cfg, char *err)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/upnotify.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	return upn_config_load(path, cfg, err, 512);
}

static void secret_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static const struct cfg_case {
	const char *conf; /* %s: the directory */
	const char *error;
} cfg_cases[] = {
	{ "[commands]\nallow = ops@example.test:%s/ok\n", NULL },
	{ "[commands]\nallow = ops@example.test:%s/open\n", "mode 0600 or stricter" },
	{ "[commands]\nallow = ops@example.test:%s/short\n", "16 to 256 characters" },
	{ "[commands]\nallow = ops@example.test:%s/two\n", "one line" },
	{ "[commands]\nallow = ops@example.test:%s/none\n", "No such file" },
	{ "[commands]\nallow = ops@example.test:%s/ok FROB\n", "'FROB' is not SUBSCRIBE" },
	{ "[commands]\nallow = ops@example.test\n", "expected ADDRESS:SECRETFILE" },
	{ "[commands]\nallow = nobody:%s/ok\n", "not a usable mail address" },
	{ "[commands]\nallow = ops@example.test:ok\n", "absolute path" },
	{ "[commands]\nallow = ops@example.test:%s/ok\nallow = OPS@example.test:%s/ok\n",
	  "listed twice" },
	{ "[commands]\nmailbox = imap://x/\n", "pop3:// or pop3s://" },
	{ "[commands]\nmailbox = pop3://u:secret@x/\n", ":2: mailbox URL: put the password in" },
	{ "[commands]\nmailbox = pop3://\n", ":2: bad mailbox URL" },
	{ "[commands]\nsubscriber_prefix = 10.0.0.0/8\n", "IPv6 prefix" },
	{ "[commands]\nsubscriber_prefix = fd00::/96\n", "IPv6 prefix" },
	{ "[commands]\npoll = 10ms\n", "poll" },
	{ "[commands]\nfrob = 1\n", "unknown key 'frob' in [commands]" },
};

static void test_config(void **state)
{
	char dir[] = "/tmp/upn-cmdcfg-XXXXXX", conf[1024], err[512];
	struct upn_config cfg;
	char buf[UPN_ADDRSTRLEN];

	assert_non_null(mkdtemp(dir));
	secret_file(dir, "ok", SECRET "\n", 0600);
	secret_file(dir, "open", SECRET "\n", 0644);
	secret_file(dir, "short", "tooshort\n", 0600);
	secret_file(dir, "two", SECRET "\nsecond line\n", 0600);
	for (size_t i = 0; i < ARRAY_SIZE(cfg_cases); i++) {
		int ret;

		snprintf(conf, sizeof(conf), cfg_cases[i].conf, dir, dir);
		ret = load(dir, conf, &cfg, err);
		if (!cfg_cases[i].error) {
			check(ret == 0, "case %zu: %s", i, err);
			upn_config_free(&cfg);
		} else {
			check(ret == -EINVAL && strstr(err, cfg_cases[i].error),
			      "case %zu: %d '%s'", i, ret, ret ? err : "");
		}
	}
	/* The defaults, and a full section. */
	snprintf(conf, sizeof(conf),
		 "[commands]\nmailbox = pop3s://upnotify@mail.example.test/\n"
		 "password_file = /etc/upnotify/commands.pass\npoll = 5m\n"
		 "allow = ops@example.test:%s/ok\n"
		 "allow = helpdesk@example.test:%s/ok SUBSCRIBE unsubscribe STATUS\n"
		 "reply_rate = 10m\n",
		 dir, dir);
	assert_int_equal(load(dir, "[mail]\n", &cfg, err), 0);
	assert_int_equal(cfg.commands.poll_ms, 60000);
	assert_int_equal(cfg.commands.reply_rate_s, 3600);
	assert_string_equal(upn_prefix_fmt(&cfg.commands.subscriber_prefix, buf),
			    "fd75:706e:6d61:696c::/64");
	assert_int_equal(cfg.commands.nallow, 0);
	assert_string_equal(cfg.commands.mailbox, "");
	upn_config_free(&cfg);
	check(load(dir, conf, &cfg, err) == 0, "%s", err);
	assert_string_equal(cfg.commands.mailbox, "pop3s://upnotify@mail.example.test/");
	assert_string_equal(cfg.commands.password_file, "/etc/upnotify/commands.pass");
	assert_int_equal(cfg.commands.poll_ms, 300000);
	assert_int_equal(cfg.commands.reply_rate_s, 600);
	assert_int_equal(cfg.commands.nallow, 2);
	assert_string_equal(cfg.commands.allow[0].secret, SECRET);
	assert_int_equal(cfg.commands.allow[0].secret_len, strlen(SECRET));
	assert_int_equal(cfg.commands.allow[0].verbs, UPN_CMD_ALL);
	assert_int_equal(cfg.commands.allow[1].verbs, (1u << UPN_CMD_SUBSCRIBE) |
							      (1u << UPN_CMD_UNSUBSCRIBE) |
							      (1u << UPN_CMD_STATUS));
	upn_config_free(&cfg);
	assert_null(cfg.commands.allow);
	snprintf(conf, sizeof(conf), "rm -rf '%s'", dir);
	assert_int_equal(system(conf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),	cmocka_unit_test(test_limits),
		cmocka_unit_test(test_authorise_table), cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
