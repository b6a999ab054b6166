#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Embodiment 3: the relay list goes to a network management system, whose agent does
# not poll its mailbox on a timer (poll = 0) but when a server it manages sends a trap;
# then at once and again after 2, 5 and 15 s, since the relay mail may come after it.
# The NMS is a namespace of its own (nms_up), a hop behind the gateway like the server.
#
#   client .2 .3 --SYN-->  gw 198.51.100.1 | 203.0.113.1                 server 203.0.113.2
#                           upnotifyd: traps on 203.0.113.1:10162          snmpd: coldStart to
#                             [servers] 203.0.113.2 = nms nms@nms.example.test   .1:10162 and
#                           postfix 127.0.0.1:2525 (+ 203.0.113.1)           NMS :10163
#                             nms@ -> dovecot, one@ two@ -> Maildir
#                           dovecot 203.0.113.1:1995 (POP3S)
#                                | 192.0.2.129
#                                |
#                           NMS 192.0.2.130, default via gw: upnotify-agent, poll = 0,
#                             traps on :10163 from [trap] servers 203.0.113.0/24,
#                             POP3S (ca_file) from 203.0.113.1:1995, SMTP to .1:2525
#
# The agent's POP3S and SMTP go to the gateway's own address: INPUT, not FORWARD, so
# upnotifyd (which queues forwarded TCP) never sees them; the traps to the NMS are
# forwarded UDP, which it does not queue either: the waitlist holds the clients only.
#
# Expected: a relay mail sitting in the mailbox is not fetched without a trap, nor on a
# trap from an address outside [trap] servers (one that does reach the NMS: a client's,
# forwarded by the gateway); a trap from the server fetches it. Then the whole way: a
# second outage, snmpd's coldStart recovers the server at upnotifyd and wakes the agent
# at the NMS, which finds the relay mail on one of its retries.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix dovecot snmpd snmptrap sqlite3 python3 curl
[ -x "$UPNOTIFY_AGENT" ] || { fail "$UPNOTIFY_AGENT exists (run make)"; exit 1; }

NMS_MAIL=nms@nms.example.test
AGENT_TRAP_PORT=10163
KEYS=$UPN_TMP/relay.keys
relay_keys "$KEYS" nms-key

cfg_mail
cfg_recovery snmp_listen=udp:$GW_S:$SNMP_PORT snmp_community=$SNMP_COMMUNITY
CFG_RELAY="[servers]
$S1 = nms $NMS_MAIL
[relay]
key_file = $KEYS"

# udp_in_nms: datagrams the NMS's UDP sockets have received (Udp InDatagrams of its
# namespace; the agent's trap listener is its only UDP socket).
udp_in_nms() { in_n awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2 }' /proc/net/snmp; }
# udp_in_nms_gt N: more than N.
udp_in_nms_gt() { [ "$(udp_in_nms)" -gt "$1" ]; }

topo_up
nms_up
dv_user nms "$AGENT_PASS"
PF_MAILBOXES="$NMS_MAIL $(dv_maildir nms)/"
export PF_MAILBOXES
gw_dv_start
gw_pf_start
gw_smtp_forward
relay_daemon_start

echo "$AGENT_PASS" >"$UPN_TMP/agent.pass"
chmod 600 "$UPN_TMP/agent.pass"
agent_conf "$UPN_TMP/agent.conf" \
	"[mailbox]" "url = pop3s://nms@$GW_S:$DV_SPORT/" "password_file = $UPN_TMP/agent.pass" \
	"ca_file = $DV_CERT" "poll = 0" \
	"[trap]" "listen = udp:$NMS:$AGENT_TRAP_PORT" "community = $SNMP_COMMUNITY" \
	"servers = 203.0.113.0/24" \
	"[relay]" "key_file = $KEYS" \
	"[clients]" "$C1 = one@example.test" "$C2 = two@example.test" \
	"[mail]" "relay = smtp://$GW_S:$PF_PORT" "from = nms@nms.example.test" \
	"retry_min = 1s" "retry_max = 2s" "relay_retry = 1s" \
	"[store]" "path = $UPN_TMP/agent.db"
