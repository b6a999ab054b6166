// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
/* The portal's pages: figures 32A and 32B, escaping, masking, template files. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

#include "limits.h"
#include "portalpage.h"

/* Where the example templates are, from the top of the tree (tests/run starts there). */
#define ETC_PORTAL "etc/portal"

static const char xss[] = "\"><script>alert(1)</script><img src=x onerror='alert(2)'>&amp;";

static struct upn_page_vals vals(void)
{
	return (struct upn_page_vals){
		.server = "172.27.178.80",
		.server_name = "aaa.bbbb.cccc.co.jp",
		.since = "2026-11-22T19:03:12+09:00",
		.expires = "2026-11-23T19:05:40+09:00",
		.mail = "abc@ddd.eee.co.jp",
		.csrf = "c.Y3NyZg.bWFj",
		.token = "k.cGF5bG9hZA.bWFj",
		.retry_after = 300,
	};
}

static struct upn_pages *load(const char *dir)
{
	struct upn_pages *p = NULL;
	char err[256] = "";

	check(!upn_pages_load(&p, dir, err, sizeof(err)), "load %s: %s", dir ? dir : "(null)", err);
	assert_non_null(p);
	return p;
}

static char *render(const struct upn_pages *p, enum upn_page which, const struct upn_page_vals *v)
{
	size_t len = 0;
	char *s = upn_page_render(p, which, v, &len);

	check(s, "page %s did not render", upn_page_name(which));
	assert_int_equal(strlen(s), len);
	return s;
}

