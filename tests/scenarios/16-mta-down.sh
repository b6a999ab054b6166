#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The relay is not there when the server recovers; then it is; then the first of two
# relays is dead.
#
#   client 198.51.100.2 one@      \                               postfix 127.0.0.1:2525,
#          198.51.100.3 reject@    >-- gw (upnotifyd) -- server    started late; :2526 never
#          198.51.100.4 defer@    /                     203.0.113.2, 203.0.113.3 [DROP]
#
# 1. Nothing listens on 127.0.0.1:2525 at the recovery of 203.0.113.2: the three mails
#    stay queued, each tried at least once with its error recorded; nothing is lost.
# 2. Postfix starts there: one@'s mail is delivered (sent, by 127.0.0.1:2525);
#    reject@'s gets 554 and is failed for good; defer@'s gets 450 and stays queued,
#    tried again and again (retry_min 1s).
# 3. Restarted with relays 127.0.0.1:2526 (dead) then 127.0.0.1:2525: one@'s mail
#    about 203.0.113.3 goes through the second; the dead one is counted.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3

CFG_SYN_TIMEOUT=1s
CFG_CLIENTS="$C1 = one@example.test
$C2 = reject@example.test
$C3 = defer@example.test"
cfg_mail
cfg_recovery

topo_up
server_drop_syns $S1 $S2
daemon_start
for c in $C1 $C2 $C3; do
	syn_from $c $S1 80
done
wait_for "three clients wait for $S1" 5 wl_jq '[.[].clients[]] | length == 3'

# --- 1. no relay at all ---------------------------------------------------------------
ctl recover $S1 >/dev/null
wait_for "1: each of the three mails has been tried, and failed for now" 10 \
	outbox_jq 'length == 3 and all(.[]; .tries >= 1)'
check "1: all three still queued, with the error recorded" \
	outbox_jq 'all(.[]; .state == "queued" and (.last_error | type == "string"))'
check "1: counted: temporary failures and a dead relay, nothing sent" \
	status_jq '.counters | .["mail.temp_failures"] >= 3 and .["mail.relay_failures"] >= 1
		and .["mail.sent"] == 0'
wait_for "1: the gauge says 3 mails queued" 3 status_jq '.gauges.mail_queued == 3'
ctl outbox | sed 's/^/# /'

# --- 2. the relay comes up ------------------------------------------------------------
gw_pf_start
wait_for "2: one@'s mail is sent once the relay is up" 10 \
	outbox_jq 'any(.[]; .recipient == "one@example.test" and .state == "sent"
		and .relay == "127.0.0.1:2525")'
wait_for "2: ... and delivered" 10 mail_count_ge 1
wait_for "2: reject@'s mail failed for good (554)" 10 \
	outbox_jq 'any(.[]; .recipient == "reject@example.test" and .state == "failed"
		and (.last_error | test("554")))'
tries=$(ctl outbox --json | jq '.[] | select(.recipient == "defer@example.test") | .tries')
wait_for "2: defer@'s mail (450) stays queued and is tried again" 10 \
	outbox_jq 'any(.[]; .recipient == "defer@example.test" and .state == "queued"
		and .tries > $t and (.last_error | test("450")))' --argjson t "$tries"
check "2: counted: one permanent failure" counter_is mail.perm_failures 1
check "2: only one@ got mail" [ "$(mail_recipients)" = one@example.test ]
daemon_stop

# --- 3. two relays, the first dead ----------------------------------------------------
cfg_mail smtp://$PF_ADDR:2526 "$MAIL_RELAY"
daemon_start
syn_from $C1 $S2 80
wait_for "3: $C1 waits for $S2" 5 wl_has $S2 $C1
ctl recover $S2 >/dev/null
wait_for "3: one@'s mail about $S2 is sent by the second relay" 10 \
	outbox_jq 'any(.[]; .recipient == "one@example.test" and .server == $s
		and .state == "sent" and .relay == "127.0.0.1:2525")' --arg s $S2
wait_for "3: ... and delivered" 10 mail_about_is one@example.test $S2 1
check "3: the dead first relay is counted" counter_above '^mail\.relay_failures$' 0
check "two mails delivered in all, both to one@" \
	[ "$(mail_recipients | tr '\n' ' ')" = "one@example.test one@example.test " ]
