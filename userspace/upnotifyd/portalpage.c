// SPDX-License-Identifier: GPL-2.0
/* Copyright (C) 2026 The upnotify authors. */
#include "portalpage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "placeholder.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

enum {
	/* Derived values (server_full, mail_masked, ...) of ordinary length are built
	 * on the stack; only absurdly long values cost a second malloc. */
	SCRATCH_STACK = 2048,
};

enum placeholder {
	PH_SERVER,
	PH_SERVER_NAME,
	PH_SERVER_FULL,
	PH_SERVER_URL,
	PH_SINCE,
	PH_EXPIRES,
	PH_MAIL,
	PH_MAIL_MASKED,
	PH_ACTION,
	PH_CSRF,
	PH_TOKEN,
	PH_MESSAGE,
	PH_RETRY_AFTER,
	PH_TITLE,
	PH_COUNT
};

static const char *const ph_names[PH_COUNT] = {
	[PH_SERVER] = "server",
	[PH_SERVER_NAME] = "server_name",
	[PH_SERVER_FULL] = "server_full",
	[PH_SERVER_URL] = "server_url",
	[PH_SINCE] = "since",
	[PH_EXPIRES] = "expires",
	[PH_MAIL] = "mail",
	[PH_MAIL_MASKED] = "mail_masked",
	[PH_ACTION] = "action",
	[PH_CSRF] = "csrf",
	[PH_TOKEN] = "token",
	[PH_MESSAGE] = "message",
	[PH_RETRY_AFTER] = "retry_after",
	[PH_TITLE] = "title",
};

/* ---- the built-in pages ---- */

static const char unsub_path[] = "/.upnotify/unsubscribe?t=";

/* The pages are laid out as HTML is, one element a line. */
/* clang-format off */

/* Plain and readable on a phone: system fonts, one column, large touch targets,
 * nothing fetched from anywhere. The CSP keeps an injected tag inert should escaping
 * ever fail; the data: icon stops the browser asking the dead server for a favicon
 * (which the portal would answer with another inquiry page). Empty notices and an
 * unknown start of the outage hide themselves. */
#define CSS                                                                                     \
	"*{box-sizing:border-box}\n"                                                            \
	"html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"                           \
	"body{margin:0;background:#eef1f4;color:#1b1f24;"                                       \
	"font:1.0625rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif}\n"   \
	"main{max-width:36rem;margin:0 auto;padding:1rem .75rem 2rem}\n"                        \
	".card{background:#fff;border:1px solid #d5dbe1;border-radius:.75rem;padding:1.25rem}\n" \
	"h1{font-size:1.45rem;line-height:1.25;margin:.6rem 0 .75rem;overflow-wrap:anywhere}\n" \
	"h2{font-size:1.15rem;line-height:1.3;margin:1.5rem 0 .5rem}\n"                         \
	"p{margin:.6rem 0}\n"                                                                   \
	".tag{display:inline-block;margin:0;padding:.1rem .6rem;border-radius:1rem;"            \
	"font-size:.8rem;font-weight:600;letter-spacing:.04em;text-transform:uppercase;"        \
	"background:#fde2e1;color:#9b1c1c}\n"                                                   \
	".tag.ok{background:#dcf5e7;color:#0b5a36}\n"                                           \
	".tag.info{background:#e0ecfd;color:#1e3f8f}\n"                                         \
	".since:has(time:empty){display:none}\n"                                                \
	"dl{margin:1rem 0;padding:.75rem;background:#f4f6f8;border-radius:.5rem}\n"             \
	"dl div+div{margin-top:.4rem}\n"                                                        \
	"dt{font-size:.875rem;color:#56606b}\n"                                                 \
	"dd{margin:0;font-weight:600;overflow-wrap:anywhere}\n"                                 \
	"strong{overflow-wrap:anywhere}\n"                                                      \
	"time{white-space:nowrap}\n"                                                            \
	"label{display:block;font-weight:600;margin:1rem 0 .3rem}\n"                            \
	"input[type=email]{display:block;width:100%;font:inherit;padding:.7rem .75rem;"         \
	"border:1px solid #8c96a1;border-radius:.5rem;background:#fff;color:inherit}\n"         \
	"input:focus,button:focus{outline:3px solid #93b8f5;outline-offset:1px}\n"              \
	".buttons{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}\n"                    \
	"button,a.button{flex:1 1 9rem;min-height:3rem;font:inherit;font-weight:600;"           \
	"padding:.6rem .5rem;border:1px solid #1b4fc4;border-radius:.5rem;background:#2159d6;"   \
	"color:#fff;cursor:pointer;text-align:center;text-decoration:none}\n"                   \
	"a.button{display:flex;align-items:center;justify-content:center}\n"                   \
	"button.secondary{background:#fff;color:#1b4fc4}\n"                                     \
	".msg{padding:.6rem .75rem;border-radius:.5rem;background:#fff4c2;color:#6b3d0a}\n"     \
	".msg:empty{display:none}\n"                                                            \
	".small{font-size:.875rem;color:#56606b}\n"                                             \
	"a{color:#1b4fc4}\n"                                                                    \
	"footer{margin-top:1.25rem;text-align:center;font-size:.8rem;color:#6a737d}\n"

