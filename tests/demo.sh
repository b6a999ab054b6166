#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# `make demo`: the whole story, told as it happens, in throw-away network namespaces
# (the topology of tests/scenarios/lib.sh; nothing outside them is touched), with the
# real parts a site would have:
#
#   client 198.51.100.2, .3 ----- gw 198.51.100.1 | 203.0.113.1 ----- server 203.0.113.2
#                                 upnotifyd, traps on udp :162         web service :80,
#                                 Postfix on 127.0.0.1:2525 -> Maildir net-snmp's snmpd
#
# A client reaches the healthy server; the server goes down; two clients try and
# fail; upnotifyd puts them on the server's waitlist, which survives kill -9; a third
# client, whose address nobody knows, opens the dead server's web page and gets the
# gateway's inquiry portal instead, and leaves its address; the server comes back and
# its snmpd sends coldStart as it starts; Postfix delivers one mail to each waiting
# client's address, with an unsubscribe link, and the demo prints them. Recovery here
# is by the trap alone (probes and neighbour events are off). Then a second outage of
# the same server is relayed instead (embodiment 2): upnotifyd mails one signed list
# of the waiting clients to the server's own agent, and upnotify-agent, fed that mail
# as an MTA would, mails the clients from its own table; the same mail again is a
# replay and mails nobody. Exits nonzero if any step fails.
set -e
. "$(dirname "$0")/scenarios/lib.sh"

PORT=80
STEP=0
SNMP_PORT=162

say() { printf '%s\n' "$@"; }
step() {
	STEP=$((STEP + 1))
	printf '\n[%d] %s\n' "$STEP" "$*"
}
die() {
	printf '\nDEMO FAILED at step %d: %s\n' "$STEP" "$*" >&2
	if [ -s "$DLOG" ]; then
		echo "upnotifyd log:" >&2
		tail -n 20 "$DLOG" | sed 's/^/  /' >&2
	fi
	exit 1
}
# shown NS CMD...: print the command as a person would type it, then run it there.
shown() {
	local ns=$1
	shift
	printf '    %s# %s\n' "${ns}" "$*"
	ip netns exec "upn$$-$ns" "$@" 2>&1 | sed 's/^/      /'
	return "${PIPESTATUS[0]}"
}

demo_cleanup() {
	local rc=$?
	set +e
	trap - EXIT
	exec 1>&8 2>&9
	[ -z "$DAEMON_PID" ] || daemon_stop >/dev/null 2>&1
	run_cleanups
	topo_down
	rm -rf "$UPN_TMP"
	if [ "$rc" -eq 0 ]; then
		printf '\nDone: namespaces removed; upnotifyd, snmpd and Postfix stopped.\n'
	fi
	exit "$rc"
}
trap demo_cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces)" >&2
	exit 1
fi
for b in "$UPNOTIFYD" "$UPNOTIFYCTL" "$UPNOTIFY_AGENT"; do
	[ -x "$b" ] || { echo "demo: $b missing; run make" >&2; exit 1; }
done
for b in postfix snmpd; do
	command -v $b >/dev/null || { echo "demo: $b missing; run scripts/deps.sh" >&2; exit 1; }
done

# --- a healthy network ------------------------------------------------------------------

step "A small network in namespaces upn$$-*: clients 198.51.100.2 and .3, a gateway, a server."
topo_up || die "the namespaces could not be set up"
server_listen $PORT || die "the server's web service did not start"
say "    client 198.51.100.2, .3  ->  gateway 198.51.100.1 | 203.0.113.1  ->  server 203.0.113.2:$PORT"

step "Postfix on the gateway's loopback, $PF_ADDR:$PF_PORT, delivers mail for example.test to a Maildir."
gw_pf_start >/dev/null || die "Postfix did not start"

step "upnotifyd starts on the gateway: SNMP traps on udp:$GW_S:$SNMP_PORT, mail via $MAIL_RELAY."
CFG_SYN_TIMEOUT=2s
CFG_CLIENTS="$C1 = sato@example.test
$C2 = lab@example.test"
cfg_mail
cfg_recovery snmp_listen=udp:$GW_S:$SNMP_PORT snmp_community=$SNMP_COMMUNITY
cfg_portal
KEYS=$UPN_TMP/relay.keys
relay_keys "$KEYS" srv1
# [relay] rides after [portal], as [portal] rides after [mail].
CFG_PORTAL="$CFG_PORTAL
[relay]
key_file = $KEYS"
portal_daemon_start >/dev/null || die "upnotifyd did not start"
say "    [clients] $C1 = sato@example.test, $C2 = lab@example.test" \
	"    [portal]  answers port 80 of down servers; links on $PORTAL_URL"

step "A client visits the healthy server."
out=$(in_c timeout 5 socat -T2 - "TCP:$S1:$PORT,bind=$C1,connect-timeout=2" </dev/null 2>&1) ||
	die "the healthy server could not be reached"
say "    $C1 got \"$out\" from $S1:$PORT: nothing to remember."

# --- the server fails -------------------------------------------------------------------

step "The server goes down (its link is cut); two clients try to visit it, and fail."
server_link_down
for c in $C1 $C2; do
	shown client nc -v -z -w 3 -s $c $S1 $PORT || true
done
say "    (The second \"succeeded\": from the first failure on, the gateway answers port $PORT" \
	"    in the server's place, the portal of step 7. Its connection is a failed access too.)"

step "upnotifyd has put both on the server's waitlist (upnotifyctl waitlist):"
poll 10 wl_has $S1 $C1 || die "$C1 is not on the waitlist"
poll 10 wl_has $S1 $C2 || die "$C2 is not on the waitlist"
ctl waitlist | sed 's/^/    /'

