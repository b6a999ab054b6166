#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# No value becomes a header of its own, whichever way it comes in:
#
#   client 198.51.100.2 one@ --SYN--> gw (upnotifyd, postfix 127.0.0.1:2525) --> server 203.0.113.2
#
#  - the config: a [clients] address or `from` with CR or LF in it fails --check (exit
#    2), and the daemon does not start with it;
#  - the control socket: `upnotifyctl clients add ADDR "a@example.test\r\nBcc: ..."`
#    fails, through upnotifyctl and as raw JSON on the socket; the table is unchanged;
#  - the template: placeholders in headers are fine (X-Notice-For: {to}, a Subject with
#    {server} and {client}); a template that sets Bcc is refused at start;
#  - the store: outbox rows whose recipient or server hold CR LF (as a damaged or
#    tampered database might) are failed by the mailer, counted in
#    mail.header_rejected, and never sent.
#
# Every smuggled Bcc names spy@example.test, which this Postfix would deliver: a leak
# would show up in the Maildir.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3

SPY=spy@example.test
CFG_CLIENTS="$C1 = one@example.test"
cfg_mail
cfg_recovery

# --- the config ---------------------------------------------------------------------
# config_refused WHAT: the config, as write_config makes it, fails --check.
config_refused() {
	local out rc=0
	write_config
	out=$("$UPNOTIFYD" -c "$CONF" --check 2>&1) || rc=$?
	out=$(cat -v <<<"$out")
	if [ $rc -eq 2 ] && grep -q "$CONF:[0-9]*:" <<<"$out"; then
		pass "--check refuses $1: ${out#"$CONF":}"
	else
		fail "--check refuses $1" "exit $rc: $out"
	fi
}
CFG_CLIENTS="$C1 = one@example.test"$'\r'"Bcc: $SPY"
config_refused "a client address with a CR in it"
CFG_CLIENTS="$C1 = one@example.test"$'\n'"Bcc: $SPY"
config_refused "a client address followed by LF and a Bcc line"
CFG_CLIENTS="$C1 = one@example.test"
CFG_MAIL="relay = $MAIL_RELAY
from = $MAIL_FROM"$'\r'"Bcc: $SPY"
config_refused "a from address with a CR in it"
cfg_mail
write_config
check "the clean config passes --check" "$UPNOTIFYD" -c "$CONF" --check

# --- the control socket ---------------------------------------------------------------
topo_up
gw_pf_start
TEMPLATE=$UPN_TMP/notice.tmpl
cat >"$TEMPLATE" <<'TMPL'
Subject: Back: {server} (you tried from {client})
X-Notice-For: {to}

Dear {to}, {server_full} is back since {recovered}.
TMPL
CFG_MAIL="$CFG_MAIL
template = $TEMPLATE"
daemon_start
before=$(ctl clients list --json)
check_not "upnotifyctl clients add with CR LF Bcc in the address fails" \
	ctl clients add $C2 "two@example.test"$'\r\n'"Bcc: $SPY"
check_not "... with a bare LF" ctl clients add $C2 "two@example.test"$'\n'"Bcc: $SPY"
req=$(jq -cn --arg p $C2 --arg m "two@example.test"$'\r\n'"Bcc: $SPY" \
	'{cmd: "clients.add", prefix: $p, mail: $m}')
out=$(in_g timeout 5 socat -t 2 - "UNIX-CONNECT:$SOCK" <<<"$req" 2>&1) || true
check "raw JSON on the socket gets an error reply: $out" \
	jq -e 'has("error") or (.ok == false)' <<<"$out"
check "the client table is unchanged" [ "$(ctl clients list --json)" = "$before" ]

# --- the template -----------------------------------------------------------------------
server_drop_syns $S1
syn_from $C1 $S1 80
wait_for "$C1 waits for $S1" 5 wl_has $S1 $C1
ctl recover $S1 >/dev/null
wait_for "the mail is delivered" 10 mail_count_ge 1
f=$(mail_file_to one@example.test)
check "X-Notice-For: one@example.test, from {to} in a template header" \
	[ "$(mail_header "$f" X-Notice-For)" = one@example.test ]
check "Subject: Back: $S1 (you tried from $C1)" \
	[ "$(mail_header "$f" Subject)" = "Back: $S1 (you tried from $C1)" ]
check "the body is the template's" grep -q "^Dear one@example.test, $S1 is back since " "$f"
check "no Bcc header" not mail_header "$f" Bcc

# --- the store ----------------------------------------------------------------------------
daemon_stop
now=$(date +%s)
# row RECIPIENT SERVER OUTAGE: a row as the daemon writes them, values as SQL.
row() {
	echo "INSERT INTO outbox (recipient, server, client, outage, recovered, cause, port, proto,
		first, last, attempts, next_try, created) VALUES ($1, $2, '$C1', $3, $now,
		'manual', 80, 6, $now, $now, 1, $now, $now);"
}
crlf_bcc="char(13, 10) || 'Bcc: $SPY'"
sqlite3 -cmd '.timeout 5000' "$DB" \
	"$(row "'two@example.test' || $crlf_bcc" "'$S1'" 1000)
	 $(row "'three@example.test'" "'$S2' || $crlf_bcc" 1001)"
check "two tampered rows are in the outbox" \
	[ "$(db "SELECT count(*) FROM outbox WHERE instr(recipient || server, char(10))")" -eq 2 ]
daemon_start
wait_for "the mailer refuses both: mail.header_rejected 2" 10 counter_is mail.header_rejected 2
check "both failed, their error says why" \
	[ "$(db "SELECT count(*) FROM outbox WHERE state = 'failed' AND last_error LIKE '%injection%'")" -eq 2 ]
check "no SMTP session was opened for them" counter_is mail.sessions 0
check "still the one message, to one@; nothing to $SPY" \
	[ "$(mail_recipients)" = one@example.test ]

# --- the template, refused ---------------------------------------------------------------
printf 'Subject: hi\nBcc: {to}\n\nhello\n' >"$TEMPLATE"
daemon_stop
rc=0
ip netns exec "$NS_G" timeout 10 "$UPNOTIFYD" -c "$CONF" -f </dev/null >"$UPN_TMP/bad.log" 2>&1 8>&- 9>&- || rc=$?
check "a template that sets Bcc: the daemon refuses to start (exit $rc)" \
	between 1 $rc 123
check "... and says why" grep -qi 'bcc' "$UPN_TMP/bad.log"
rc=0
"$UPNOTIFYD" -c "$CONF" --check >/dev/null 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
	pass "--check refuses the template that sets Bcc"
else
	# Known gap: --check validates the file alone, not the template it names.
	echo "not ok $((T_N += 1)) - --check refuses the template that sets Bcc # TODO --check does not read the template"
fi