#define HEAD                                                                               \
	"<!DOCTYPE html>\n"                                                                \
	"<html lang=\"en\">\n"                                                             \
	"<head>\n"                                                                         \
	"<meta charset=\"utf-8\">\n"                                                       \
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"       \
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "      \
	"style-src 'unsafe-inline'; img-src data:; base-uri 'none'\">\n"                   \
	"<meta name=\"referrer\" content=\"no-referrer\">\n"                               \
	"<meta name=\"robots\" content=\"noindex, nofollow\">\n"                           \
	"<link rel=\"icon\" href=\"data:,\">\n"                                            \
	"<title>{title}</title>\n"                                                         \
	"<style>\n" CSS "</style>\n"                                                       \
	"</head>\n"                                                                        \
	"<body>\n"                                                                         \
	"<main>\n"                                                                         \
	"<div class=\"card\">\n"

/* Pages shown in a down server's place say so: the server's own site did not write
 * them. */
#define FOOT_TEXT(text)                                                                    \
	"</div>\n"                                                                         \
	"<footer>" text "</footer>\n"                                                      \
	"</main>\n"                                                                        \
	"</body>\n"                                                                        \
	"</html>\n"
#define FOOT_SERVER                                                                        \
	FOOT_TEXT("This page comes from the network gateway (upnotify), not from the server.")
#define FOOT FOOT_TEXT("Server recovery notifications by the network gateway (upnotify).")

/* The form of the inquiry and registered pages. "No" skips the browser's check of
 * the address: declining needs none. */
#define MAIL_FORM(yes, no)                                                                 \
	"<p class=\"msg\" role=\"alert\">{message}</p>\n"                                  \
	"<input type=\"hidden\" name=\"server\" value=\"{server}\">\n"                     \
	"<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n"                         \
	"<label for=\"mail\">Your mail address</label>\n"                                  \
	"<input id=\"mail\" name=\"mail\" type=\"email\" autocomplete=\"email\" required " \
	"maxlength=\"254\" spellcheck=\"false\" placeholder=\"you@example.org\">\n"        \
	"<div class=\"buttons\">\n"                                                        \
	"<button type=\"submit\" name=\"notify\" value=\"yes\">" yes "</button>\n"         \
	"<button type=\"submit\" name=\"notify\" value=\"no\" class=\"secondary\" "        \
	"formnovalidate>" no "</button>\n"                                                 \
	"</div>\n"

/* Figure 32A: the server cannot be reached because of a failure; input the mail
 * address if a recovery notification is wanted; the failed server. */
static const char page_inquiry[] =
	HEAD
	"<p class=\"tag\">Not answering</p>\n"
	"<h1>{server_full} is not answering</h1>\n"
	"<p>You cannot reach this server now because of a failure.</p>\n"
	"<p class=\"since\">Down since <time datetime=\"{since}\">{since}</time>.</p>\n"
	"<form method=\"post\" action=\"{action}\">\n"
	"<h2>Do you want a mail when it is back?</h2>\n"
	"<p>Leave your address and you get one mail, a \"server failure recovery "
	"notification\", as soon as it answers again.</p>\n"
	MAIL_FORM("Yes, mail me", "No, thanks")
	"</form>\n"
	"<p class=\"small\">The address is used for this notice only. "
	"Every mail has a link to unsubscribe.</p>\n"
	FOOT_SERVER;

