#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The recovery signals besides traps, one daemon configuration each, and the mail
# each one sends through the gateway's Postfix:
#
#   client 198.51.100.2 one@  \                               / server 203.0.113.2 [DROP SYNs]
#          198.51.100.3 two@   >-- gw (upnotifyd, postfix) --<
#          198.51.100.4 (none) /                              \ server 203.0.113.3 [DROP SYNs]
#
#  A (probe, neigh off)  SYN/ACK: .2's SYN to 203.0.113.2 times out; the server takes
#                        SYNs again and serves :80; .4 connects, the SYN/ACK passes the
#                        gateway: recovered. Manual: .2's SYN to 203.0.113.3 times out;
#                        `upnotifyctl recover 203.0.113.3` says 1 mail queued; recovering
#                        a server that is not down fails.
#  B (neigh on)          203.0.113.2's link goes down, .3's SYN meets a failed ARP;
#                        link up, the server pings the gateway, whose entry turns
#                        REACHABLE (delay_first_probe_time 1 s): recovered.
#  C (probe on, rise 3,  .3's SYN to 203.0.113.3 times out; probes fail; the server
#     interval 500 ms)   takes SYNs again: recovered at the 3rd successful round, not
#                        before, and no mail before it either.
#
# Expected: each recovery is counted by its own counter, the outbox records its cause,
# and exactly one@ (about .2 and .3) and two@ (about .2 and .3) get one mail each;
# .4, which has no address, is counted in notify.no_address.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3

CFG_SYN_TIMEOUT=1s
CFG_CLIENTS="$C1 = one@example.test
$C2 = two@example.test"
cfg_mail

topo_up
gw_pf_start
server_drop_syns $S1 $S2
server_listen 80

# --- A: SYN/ACK and the operator ----------------------------------------------------
cfg_recovery
daemon_start
syn_from $C1 $S1 80
syn_from $C1 $S2 80
wait_for "A: $S1 and $S2 are down (syn-timeout)" 5 \
	wl_jq '[.[] | select(.state == "down")] | length == 2'
server_accept_syns $S1
check "A: $C3 connects to $S1:80 through the gateway" connect_ok $C3 $S1 80
wait_for "A: the SYN/ACK recovers $S1" 5 server_gone $S1
# The SYN of C3 met a down server and counted at once, but its own handshake is
# what showed the recovery: it is taken off the list, not told (notify.reached).
check "A: counted: one SYN/ACK recovery, one mail, $C3 reached the server itself" \
	status_jq '.counters | .["notify.recoveries"] == 1 and .["notify.queued"] == 1
		and .["notify.reached"] == 1 and .["notify.no_address"] == 0'
check "A: $S2 is still down" wl_state_is $S2 down
out=$(ctl recover $S2 2>&1) || true
check "A: upnotifyctl recover $S2: \"$out\"" grep -qx "$S2 recovered: 1 mails queued" <<<"$out"
check "A: $S2 is gone from the waitlist" server_gone $S2
check_not "A: recover $S2 again fails: it is not down" ctl recover $S2
check_not "A: recover of something that is not an address fails" ctl recover not-an-address
wait_for "A: two mails delivered" 10 mail_count_ge 2
check "A: one@ got one mail about $S1" mail_about_is one@example.test $S1 1
check "A: ... and one about $S2" mail_about_is one@example.test $S2 1
daemon_stop

# --- B: the neighbour entry ---------------------------------------------------------
cfg_recovery neigh=yes
daemon_start
server_link_down
syn_from $C2 $S1 80
# Whichever the daemon sees first: the gateway's ICMP error, or the FAILED entry.
wait_for "B: $C2 waits for $S1, down after ARP failed" 5 \
	wl_has $S1 $C2 'icmp-unreachable|neighbour'
check "B: $S1 is down" wl_state_is $S1 down
server_link_up
check "B: the link alone does not make it REACHABLE" wl_state_is $S1 down
in_g sysctl -qw net.ipv4.neigh.g1.delay_first_probe_time=1
in_s ping -c1 -W2 -I $S1 $GW_S >/dev/null
wait_for "B: the server's ping makes the gateway's entry REACHABLE: recovered" 5 server_gone $S1
check "B: counted in neigh.reachable_recoveries" counter_is neigh.reachable_recoveries 1
wait_for "B: two@ gets one mail about $S1" 10 mail_about_is two@example.test $S1 1
daemon_stop

# --- C: probes, rise 3 ---------------------------------------------------------------
cfg_recovery probe=yes rise=3 probe_interval=500ms probe_max_interval=1s
daemon_start
syn_from $C2 $S2 80
wait_for "C: $S2 is down (syn-timeout)" 5 wl_state_is $S2 down
wait_for "C: a probe has failed" 5 counter_above '^probes\.failures$' 0
mails=$(pf_count)
server_accept_syns $S2
# One status is one turn of the daemon's loop: successes and recoveries agree in it.
samples=$UPN_TMP/probe-samples
end=$(($(now_ms) + 10000))
while [ "$(now_ms)" -lt "$end" ]; do
	# Mails first: a mail counted before a status that shows no recovery cannot be
	# one sent after it (under emulation the two reads are a second apart).
	n=$(pf_count)
	st=$(ctl status --json | jq -r '.counters | "\(.["probes.successes"]) \(.["probes.recoveries"]) \(.["notify.recoveries"])"')
	echo "$st $n" >>"$samples"
	[ "${st#* }" = "1 1" ] && break
	sleep 0.05
done
check "C: recovered by the probes" awk 'END { exit !($2 == 1 && $3 == 1) }' "$samples"
check "C: never recovered before the 3rd success" \
	awk '($2 > 0 || $3 > 0) && $1 < 3 { bad = 1 } END { exit bad }' "$samples"
check "C: seen down with 1 or 2 successes" awk '$1 >= 1 && $1 < 3 && $3 == 0 { ok = 1 } END { exit !ok }' "$samples"
check "C: no mail before the recovery" \
	awk -v m="$mails" '$3 == 0 && $4 != m { bad = 1 } END { exit bad }' "$samples"
check "C: gone from the waitlist" server_gone $S2
wait_for "C: two@ gets one mail about $S2" 10 mail_about_is two@example.test $S2 1

# --- all of it ------------------------------------------------------------------------
check "four mails in all" [ "$(pf_count)" -eq 4 ]
want="one@example.test|$S1|$C1|syn-ack|sent
one@example.test|$S2|$C1|manual|sent
two@example.test|$S1|$C2|neighbour|sent
two@example.test|$S2|$C2|probe|sent"
got=$(outbox_rows)
if [ "$got" = "$want" ]; then
	pass "the outbox: one row per mail, with its recovery's cause"
else
	fail "the outbox: one row per mail, with its recovery's cause" "expected:" "$want" "got:" "$got"
fi
