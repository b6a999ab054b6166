#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Refusing servers, and SET_SERVER down with cause neigh, in the module alone (no
# daemon):
#
#   client 198.51.100.2 --SYN :81--> gw (module) --> server 203.0.113.2, :81 closed
#          198.51.100.2 <--RST------ gw <----------/
#
# Expected: the RST makes the server refusing (GET_SERVERS state 2, port 81; the
# gauges count it as refusing, not down); a SYN to it then waits as usual (no
# failed access at once); a SYN/ACK on another port changes nothing; once :81
# listens, a SYN/ACK on it forgets the server with SERVER_UP cause synack naming the
# client. SET_SERVER refusing needs a port; with ports it is dumped with them, and
# SET_SERVER up forgets it. SET_SERVER down cause neigh with no SYN pending changes
# nothing; with one pending, it fails that SYN (cause neigh) and marks the server
# down.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

check "a fresh instance of the module" kmod_reload
topo_up
# Long enough that no SYN here times out on its own.
check "gw: count_refused 1, syn_timeout_ms 60000" \
	gpoke set-config count_refused=1 syn_timeout_ms=60000

in_g "$GENLPOKE" listen --verbose --timeout 120 >"$UPN_TMP/ev" 2>&1 &
LSN=$!
at_cleanup "kill $LSN"
poll 10 grep -q '^listening' "$UPN_TMP/ev" || true

# A clean slate: in some runs the topology's own set-up traffic (before the listener
# joined) left an address down in the gateway; say which, and bring it up.
stray=$(gpoke servers | awk '{ print $1 }')
for a in $stray; do
	diag "note: $a was in the table before the test began: $(gpoke servers | grep "^$a ")"
	gpoke set-server "$a" up >/dev/null || true
done
check "the table starts empty" bash -c "[ -z \"\$(ip netns exec $NS_G $GENLPOKE servers)\" ]"

srv() { gpoke servers | grep "^$1 " || true; }
events() { grep -E "$1" "$UPN_TMP/ev"; }
# The events of the listener from its line N on.
since() { tail -n +"$1" "$UPN_TMP/ev" | grep -E "$2"; }

# --- refusing by a RST, back by a SYN/ACK on its port --------------------------------
syn_from $C1 $S1 81
wait_for "the RST is a failed access, cause refused" 5 \
	events "^failed_access_ntf server=$S1 cause=refused .*client=$C1"
check "$S1 is dumped refusing (state 2) with port 81" \
	bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -Eq '^$S1 refusing refused [0-9]+ ports=81\$'"
# Raw: state u8 2, port u16 81 in host order (little-endian here).
check "on the wire: state 2, one port attribute 81" \
	bash -c "ip netns exec $NS_G $GENLPOKE raw --dump get_servers | grep -E 'state=02 ' | grep -q 'port=5100'"
gauges() {
	echo "refusing=$(in_g "$GENLPOKE" stat refusing_servers) down=$(in_g "$GENLPOKE" stat down_servers)"
}
# Only S1's own record is asserted: in some runs the topology's own traffic left
# another address down in the gateway before the listener joined (see the dump).
wait_for "gauges: refusing_servers 1, and $S1 not down" 5 \
	bash -c "[ \"\$(ip netns exec $NS_G $GENLPOKE stat refusing_servers)\" = 1 ] &&
		! ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 down '" ||
	diag "gauges now: $(gauges)" "dump: $(gpoke servers)"
[ "$(in_g "$GENLPOKE" stat down_servers)" = 0 ] ||
	diag "note: down servers other than $S1: $(gpoke servers | grep -v "^$S1 " | tr '\n' ' ')"
check "no SERVER_DOWN for a refusal" bash -c "! grep -q '^server_down_ntf' $UPN_TMP/ev"

# A SYN to a refusing server waits for its answer, like any other.
in_s iptables -A INPUT -p tcp --dport 83 --syn -j DROP
n=$(wc -l <"$UPN_TMP/ev")
syn_from $C2 $S1 83
hold_false "a SYN to the refusing server is not failed at once" 1.5 \
	since $((n + 1)) "^failed_access_ntf .*client=$C2"
