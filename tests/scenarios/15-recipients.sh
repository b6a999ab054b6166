#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Exactly the right recipients: who waits for the recovered server, has an address,
# and tried recently enough; nobody else.
#
#   client 198.51.100.2    one@    --SYN x-->                        server 203.0.113.2 [DROP]
#          198.51.100.3    (none)  --SYN x-->  gw (upnotifyd,            :80
#          198.51.100.4    three@  --SYN x-->      postfix,          server 2001:db8:2::3 [DROP]
#          2001:db8:1::2   never@  --connects fine--> 2001:db8:2::2  max_wait 1m)
#          2001:db8:1::3   other@  --SYN x--> 2001:db8:2::3 (stays down)
#
# 198.51.100.4's attempt is made 10 minutes old, beyond max_wait = 1m: the daemon is
# stopped and its waitlist row's first and last moved back with sqlite3, then it is
# started again. (A real wait would take a minute; the clock cannot be moved for one
# process; the row is what the daemon would have written ten minutes earlier.)
# Then `upnotifyctl recover 203.0.113.2`.
#
# Expected: one mail, to one@; counted: 1 queued, 1 no_address (198.51.100.3), 1 stale
# (198.51.100.4); never@ (never failed) and other@ (waits for another server) get
# nothing; the outbox holds that one row; 2001:db8:2::3 is still down with other@'s
# client waiting.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3

CFG_SYN_TIMEOUT=1s
CFG_MAX_WAIT=1m
CFG_CLIENTS="$C1 = one@example.test
$C3 = three@example.test
$C1_6 = never@example.test
$C2_6 = other@example.test"
cfg_mail
cfg_recovery

topo_up
gw_pf_start
server_listen 80
server_drop_syns $S1 $S2_6
daemon_start

check "$C1_6 reaches $S1_6:80: it never fails" connect_ok $C1_6 $S1_6 80
syn_from $C1 $S1 80
syn_from $C2 $S1 80
syn_from $C3 $S1 80
syn_from $C2_6 $S2_6 80
wait_for "three clients wait for $S1, one for $S2_6" 5 \
	wl_jq '([.[] | select(.server == $a) | .clients[]] | length == 3)
		and ([.[] | select(.server == $b) | .clients[]] | length == 1)' --arg a $S1 --arg b $S2_6
check "$C1_6 is on no waitlist" wl_jq 'all(.[].clients[]; .client != $c)' --arg c $C1_6

daemon_stop
sqlite3 -cmd '.timeout 5000' "$DB" \
	"UPDATE waitlist SET first = first - 600, last = last - 600 WHERE client = '$C3'"
daemon_start
last=$(wl_field $S1 $C3 last)
check "$C3's last attempt ($last) is now older than max_wait" \
	[ $(($(date +%s) - $(date -d "$last" +%s))) -gt 60 ]

out=$(ctl recover $S1 2>&1) || true
check "recover $S1: \"$out\"" grep -qx "$S1 recovered: 1 mails queued" <<<"$out"
check "counted: 1 queued, 1 without address, 1 stale" \
	status_jq '.counters | .["notify.queued"] == 1 and .["notify.no_address"] == 1
		and .["notify.stale"] == 1'
check "the outbox holds one row, for one@" \
	outbox_jq 'length == 1 and .[0].recipient == "one@example.test" and .[0].client == $c' \
	--arg c $C1
wait_for "one mail delivered" 10 mail_count_ge 1
wait_for "... and sent" 5 outbox_jq 'all(.[]; .state == "sent")'
check "exactly one mail, to one@" [ "$(mail_recipients)" = one@example.test ]
check "$S1 and all its clients, the stale one too, are off the waitlist" server_gone $S1
check "$S2_6 is still down, $C2_6 waiting" wl_has $S2_6 $C2_6
