#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Which traps recover a server, sent with net-snmp's snmptrap and snmpinform from
# both ends (v1, v2c, v2c inform, v3 USM authPriv trap and inform, IPv4 and IPv6):
#
#   client 198.51.100.2  --SYN--> gw 198.51.100.1 | 203.0.113.1 --> server 203.0.113.2 [DROP SYNs]
#     snmptrap (spoofer)           upnotifyd, traps on                   203.0.113.3 [DROP SYNs]
#                                  udp :10162 and udp6 :10162            2001:db8:2::2 [DROP SYNs]
#                                  watch 203.0.113.0/24, 2001:db8:2::/64 snmptrap/snmpinform
#
# The three servers go down (syn-timeout). Then, one at a time, each of these must
# leave them down and bump its own counter: v1 and v2c with a wrong community, and a
# v2c inform with one, which gets no answer at all (traps.bad_community); v3 with a
# wrong auth password, with a wrong privacy password, and at noAuthNoPriv
# (traps.bad_user); a right v2c trap from the client's own address, and one whose
# snmpTrapAddress.0 names an unwatched host (traps.not_watched); a right trap with
# another OID, linkDown (traps.other_oid); an SNMP Get to the trap port, which gets
# no answer (traps.other_pdu). Then: a v2c inform is acknowledged (snmpinform exits
# 0) and recovers 203.0.113.2; a v3 authPriv trap from 203.0.113.3 recovers it; a v2c
# trap over IPv6 recovers 2001:db8:2::2; after new failures a v1 coldStart with the
# right community recovers 203.0.113.2 and a v3 authPriv inform 203.0.113.3.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools snmptrap snmpinform snmpget

EID=0x8000000001020304050607	# the sender's engine ID: a v3 trap's is the sender's
V3_USER=upnv3
V3_AUTH=auth-pass-1
V3_PRIV=priv-pass-1
CFG_WATCH="203.0.113.0/24, 2001:db8:2::/64"
CFG_SYN_TIMEOUT=1s
cfg_recovery "snmp_listen=udp:0.0.0.0:$SNMP_PORT,udp6:[::]:$SNMP_PORT" \
	snmp_community=$SNMP_COMMUNITY "snmp_v3_user=$V3_USER SHA $V3_AUTH AES $V3_PRIV $EID"
SINK=$GW_S:$SNMP_PORT
V3="-v3 -u $V3_USER -l authPriv -a SHA -A $V3_AUTH -x AES -X $V3_PRIV"

topo_up
server_drop_syns $S1 $S2 $S1_6
daemon_start
syn_from $C1 $S1 80
syn_from $C1 $S2 80
syn_from $C1_6 $S1_6 80
all_down() {
	wl_jq '[.[] | select(.state == "down") | .server] | sort == ([$a, $b, $c] | sort)' \
		--arg a $S1 --arg b $S2 --arg c $S1_6
}
wait_for "$S1, $S2 and $S1_6 are down" 5 all_down

# A trap is counted as received before it is judged; wait for it to be judged.
received=0
# refused WHAT COUNTER CMD...: CMD's trap is received, counted in COUNTER, nothing
# is accepted, and the servers are still down.
refused() {
	local what=$1 counter=$2 before
	shift 2
	before=$(counter_sum "^traps\\.$counter\$")
	"$@" >/dev/null 2>&1 || true
	judged "$what" "$counter" "$before"
}
judged() {
	received=$((received + 1))
	wait_for "$1: counted in traps.$2" 5 counter_above "^traps\\.$2\$" "$3"
	check "... $received received, none accepted" \
		status_jq '.counters["traps.received"] == $n and .counters["traps.accepted"] == 0' \
		--argjson n $received
	check "... the three servers are still down" all_down
}

refused "v1 coldStart, wrong community" bad_community \
	snmp_in $NS_S snmptrap -v1 -c wrong-community $SINK $OID_NETSNMP $S1 0 0 ''
refused "v2c coldStart, wrong community" bad_community \
	snmp_in $NS_S snmptrap -v2c -c wrong-community $SINK '' $OID_COLDSTART
# Nothing answers a sender that did not authenticate: no reflection.
check_not "a v2c inform with a wrong community gets no answer (snmpinform fails)" \
	snmp_in $NS_S snmpinform -v2c -c wrong-community -t 1 -r 0 $SINK '' $OID_COLDSTART