static const char page_registered[] =
	HEAD
	"<p class=\"tag\">Not answering</p>\n"
	"<h1>{server_full} is not answering</h1>\n"
	"<p class=\"since\">Down since <time datetime=\"{since}\">{since}</time>.</p>\n"
	"<p>You are registered: you will be told at <strong>{mail_masked}</strong> when it "
	"is back.</p>\n"
	"<form method=\"post\" action=\"{action}\">\n"
	"<h2>Use another address?</h2>\n"
	MAIL_FORM("Save address", "No mail")
	"</form>\n"
	FOOT_SERVER;

/* Figure 32B: registration completed, the notification will be sent after the
 * recovery; the registered address and the failed server. */
static const char page_confirmed[] =
	HEAD
	"<p class=\"tag ok\">Registered</p>\n"
	"<h1>We will mail you when it is back</h1>\n"
	"<p>We will mail <strong>{mail}</strong> when <strong>{server_full}</strong> is back: "
	"one \"server failure recovery notification\", after the recovery.</p>\n"
	"<dl>\n"
	"<div><dt>Registered mail address</dt><dd>{mail}</dd></div>\n"
	"<div><dt>Failed server</dt><dd>{server_full}</dd></div>\n"
	"</dl>\n"
	"<p class=\"small\">You may close this page.</p>\n"
	FOOT_SERVER;

static const char page_declined[] =
	HEAD
	"<p class=\"tag info\">No mail</p>\n"
	"<h1>No mail will be sent</h1>\n"
	"<p>You will not be told when <strong>{server_full}</strong> is back. "
	"Try again later.</p>\n"
	FOOT_SERVER;

/* The same page whatever the address: it must not tell who is registered,
 * suppressed or rate-limited. */
static const char page_check_mail[] =
	HEAD
	"<p class=\"tag info\">One more step</p>\n"
	"<h1>Check your mail</h1>\n"
	"<p>If the address is valid, a confirmation link was sent to "
	"<strong>{mail}</strong>. Open it to get a mail when <strong>{server_full}</strong> "
	"is back.</p>\n"
	"<p class=\"since\">The link expires at <time datetime=\"{expires}\">{expires}</time>."
	"</p>\n"
	"<p class=\"small\">Nothing is sent to the address until the link is opened. "
	"No mail? Look in the spam folder, or check the address and try again.</p>\n"
	FOOT_SERVER;

/* A button, not a GET: mail scanners open links, people press buttons. */
static const char page_confirm_ask[] =
	HEAD
	"<p class=\"tag info\">Confirm</p>\n"
	"<h1>Confirm your address</h1>\n"
	"<p>Press the button to get a mail at <strong>{mail}</strong> when "
	"<strong>{server_full}</strong> is back.</p>\n"
	"<form method=\"post\" action=\"{action}\">\n"
	"<input type=\"hidden\" name=\"t\" value=\"{token}\">\n"
	"<div class=\"buttons\">\n"
	"<button type=\"submit\">Confirm</button>\n"
	"</div>\n"
	"</form>\n"
	FOOT;

static const char page_confirm_done[] =
	HEAD
	"<p class=\"tag ok\">Confirmed</p>\n"
	"<h1>Address confirmed</h1>\n"
	"<p>We will mail <strong>{mail}</strong> when <strong>{server_full}</strong> is "
	"back.</p>\n"
	"<p class=\"small\">You may close this page.</p>\n"
	FOOT;

static const char page_expired[] =
	HEAD
	"<p class=\"tag\">Link expired</p>\n"
	"<h1>This link has expired or is not valid</h1>\n"
	"<p>Nothing was changed. To register again, open the server's address while it "
	"is down.</p>\n"
	FOOT;