static int count(const char *s, const char *sub)
{
	int n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

/* No "{word}" is left, whichever the word. */
static void assert_no_placeholder(const char *s, const char *what)
{
	regex_t re;
	regmatch_t m;

	assert_int_equal(regcomp(&re, "\\{[a-z_]+\\}", REG_EXTENDED), 0);
	check(regexec(&re, s, 1, &m, 0), "%s: placeholder left: %.*s", what,
	      (int)(m.rm_eo - m.rm_so), s + m.rm_so);
	regfree(&re);
}

/* What every page must be: a phone-sized English HTML page that loads nothing. */
static void assert_page_basics(const char *s, const char *what)
{
	check(!strncmp(s, "<!DOCTYPE html>", 15), "%s: no doctype", what);
	check(strstr(s, "<html lang=\"en\">"), "%s: no lang", what);
	check(strstr(s, "<meta charset=\"utf-8\">"), "%s: no charset", what);
	check(strstr(s, "<meta name=\"viewport\" content=\"width=device-width, "
			"initial-scale=1\">"),
	      "%s: no viewport", what);
	check(strstr(s, "<title>") && strstr(s, "</title>"), "%s: no title", what);
	check(strstr(s, "</html>"), "%s: not closed", what);
	check(!strstr(s, "<script"), "%s: a script", what);
	check(!strstr(s, "src="), "%s: loads something", what);
	check(!strstr(s, "url("), "%s: CSS loads something", what);
	check(!strstr(s, "@import"), "%s: CSS imports", what);
	check(!strstr(s, "rel=\"stylesheet\""), "%s: external CSS", what);
	check(!strstr(s, "{{"), "%s: a doubled brace", what);
	assert_no_placeholder(s, what);
}

static void test_pages_render(void **state)
{
	static const struct {
		enum upn_page page;
		const char *name;
		const char *key[4];
	} cases[] = {
		{ UPN_PAGE_INQUIRY,
		  "inquiry",
		  { "aaa.bbbb.cccc.co.jp (172.27.178.80) is not answering",
		    "Do you want a mail when it is back?",
		    "<time datetime=\"2026-11-22T19:03:12+09:00\">" } },
		{ UPN_PAGE_REGISTERED,
		  "registered",
		  { "you will be told at <strong>a***@ddd.eee.co.jp</strong>",
		    "is not answering" } },
		{ UPN_PAGE_CONFIRMED,
		  "confirmed",
		  { "We will mail <strong>abc@ddd.eee.co.jp</strong> when "
		    "<strong>aaa.bbbb.cccc.co.jp (172.27.178.80)</strong> is back",
		    "<dd>abc@ddd.eee.co.jp</dd>",
		    "<dd>aaa.bbbb.cccc.co.jp (172.27.178.80)</dd>" } },
		{ UPN_PAGE_DECLINED, "declined", { "No mail will be sent" } },
		{ UPN_PAGE_CHECK_MAIL,
		  "check_mail",
		  { "If the address is valid, a confirmation link was sent",
		    "expires at <time datetime=\"2026-11-23T19:05:40+09:00\">" } },
		{ UPN_PAGE_CONFIRM_ASK,
		  "confirm_ask",
		  { "<form method=\"post\" action=\"/.upnotify/confirm\">",
		    "<input type=\"hidden\" name=\"t\" value=\"k.cGF5bG9hZA.bWFj\">",
		    "<button type=\"submit\">Confirm</button>" } },
		{ UPN_PAGE_CONFIRM_DONE, "confirm_done", { "Address confirmed", "We will mail" } },
		{ UPN_PAGE_EXPIRED, "expired", { "expired or is not valid" } },
		{ UPN_PAGE_UNSUB_ASK,
		  "unsub_ask",
		  { "<form method=\"post\" "
		    "action=\"/.upnotify/unsubscribe?t=k.cGF5bG9hZA.bWFj\">",
		    "<button type=\"submit\">Unsubscribe</button>",
		    "<strong>abc@ddd.eee.co.jp</strong>" } },
		{ UPN_PAGE_UNSUB_DONE,
		  "unsub_done",
		  { "No more mails will be sent to <strong>abc@ddd.eee.co.jp</strong>" } },
		{ UPN_PAGE_BACK_UP,
		  "back_up",
		  { "is answering again", "href=\"http://172.27.178.80/\"" } },
		{ UPN_PAGE_ERROR,
		  "error",
		  { "<h1>Request refused</h1>", "The request could not be handled." } },
		{ UPN_PAGE_NOT_FOUND, "not_found", { "<h1>Not found</h1>" } },
	};
	struct upn_pages *p = load(NULL);
	struct upn_page_vals v = vals();

	assert_int_equal(ARRAY_SIZE(cases), UPN_PAGE_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *s = render(p, cases[i].page, &v);

		assert_string_equal(upn_page_name(cases[i].page), cases[i].name);
		assert_non_null(upn_page_builtin(cases[i].page));
		assert_page_basics(s, cases[i].name);
		for (int k = 0; k < 4 && cases[i].key[k]; k++)
			check(strstr(s, cases[i].key[k]), "%s: no \"%s\"", cases[i].name,
			      cases[i].key[k]);
		free(s);
	}
	/* Nothing out of range. */
	assert_null(upn_page_name(UPN_PAGE_COUNT));
	assert_null(upn_page_builtin(UPN_PAGE_COUNT));
	errno = 0;
	assert_null(upn_page_render(p, UPN_PAGE_COUNT, &v, NULL));
	assert_int_equal(errno, EINVAL);
	upn_pages_free(p);
}

/* Figure 32A's form: the fields portal.c reads, the mail field a phone fills in. */
static void test_inquiry_form(void **state)
{
	static const enum upn_page forms[] = { UPN_PAGE_INQUIRY, UPN_PAGE_REGISTERED };
	struct upn_pages *p = load(NULL);
	struct upn_page_vals v = vals();

	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		char *s = render(p, forms[i], &v);

		assert_non_null(strstr(s, "<form method=\"post\" action=\"/.upnotify/register\">"));
		assert_non_null(strstr(
			s, "<input type=\"hidden\" name=\"server\" value=\"172.27.178.80\">"));
		assert_non_null(
			strstr(s, "<input type=\"hidden\" name=\"csrf\" value=\"c.Y3NyZg.bWFj\">"));
		assert_non_null(strstr(s, "<label for=\"mail\">"));
		assert_non_null(strstr(s, "<input id=\"mail\" name=\"mail\" type=\"email\" "
					  "autocomplete=\"email\" required maxlength=\"254\""));
		assert_non_null(strstr(s, "name=\"notify\" value=\"yes\""));
		/* Declining needs no address. */
		assert_non_null(strstr(
			s, "name=\"notify\" value=\"no\" class=\"secondary\" formnovalidate>"));
		/* One form, all its fields inside it. */
		assert_int_equal(count(s, "<form"), 1);
		assert_true(strstr(s, "name=\"notify\" value=\"no\"") < strstr(s, "</form>"));
		/* An empty notice is there, but empty (the CSS hides it). */
		assert_non_null(strstr(s, "<p class=\"msg\" role=\"alert\"></p>"));
		free(s);
	}

	/* Gateway mode: the caller's action; a notice above the form. */
	v.action = "http://10.0.1.1:8080/.upnotify/register";
	v.message = "That is not a mail address.";
	{
		char *s = render(p, UPN_PAGE_INQUIRY, &v);

		assert_non_null(strstr(s, "action=\"http://10.0.1.1:8080/.upnotify/register\""));
		assert_non_null(strstr(
			s, "<p class=\"msg\" role=\"alert\">That is not a mail address.</p>"));
		free(s);
	}
	upn_pages_free(p);
}

