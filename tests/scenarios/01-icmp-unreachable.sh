#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The server's link goes down; the gateway cannot resolve it any more and answers
# the client's SYN with an ICMP host unreachable of its own (seen in OUTPUT):
#
#   client 198.51.100.2 --SYN--> gw ~~ARP fails (~1 s)~~X  s0 down: server 203.0.113.2
#          198.51.100.3 <--ICMP host unreachable-- gw (upnotifyd)
#
# Expected: the client is on 203.0.113.2's waitlist, cause icmp-unreachable, port 80,
# one attempt, RFC 3339 times from this run; the server is "down". A second client's
# single attempt afterwards is one attempt too.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

topo_up
# The ICMP path itself: no neighbour event may report the attempt first.
cfg_recovery
daemon_start
check "upnotifyd reports source $UPN_SOURCE" status_jq '.source == $s' --arg s "$UPN_SOURCE"
check "the waitlist starts empty" wl_jq 'length == 0'

t0=$(date +%s)
server_link_down
syn_from $C1 $S1 80
wait_for "$C1 waits for $S1 with cause icmp-unreachable" 5 wl_has $S1 $C1 icmp-unreachable
check "$S1 is down" wl_state_is $S1 down
check "the entry records port 80, TCP" \
	wl_jq '.[].clients[] | select(.client == $c) | .port == 80 and (.proto == 6 or .proto == "tcp")' \
	--arg c $C1
check "one SYN is one attempt" wl_field_is $S1 $C1 attempts 1
t1=$(date +%s)
check "first is RFC 3339 and within this run" rfc3339_between "$(wl_field $S1 $C1 first)" $((t0 - 1)) $((t1 + 1))
check "last is RFC 3339 and within this run" rfc3339_between "$(wl_field $S1 $C1 last)" $((t0 - 1)) $((t1 + 1))
check "the server's since is RFC 3339 and within this run" \
	rfc3339_between "$(ctl waitlist --json | jq -r '.[0].since')" $((t0 - 1)) $((t1 + 1))

# The server is known down now: a second client's SYN counts at once, and the
# gateway's ICMP for that same SYN must not count it a second time.
syn_from $C2 $S1 80
wait_for "$C2 joins the waitlist" 5 wl_has $S1 $C2 'server-down|icmp-unreachable'
wait_for "the daemon has seen the ICMP error for that SYN too" 5 counter_above '^unreach$' 1
check "one SYN from $C2 is one attempt" wl_field_is $S1 $C2 attempts 1
check "two clients, no other entry" wl_jq '[.[].clients[]] | length == 2'