static const char page_unsub_ask[] =
	HEAD
	"<p class=\"tag info\">Unsubscribe</p>\n"
	"<h1>Unsubscribe?</h1>\n"
	"<p>No more server recovery notifications will be sent to "
	"<strong>{mail}</strong>.</p>\n"
	"<form method=\"post\" action=\"{action}\">\n"
	"<input type=\"hidden\" name=\"t\" value=\"{token}\">\n"
	"<div class=\"buttons\">\n"
	"<button type=\"submit\">Unsubscribe</button>\n"
	"</div>\n"
	"</form>\n"
	FOOT;

static const char page_unsub_done[] =
	HEAD
	"<p class=\"tag ok\">Unsubscribed</p>\n"
	"<h1>You are unsubscribed</h1>\n"
	"<p>No more mails will be sent to <strong>{mail}</strong>.</p>\n"
	"<p class=\"small\">Registering this address again on a server's page undoes "
	"this.</p>\n"
	FOOT;

static const char page_back_up[] =
	HEAD
	"<p class=\"tag ok\">Back</p>\n"
	"<h1>{server_full} is answering again</h1>\n"
	"<p>No mail is needed: the server is back.</p>\n"
	"<div class=\"buttons\">\n"
	"<a class=\"button\" href=\"{server_url}\">Try again</a>\n"
	"</div>\n"
	FOOT_SERVER;

static const char page_error[] =
	HEAD
	"<p class=\"tag\">Error</p>\n"
	"<h1>{title}</h1>\n"
	"<p class=\"msg\" role=\"alert\">{message}</p>\n"
	"<p>Go back and try again.</p>\n"
	FOOT;

static const char page_not_found[] =
	HEAD
	"<p class=\"tag info\">Not found</p>\n"
	"<h1>Not found</h1>\n"
	"<p>There is no page here.</p>\n"
	FOOT;

static const struct page_def {
	const char *name;
	const char *builtin;
	const char *title;
	const char *message; /* the default {message}, NULL: "" */
	const char *action; /* the default {action}, NULL: "" */
	bool action_token; /* the default {action} is unsub_path and the token */
	/* Placeholders of which a form needs one, or it could never be sent. */
	unsigned int need;
} pages[UPN_PAGE_COUNT] = {
#define PAGE(n, t) .name = #n, .builtin = page_##n, .title = t
	[UPN_PAGE_INQUIRY] = { PAGE(inquiry, "Server not answering"),
			       .action = "/.upnotify/register", .need = 1u << PH_CSRF },
	[UPN_PAGE_REGISTERED] = { PAGE(registered, "You will be told"),
				  .action = "/.upnotify/register", .need = 1u << PH_CSRF },
	[UPN_PAGE_CONFIRMED] = { PAGE(confirmed, "Registered") },
	[UPN_PAGE_DECLINED] = { PAGE(declined, "No mail") },
	[UPN_PAGE_CHECK_MAIL] = { PAGE(check_mail, "Check your mail") },
	[UPN_PAGE_CONFIRM_ASK] = { PAGE(confirm_ask, "Confirm your address"),
				   .action = "/.upnotify/confirm", .need = 1u << PH_TOKEN },
	[UPN_PAGE_CONFIRM_DONE] = { PAGE(confirm_done, "Address confirmed") },
	[UPN_PAGE_EXPIRED] = { PAGE(expired, "Link expired") },
	[UPN_PAGE_UNSUB_ASK] = { PAGE(unsub_ask, "Unsubscribe"),
				 .action_token = true,
				 .need = 1u << PH_TOKEN | 1u << PH_ACTION },
	[UPN_PAGE_UNSUB_DONE] = { PAGE(unsub_done, "Unsubscribed") },
	[UPN_PAGE_BACK_UP] = { PAGE(back_up, "Server is back") },
	[UPN_PAGE_ERROR] = { PAGE(error, "Request refused"),
			     .message = "The request could not be handled." },
	[UPN_PAGE_NOT_FOUND] = { PAGE(not_found, "Not found") },
#undef PAGE
};

/* For the message about a misspelt file. */
#define PAGE_FILES "inquiry, registered, confirmed, declined, check_mail, confirm_ask, " \
	"confirm_done, expired, unsub_ask, unsub_done, back_up, error, not_found"

/* clang-format on */

/* ---- templates ---- */

/* A run of literal text, or a placeholder (s == NULL). */
struct seg {
	const char *s;
	uint32_t len;
	uint32_t ph;
};