/* Every value, in every page, with a payload: nothing of it survives as markup. */
static void test_escaping(void **state)
{
	struct upn_pages *p = load(NULL);
	struct upn_page_vals v = {
		.server = xss,
		.server_name = xss,
		.since = xss,
		.expires = xss,
		.mail = xss,
		.action = xss,
		.csrf = xss,
		.token = xss,
		.message = xss,
		.title = xss,
	};

	for (int i = 0; i < UPN_PAGE_COUNT; i++) {
		char *s = render(p, i, &v);
		char *b = upn_page_render(p, i, NULL, NULL);

		/* Values add no markup: as many <, >, " and ' as with empty values. */
		check(count(s, "<") == count(b, "<"), "%s: <", upn_page_name(i));
		check(count(s, ">") == count(b, ">"), "%s: >", upn_page_name(i));
		check(count(s, "\"") == count(b, "\""), "%s: \"", upn_page_name(i));
		check(count(s, "'") == count(b, "'"), "%s: '", upn_page_name(i));
		check(!strstr(s, "<script") && !strstr(s, "<img"), "%s: markup", upn_page_name(i));
		free(b);
		free(s);
	}
	{
		char *s = render(p, UPN_PAGE_ERROR, &v);

		/* Text: the five characters as entities, "&amp;" itself escaped again. */
		assert_non_null(
			strstr(s, "<h1>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
				  "&lt;img src=x onerror=&#39;alert(2)&#39;&gt;&amp;amp;</h1>"));
		free(s);
		s = render(p, UPN_PAGE_INQUIRY, &v);
		assert_non_null(strstr(s, "name=\"csrf\" value=\"&quot;&gt;&lt;script&gt;"));
		/* The action is no http(s) URL nor a path: it goes nowhere. */
		assert_non_null(strstr(s, "action=\"#\""));
		free(s);
		/* {server_full} of two payloads. */
		v.server_name = "<n'>";
		s = render(p, UPN_PAGE_CONFIRMED, &v);
		assert_non_null(strstr(s, "<dd>&lt;n&#39;&gt; (&quot;&gt;&lt;script&gt;"));
		free(s);
	}
	upn_pages_free(p);
}

