#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The waitlist survives the daemon: kill -9 (no chance to flush anything beyond
# what it already showed) and a clean SIGTERM restart.
#
#   client 198.51.100.2 x2, .3, 2001:db8:1::2 --> gw (upnotifyd, kill -9, restart)
#          --> server 203.0.113.2, 2001:db8:2::2 :81 closed (RST)
#
# Expected: after each restart the waitlist is identical to the one shown before
# (server, state, since, every client's first, last, attempts, cause, port); a new
# attempt then counts on from the stored attempts with first unchanged.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

topo_up
daemon_start
syn_from $C1 $S1 81
syn_from $C2 $S1 81
syn_from $C1_6 $S1_6 81
syn_from $C1 $S1 81
wait_for "three entries shown, $C1 with 2 attempts" 3 \
	wl_jq '([.[].clients[]] | length == 3) and any(.[].clients[]; .client == $c and .attempts == 2)' \
	--arg c $C1
before=$(wl_sorted)

daemon_kill9
daemon_start
after=$(wl_sorted)
if [ "$before" = "$after" ]; then
	pass "after kill -9 and restart the waitlist is the same"
else
	fail "after kill -9 and restart the waitlist is the same" \
		"diff before after:" "$(diff <(echo "$before") <(echo "$after") || true)"
	false
fi

first=$(wl_field $S1 $C1 first)
sleep 1	# times have a resolution of one second; "last" must visibly move
syn_from $C1 $S1 81
wait_for "a new attempt counts on: $C1 has 3 attempts" 3 wl_attempts_ge $S1 $C1 3
check "... exactly 3" wl_field_is $S1 $C1 attempts 3
check "first is unchanged" wl_field_is $S1 $C1 first "$first"
check "last has moved on" \
	[ "$(date -d "$(wl_field $S1 $C1 last)" +%s)" -gt "$(date -d "$first" +%s)" ]
syn_from $C3 $S1 81
wait_for "a new client after the restart is recorded" 3 wl_has $S1 $C3 refused

before=$(wl_sorted)
rc=0
daemon_stop || rc=$?
check "SIGTERM: clean exit (status $rc)" [ $rc -eq 0 ]
daemon_start
after=$(wl_sorted)
if [ "$before" = "$after" ]; then
	pass "after SIGTERM and restart the waitlist is the same"
else
	fail "after SIGTERM and restart the waitlist is the same" \
		"diff before after:" "$(diff <(echo "$before") <(echo "$after") || true)"
	false
fi
