#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Mail commands: people subscribe to a down server, ask for the state and the
# waitlist, by mail, and get a reply by mail.
#
#   ops@, helpdesk@, ... --SMTP--> postfix 127.0.0.1:2525 (gateway)
#                                   upnotify@cmd.example.test -> dovecot Maildir
#   upnotifyd [commands] mailbox = pop3://upnotify@203.0.113.1:1110/, poll 1s
#                        allow = ops@:secret (all), helpdesk@:secret SUBSCRIBE UNSUBSCRIBE STATUS,
#                                auditor@:secret (all)
#   replies and recovery mails --SMTP--> postfix -> $PF_MAILDIR
#
# Expected: ops@'s STATUS, WAITLIST and SUBSCRIBEs are answered in one reply (Re:
# subject, In-Reply-To, Auto-Submitted: auto-replied, one section per command); a
# subscriber becomes a pseudo-client (fd75:706e:6d61:696c::/64) on the waitlist and
# gets the recovery mail; UNSUBSCRIBE takes it off. A stranger, a wrong secret, a
# command the sender may not use and a malformed mail each get one short error reply,
# and a second error to the same sender within reply_rate gets none; an auto-replied
# mail and one from our own From get no reply at all. `upnotifyctl mail < message`
# does the same as the mailbox.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix dovecot sqlite3 curl
CMD_MAIL=upnotify@cmd.example.test
CMD_PASS='commands pop3 pass'
SUB_PREFIX='^fd75:706e:6d61:696c:'

secret() { (umask 077; echo "$2" >"$UPN_TMP/$1.secret"); }
secret ops 'ops-secret-0123456789'
secret hd 'helpdesk-secret-0123456789'
secret aud 'auditor-secret-0123456789'
echo "$CMD_PASS" >"$UPN_TMP/cmd.pass"
chmod 600 "$UPN_TMP/cmd.pass"

CFG_CLIENTS="$C1 = c1@example.test
$C3 = c3@example.test"
cfg_mail
cfg_recovery
CFG_RELAY="[commands]
mailbox = pop3://upnotify@$GW_S:$DV_PORT/
password_file = $UPN_TMP/cmd.pass
poll = 1s
allow = ops@example.test:$UPN_TMP/ops.secret
allow = helpdesk@example.test:$UPN_TMP/hd.secret SUBSCRIBE UNSUBSCRIBE STATUS
allow = auditor@example.test:$UPN_TMP/aud.secret
reply_rate = 1h"

topo_up
dv_user upnotify "$CMD_PASS"
PF_MAILBOXES="$CMD_MAIL $(dv_maildir upnotify)/"
export PF_MAILBOXES
gw_dv_start
gw_pf_start
relay_daemon_start

server_link_down
syn_from $C1 $S1 80
syn_from $C3 $S2 80
wait_for "$C1 waits for $S1, $C3 for $S2" 5 \
	wl_jq 'any(.[]; .server == $s and any(.clients[]; .client == $a)) and
		any(.[]; .server == $t and any(.clients[]; .client == $c))' \
	--arg s $S1 --arg a $C1 --arg t $S2 --arg c $C3

N_MSG=0
# cmd_mail FROM SUBJECT BODY [EXTRA-HEADER]: the next command mail, as the file
# $UPN_TMP/cmd.N; leaves that path in LAST_FILE and its Message-ID in LAST_MID. Call it
# from the script itself, not in $(...).
cmd_mail() {
	N_MSG=$((N_MSG + 1))
	LAST_FILE=$UPN_TMP/cmd.$N_MSG
	LAST_MID="cmd-$N_MSG-$$@example.test"
	{
		printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n' "$1" "$CMD_MAIL" \
			"$2" "$LAST_MID"
		printf 'Date: %s\r\n' "$(date -R)"
		[ -z "${4:-}" ] || printf '%s\r\n' "$4"
		printf '\r\n'
		printf '%s\n' "$3" | sed 's/$/\r/'
	} >"$LAST_FILE"
}
# send FROM SUBJECT BODY [EXTRA-HEADER]: cmd_mail, by SMTP to the command mailbox.
send() {
	cmd_mail "$@"
	smtp_send "$1" "$CMD_MAIL" "$LAST_FILE" || fail "smtp to $CMD_MAIL from $1"
}
# replies_to ADDR: the replies (Subject "Re: ...") delivered to ADDR, one file a line.
replies_to() { mail_index | awk -F'\t' -v a="$1" 'tolower($1) == a && $3 ~ /^Re: / { print $4 }'; }
reply_count() { replies_to "$1" | wc -l; }
reply_count_is() { [ "$(reply_count "$1")" -eq "$2" ]; }
# reply_for MID: the reply whose In-Reply-To is <MID>.
reply_for() {
	local f
	for f in $(mail_files); do
		[ "$(mail_header "$f" In-Reply-To)" = "<$1>" ] && { echo "$f"; return 0; }
	done
	echo /nonexistent
	return 1
}
# reply_lacks MID TEXT: there is a reply to MID, and TEXT is not in it.
reply_lacks() {
	local f
	f=$(reply_for "$1") && ! grep -qF -- "$2" "$f"
}