struct tmpl {
	char *text; /* the file's text, NULL for a built-in one */
	struct seg *seg;
	size_t nseg;
	size_t lit_len;		  /* bytes of literal text */
	uint32_t count[PH_COUNT]; /* how often each placeholder appears */
};

struct upn_pages {
	struct tmpl t[UPN_PAGE_COUNT];
};

const char *upn_page_name(enum upn_page which)
{
	return (unsigned int)which < UPN_PAGE_COUNT ? pages[which].name : NULL;
}

const char *upn_page_builtin(enum upn_page which)
{
	return (unsigned int)which < UPN_PAGE_COUNT ? pages[which].builtin : NULL;
}

/* The length of the "{word}" at @s, 0 if there is none; its index in @idx, or -1
 * when the word is no placeholder of ours. */
static size_t placeholder_at(const char *s, size_t n, int *idx)
{
	return upn_placeholder_at(s, n, ph_names, PH_COUNT, idx);
}

static void tmpl_free(struct tmpl *t)
{
	free(t->text);
	free(t->seg);
	memset(t, 0, sizeof(*t));
}

static void add_lit(struct tmpl *t, const char *s, size_t len)
{
	if (!len)
		return;
	t->seg[t->nseg++] = (struct seg){ .s = s, .len = (uint32_t)len };
	t->lit_len += len;
}

/* Splits @s (@n bytes, NUL-terminated, alive as long as @t) into segments. */
static int tmpl_parse(struct tmpl *t, const char *s, size_t n, const char *file, char *err,
		      size_t errlen)
{
	size_t braces = 0, start = 0;
	int line = 1;

	for (size_t i = 0; i < n; i++)
		braces += s[i] == '{';
	/* Each brace ends at most one literal and starts one placeholder. */
	t->seg = malloc((2 * braces + 1) * sizeof(*t->seg));
	if (!t->seg) {
		upn_set_err(err, errlen, "%s: out of memory", file);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len;
		int k;

		if (s[i] == '\n')
			line++;
		if (s[i] != '{')
			continue;
		if (i + 1 < n && s[i + 1] == '{') {
			add_lit(t, s + start, i + 1 - start);
			start = i + 2;
			i++;
			continue;
		}
		len = placeholder_at(s + i, n - i, &k);
		if (!len)
			continue;
		if (k < 0) {
			upn_set_err(err, errlen, "%s:%d: unknown placeholder %.*s", file, line,
				    (int)len, s + i);
			return -EINVAL;
		}
		add_lit(t, s + start, i - start);
		t->seg[t->nseg++] = (struct seg){ .s = NULL, .ph = (uint32_t)k };
		t->count[k]++;
		i += len - 1;
		start = i + 1;
	}
	add_lit(t, s + start, n - start);
	return 0;
}