check "... it is pending" bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat pending) -ge 1 ]"

server_listen 80
check "a full connection to :80 (a port not refused)" connect_ok $C2 $S1 80
check "$S1 is still refusing after a SYN/ACK on :80" \
	bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 refusing '"

server_listen 81
check "a full connection to :81" connect_ok $C3 $S1 81
wait_for "SERVER_UP cause synack for $S1, naming $C3" 5 \
	events "^server_up_ntf server=$S1 cause=synack client=$C3\$"
check "$S1 is no longer in the dump" \
	bash -c "! ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 '"
check "gauges: refusing_servers 0" \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat refusing_servers) -eq 0 ]"

# --- SET_SERVER refusing ---------------------------------------------------------------
out=$(gpoke raw set_server family=u8:2 server=addr:$S2 state=u8:2 2>&1) && rc=0 || rc=$?
check "SET_SERVER refusing without a port: EINVAL with extack" \
	bash -c "[ $rc -eq 1 ] && grep -q '^error: -22 .*port' <<<'$out'"
out=$(gpoke raw set_server family=u8:2 server=addr:$S2 state=u8:1 port=u16:80 2>&1) && rc=0 || rc=$?
check "SET_SERVER down with a port: EINVAL" bash -c "[ $rc -eq 1 ] && grep -q '^error: -22' <<<'$out'"
check "SET_SERVER refusing with ports 443, 8443" \
	gpoke raw set_server family=u8:2 server=addr:$S2 state=u8:2 cause=u8:3 \
	port=u16:443 port=u16:8443
check "... dumped refusing with both ports" \
	bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -Eq '^$S2 refusing refused [0-9]+ ports=443,8443\$'"
check "SET_SERVER up forgets it" gpoke set-server $S2 up manual
wait_for "... with SERVER_UP cause manual" 5 events "^server_up_ntf server=$S2 cause=manual"
check "the dump is empty" bash -c "[ -z \"\$(ip netns exec $NS_G $GENLPOKE servers)\" ]"

# --- SET_SERVER down, cause neigh ------------------------------------------------------
n=$(wc -l <"$UPN_TMP/ev")
check "SET_SERVER down neigh for $S2, nothing pending: accepted" gpoke set-server $S2 down neigh
check "... changes nothing: the dump is empty" \
	bash -c "[ -z \"\$(ip netns exec $NS_G $GENLPOKE servers)\" ]"
check "... down_servers 0" bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat down_servers) -eq 0 ]"
hold_false "... and no event" 1 since $((n + 1)) "server=$S2"

# The SYN of $C2 to $S1:83 is still pending: neigh fails it, and marks $S1 down.
check "SET_SERVER down neigh for $S1, one SYN pending" gpoke set-server $S1 down neigh
wait_for "... its SYN failed with cause neigh" 5 \
	since $((n + 1)) "^failed_access_ntf server=$S1 cause=neigh .*client=$C2"
check "... SERVER_DOWN cause neigh came first" \
	bash -c "tail -n +$((n + 1)) $UPN_TMP/ev | grep -E 'server=$S1' | head -n 1 |
		grep -q '^server_down_ntf server=$S1 cause=neigh'"
check "... $S1 is dumped down" \
	bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 down neigh '"
check "... down_servers 1, refusing_servers 0" \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stat down_servers) -eq 1 ] &&
		[ \$(ip netns exec $NS_G $GENLPOKE stat refusing_servers) -eq 0 ]"

# A refusal does not undo a down server.
in_s iptables -D INPUT -p tcp --dport 83 --syn -j DROP
check "SET_SERVER refusing for the down $S1: accepted" \
	gpoke raw set_server family=u8:2 server=addr:$S1 state=u8:2 port=u16:81
check "... it stays down" bash -c "ip netns exec $NS_G $GENLPOKE servers | grep -q '^$S1 down '"
check "SET_SERVER up" gpoke set-server $S1 up

check "the kernel log has no complaint" bash -c "! dmesg | grep -Eq '$KERNEL_BAD'"