judged "... that inform" bad_community 2
refused "v3 authPriv coldStart, wrong auth password" bad_user \
	snmp_in $NS_S snmptrap -e $EID ${V3/-A $V3_AUTH/-A wrong-pass-1} $SINK '' $OID_COLDSTART
refused "v3 authPriv coldStart, wrong privacy password" bad_user \
	snmp_in $NS_S snmptrap -e $EID ${V3/-X $V3_PRIV/-X wrong-pass-2} $SINK '' $OID_COLDSTART
refused "v3 noAuthNoPriv coldStart from a configured user" bad_user \
	snmp_in $NS_S snmptrap -v3 -e $EID -u $V3_USER -l noAuthNoPriv $SINK '' $OID_COLDSTART
refused "v2c coldStart, right community, from the client $C1" not_watched \
	snmp_in $NS_C snmptrap -v2c -c $SNMP_COMMUNITY $GW_C:$SNMP_PORT '' $OID_COLDSTART
refused "v2c coldStart whose snmpTrapAddress.0 is 192.0.2.7 (not watched)" not_watched \
	snmp_in $NS_S snmptrap -v2c -c $SNMP_COMMUNITY $SINK '' $OID_COLDSTART \
	$OID_TRAPADDRESS a 192.0.2.7
refused "v2c linkDown, right community" other_oid \
	snmp_in $NS_S snmptrap -v2c -c $SNMP_COMMUNITY $SINK '' $OID_LINKDOWN
check_not "an SNMP Get to the trap port gets no answer" \
	snmp_in $NS_S snmpget -v2c -c $SNMP_COMMUNITY -t 1 -r 0 $SINK 1.3.6.1.2.1.1.1.0
judged "... that Get" other_pdu 0
check "bad_community 3, bad_user 3, not_watched 2, other_oid 1, other_pdu 1, no inform acked" \
	status_jq '.counters | .["traps.bad_community"] == 3 and .["traps.bad_user"] == 3
		and .["traps.not_watched"] == 2 and .["traps.other_oid"] == 1
		and .["traps.other_pdu"] == 1 and .["traps.informs_acked"] == 0'

check "a v2c inform from $S1 is acknowledged (snmpinform exits 0)" \
	snmp_in $NS_S snmpinform -v2c -c $SNMP_COMMUNITY -t 2 -r 1 $SINK '' $OID_COLDSTART
check "... counted in traps.informs_acked" counter_is traps.informs_acked 1
wait_for "... and $S1 has recovered" 5 server_gone $S1
check "$S2 and $S1_6 are still down" \
	wl_jq '[.[] | select(.state == "down")] | length == 2'

snmp_in $NS_S snmptrap --clientaddr=$S2 -e $EID $V3 $SINK '' $OID_COLDSTART || true
wait_for "a v3 authPriv coldStart from $S2 recovers it" 5 server_gone $S2
# The server has two IPv6 addresses; the source is chosen, not left to the kernel.
snmp_in $NS_S snmptrap "--clientaddr=[$S1_6]" -v2c -c $SNMP_COMMUNITY \
	"udp6:[$GW_S6]:$SNMP_PORT" '' $OID_COLDSTART || true
wait_for "a v2c coldStart over IPv6 from $S1_6 recovers it" 5 server_gone $S1_6
check "three traps accepted, three recoveries" \
	status_jq '.counters["traps.accepted"] == 3 and .counters["notify.recoveries"] == 3'

syn_from $C2 $S1 80
wait_for "a new outage of $S1" 5 wl_state_is $S1 down
snmp_in $NS_S snmptrap -v1 -c $SNMP_COMMUNITY $SINK $OID_NETSNMP $S1 0 0 '' || true
wait_for "a v1 coldStart with the right community recovers $S1" 5 server_gone $S1

# A v3 inform: the sender discovers our engine ID first, then the receiver, not the
# sender, is the authoritative engine, so the user needs no engine ID of its own.
syn_from $C2 $S2 80
wait_for "a new outage of $S2" 5 wl_state_is $S2 down
check "a v3 authPriv inform from $S2 is acknowledged" \
	snmp_in $NS_S snmpinform --clientaddr=$S2 $V3 -t 2 -r 1 $SINK '' $OID_COLDSTART
wait_for "... and $S2 has recovered" 5 server_gone $S2
check "five traps accepted, two informs acked, none for a server that was up" \
	status_jq '.counters["traps.accepted"] == 5 and .counters["traps.informs_acked"] == 2
		and .counters["traps.server_not_down"] == 0'
