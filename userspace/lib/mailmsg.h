/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright (C) 2026 The upnotify authors. */
/* One received mail message (a relay list or a mail command), parsed with GMime 3
 * into the few things the agent and the command handler look at. */
#ifndef UPN_MAILMSG_H
#define UPN_MAILMSG_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h" /* UPN_MAIL_MAX (userspace/upnotifyd) */

#define UPN_MAILMSG_MAX (16u << 20)

struct upn_mailmsg {
	char from[UPN_MAIL_MAX + 1];	   /* addr-spec of the first From mailbox ("" if none) */
	char message_id[UPN_MAIL_MAX + 1]; /* without <> ("" if none) */
	char subject[256];		   /* decoded, control chars replaced by ' ' */
	char *signature;		   /* X-Upnotify-Signature value, or NULL */
	bool auto_submitted; /* Auto-Submitted present and not "no", or Precedence bulk/junk/list */
	char *text;	     /* first text/plain part (or the body), transfer-decoded, UTF-8 */
	size_t text_len;
};

/* GMime's global setup, once per process (pthread_once); upn_mailmsg_parse calls it
 * too, so calling it is only needed to pay the cost early. */
void upn_mailmsg_init(void);
/* 0, or -EINVAL (not a message, too big) / -ENOMEM with a message in @err. @m is
 * filled even for a message without From or text; free it with upn_mailmsg_free. */
int upn_mailmsg_parse(const char *raw, size_t len, struct upn_mailmsg *m, char *err, size_t errlen);
void upn_mailmsg_free(struct upn_mailmsg *m);

#endif