step "A third client, $C3, that no table knows, opens http://$S1/: the gateway answers in its place."
poll 5 portal_intercepts $S1 || die "the portal does not intercept $S1"
http $C3 GET "http://$S1/"
[ "$HTTP_CODE" = 503 ] || die "the portal answered $HTTP_CODE, not 503"
say "    HTTP $HTTP_CODE, Retry-After: $(http_header Retry-After); the page says:"
page_json | jq -r .text | fold -s -w 78 | sed 's/^/      /'
csrf=$(form_field csrf) || die "the inquiry page has no form"

step "It leaves an address, kim@example.test, and gets the confirmation page."
http_post $C3 "http://$S1/.upnotify/register" "server=$S1" "csrf=$csrf" notify=yes \
	mail=kim@example.test
[ "$HTTP_CODE" = 200 ] || die "registering answered $HTTP_CODE"
page_json | jq -r .text | fold -s -w 78 | sed 's/^/      /'
poll 5 wl_has $S1 $C3 || die "$C3 is not on the waitlist"

step "upnotifyd is killed (kill -9) and started again: the waitlist is still there."
before=$(wl_sorted)
daemon_kill9
portal_daemon_start >/dev/null || die "upnotifyd did not restart"
[ "$before" = "$(wl_sorted)" ] || die "the waitlist changed across the restart"
say "    $(ctl waitlist | head -n 1)"

# --- the server comes back ------------------------------------------------------------

step "The server comes back; its snmpd starts and sends coldStart (trap2sink $GW_S)."
server_link_up
snmpd_start
poll 15 server_gone $S1 || die "the trap did not recover the server"
grep -E 'info: (trap |server-up)' "$DLOG" | sed 's/^info: /    upnotifyd: /'

step "Postfix delivers the mails (upnotifyctl outbox):"
poll 15 mail_count_ge 3 || die "the mails did not arrive"
poll 5 outbox_jq 'length == 3 and all(.[]; .state == "sent")' || die "the outbox is not all sent"
ctl outbox | sed 's/^/    /'
n=0
for f in $(mail_index | sort | cut -f4); do
	n=$((n + 1))
	say "    --- mail $n, from the Maildir"
	say "    To: $(mail_header "$f" To)" "    Subject: $(mail_header "$f" Subject)" \
		"    List-Unsubscribe: $(mail_header "$f" List-Unsubscribe | cut -c1-60)..."
	mail_body "$f" | grep -v '^$' | sed 's/^/      /'
done

# --- a second outage, relayed to the server's own agent --------------------------------

AGENT=agent@example.test
step "Its operators know their users better: the next list goes to the server's agent."
ctl servers add $S1 server $AGENT srv1 >/dev/null || die "servers add failed"
say "    gw# upnotifyctl servers add $S1 server $AGENT srv1"
ctl servers list | sed 's/^/    /'

step "The server fails again; $C1 tries it; the server comes back (upnotifyctl recover)."
server_link_down
shown client nc -v -z -w 3 -s $C1 $S1 $PORT || true
poll 10 wl_has $S1 $C1 || die "$C1 is not on the waitlist"
server_link_up
ctl recover $S1 >/dev/null || die "recover failed"
poll 15 mail_to_ge $AGENT 1 || die "no relay mail reached $AGENT"
relay=$(mail_file_to $AGENT)
say "    One mail to $AGENT, not to the client; signed (figure 18's list in a block):" \
	"    X-Upnotify-Signature: $(mail_header "$relay" X-Upnotify-Signature | cut -c1-60)..."
mail_body "$relay" | sed -n '/BEGIN UPNOTIFY/,/END UPNOTIFY/p' | sed 's/^/      /'

step "On the server, upnotify-agent takes that mail (from its MTA: --stdin) and mails the client."
ACONF=$UPN_TMP/agent.conf
agent_conf "$ACONF" "[relay]" "key_file = $KEYS" \
	"[clients]" "$C1 = sato.at.work@example.test" \
	"[mail]" "relay = smtp://$GW_S:$PF_PORT" "from = $AGENT" \
	"[store]" "path = $UPN_TMP/agent.db"
gw_smtp_forward >/dev/null || die "no SMTP forwarder for the agent"
say "    server# upnotify-agent -c agent.conf --stdin < the relay mail" \
	"    [clients] $C1 = sato.at.work@example.test (the agent's own table)"
in_s "$UPNOTIFY_AGENT" -c "$ACONF" --stdin <"$relay" 2>/dev/null || die "the agent failed"
poll 15 mail_to_ge sato.at.work@example.test 1 || die "the agent's mail did not arrive"
f=$(mail_file_to sato.at.work@example.test)
say "    --- the agent's mail, from the Maildir" "    To: $(mail_header "$f" To)" \
	"    From: $(mail_header "$f" From)" "    Subject: $(mail_header "$f" Subject)"
mail_body "$f" | grep -v '^$' | sed 's/^/      /'
in_s "$UPNOTIFY_AGENT" -c "$ACONF" --stdin <"$relay" 2>/dev/null || die "the agent failed"
n=$(in_s "$UPNOTIFY_AGENT" -c "$ACONF" --status --json | jq -r '."rejected.replayed"')
[ "$n" = 1 ] || die "the replay was not refused (rejected.replayed $n)"
[ "$(mail_count_to sato.at.work@example.test)" = 1 ] || die "the replay sent a mail"
say "    The same mail fed again is a replay: refused (rejected.replayed $n), nobody mailed twice."

step "Cleaning up."
