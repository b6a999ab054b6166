#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# watch, ignore_clients and only_known_clients decide who is recorded. Every probe
# is a SYN to a closed port (RST, recorded at once):
#
#   client 198.51.100.2, 2001:db8:1::2     --> 203.0.113.2, 2001:db8:2::2  watched
#          198.51.100.3                    --> 203.0.113.3, 2001:db8:2::3  not watched
#          198.51.100.4, 2001:db8:1::4 (ignored clients)
#                              gw (upnotifyd)
#
# Expected: only watched servers and not-ignored clients appear; the control cases
# in the same run do. Then, with only_known_clients = yes, only the client with a
# mail address in [clients] is recorded.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env

CFG_WATCH="$S1/32, $S1_6/128"
CFG_IGNORE="$C3/32, $C3_6/128"
topo_up
daemon_start

syn_from $C1 $S2 81	# not watched
syn_from $C3 $S1 81	# ignored client
syn_from $C1_6 $S2_6 81
syn_from $C3_6 $S1_6 81
syn_from $C2 $S1 81	# control, last: once it shows, the others have been handled
syn_from $C1_6 $S1_6 81
wait_for "control: $C2 -> $S1 (watched) is recorded" 3 wl_has $S1 $C2 refused
wait_for "control: $C1_6 -> $S1_6 (watched) is recorded" 3 wl_has $S1_6 $C1_6 refused
check "$S2 (outside watch) is not recorded" not wl_jq 'any(.[]; .server == $s)' --arg s $S2
check "$S2_6 (outside watch) is not recorded" not wl_jq 'any(.[]; .server == $s)' --arg s $S2_6
check "$C3 (in ignore_clients) is not recorded" not wl_has $S1 $C3
check "$C3_6 (in ignore_clients) is not recorded" not wl_has $S1_6 $C3_6
check "exactly the two control entries" wl_jq '[.[].clients[]] | length == 2'

daemon_stop
CFG_WATCH=
CFG_IGNORE=
CFG_ONLY_KNOWN=yes
CFG_CLIENTS="$C1 = sato@example.test"
DB=$UPN_TMP/known.db
daemon_start
syn_from $C2 $S1 81	# no mail address
syn_from $C1 $S1 81	# known, last
wait_for "only_known_clients: $C1 (has a mail address) is recorded" 3 wl_has $S1 $C1 refused
check "only_known_clients: $C2 (no mail address) is not recorded" not wl_has $S1 $C2
