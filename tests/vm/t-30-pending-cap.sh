#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The pending-SYN table has a cap (max_pending, all namespaces together) and a SYN
# flood cannot push it past it:
#
#   client 198.51.100.2 --3000 SYNs, distinct source ports--> gw --> server ns
#       (hping3)                          (module, cap 1000)     198.18.0.1: dropped
#
# Expected: the pending gauge never exceeds 1000 (sampled throughout), table_full
# counts the SYNs turned away, and once the SYN timeout has passed every entry is
# gone again (syn_timeouts counts them) and a new SYN is tracked.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

CAP=1000
N=3000
BH=198.18.0.1

check "insmod with max_pending=$CAP" kmod_reload max_pending=$CAP
topo_up
in_g ip route add $BH/32 via $S1
in_s iptables -t raw -A PREROUTING -d $BH -j DROP
# Long enough that nothing expires during the flood, short enough to wait for.
check "gw: syn_timeout_ms 20000" gpoke set-config syn_timeout_ms=20000

sampler() {
	while :; do
		stat_in "$NS_G" pending 2>/dev/null || true
		sleep 0.2
	done
}
sampler >"$UPN_TMP/pending" 2>&1 &
SAMPLER=$!
at_cleanup "kill $SAMPLER"

t0=$(now_ms)
flood_syns $N $BH 80
diag "$N SYNs sent in $(($(now_ms) - t0)) ms"
poll 10 bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat pending) -ge $((CAP * 9 / 10)) ]" || true
kill $SAMPLER 2>/dev/null || true
wait $SAMPLER 2>/dev/null || true

max=$(sort -n "$UPN_TMP/pending" | tail -n 1)
diag "pending sampled $(wc -l <"$UPN_TMP/pending") times, max $max"
diag "module counters: $(gpoke stats | grep -v '=0$' | tr '\n' ' ')"
check "the pending gauge never exceeded $CAP (max seen ${max:-none})" [ "${max:-0}" -le $CAP ]
check "the table filled up: pending >= $((CAP * 9 / 10))" \
	[ "$(stat_in "$NS_G" pending)" -ge $((CAP * 9 / 10)) ]
tf=$(stat_in "$NS_G" table_full)
check "table_full counts the SYNs turned away ($tf >= $((N - CAP - N / 10)))" \
	[ "$tf" -ge $((N - CAP - N / 10)) ]
st=$(stat_in "$NS_G" syns_tracked)
check "syns_tracked ($st) is at most the cap" [ "$st" -le $CAP ]

wait_for "after the SYN timeout the table drains: pending 0" 60 \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat pending) -eq 0 ]"
check "syn_timeouts counts them (>= $((CAP * 9 / 10)))" \
	[ "$(stat_in "$NS_G" syn_timeouts)" -ge $((CAP * 9 / 10)) ]
before=$(stat_in "$NS_G" syns_tracked)
flood_syns 1 $BH 81
wait_for "a new SYN is tracked again" 10 \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat syns_tracked) -gt $before ]"