# --- 1. ops@: STATUS, WAITLIST, SUBSCRIBEs -----------------------------------------
send ops@example.test "what is down" "SECRET ops-secret-0123456789
STATUS
WAITLIST $S1
SUBSCRIBE $S1
subscribe $S1 friend@example.test
SUBSCRIBE $S2

-- 
ops team, SUBSCRIBE 192.0.2.1 is a signature line"
MID1=$LAST_MID
wait_for "ops@ gets a reply" 15 reply_count_is ops@example.test 1
wait_for "the command mailbox is emptied" 5 dv_count_is upnotify 0
r=$(reply_for "$MID1") || true
check "Subject: Re: what is down" [ "$(mail_header "$r" Subject)" = "Re: what is down" ]
check "In-Reply-To: <$MID1>" [ "$(mail_header "$r" In-Reply-To)" = "<$MID1>" ]
check "Auto-Submitted: auto-replied" [ "$(mail_header "$r" Auto-Submitted)" = auto-replied ]
check "From: $MAIL_FROM" [ "$(mail_header "$r" From)" = "$MAIL_FROM" ]
body=$(mail_body "$r")
diag "reply:" "$body"
check "one section per command: > STATUS, > WAITLIST, 3 x > SUBSCRIBE" \
	[ "$(grep -cE '^> (STATUS|WAITLIST|SUBSCRIBE)' <<<"$body")" -eq 5 ]
check "no section for the signature's line" not grep -q '192.0.2.1' <<<"$body"
check "STATUS names both down servers" grep -qF "$S1" <<<"$body"
check "... and $S2" grep -qF "$S2" <<<"$body"
check "WAITLIST $S1 lists $C1" grep -qF "$C1" <<<"$body"
check "no ERROR in it" not grep -q '^ERROR' <<<"$body"
check "$S1's waitlist: $C1 and two pseudo-clients (cause manual, port 0)" \
	wl_jq '[.[] | select(.server == $s) | .clients[] | select(.client | test($p))
		| select(.cause == "manual" and .port == 0)] | length == 2' --arg s $S1 --arg p "$SUB_PREFIX"
check "... the client table maps them to ops@ and friend@" mail_in_table ops@example.test
check "... friend@" mail_in_table friend@example.test
check "$S2's waitlist: ops@'s pseudo-client too" \
	wl_jq 'any(.[]; .server == $s and any(.clients[]; .client | test($p)))' \
	--arg s $S2 --arg p "$SUB_PREFIX"
check "counted: received 1, accepted 1, replies 1" \
	[ "$(counter_sum 'commands\.received$') $(counter_sum 'commands\.accepted$') $(counter_sum 'commands\.replies$')" = "1 1 1" ]

# --- 2. UNSUBSCRIBE, and a server that is not down -----------------------------------
send ops@example.test "leave s2" "SECRET ops-secret-0123456789
UNSUBSCRIBE $S2
SUBSCRIBE $S_NONE"
MID2=$LAST_MID
wait_for "ops@ gets a second reply" 15 reply_count_is ops@example.test 2
check "$S2's waitlist: only $C3 left" \
	wl_jq '[.[] | select(.server == $s) | .clients[].client] == [$c]' --arg s $S2 --arg c $C3
