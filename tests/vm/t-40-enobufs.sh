#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Events are lost when a subscriber does not keep up (ENOBUFS); the module counts
# that, and the daemon recovers the server states from a dump:
#
#   client 198.51.100.2 --SYN burst (hping3)--> gw --> server 203.0.113.2 (drops SYNs)
#   gw: 203.0.113.2 marked down (SET_SERVER): every SYN to it is an event at once
#
# 1. genlpoke listen with a 1 KiB receive buffer that does not read during the burst:
#    it sees ENOBUFS, gets fewer events than were sent; the module counts event_fails.
# 2. upnotifyd (source kmod, recovery signals off) stopped with SIGSTOP during a
#    bigger burst (module batch_max 1: one event per skb fills its buffer sooner), while
#    203.0.113.3 comes up and 203.0.113.9 goes down (their events are lost in the
#    overrun): after SIGCONT it must count the overrun (kmod.overruns), resync, and
#    end with the module's down servers: .2 and .9 down, .3 not.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

check "insmod" kmod_reload
topo_up
server_drop_syns
check "gw: $S1 marked down" gpoke set-server $S1 down manual

# Events sent plus events lost: one per SYN.
ev_total() {
	local s
	s=$(in_g "$GENLPOKE" stats) || return 1
	echo $(($(sed -n 's/^events=//p' <<<"$s") + $(sed -n 's/^event_fails=//p' <<<"$s")))
}

# --- 1. genlpoke ----------------------------------------------------------------------
N=2000
in_g "$GENLPOKE" listen --rcvbuf 1024 --delay 8 --timeout 10 >"$UPN_TMP/listen" 2>&1 &
LPID=$!
at_cleanup "kill $LPID"
poll 10 grep -q '^listening' "$UPN_TMP/listen" || true
ev0=$(ev_total)
t0=$(now_ms)
flood_syns $N $S1 80
diag "$N SYNs sent in $(($(now_ms) - t0)) ms"
wait_for "the module made an event for (nearly) every SYN (events + event_fails)" 20 \
	bash -c "[ \$(ip netns exec $NS_G $GENLPOKE stats | awk -F= '/^events=|^event_fails=/ { n += \$2 } END { print n }') -ge $((ev0 + N * 9 / 10)) ]"
wait $LPID || true
res=$(grep '^events=' "$UPN_TMP/listen" || true)
diag "listener: ${res:-nothing}" "module: $(gpoke stats | grep -E '^(events|event_fails)=' | tr '\n' ' ')"
ov=$(sed -n 's/.*overruns=\([0-9]*\).*/\1/p' <<<"$res")
got=$(sed -n 's/^events=\([0-9]*\).*/\1/p' <<<"$res")
# Each stands alone: part 2 runs whatever they say.
check "the listener saw ENOBUFS (overruns=${ov:-?})" [ "${ov:-0}" -ge 1 ] || true
check "... and fewer events than were sent (${got:-?} < $N)" [ "${got:-$N}" -lt $N ] || true
check "the module counts the lost ones (event_fails > 0: the listener has NETLINK_BROADCAST_ERROR)" \
	[ "$(stat_in "$NS_G" event_fails)" -gt 0 ] || true

# --- 2. the daemon ------------------------------------------------------------------
CFG_SOURCE=kmod
# No recovery signal but the module's: the server answers ARP, neighbour recovery
# would bring it back.
cfg_recovery
# One event per skb: the daemon's 16 MiB buffer then holds some ten thousand, not
# a hundred thousand (batches of 16), and an 8 s burst overruns it.
orig_batch=$(cat "$PARAMS/batch_max")
at_cleanup "echo $orig_batch >$PARAMS/batch_max"
echo 1 >"$PARAMS/batch_max"
daemon_start
wait_for "the daemon learns $S1 is down from the module" 10 wl_state_is $S1 down
check "gw: $S2 marked down" gpoke set-server $S2 down manual
wait_for "the daemon sees $S2 go down" 10 wl_state_is $S2 down

kill -STOP "$DAEMON_PID"
at_cleanup "kill -CONT $DAEMON_PID"
ev0=$(ev_total)
# As many SYNs as 8 s give: ~60000 under emulation, where ~20000 fill the buffer.
in_c timeout 8 hping3 -q -S -p 80 --flood $S1 >/dev/null 2>&1 || true
check "gw: $S2 comes up (event lost or not)" gpoke set-server $S2 up manual
check "gw: $S_NONE goes down (event lost or not)" gpoke set-server $S_NONE down manual
sent=$(($(ev_total) - ev0))
diag "events multicast while the daemon was stopped: $sent" \
	"module: $(gpoke stats | grep -E '^(events|event_fails)=' | tr '\n' ' ')"
kill -CONT "$DAEMON_PID"
echo "$orig_batch" >"$PARAMS/batch_max"

wait_for "the daemon answers again" 60 ctl status
wait_for "the daemon ends with $S_NONE down" 60 wl_state_is $S_NONE down
wait_for "... $S2 not down" 30 not wl_state_is $S2 down
check "... $S1 still down" wl_state_is $S1 down
diag "daemon: $(ctl status --json | jq -c '.counters | with_entries(select(.key | startswith("kmod.")))')"
if status_jq '.counters["kmod.overruns"] >= 1'; then
	pass "the daemon counted the overrun (kmod.overruns)"
	check "... and resynced (kmod.resyncs >= 1)" status_jq '.counters["kmod.resyncs"] >= 1'
else
	skip "the daemon counted the overrun (kmod.overruns)" \
		"no overrun provoked: its buffer held all $sent events of the burst"
fi
