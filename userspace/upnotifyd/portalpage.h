/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* The portal's HTML pages: the inquiry page of patent figure 32A, the confirmation
 * page of figure 32B and the pages around them (double opt-in, unsubscribe, errors).
 *
 * Every page has a built-in template; a directory (portal.templates) may override any
 * of them with a file named for the page: inquiry.html, registered.html,
 * confirmed.html, declined.html, check_mail.html, confirm_ask.html,
 * confirm_done.html, expired.html, unsub_ask.html, unsub_done.html, back_up.html,
 * error.html, not_found.html. A file is a whole HTML document of at most
 * UPN_PAGE_TEMPLATE_MAX bytes, UTF-8. Templates are split into literal text and
 * placeholders once, at load; rendering is one pass into a buffer sized ahead.
 *
 * Placeholders, anywhere in a template:
 *   {server}       the down server's address
 *   {server_name}  its reverse DNS name, or the address when it has none
 *   {server_full}  "name (address)", or just the address (figure 8's form)
 *   {server_url}   http://address/ ("[...]" around an IPv6 address): where to retry;
 *                  empty without an address
 *   {since}        when the server went down (RFC 3339, as the caller formats it)
 *   {expires}      when a confirmation link expires (RFC 3339, likewise)
 *   {mail}         the mail address
 *   {mail_masked}  the mail address with its local part hidden: "a***@example.org"
 *   {action}       the form's action URL; when the caller gives none, the page's own
 *                  path: /.upnotify/register, /.upnotify/confirm, or
 *                  /.upnotify/unsubscribe?t=TOKEN
 *   {csrf}         the CSRF token, for the hidden field "csrf"
 *   {token}        the confirmation or unsubscribe token, for the field "t"
 *   {message}      a short text: why a request was refused (the error page's default
 *                  is a generic one); on the inquiry and registered pages a notice
 *                  above the form, hidden by the built-in CSS when empty
 *   {retry_after}  seconds, in decimal
 *   {title}        the page's title; each page has a default
 * "{{" is a literal "{". Every value is HTML-escaped (& < > " '), so it is safe in
 * text and in a quoted attribute. {action} and {server_url} are URLs: a scheme other
 * than http or https becomes "#", and bytes that have no place in a URL are
 * percent-encoded. Any other "{word}" (lower-case letters and "_") in a template
 * file is refused at load, "file:line: unknown placeholder {word}": a typo fails at
 * start. So is a form page that could never be submitted: inquiry.html and
 * registered.html without {csrf}, confirm_ask.html without {token}, unsub_ask.html
 * with neither {token} nor {action}. CSS braces ("p { margin: 0 }",
 * "a{color:red}") are text, not placeholders.
 *
 * The forms post these fields (application/x-www-form-urlencoded):
 *   inquiry, registered  server, csrf, mail, notify=yes|no (one button each; "no"
 *                        skips the browser's check of the mail field)
 *   confirm_ask          t
 *   unsub_ask            t (also in the action's query string)
 */
#ifndef UPN_PORTALPAGE_H
#define UPN_PORTALPAGE_H

#include <stddef.h>

/* Bytes of a template file: a page with its CSS is a few KiB; more is a mistake. */
#define UPN_PAGE_TEMPLATE_MAX (64 * 1024)

/* The Content-Type of every rendered page. */
#define UPN_PAGE_CONTENT_TYPE "text/html; charset=utf-8"

enum upn_page {
	UPN_PAGE_INQUIRY,      /* fig. 32A: the server is down; a mail when it is back? */
	UPN_PAGE_REGISTERED,   /* already registered: told at {mail_masked}; change it */
	UPN_PAGE_CONFIRMED,    /* fig. 32B: we will mail {mail} when {server_full} is back */
	UPN_PAGE_DECLINED,     /* no mail will be sent */
	UPN_PAGE_CHECK_MAIL,   /* double opt-in: a link was sent if the address is valid */
	UPN_PAGE_CONFIRM_ASK,  /* from the mail's link: a button that posts t */
	UPN_PAGE_CONFIRM_DONE, /* the address is confirmed */
	UPN_PAGE_EXPIRED,      /* a bad or expired link */
	UPN_PAGE_UNSUB_ASK,    /* from the mail's link: a button that unsubscribes */
	UPN_PAGE_UNSUB_DONE,   /* unsubscribed */
	UPN_PAGE_BACK_UP,      /* the server answers again: retry */
	UPN_PAGE_ERROR,	       /* {message}: bad address, bad token, too many requests... */
	UPN_PAGE_NOT_FOUND,    /* nothing here */
	UPN_PAGE_COUNT
};

/* The loaded templates; read-only once loaded. */
struct upn_pages;

/* What a page shows. NULL and "" are the same: empty, or the default for {action},
 * {message}, {title} and {server_name}. */
struct upn_page_vals {
	const char *server;
	const char *server_name;
	const char *since;
	const char *expires;
	const char *mail;
	const char *action;
	const char *csrf;
	const char *token;
	const char *message;
	const char *title;
	unsigned int retry_after;
};

/* "inquiry", "check_mail", ...: the file name without ".html"; NULL if out of range. */
const char *upn_page_name(enum upn_page which);

/* The built-in template of @which; NULL if out of range. */
const char *upn_page_builtin(enum upn_page which);

/* Loads the built-in templates, then the override files in @dir (NULL or "": none).
 * A page without a file keeps its built-in template. 0, or -errno with "why" in @err:
 * @dir cannot be read, a file is too large, holds a NUL byte or an unknown
 * placeholder ("dir/inquiry.html:12: unknown placeholder {servr}"), or a *.html file
 * in @dir is named for no page (a misspelt name would be silently ignored). */
int upn_pages_load(struct upn_pages **out, const char *dir, char *err, size_t errlen);

/* Replaces one page's template with @len bytes of @text, checked as a file's would
 * be; @file names it in @err. 0, or -EINVAL / -ENOMEM and @p is unchanged. */
int upn_pages_set(struct upn_pages *p, enum upn_page which, const char *text, size_t len,
		  const char *file, char *err, size_t errlen);

void upn_pages_free(struct upn_pages *p);

/* The page, a malloc'ed NUL-terminated string, its length in *@len (may be NULL).
 * NULL with errno ENOMEM, or EINVAL for an out-of-range @which. */
char *upn_page_render(const struct upn_pages *p, enum upn_page which, const struct upn_page_vals *v,
		      size_t *len);

/* "a***@example.org": the first character of the local part, "***", and the domain;
 * "***" without an "@", "" for "". @out holds @outlen bytes, UPN_MAIL_MAX + 5 is always enough;
 * a shorter buffer gets a truncated but terminated string. */
void upn_mail_mask(const char *mail, char *out, size_t outlen);

#endif
