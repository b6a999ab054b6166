#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The server host is up but nothing listens on the port: its kernel answers the SYN
# with a RST, which the gateway forwards back:
#
#   client 198.51.100.2 --SYN--> gw (upnotifyd) --SYN--> server 203.0.113.2 :81 closed
#          198.51.100.2 <--RST-- gw <--RST------------------------/
#
# Expected with count_refused = yes: cause refused, server "refusing", right away.
# With count_refused = no (fresh store, second server 203.0.113.3): the daemon sees
# the RST (its rst/refused_ignored counters grow) yet records nothing, while a
# control failure (ICMP from the gateway for 203.0.113.9) in the same run is recorded.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

topo_up
CFG_COUNT_REFUSED=yes
daemon_start

syn_from $C1 $S1 81
wait_for "$C1 waits for $S1 with cause refused" 3 wl_has $S1 $C1 refused
check "$S1 is refusing" wl_state_is $S1 refusing
check "the entry records port 81" wl_field_is $S1 $C1 port 81
check "one SYN is one attempt" wl_field_is $S1 $C1 attempts 1
syn_from $C1 $S1 81
wait_for "a second refused SYN is a second attempt" 3 wl_attempts_ge $S1 $C1 2
check "... and not a third" wl_field_is $S1 $C1 attempts 2
check "$S1 is still refusing" wl_state_is $S1 refusing

daemon_stop
CFG_COUNT_REFUSED=no
DB=$UPN_TMP/refused-no.db
daemon_start
check "a fresh store starts empty" wl_jq 'length == 0'
before=$(counter_sum '^(rst|refused_ignored)$')
syn_from $C2 $S2 81
wait_for "the daemon saw the RST (counters rst, refused_ignored)" 3 \
	counter_above '^(rst|refused_ignored)$' $((before + 1))
# A later failure that does count: once it shows, the RST before it has been handled.
syn_from $C2 $S_NONE 81
wait_for "control: $C2 -> $S_NONE is recorded (icmp-unreachable)" 5 \
	wl_has $S_NONE $C2 icmp-unreachable
check "with count_refused = no, $C2 -> $S2 is not recorded" not wl_has $S2 $C2
check "no entry has cause refused" wl_jq '[.[].clients[] | select(.cause == "refused")] | length == 0'
check "no server is refusing" wl_jq '[.[] | select(.state == "refusing")] | length == 0'