static void test_urls(void **state)
{
	static const struct {
		const char *action;
		const char *want; /* the rendered attribute value */
	} cases[] = {
		{ "/.upnotify/register", "/.upnotify/register" },
		{ "http://10.0.1.1:8080/.upnotify/register",
		  "http://10.0.1.1:8080/.upnotify/register" },
		{ "HTTPS://gw.example.org/x?a=1&b=2", "HTTPS://gw.example.org/x?a=1&amp;b=2" },
		{ "http://[2001:db8::1]:8080/r", "http://[2001:db8::1]:8080/r" },
		{ "/a b\"c'd<e>f", "/a%20b%22c%27d%3Ce%3Ef" },
		{ "/\xc3\xa9\t\n", "/%C3%A9%09%0A" },
		{ "/{x}|`^\\", "/%7Bx%7D%7C%60%5E%5C" },
		{ "javascript:alert(1)", "#" },
		{ "JavaScript:alert(1)", "#" },
		{ " javascript:alert(1)", "#" },
		{ "data:text/html,x", "#" },
		{ "vbscript:x", "#" },
		{ "ftp://x/", "#" },
		{ "?t=1", "?t=1" },
		{ "#frag", "#frag" },
	};
	struct upn_pages *p = load(NULL);
	struct upn_page_vals v = vals();
	char want[256], *s;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		v.action = cases[i].action;
		s = render(p, UPN_PAGE_INQUIRY, &v);
		snprintf(want, sizeof(want), "action=\"%s\">", cases[i].want);
		check(strstr(s, want), "case %zu: no %s", i, want);
		free(s);
	}

	/* Where to retry: the address, in brackets when it is IPv6. */
	v = vals();
	s = render(p, UPN_PAGE_BACK_UP, &v);
	assert_non_null(strstr(s, "href=\"http://172.27.178.80/\""));
	free(s);
	v.server = "2001:db8::80";
	v.server_name = NULL;
	s = render(p, UPN_PAGE_BACK_UP, &v);
	assert_non_null(strstr(s, "href=\"http://[2001:db8::80]/\""));
	assert_non_null(strstr(s, "<h1>2001:db8::80 is answering again</h1>"));
	free(s);
	v.server = "\"><x>";
	s = render(p, UPN_PAGE_BACK_UP, &v);
	assert_non_null(strstr(s, "href=\"http://%22%3E%3Cx%3E/\""));
	free(s);

	/* unsub_ask posts to its own path with the token in the query, the token's
	 * unsafe characters percent-encoded; a caller's action wins. */
	v = vals();
	v.token = "u.a&b=c#d";
	s = render(p, UPN_PAGE_UNSUB_ASK, &v);
	assert_non_null(strstr(s, "action=\"/.upnotify/unsubscribe?t=u.a%26b%3Dc%23d\""));
	assert_non_null(strstr(s, "name=\"t\" value=\"u.a&amp;b=c#d\""));
	free(s);
	v.action = "http://10.0.1.1:8080/.upnotify/unsubscribe?t=u.x";
	s = render(p, UPN_PAGE_UNSUB_ASK, &v);
	assert_non_null(strstr(s, "action=\"http://10.0.1.1:8080/.upnotify/unsubscribe?t=u.x\""));
	free(s);
	upn_pages_free(p);
}

static void test_values(void **state)
{
	struct upn_pages *p;
	struct upn_page_vals v = vals();
	char err[256], *s;
	static const char all[] =
		"[{server}|{server_name}|{server_full}|{server_url}|{since}|{expires}|{mail}|"
		"{mail_masked}|{action}|{csrf}|{token}|{message}|{retry_after}|{title}]"
		"{{csrf} {{ {x {Server} {} {server {csrf}}";

	p = load(NULL);
	assert_int_equal(upn_pages_set(p, UPN_PAGE_INQUIRY, all, strlen(all), "t.html", err,
				       sizeof(err)),
			 0);
	s = render(p, UPN_PAGE_INQUIRY, &v);
	assert_string_equal(s, "[172.27.178.80|aaa.bbbb.cccc.co.jp|aaa.bbbb.cccc.co.jp "
			       "(172.27.178.80)|http://172.27.178.80/|2026-11-22T19:03:12+09:00|"
			       "2026-11-23T19:05:40+09:00|abc@ddd.eee.co.jp|a***@ddd.eee.co.jp|"
			       "/.upnotify/register|c.Y3NyZg.bWFj|k.cGF5bG9hZA.bWFj||300|"
			       "Server not answering]{csrf} { {x {Server} {} {server "
			       "c.Y3NyZg.bWFj}");
	free(s);

	/* No name, or the name is the address: just the address. A title and a
	 * message of the caller's. */
	v.server_name = "";
	v.title = "Custom title";
	v.message = "Custom message";
	v.retry_after = 4294967295u;
	s = render(p, UPN_PAGE_INQUIRY, &v);
	assert_non_null(strstr(s, "[172.27.178.80|172.27.178.80|172.27.178.80|"));
	assert_non_null(strstr(s, "|Custom message|4294967295|Custom title]"));
	free(s);
	v.server_name = "172.27.178.80";
	s = render(p, UPN_PAGE_INQUIRY, &v);
	assert_non_null(strstr(s, "[172.27.178.80|172.27.178.80|172.27.178.80|"));
	free(s);

	/* No values at all: empty, or defaults. */
	s = render(p, UPN_PAGE_INQUIRY, NULL);
	assert_string_equal(s, "[||||||||/.upnotify/register||||0|Server not answering]"
			       "{csrf} { {x {Server} {} {server }");
	free(s);
	upn_pages_free(p);

	/* The error page's default message and title; the caller's. */
	p = load(NULL);
	v = vals();
	v.title = "Too many requests";
	v.message = "Try again in an hour.";
	s = render(p, UPN_PAGE_ERROR, &v);
	assert_non_null(strstr(s, "<title>Too many requests</title>"));
	assert_non_null(strstr(s, "<h1>Too many requests</h1>"));
	assert_non_null(strstr(s, "Try again in an hour."));
	assert_null(strstr(s, "could not be handled"));
	free(s);
	upn_pages_free(p);
}

