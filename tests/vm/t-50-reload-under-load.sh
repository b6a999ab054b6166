#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# rmmod and insmod while traffic flows through the gateway, three times, with live
# state in the tables (pending SYNs, down servers, a watch list, a subscriber):
#
#   client --SYNs to a dropping server (pending), to a closed port (RST), to nobody
#          (ICMP host unreachable from the gw), UDP to a closed port (ICMP port
#          unreachable from the server), pings--> gw --> server
#
# Expected: every rmmod and insmod succeeds, traffic keeps flowing, the kernel log
# shows no WARNING, BUG, Oops or leak (the module WARNs at exit if entries are still
# live), and the module's unload lines and per-namespace "freed" lines appear.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

dmesg_mark
# dyndbg=+p: the module's debug lines, among them one per namespace it leaves with
# what it freed there.
check "insmod" kmod_reload dyndbg=+p
topo_up
server_listen 8080
in_s iptables -A INPUT -p tcp --dport 82 --syn -j DROP

# The load: a few of each kind, in loops, until the end.
# (hping3 fails when nothing answers: set -e must not end the loop.)
load() {
	set +e
	while :; do
		in_c timeout 5 hping3 -q -S -p 82 -i u2000 -c 200 $S1 >/dev/null 2>&1
		syn_from $C2 $S1 81
		syn_from $C3 $S_NONE 80
		in_c timeout 3 socat -u - UDP:$S1:9 <<<x >/dev/null 2>&1
		connect_ok $C1 $S1 8080
	done
}
load >/dev/null 2>&1 &
LOAD=$!
at_cleanup "kill $LOAD"
in_c ping -q -i 0.05 $S1 >/dev/null 2>&1 &
PING=$!
at_cleanup "kill $PING"

# state_up: what makes the module's tables non-empty in the gateway namespace.
state_up() {
	gpoke set-server $S2 down manual >/dev/null &&
		gpoke set-server $S_NONE down manual >/dev/null &&
		gpoke set-watch watch 203.0.113.0/24 watch 2001:db8:2::/64 \
			ignore 198.51.100.250/32 >/dev/null
}

for round in 1 2 3; do
	check "round $round: state set up" state_up
	in_g "$GENLPOKE" listen --timeout 30 >/dev/null 2>&1 &
	at_cleanup "kill $!"
	wait_for "round $round: SYNs are pending" 20 \
		bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat pending) -gt 0 ]"
	diag "round $round: $(gpoke stats | grep -E '^(packets|pending|down_servers|events|syn)=' | tr '\n' ' ')"
	check "round $round: rmmod under load" kmod_unload
	sleep 1
	check "round $round: traffic still flows without it" connect_ok $C1 $S1 8080
	check "round $round: insmod under load" insmod "$KO" dyndbg=+p
	wait_for "round $round: the new instance sees the traffic" 20 \
		bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat packets) -gt 0 ]"
done

kill $LOAD $PING 2>/dev/null || true
wait $LOAD $PING 2>/dev/null || true
check "rmmod at the end" kmod_unload
log=$(dmesg_since)
diag "the module's lines:" "$(grep -iE 'upnotify: (loaded|unloaded|netns)' <<<"$log" | tail -n 24)"
check "four unloads logged" [ "$(grep -c 'upnotify: unloaded' <<<"$log")" -ge 4 ]
check "the namespaces' exits logged what they freed (4 rmmods x 4 namespaces)" \
	[ "$(grep -cE 'upnotify: netns [0-9]+ destroyed: freed' <<<"$log")" -ge 16 ]
bad=$(grep -E "$KERNEL_BAD" <<<"$log" || true)
check "dmesg: no WARNING, BUG, Oops or leak" [ -z "$bad" ] || diag "$bad"
check "insmod again for what follows" insmod "$KO"