check "$S1's waitlist: ops@ still there" \
	wl_jq '[.[] | select(.server == $s) | .clients[] | select(.client | test($p))] | length == 2' \
	--arg s $S1 --arg p "$SUB_PREFIX"
check "SUBSCRIBE $S_NONE (not down): nothing stored" wl_jq 'all(.[]; .server != $s)' --arg s $S_NONE
check "... and the reply has its section" grep -qF "> SUBSCRIBE $S_NONE" "$(reply_for "$MID2")"

# --- 3. upnotifyctl mail < message ---------------------------------------------------
cmd_mail ops@example.test "by ctl" "SECRET ops-secret-0123456789
STATUS $S1"
out=$(ctl mail <"$LAST_FILE" 2>&1) || true
MID3=$LAST_MID
diag "upnotifyctl mail: $out"
wait_for "upnotifyctl mail: ops@ gets a third reply" 15 reply_count_is ops@example.test 3
check "... to that message, naming $S1" grep -qF "$S1" "$(reply_for "$MID3")"

# --- 4. the refused ones, all at once ------------------------------------------------
send stranger@example.test "hello" "STATUS"
M_STR=$LAST_MID
send auditor@example.test "status" "SECRET not-the-auditor-secret-xx
STATUS"
M_AUD=$LAST_MID
send helpdesk@example.test "waitlist" "SECRET helpdesk-secret-0123456789
WAITLIST $S2"
M_HD=$LAST_MID
cmds=$(printf 'STATUS\n%.0s' $(seq 1 21))
send robot@example.test "auto" "STATUS" "Auto-Submitted: auto-replied"
send "$MAIL_FROM" "loop" "STATUS"
wait_for "stranger@ (not allowed) gets one error reply" 15 reply_count_is stranger@example.test 1
wait_for "auditor@ (wrong secret) gets one error reply" 10 reply_count_is auditor@example.test 1
wait_for "helpdesk@ (WAITLIST not allowed) gets one error reply" 10 \
	reply_count_is helpdesk@example.test 1
check "stranger@'s reply says ERROR" grep -q 'ERROR' "$(reply_for "$M_STR")"
check "auditor@'s reply tells nothing about $S2" reply_lacks "$M_AUD" "$S2"
check "helpdesk@'s reply says ERROR" grep -q 'ERROR' "$(reply_for "$M_HD")"
check "helpdesk@'s reply lists no waitlist ($C3)" reply_lacks "$M_HD" "$C3"
wait_for "the command mailbox is emptied" 10 dv_count_is upnotify 0
check "counted: rejected_sender >= 1, rejected_secret 1, rejected_command 1" \
	test "$(counter_sum 'rejected_sender$')" -ge 1 -a "$(counter_sum 'rejected_secret$')" = 1 \
	-a "$(counter_sum 'rejected_command$')" = 1
check "no reply to an Auto-Submitted mail" reply_count_is robot@example.test 0
check "no reply to our own From" reply_count_is "$MAIL_FROM" 0

# malformed: ops@ (authenticated) with 21 commands
send ops@example.test "too many" "SECRET ops-secret-0123456789
$cmds"
M_BAD=$LAST_MID
wait_for "malformed (21 commands): counted" 15 counter_above 'commands\.malformed$' 0
wait_for "... and ops@ gets an error reply" 10 reply_count_is ops@example.test 4
check "... that says ERROR" grep -q 'ERROR' "$(reply_for "$M_BAD")"

# reply_rate: errors to the same sender, at most one per hour
send stranger@example.test "hello again" "STATUS"
send ops@example.test "still too many" "SECRET ops-secret-0123456789
$cmds"
wait_for "the second errors are suppressed: counted" 15 counter_above 'replies_suppressed$' 1
hold_false "no second reply to stranger@ (2 s)" 2 reply_count_is stranger@example.test 2
check "no fifth reply to ops@" reply_count_is ops@example.test 4

# --- 5. recovery: the subscribers get the recovery mail --------------------------------
ctl recover $S1 >/dev/null 2>&1 || true
wait_for "c1@, ops@ and friend@ get a mail about $S1" 15 \
	eval 'mail_about_is c1@example.test $S1 1 && mail_about_is ops@example.test $S1 1 &&
		mail_about_is friend@example.test $S1 1'
check "upnotifyd is still running" alive "$DAEMON_PID"
