#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The server host is up but drops every SYN (iptables DROP in its namespace): no
# SYN/ACK, no RST, no ICMP, only silence for syn_timeout (2 s):
#
#   client 198.51.100.2 --SYN--> gw (upnotifyd) --SYN--> server 203.0.113.2 [DROP]
#          198.51.100.3 --SYN--> (server already down: counted at once)
#          198.51.100.4 --SYN--> gw --SYN--> server :8080 listening, before the DROP
#
# Expected: a healthy connection is never recorded; the silent SYN is recorded only
# after syn_timeout, cause syn-timeout, server "down"; the next SYN to that server
# is recorded well before syn_timeout could elapse, cause server-down.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

CFG_SYN_TIMEOUT=2s
topo_up
server_listen 8080
daemon_start

check "$C3 connects to $S1:8080 through the gateway" connect_ok $C3 $S1 8080

server_drop_syns
t0=$(now_ms)
syn_from $C1 $S1 80
hold_false "$C1 is not recorded before syn_timeout (2 s)" \
	"$(awk "BEGIN { print (1800 - ($(now_ms) - $t0)) / 1000 }")" wl_has $S1 $C1
wait_for "$C1 waits for $S1 with cause syn-timeout" 5 wl_has $S1 $C1 syn-timeout
check "$S1 is down" wl_state_is $S1 down
check "the entry records port 80" wl_field_is $S1 $C1 port 80
check "one SYN is one attempt" wl_field_is $S1 $C1 attempts 1
# By now the healthy connection's SYN is far older than syn_timeout.
check "the answered connection from $C3 is not recorded" not wl_has $S1 $C3

# The server is known down: the next SYN counts without waiting for the timeout.
syn_from $C2 $S1 80 &
wait_for "$C2 is recorded within 1 s (syn_timeout is 2 s), cause server-down" 1 \
	wl_has $S1 $C2 server-down
diag "recorded after $WAITED_MS ms"
wait $! || true
check "one SYN from $C2 is one attempt" wl_field_is $S1 $C2 attempts 1
check "$S1 is still down" wl_state_is $S1 down
check "two clients on the waitlist" wl_jq '[.[].clients[]] | length == 2'
