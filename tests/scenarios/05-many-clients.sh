#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Several clients, several attempts each, two kinds of failure:
#
#   client 198.51.100.2 x3 \                     / server 203.0.113.2 :81 closed (RST)
#          198.51.100.3 x2  >-- gw (upnotifyd) --<
#          198.51.100.4 x1 /                     \ server 203.0.113.3 [DROP]: syn-timeout,
#                                                  then server-down, 4 SYNs at once
#
# Expected: one entry per (server, client) pair, never two; attempts equal to the
# SYNs sent; first <= last; `waitlist SERVER` shows only that server.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

CFG_SYN_TIMEOUT=2s
topo_up
server_drop_syns $S2
daemon_start

# Refused, interleaved.
for c in $C1 $C2 $C3 $C1 $C2 $C1; do
	syn_from $c $S1 81
done
wait_for "$C1 reaches 3 attempts at $S1" 3 wl_attempts_ge $S1 $C1 3
check "$C1: exactly 3 attempts" wl_field_is $S1 $C1 attempts 3
check "$C2: exactly 2 attempts" wl_field_is $S1 $C2 attempts 2
check "$C3: exactly 1 attempt" wl_field_is $S1 $C3 attempts 1
check "$S1 lists 3 clients, each once" \
	wl_jq '[.[] | select(.server == $s) | .clients[].client] | (length == 3) and (unique | length == 3)' \
	--arg s $S1

# Silence: the first SYNs time out, then the server is known down.
syn_from $C1 $S2 80
syn_from $C2 $S2 80
wait_for "$C1 and $C2 wait for $S2 after syn_timeout" 5 \
	wl_jq '[.[] | select(.server == $s) | .clients[] | select(.cause == "syn-timeout")] | length == 2' \
	--arg s $S2
check "$S2 is down" wl_state_is $S2 down
pids=
for c in $C1 $C2 $C3 $C3 $C3 $C3; do
	syn_from $c $S2 80 &
	pids="$pids $!"
done
wait $pids || true
wait_for "concurrent SYNs: $C3 reaches 4 attempts at $S2" 3 wl_attempts_ge $S2 $C3 4
check "$C3: exactly 4 attempts at $S2" wl_field_is $S2 $C3 attempts 4
check "$C1: 2 attempts at $S2 (timeout, then server-down)" wl_field_is $S2 $C1 attempts 2
check "$C2: 2 attempts at $S2" wl_field_is $S2 $C2 attempts 2
check "no (server, client) pair appears twice" \
	wl_jq '[.[] | .server as $s | .clients[] | [$s, .client]] | length == (unique | length)'
check "each server appears once" wl_jq '[.[].server] | length == (unique | length)'
check "6 entries in all" wl_jq '[.[].clients[]] | length == 6'
check "first <= last everywhere" \
	wl_jq 'all(.[].clients[]; (.first | fromdateiso8601) <= (.last | fromdateiso8601))'
out=$(ctl waitlist $S2 --json)
check "waitlist $S2 shows only $S2" jq -e --arg s $S2 'length == 1 and .[0].server == $s' <<<"$out"
