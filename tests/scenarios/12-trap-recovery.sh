#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The whole way with real parts: the server's link fails, two clients try; the
# server comes back and its own snmpd sends coldStart as it starts; the gateway's
# Postfix delivers one mail to each waiting client's address, and nobody else's.
#
#   client 198.51.100.2 one@   --SYN-->  gw 198.51.100.1 | 203.0.113.1       server 203.0.113.2
#          198.51.100.3 two@   --SYN-->    upnotifyd, traps on udp :10162 <-- snmpd (trap2sink,
#          198.51.100.4 three@ (never tries) postfix 127.0.0.1:2525           v2c coldStart)
#                                            -> Maildir
#
# Recovery by trap only: probes and neighbour events are off. Expected: the trap is
# accepted once; exactly one@ and two@ get one mail each, with To, a Subject naming
# the server, From, Date, Message-ID (the outbox's), Auto-Submitted; the body gives
# the server's address, the recovery time (RFC 3339, within this run), the port and
# the client's first attempt (the waitlist's). After a SIGTERM restart, a second
# coldStart and a kill -9 restart, still those two mails and no SMTP session at all.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix snmpd sqlite3

CFG_CLIENTS="$C1 = one@example.test
$C2 = two@example.test
$C3 = three@example.test"
cfg_mail
cfg_recovery snmp_listen=udp:0.0.0.0:$SNMP_PORT snmp_community=$SNMP_COMMUNITY

topo_up
gw_pf_start
daemon_start

server_link_down
syn_from $C1 $S1 80
syn_from $C2 $S1 80
wait_for "$C1 and $C2 wait for $S1" 5 \
	wl_jq '[.[] | select(.server == $s) | .clients[].client] | sort == [$a, $b]' \
	--arg s $S1 --arg a $C1 --arg b $C2
first1=$(wl_field $S1 $C1 first)
first2=$(wl_field $S1 $C2 first)
check "nothing is queued while the server is down" outbox_jq 'length == 0'

server_link_up
check "the link alone recovers nothing here (neigh and probe are off)" wl_state_is $S1 down
t0=$(date +%s)
snmpd_start
wait_for "snmpd's coldStart recovers $S1" 10 server_gone $S1
check "one trap accepted" counter_is traps.accepted 1
check "one recovery, two mails queued" \
	status_jq '.counters["notify.recoveries"] == 1 and .counters["notify.queued"] == 2'
wait_for "both mails are sent" 10 outbox_jq 'length == 2 and all(.[]; .state == "sent")'
wait_for "postfix delivers them to the Maildir" 10 mail_count_ge 2
t1=$(date +%s)
check "exactly two messages" [ "$(pf_count)" -eq 2 ]
check "to one@ and two@, once each" \
	[ "$(mail_recipients | tr '\n' ' ')" = "one@example.test two@example.test " ]
check "three@ (never tried) got nothing" [ "$(mail_count_to three@example.test)" -eq 0 ]

same_time() { [ -n "$1" ] && [ "$(date -d "$1" +%s)" = "$(date -d "$2" +%s)" ]; }
# check_mail ADDR CLIENT FIRST: one message's headers and body.
check_mail() {
	local to=$1 client=$2 first=$3 f body rec fa mid
	f=$(mail_file_to "$to")
	check "$to: a message" [ -n "$f" ] || return 0
	check "$to: To is $to" [ "$(mail_header "$f" To)" = "$to" ]
	check "$to: From is $MAIL_FROM" [ "$(mail_header "$f" From)" = "$MAIL_FROM" ]
	check "$to: the Subject names $S1" grep -qF "$S1" <<<"$(mail_header "$f" Subject)"
	check "$to: Auto-Submitted: auto-generated (RFC 3834)" \
		[ "$(mail_header "$f" Auto-Submitted)" = auto-generated ]
	check "$to: a Date header" mail_header "$f" Date
	mid=$(mail_header "$f" Message-ID) || true
	check "$to: Message-ID <...@example.test> as the outbox has it" \
		outbox_jq 'any(.[]; .recipient == $r and "<" + .message_id + ">" == $m)' \
		--arg r "$to" --arg m "$mid"
	body=$(mail_body "$f")
	check "$to: the body names the server $S1" grep -qF "$S1" <<<"$body"
	check "$to: the body names the client $client and port 80" \
		grep -qE "from $client, port 80[^0-9]" <<<"$body"
	rec=$(sed -nE 's/^Recovered time *: *([^ ]+).*/\1/p' <<<"$body")
	check "$to: the recovery time ($rec) is RFC 3339 and within this run" \
		rfc3339_between "$rec" "$t0" "$t1"
	fa=$(grep -oE 'first at [0-9T:+Z.-]+[0-9Z]' <<<"$body" | cut -d' ' -f3)
	check "$to: the first attempt ($fa) is the waitlist's ($first)" same_time "$fa" "$first"
}
check_mail one@example.test $C1 "$first1"
check_mail two@example.test $C2 "$first2"

# Once per outage: restarts and a second coldStart change nothing.
daemon_stop
daemon_start
snmpd_stop
snmpd_start
wait_for "after a restart, snmpd's next coldStart is seen: $S1 is not down" 10 \
	counter_is traps.server_not_down 1
daemon_kill9
daemon_start
hold_false "after kill -9 and restart, no SMTP session for 1 s" 1 counter_above '^mail\.sessions$' 0
check "still two messages" [ "$(pf_count)" -eq 2 ]
check "still two outbox rows, both sent" outbox_jq 'length == 2 and all(.[]; .state == "sent")'