static int tmpl_make(struct tmpl *t, enum upn_page which, const char *text, size_t len, bool copy,
		     const char *file, char *err, size_t errlen)
{
	const struct page_def *d = &pages[which];
	const char *s = text;
	unsigned int found = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	if (len > UPN_PAGE_TEMPLATE_MAX) {
		upn_set_err(err, errlen, "%s: larger than %d bytes", file, UPN_PAGE_TEMPLATE_MAX);
		return -EINVAL;
	}
	if (memchr(text, '\0', len)) {
		upn_set_err(err, errlen, "%s: holds a NUL byte", file);
		return -EINVAL;
	}
	if (copy) {
		t->text = malloc(len + 1);
		if (!t->text) {
			upn_set_err(err, errlen, "%s: out of memory", file);
			return -ENOMEM;
		}
		memcpy(t->text, text, len);
		t->text[len] = '\0';
		s = t->text;
	}
	ret = tmpl_parse(t, s, len, file, err, errlen);
	if (ret)
		goto fail;
	for (int k = 0; k < PH_COUNT; k++)
		found |= d->need & (t->count[k] ? 1u << k : 0);
	if (d->need && !found) {
		char names[64] = "";

		for (int k = 0; k < PH_COUNT; k++)
			if (d->need & 1u << k)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s{%s}", *names ? " or " : "", ph_names[k]);
		upn_set_err(err, errlen, "%s: no %s: its form could never be sent", file, names);
		ret = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	tmpl_free(t);
	return ret;
}

int upn_pages_set(struct upn_pages *p, enum upn_page which, const char *text, size_t len,
		  const char *file, char *err, size_t errlen)
{
	struct tmpl t;
	int ret;

	if ((unsigned int)which >= UPN_PAGE_COUNT || !text) {
		upn_set_err(err, errlen, "%s: no such page", file ? file : "?");
		return -EINVAL;
	}
	ret = tmpl_make(&t, which, text, len, true, file ? file : pages[which].name, err, errlen);
	if (ret)
		return ret;
	tmpl_free(&p->t[which]);
	p->t[which] = t;
	return 0;
}

/* ---- loading ---- */

/* Reads @path into a malloc'ed buffer: -ENOENT when there is none, other errors with
 * "path: why" in @err. */
static int read_template(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret != -ENOENT)
			upn_set_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		upn_set_err(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	/* One byte more than allowed tells "too large" from "exactly the cap". */
	buf = malloc(UPN_PAGE_TEMPLATE_MAX + 2);
	if (!buf) {
		upn_set_err(err, errlen, "%s: out of memory", path);
		close(fd);
		return -ENOMEM;
	}
	while (len < UPN_PAGE_TEMPLATE_MAX + 1) {
		ssize_t n = read(fd, buf + len, UPN_PAGE_TEMPLATE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			upn_set_err(err, errlen, "%s: %s", path, strerror(-ret));
			free(buf);
			close(fd);
			return ret;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* A *.html file named for no page is a misspelt override: refuse it. */
static int check_names(const char *dir, char *err, size_t errlen)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d) {
		ret = -errno;
		upn_set_err(err, errlen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		bool known = false;

		if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 5, ".html"))
			continue;
		for (int i = 0; i < UPN_PAGE_COUNT && !known; i++)
			known = strlen(pages[i].name) == n - 5 &&
				!memcmp(pages[i].name, e->d_name, n - 5);
		if (!known) {
			upn_set_err(err, errlen, "%s/%s: no page has this name (pages: %s; .html)",
				    dir, e->d_name, PAGE_FILES);
			ret = -EINVAL;
			break;
		}
	}
	closedir(d);
	return ret;
}

int upn_pages_load(struct upn_pages **out, const char *dir, char *err, size_t errlen)
{
	struct upn_pages *p = calloc(1, sizeof(*p));
	int ret;

	*out = NULL;
	if (!p) {
		upn_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < UPN_PAGE_COUNT; i++) {
		ret = tmpl_make(&p->t[i], i, pages[i].builtin, strlen(pages[i].builtin), false,
				pages[i].name, err, errlen);
		if (ret)
			goto fail;
	}
	if (dir && *dir) {
		ret = check_names(dir, err, errlen);
		if (ret)
			goto fail;
		for (int i = 0; i < UPN_PAGE_COUNT; i++) {
			char path[PATH_MAX], *text = NULL;
			size_t len = 0;

			if ((size_t)snprintf(path, sizeof(path), "%s/%s.html", dir,
					     pages[i].name) >= sizeof(path)) {
				upn_set_err(err, errlen, "%s: path too long", dir);
				ret = -ENAMETOOLONG;
				goto fail;
			}
			ret = read_template(path, &text, &len, err, errlen);
			if (ret == -ENOENT)
				continue;
			if (ret)
				goto fail;
			ret = upn_pages_set(p, i, text, len, path, err, errlen);
			free(text);
			if (ret)
				goto fail;
		}
	}
	*out = p;
	return 0;
fail:
	upn_pages_free(p);
	return ret;
}

void upn_pages_free(struct upn_pages *p)
{
	if (!p)
		return;
	for (int i = 0; i < UPN_PAGE_COUNT; i++)
		tmpl_free(&p->t[i]);
	free(p);
}

/* ---- escaping ---- */

/* HTML: what could end a text run or a quoted attribute. URL: also every byte that
 * has no place in a URL, percent-encoded; the result is then safe both as an
 * attribute and as text. */
static const char *const html_rep[256] = {
	['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

static const unsigned char html_rep_len[256] = {
	['&'] = 5, ['<'] = 4, ['>'] = 4, ['"'] = 6, ['\''] = 5,
};

static bool url_pct(unsigned char c)
{
	switch (c) {
	case '"':
	case '\'':
	case '<':
	case '>':
	case '\\':
	case '^':
	case '`':
	case '{':
	case '|':
	case '}':
		return true;
	default:
		return c <= 0x20 || c >= 0x7f;
	}
}

static size_t esc_len(const char *s, size_t n, bool url)
{
	size_t len = n;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (url && url_pct(c))
			len += 2;
		else if (html_rep_len[c])
			len += html_rep_len[c] - 1u;
	}
	return len;
}

static char *esc_put(char *d, const char *s, size_t n, size_t elen, bool url)
{
	static const char hex[] = "0123456789ABCDEF";

	if (elen == n) {
		memcpy(d, s, n);
		return d + n;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (url && url_pct(c)) {
			*d++ = '%';
			*d++ = hex[c >> 4];
			*d++ = hex[c & 15];
		} else if (html_rep_len[c]) {
			memcpy(d, html_rep[c], html_rep_len[c]);
			d += html_rep_len[c];
		} else {
			*d++ = (char)c;
		}
	}
	return d;
}

/* A link may go to a path here, or to an http(s) URL; "javascript:" and friends
 * may not. */
static const char *url_safe(const char *s)
{
	if (!*s || *s == '/' || *s == '?' || *s == '#' || !strncasecmp(s, "http://", 7) ||
	    !strncasecmp(s, "https://", 8))
		return s;
	return "#";
}

/* ---- rendering ---- */

void upn_mail_mask(const char *mail, char *out, size_t outlen)
{
	const char *at, *p;
	size_t first = 0;

	if (!out || !outlen)
		return;
	mail = mail ? mail : "";
	at = strrchr(mail, '@');
	if (!*mail) {
		*out = '\0';
		return;
	}
	if (!at) {
		snprintf(out, outlen, "***");
		return;
	}
	/* One whole character, even when it is several bytes of UTF-8. */
	if (at > mail) {
		p = mail + 1;
		while (p < at && p < mail + 4 && ((unsigned char)*p & 0xc0) == 0x80)
			p++;
		first = (size_t)(p - mail);
	}
	snprintf(out, outlen, "%.*s***%s", (int)first, mail, at);
}

/* A bump allocator over the caller's scratch space. */
struct scratch {
	char *p, *end;
};

static char *scratch_get(struct scratch *s, size_t n)
{
	char *r = s->p;

	/* Sized ahead by render(); running out would be a bug, not a condition. */
	if ((size_t)(s->end - s->p) < n)
		abort();
	s->p += n;
	return r;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

char *upn_page_render(const struct upn_pages *p, enum upn_page which, const struct upn_page_vals *v,
		      size_t *len)
{
	static const struct upn_page_vals none;
	char stack[SCRATCH_STACK], *heap = NULL, *out, *d;
	const char *val[PH_COUNT], *server, *name, *mail, *token;
	size_t vlen[PH_COUNT], elen[PH_COUNT], need, total;
	const struct page_def *def;
	const struct tmpl *t;
	struct scratch sc;

	if ((unsigned int)which >= UPN_PAGE_COUNT || !p) {
		errno = EINVAL;
		return NULL;
	}
	v = v ? v : &none;
	t = &p->t[which];
	def = &pages[which];
	server = nz(v->server);
	name = v->server_name && *v->server_name ? v->server_name : server;
	mail = nz(v->mail);
	token = nz(v->token);

	/* Room for every derived value, whichever the template uses. */
	need = strlen(name) + 2 * strlen(server) + strlen(mail) + 3 * strlen(token) + 64 +
	       sizeof(unsub_path);
	sc.p = stack;
	sc.end = stack + sizeof(stack);
	if (need > sizeof(stack)) {
		heap = malloc(need);
		if (!heap)
			goto nomem;
		sc.p = heap;
		sc.end = heap + need;
	}

	val[PH_SERVER] = server;
	val[PH_SERVER_NAME] = name;
	val[PH_SINCE] = nz(v->since);
	val[PH_EXPIRES] = nz(v->expires);
	val[PH_MAIL] = mail;
	val[PH_CSRF] = nz(v->csrf);
	val[PH_TOKEN] = token;
	val[PH_MESSAGE] = v->message && *v->message ? v->message : nz(def->message);
	val[PH_TITLE] = v->title && *v->title ? v->title : def->title;
	val[PH_SERVER_FULL] = name;
	if (t->count[PH_SERVER_FULL] && *server && strcmp(name, server)) {
		size_t nl = strlen(name), sl = strlen(server);
		char *b = scratch_get(&sc, nl + sl + 4);

		memcpy(b, name, nl);
		memcpy(b + nl, " (", 2);
		memcpy(b + nl + 2, server, sl);
		memcpy(b + nl + 2 + sl, ")", 2);
		val[PH_SERVER_FULL] = b;
	}
	val[PH_SERVER_URL] = "";
	if (t->count[PH_SERVER_URL]) {
		char *b = scratch_get(&sc, strlen(server) + 12);
		bool v6 = strchr(server, ':') != NULL;

		sprintf(b, "http://%s%s%s/", v6 ? "[" : "", server, v6 ? "]" : "");
		val[PH_SERVER_URL] = *server ? b : "";
	}
	val[PH_MAIL_MASKED] = "";
	if (t->count[PH_MAIL_MASKED]) {
		char *b = scratch_get(&sc, strlen(mail) + 5);

		upn_mail_mask(mail, b, strlen(mail) + 5);
		val[PH_MAIL_MASKED] = b;
	}
	val[PH_RETRY_AFTER] = "";
	if (t->count[PH_RETRY_AFTER]) {
		char *b = scratch_get(&sc, 16);

		snprintf(b, 16, "%u", v->retry_after);
		val[PH_RETRY_AFTER] = b;
	}
	val[PH_ACTION] = v->action && *v->action ? v->action : nz(def->action);
	if (!(v->action && *v->action) && def->action_token) {
		/* unsub_ask: the token rides in the query, the unreserved characters
		 * of RFC 3986 as they are (a token is base64url and dots). */
		static const char hex[] = "0123456789ABCDEF";
		char *b = scratch_get(&sc, sizeof(unsub_path) + 3 * strlen(token)), *q;

		memcpy(b, unsub_path, sizeof(unsub_path) - 1);
		q = b + sizeof(unsub_path) - 1;
		for (const unsigned char *s = (const unsigned char *)token; *s; s++) {
			if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			    (*s >= '0' && *s <= '9') || strchr("-._~", *s)) {
				*q++ = (char)*s;
			} else {
				*q++ = '%';
				*q++ = hex[*s >> 4];
				*q++ = hex[*s & 15];
			}
		}
		*q = '\0';
		val[PH_ACTION] = b;
	}
	val[PH_ACTION] = url_safe(val[PH_ACTION]);
	val[PH_SERVER_URL] = url_safe(val[PH_SERVER_URL]);

	/* One pass to size the page, one to write it. */
	total = t->lit_len;
	for (int k = 0; k < PH_COUNT; k++) {
		size_t add;

		if (!t->count[k])
			continue;
		vlen[k] = strlen(val[k]);
		elen[k] = esc_len(val[k], vlen[k], k == PH_ACTION || k == PH_SERVER_URL);
		if (__builtin_mul_overflow(elen[k], (size_t)t->count[k], &add) ||
		    __builtin_add_overflow(total, add, &total))
			goto nomem;
	}
	if (total == SIZE_MAX)
		goto nomem;
	out = malloc(total + 1);
	if (!out)
		goto nomem;
	d = out;
	for (size_t i = 0; i < t->nseg; i++) {
		const struct seg *s = &t->seg[i];

		if (s->s) {
			memcpy(d, s->s, s->len);
			d += s->len;
		} else {
			d = esc_put(d, val[s->ph], vlen[s->ph], elen[s->ph],
				    s->ph == PH_ACTION || s->ph == PH_SERVER_URL);
		}
	}
	*d = '\0';
	free(heap);
	if (len)
		*len = total;
	return out;
nomem:
	free(heap);
	errno = ENOMEM;
	return NULL;
}