static void test_mask(void **state)
{
	static const struct {
		const char *mail, *want;
	} cases[] = {
		{ "abc@example.org", "a***@example.org" },
		{ "a@example.org", "a***@example.org" },
		{ "@example.org", "***@example.org" },
		{ "nodomain", "***" },
		{ "", "" },
		{ "abc@", "a***@" },
		{ "\"a@b\"@example.org", "\"***@example.org" },
		{ "\xc3\xa9t\xc3\xa9@example.org", "\xc3\xa9***@example.org" },
		{ "\xe6\x97\xa5\xe6\x9c\xac@example.jp", "\xe6\x97\xa5***@example.jp" },
		{ "\xf0\x9f\x98\x80x@example.org", "\xf0\x9f\x98\x80***@example.org" },
		/* Not UTF-8: a lone continuation run stops after three bytes. */
		{ "\x80\x80\x80\x80\x80@x", "\x80\x80\x80\x80***@x" },
	};
	char out[UPN_MAIL_MAX + 5], small[8], longmail[UPN_MAIL_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		upn_mail_mask(cases[i].mail, out, sizeof(out));
		check(!strcmp(out, cases[i].want), "case %zu: %s", i, out);
	}
	upn_mail_mask(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* Too small: cut, but terminated. */
	upn_mail_mask("abc@example.org", small, sizeof(small));
	assert_string_equal(small, "a***@ex");
	upn_mail_mask("abc@example.org", small, 1);
	assert_string_equal(small, "");
	upn_mail_mask("abc@example.org", NULL, 0);
	/* The longest address fits UPN_MAIL_MAX + 5. */
	memset(longmail, 'x', UPN_MAIL_MAX);
	longmail[UPN_MAIL_MAX] = '\0';
	longmail[1] = '@';
	upn_mail_mask(longmail, out, sizeof(out));
	assert_int_equal(strlen(out), UPN_MAIL_MAX + 3);
	longmail[1] = 'x';
	longmail[UPN_MAIL_MAX - 2] = '@';
	upn_mail_mask(longmail, out, sizeof(out));
	assert_string_equal(out, "x***@x");
}

static void test_template_errors(void **state)
{
	static const struct {
		enum upn_page page;
		const char *text;
		const char *err; /* NULL: accepted */
	} cases[] = {
		{ UPN_PAGE_DECLINED, "<p>{server_full}</p>", NULL },
		{ UPN_PAGE_DECLINED, "a\nb\n<p>{servr}</p>",
		  "t.html:3: unknown placeholder {servr}" },
		{ UPN_PAGE_DECLINED, "{Server} {server-name} {a b} {} {{servr}", NULL },
		{ UPN_PAGE_DECLINED, "{x}", "t.html:1: unknown placeholder {x}" },
		/* CSS braces are text. */
		{ UPN_PAGE_DECLINED, "p { margin: 0 }\na{color:red}\n.x{}\n@media(x){b{c:d}}",
		  NULL },
		/* Only the first error is told. */
		{ UPN_PAGE_DECLINED, "{a}\n{b}", "t.html:1: unknown placeholder {a}" },
		/* Longer than any placeholder: text. */
		{ UPN_PAGE_DECLINED, "{abcdefghijklmnopqrstuvwxyzabcdefghij}", NULL },
		{ UPN_PAGE_INQUIRY, "<form>{server}</form>",
		  "t.html: no {csrf}: its form could never be sent" },
		{ UPN_PAGE_INQUIRY, "{csrf}", NULL },
		{ UPN_PAGE_REGISTERED, "{{csrf}",
		  "t.html: no {csrf}: its form could never be sent" },
		{ UPN_PAGE_CONFIRM_ASK, "{action}",
		  "t.html: no {token}: its form could never be sent" },
		{ UPN_PAGE_UNSUB_ASK, "<form action=\"{action}\">", NULL },
		{ UPN_PAGE_UNSUB_ASK, "{token}", NULL },
		{ UPN_PAGE_UNSUB_ASK, "{mail}",
		  "t.html: no {action} or {token}: its form could never be sent" },
		{ UPN_PAGE_ERROR, "", NULL },
	};
	struct upn_pages *p = load(NULL);
	char err[256], *big, *s;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret;

		err[0] = '\0';
		ret = upn_pages_set(p, cases[i].page, cases[i].text, strlen(cases[i].text),
				    "t.html", err, sizeof(err));
		if (!cases[i].err) {
			check(!ret, "case %zu refused: %s", i, err);
			continue;
		}
		check(ret == -EINVAL, "case %zu accepted", i);
		check(!strcmp(err, cases[i].err), "case %zu: %s", i, err);
	}

	/* A refused template leaves the page as it was. */
	s = render(p, UPN_PAGE_ERROR, NULL);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(upn_pages_set(p, UPN_PAGE_ERROR, "{nope}", 6, "e.html", err, sizeof(err)),
			 -EINVAL);
	s = render(p, UPN_PAGE_ERROR, NULL);
	assert_string_equal(s, "");
	free(s);

	/* A NUL byte; the size cap, exactly and one more; a bad page. */
	assert_int_equal(upn_pages_set(p, UPN_PAGE_ERROR, "a\0b", 3, "e.html", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "e.html: holds a NUL byte");
	big = malloc(UPN_PAGE_TEMPLATE_MAX + 2);
	memset(big, 'a', UPN_PAGE_TEMPLATE_MAX + 1);
	big[UPN_PAGE_TEMPLATE_MAX + 1] = '\0';
	assert_int_equal(upn_pages_set(p, UPN_PAGE_ERROR, big, UPN_PAGE_TEMPLATE_MAX + 1, "e.html",
				       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "e.html: larger than 65536 bytes");
	big[UPN_PAGE_TEMPLATE_MAX] = '\0';
	assert_int_equal(upn_pages_set(p, UPN_PAGE_ERROR, big, UPN_PAGE_TEMPLATE_MAX, "e.html", err,
				       sizeof(err)),
			 0);
	s = upn_page_render(p, UPN_PAGE_ERROR, NULL, &len);
	assert_int_equal(len, UPN_PAGE_TEMPLATE_MAX);
	free(s);
	free(big);
	assert_int_equal(upn_pages_set(p, UPN_PAGE_COUNT, "x", 1, "x.html", err, sizeof(err)),
			 -EINVAL);
	upn_pages_free(p);
	upn_pages_free(NULL);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static void test_override_dir(void **state)
{
	char dir[] = "/tmp/upn-portalpage-XXXXXX", err[512], want[600], *s, *b, *big;
	struct upn_page_vals v = vals();
	struct upn_pages *p, *builtin = load(NULL);
	static const char mine[] = "<p>{server_full} est en panne. {{ok}</p>\n{csrf}\n";

	assert_non_null(mkdtemp(dir));

	/* An empty directory: the built-in pages. Other files are ignored. */
	write_file(dir, "README", "x", 1);
	write_file(dir, "style.css", "{nope}", 6);
	write_file(dir, ".inquiry.html.swp", "{nope}", 6);
	p = load(dir);
	s = render(p, UPN_PAGE_INQUIRY, &v);
	b = render(builtin, UPN_PAGE_INQUIRY, &v);
	assert_string_equal(s, b);
	free(s);
	free(b);
	upn_pages_free(p);

	/* One page overridden, the others stay built in. */
	write_file(dir, "inquiry.html", mine, strlen(mine));
	p = load(dir);
	s = render(p, UPN_PAGE_INQUIRY, &v);
	assert_string_equal(s, "<p>aaa.bbbb.cccc.co.jp (172.27.178.80) est en panne. {ok}</p>\n"
			       "c.Y3NyZg.bWFj\n");
	free(s);
	for (int i = 1; i < UPN_PAGE_COUNT; i++) {
		s = render(p, i, &v);
		b = render(builtin, i, &v);
		assert_string_equal(s, b);
		free(s);
		free(b);
	}
	upn_pages_free(p);

	/* An unknown placeholder: path and line. */
	write_file(dir, "confirmed.html", "<p>\n{mail}\n{mial}</p>", 21);
	p = (struct upn_pages *)1;
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -EINVAL);
	assert_null(p);
	snprintf(want, sizeof(want), "%s/confirmed.html:3: unknown placeholder {mial}", dir);
	assert_string_equal(err, want);
	remove_file(dir, "confirmed.html");

	/* A misspelt name. */
	write_file(dir, "inqiury.html", mine, strlen(mine));
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/inqiury.html: no page has this name", dir);
	check(!strncmp(err, want, strlen(want)), "%s", err);
	remove_file(dir, "inqiury.html");

	/* Too large. */
	big = malloc(UPN_PAGE_TEMPLATE_MAX + 100);
	memset(big, ' ', UPN_PAGE_TEMPLATE_MAX + 100);
	memcpy(big, "{csrf}", 6);
	write_file(dir, "registered.html", big, UPN_PAGE_TEMPLATE_MAX + 100);
	free(big);
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/registered.html: larger than 65536 bytes", dir);
	assert_string_equal(err, want);
	remove_file(dir, "registered.html");

	/* A form that could never be sent. */
	write_file(dir, "confirm_ask.html", "<form></form>", 13);
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "confirm_ask.html: no {token}"));
	remove_file(dir, "confirm_ask.html");

	/* A directory in a page's place. */
	snprintf(want, sizeof(want), "%s/error.html", dir);
	assert_int_equal(mkdir(want, 0700), 0);
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "error.html: not a regular file"));
	assert_int_equal(rmdir(want), 0);

	/* "" is no directory; a missing one is an error. */
	p = load("");
	upn_pages_free(p);
	remove_file(dir, "inquiry.html");
	remove_file(dir, "README");
	remove_file(dir, "style.css");
	remove_file(dir, ".inquiry.html.swp");
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(upn_pages_load(&p, dir, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", dir);
	assert_string_equal(err, want);
	upn_pages_free(builtin);
}

/* etc/portal holds the built-in pages as files to start from; it must not drift. */
static void test_etc_portal(void **state)
{
	struct upn_page_vals v = vals();
	struct upn_pages *p = load(ETC_PORTAL), *builtin = load(NULL);

	for (int i = 0; i < UPN_PAGE_COUNT; i++) {
		char path[256], *text = NULL;
		size_t len = 0;
		FILE *f;

		snprintf(path, sizeof(path), ETC_PORTAL "/%s.html", upn_page_name(i));
		f = fopen(path, "r");
		check(f, "%s: %s", path, strerror(errno));
		assert_int_equal(getdelim(&text, &len, '\0', f) > 0, 1);
		fclose(f);
		check(!strcmp(text, upn_page_builtin(i)),
		      "%s differs from the built-in page: write it anew from upn_page_builtin()",
		      path);
		free(text);
		{
			char *a = render(p, i, &v), *b = render(builtin, i, &v);

			assert_string_equal(a, b);
			free(a);
			free(b);
		}
	}
	upn_pages_free(p);
	upn_pages_free(builtin);
}

/* Long values take the heap path for derived values; output stays exact. */
static void test_long_values(void **state)
{
	struct upn_pages *p = load(NULL);
	struct upn_page_vals v = vals();
	size_t n = 100000, len;
	char *name = malloc(n + 1), *mail = malloc(n + 1), *s;

	memset(name, 'n', n);
	name[n] = '\0';
	memset(mail, '<', n);
	mail[n] = '\0';
	mail[1] = '@';
	v.server_name = name;
	v.mail = mail;
	v.token = mail;
	for (int i = 0; i < UPN_PAGE_COUNT; i++) {
		s = upn_page_render(p, i, &v, &len);
		assert_non_null(s);
		assert_int_equal(strlen(s), len);
		free(s);
	}
	s = render(p, UPN_PAGE_REGISTERED, &v);
	/* "<***@" and then the rest of the domain, escaped. */
	assert_non_null(strstr(s, "<strong>&lt;***@&lt;&lt;"));
	free(s);
	free(name);
	free(mail);
	upn_pages_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_render),	cmocka_unit_test(test_inquiry_form),
		cmocka_unit_test(test_escaping),	cmocka_unit_test(test_urls),
		cmocka_unit_test(test_values),		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_template_errors), cmocka_unit_test(test_override_dir),
		cmocka_unit_test(test_etc_portal),	cmocka_unit_test(test_long_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
