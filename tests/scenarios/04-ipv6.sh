#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The same failures over IPv6:
#
#   client 2001:db8:1::2 --SYN--> gw (upnotifyd) --> server 2001:db8:2::3 :81 closed -> RST
#          2001:db8:1::2 --SYN--> gw --> server 2001:db8:2::2 [ip6tables DROP]  -> silence
#          2001:db8:1::3 --SYN--> (2001:db8:2::2 known down: counted at once)
#          2001:db8:1::4 --SYN--> gw ~~NDP for 2001:db8:2::9 fails~~
#          2001:db8:1::4 <--ICMPv6 address unreachable-- gw
#
# Expected: refused / refusing; syn-timeout / down then server-down; icmp-unreachable
# / down. Addresses are shown in their canonical RFC 5952 form.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

CFG_SYN_TIMEOUT=2s
topo_up
# The ICMP path itself: no neighbour event may report the attempt first.
cfg_recovery
daemon_start

syn_from $C1_6 $S2_6 81
wait_for "$C1_6 waits for $S2_6 with cause refused" 3 wl_has $S2_6 $C1_6 refused
check "$S2_6 is refusing" wl_state_is $S2_6 refusing
check "the entry records port 81" wl_field_is $S2_6 $C1_6 port 81

server_drop_syns
syn_from $C1_6 $S1_6 80
wait_for "$C1_6 waits for $S1_6 with cause syn-timeout" 5 wl_has $S1_6 $C1_6 syn-timeout
check "$S1_6 is down" wl_state_is $S1_6 down
check "one SYN is one attempt" wl_field_is $S1_6 $C1_6 attempts 1
syn_from $C2_6 $S1_6 80 &
wait_for "$C2_6 is recorded within 1 s, cause server-down" 1 wl_has $S1_6 $C2_6 server-down
diag "recorded after $WAITED_MS ms"
wait $! || true

syn_from $C3_6 $S_NONE6 80
wait_for "$C3_6 waits for $S_NONE6 with cause icmp-unreachable" 5 \
	wl_has $S_NONE6 $C3_6 icmp-unreachable
check "$S_NONE6 is down" wl_state_is $S_NONE6 down
check "every address is canonical (lower case, compressed)" \
	wl_jq 'all(.[]; (.server | test("^[0-9a-f:.]+$")) and all(.clients[]; .client | test("^[0-9a-f:.]+$")))'