agent_start "$NS_N" "$UPN_TMP/agent.conf"

# --- 1. the relay mail waits for a trap ---------------------------------------------
server_link_down
syn_from $C1 $S1 80
syn_from $C2 $S1 80
wait_for "$C1 and $C2 wait for $S1" 5 \
	wl_jq '[.[] | select(.server == $s) | .clients[].client] | sort == ([$a, $b] | sort)' \
	--arg s $S1 --arg a $C1 --arg b $C2
syn0=$(counter_of syn)
server_link_up
ctl recover $S1 >/dev/null 2>&1 || true
wait_for "recover: the relay mail reaches the NMS mailbox" 15 dv_count_is nms 1
check "the relay row: kind relay, to $NMS_MAIL" \
	outbox_jq '.[0] | .kind == "relay" and .recipient == $t' --arg t "$NMS_MAIL"
out=$(python3 -S "$RELAYTOOL" verify-mail "$KEYS" "$(dv_files nms | head -n 1)" 2>&1) || true
check "signed with nms-key (no KEYID in [servers]: the key file's first), two clients ($out)" grep -qE '^ok nms-key [0-9a-f]{32} 2$' <<<"$out"
hold_false "poll = 0: no trap, no fetch (3 s)" 3 dv_count_is nms 0

# Through the gateway, unchanged: the agent sees the client's own address. That the
# trap arrives is checked, or "no fetch" would prove nothing.
n=$(udp_in_nms)
snmp_in $NS_C snmptrap -v2c -c $SNMP_COMMUNITY $NMS:$AGENT_TRAP_PORT '' $OID_COLDSTART \
	>/dev/null 2>&1 || true
wait_for "a trap from $C1 reaches the NMS" 3 udp_in_nms_gt "$n"
hold_false "... $C1 is not in [trap] servers: no fetch (3 s)" 3 dv_count_is nms 0

n=$(udp_in_nms)
snmp_in $NS_S snmptrap -v2c -c wrong-community $NMS:$AGENT_TRAP_PORT '' $OID_COLDSTART \
	>/dev/null 2>&1 || true
wait_for "a trap from $S1 with a wrong community reaches the NMS" 3 udp_in_nms_gt "$n"
hold_false "... no fetch (2 s)" 2 dv_count_is nms 0

t0=$(now_ms)
snmp_in $NS_S snmptrap -v2c -c $SNMP_COMMUNITY $NMS:$AGENT_TRAP_PORT '' $OID_COLDSTART \
	>/dev/null 2>&1 || true
wait_for "a trap from $S1: the agent fetches at once (POP3S)" 3 dv_count_is nms 0
diag "fetched $(($(now_ms) - t0)) ms after the trap"
wait_for "one@ and two@ get their mail" 15 mail_count_ge 2
check "... one each, about $S1" \
	[ "$(mail_count_about one@example.test $S1)$(mail_count_about two@example.test $S1)" = 11 ]
check "the agent's POP3S and SMTP end at the gateway: upnotifyd saw no SYN of theirs (syn stays $syn0)" \
	[ "$(counter_of syn)" = "$syn0" ]

# --- 2. the whole way: coldStart to the gateway and the NMS ------------------------
server_link_down
syn_from $C1 $S1 80
wait_for "second outage: $C1 waits for $S1" 5 wl_has $S1 $C1
server_link_up
snmpd_start "trap2sink $GW_S:$SNMP_PORT $SNMP_COMMUNITY" \
	"trap2sink $NMS:$AGENT_TRAP_PORT $SNMP_COMMUNITY"
wait_for "snmpd's coldStart recovers $S1 at upnotifyd" 10 server_gone $S1
wait_for "the agent, woken by the same coldStart, sends one@ a second mail" 25 \
	mail_about_is one@example.test $S1 2
check "two@ (did not try this time): still one" mail_about_is two@example.test $S1 1
check "the agent accepted two relay lists" agent_counter_is accepted 2
check "the mailbox is empty" dv_count_is nms 0
check "the agent is still running" alive "$AGENT_PID"
