#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The family and the hooks are per network namespace. With the usual topology in
# namespace A (its gateway) and an idle namespace B:
#
#   A: client --SYNs, ICMP--> gw A (module instance A; listener A)
#   B: nothing (module instance B; listener B)
#
# Expected: A's listener gets the events and A's counters move; B's listener gets
# none, B's counters stay 0, B's dump is empty, and config and watch set in A do not
# show in B (nor the other way round).
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

kmod_loaded || insmod "$KO"
NS_B=upn$$-b
ip netns add $NS_B
at_cleanup "ip netns del $NS_B"
ip -n $NS_B link set lo up
inb() { ip netns exec $NS_B timeout 20 "$GENLPOKE" "$@"; }
topo_up

check "B: a SET_CONFIG of its own" inb set-config syn_timeout_ms=7777
check "A: another" gpoke set-config syn_timeout_ms=5555
check "A: a watch list" gpoke set-watch watch 203.0.113.0/24

ip netns exec $NS_B "$GENLPOKE" listen --timeout 20 >"$UPN_TMP/lb" 2>&1 &
LB=$!
in_g "$GENLPOKE" listen --timeout 20 >"$UPN_TMP/la" 2>&1 &
LA=$!
at_cleanup "kill $LA $LB"
poll 10 grep -q '^listening' "$UPN_TMP/la" || true
poll 10 grep -q '^listening' "$UPN_TMP/lb" || true

check "A: $S1 marked down" gpoke set-server $S1 down manual
server_link_down
syn_from $C1 $S1 80
syn_from $C2 $S2 80
server_link_up
wait $LA $LB || true
diag "A: $(grep '^events=' "$UPN_TMP/la")" "B: $(grep '^events=' "$UPN_TMP/lb")"
check "A's listener got events" grep -Eq '^events=[1-9]' "$UPN_TMP/la"
check "B's listener got none" grep -q '^events=0 ' "$UPN_TMP/lb"
check "A's counters moved (syn, events)" \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat syn) -gt 0 ] &&
		[ \$(ip netns exec $NS_G $GENLPOKE stat events) -gt 0 ]"
check "B's counters are all 0" bash -c "! ip netns exec $NS_B $GENLPOKE stats | grep -v '=0$'"
check "A's dump lists $S1" bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 down'"
check "B's dump is empty" bash -c "[ -z \"\$(ip netns exec $NS_B $GENLPOKE servers)\" ]"
check "B keeps its config (7777)" bash -c "ip netns exec $NS_B $GENLPOKE get-config | grep -qx syn_timeout_ms=7777"
check "A keeps its config (5555)" bash -c "ip netns exec $NS_G $GENLPOKE get-config | grep -qx syn_timeout_ms=5555"
check "B has no watch list" bash -c "[ -z \"\$(ip netns exec $NS_B $GENLPOKE get-watch)\" ]"
check "the root namespace saw nothing either" bash -c "[ \$($GENLPOKE stat events) -eq 0 ] && [ \$($GENLPOKE stat syn) -eq 0 ]"
