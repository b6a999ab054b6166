#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Embodiment 2: the gateway does not know the clients' addresses; the server does.
# When the server is back, upnotifyd mails the signed list of the clients that waited
# (figure 18) to an agent at the server, which sends each client its mail.
#
#   client 198.51.100.2 --SYN-->  gw 198.51.100.1 | 203.0.113.1          server 203.0.113.2
#          198.51.100.3             upnotifyd [servers] 203.0.113.2 =      upnotify-agent
#          198.51.100.4               server agent@srv.example.test k1       [clients] .2 one@
#                                   postfix 127.0.0.1:2525 (+ 203.0.113.1)  .3 two@ (.4 none)
#                                    agent@srv -> dovecot Maildir <--POP3-- poll 1s
#                                    one@, two@ -> $PF_MAILDIR   <--SMTP--
#
# Expected: one relay mail (not three client mails) from upnotifyd, signed with k1,
# whose body lists the three clients under SERVER IP ADDRESS / CLIENT IP ADDRESS; the
# agent takes it off the mailbox, counts it accepted, and one@ and two@ get one mail
# each about 203.0.113.2 (198.51.100.4 has no address at the agent: counted). The same
# relay mail again is refused as replayed, before and after the agent restarts.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix dovecot sqlite3 python3 curl
[ -x "$UPNOTIFY_AGENT" ] || { fail "$UPNOTIFY_AGENT exists (run make)"; exit 1; }

KEYS=$UPN_TMP/relay.keys
relay_keys "$KEYS" k1 k2
cp "$KEYS" "$UPN_TMP/agent.keys"
chmod 600 "$UPN_TMP/agent.keys"

# The daemon knows no client address at all: the agent does.
CFG_CLIENTS=
cfg_mail
cfg_recovery
CFG_RELAY="[servers]
$S1 = server $AGENT_MAIL k1
[relay]
key_file = $KEYS"

topo_up
relay_mailbox_start
relay_daemon_start

check "servers list: $S1 -> server $AGENT_MAIL k1 (config)" \
	jq -e --arg p "$S1" --arg t "$AGENT_MAIL" 'any(.[]; (.prefix == $p or .prefix == $p + "/32")
		and .mode == "server" and .target == $t and .key_id == "k1" and .source == "config")' \
	<<<"$(ctl servers list --json)"

server_link_down
syn_from $C1 $S1 80
syn_from $C2 $S1 80
syn_from $C3 $S1 443
wait_for "$C1, $C2, $C3 wait for $S1" 5 \
	wl_jq '[.[] | select(.server == $s) | .clients[].client] | sort == ([$a, $b, $c] | sort)' \
	--arg s $S1 --arg a $C1 --arg b $C2 --arg c $C3
server_link_up

out=$(ctl recover $S1 2>&1) || true
diag "recover: $out"
wait_for "$S1 recovered" 5 server_gone $S1
check "one relay list queued, three clients in it" \
	status_jq '.counters["relay.queued"] == 1 and .counters["relay.clients"] == 3'
wait_for "the relay mail is sent" 10 outbox_jq 'length == 1 and .[0].state == "sent"'
check "the outbox row: kind relay, to $AGENT_MAIL" \
	outbox_jq '.[0] | .kind == "relay" and .recipient == $t' --arg t "$AGENT_MAIL"
wait_for "it lands in the agent's mailbox (dovecot)" 10 dv_count_is agent 1
check "no client mail from upnotifyd itself" [ "$(pf_count)" -eq 0 ]

f=$(dv_files agent | head -n 1)
cp "$f" "$UPN_TMP/relay.eml"
check "To: $AGENT_MAIL" [ "$(mail_header "$f" To)" = "$AGENT_MAIL" ]
check "From: $MAIL_FROM" [ "$(mail_header "$f" From)" = "$MAIL_FROM" ]
check "Subject: upnotify: 3 clients waited for $S1" \
	[ "$(mail_header "$f" Subject)" = "upnotify: 3 clients waited for $S1" ]
check "Auto-Submitted: auto-generated" [ "$(mail_header "$f" Auto-Submitted)" = auto-generated ]
mid=$(mail_header "$f" Message-ID) || mid=
check "Message-ID <upn-relay-ID@example.test> ($mid)" \
	grep -qE '^<upn-relay-[0-9a-f]{32}@example\.test>$' <<<"$mid"
body=$(mail_body "$f")
check "figure 18: SERVER IP ADDRESS line" grep -qP "^SERVER IP ADDRESS\t: $S1\$" <<<"$body"
for c in $C1 $C2 $C3; do
	check "figure 18: CLIENT IP ADDRESS $c" grep -qP "^CLIENT IP ADDRESS\t: $c\t" <<<"$body"
done
check "the block's id is the Message-ID's" \
	grep -qx "id: $(sed -E 's/^<upn-relay-([0-9a-f]+)@.*/\1/' <<<"$mid")" <<<"$body"
out=$(python3 -S "$RELAYTOOL" verify-mail "$KEYS" "$f" 2>&1) || true
check "the signature verifies with k1, written from the spec in python ($out)" \
	grep -qE '^ok k1 [0-9a-f]{32} 3$' <<<"$out"

# The agent, at the server: POP3 from the gateway's dovecot, SMTP through the forwarder.
echo "$AGENT_PASS" >"$UPN_TMP/agent.pass"
chmod 600 "$UPN_TMP/agent.pass"
agent_conf "$UPN_TMP/agent.conf" \
	"[mailbox]" "url = pop3://agent@$GW_S:$DV_PORT/" "password_file = $UPN_TMP/agent.pass" \
	"poll = 1s" "[trap]" "listen =" \
	"[relay]" "key_file = $UPN_TMP/agent.keys" "max_age = 1d" \
	"[clients]" "$C1 = one@example.test" "$C2 = two@example.test" \
	"[mail]" "relay = smtp://$GW_S:$PF_PORT" "from = agent@srv.example.test" \
	"retry_min = 1s" "retry_max = 2s" "relay_retry = 1s" \
	"[store]" "path = $UPN_TMP/agent.db"
check "upnotify-agent --check accepts the config" \
	in_s "$UPNOTIFY_AGENT" -c "$UPN_TMP/agent.conf" --check
agent_start "$NS_S" "$UPN_TMP/agent.conf"
wait_for "the agent takes the relay mail off the mailbox" 10 dv_count_is agent 0
wait_for "counted: accepted 1, clients 3, mails 2, no_address 1" 5 agent_jq \
	'.counters | .accepted == 1 and .clients == 3 and .mails == 2 and .no_address == 1'
wait_for "two client mails delivered" 15 mail_count_ge 2
check "one@ and two@, one mail each" \
	[ "$(mail_recipients | tr '\n' ' ')" = "one@example.test two@example.test " ]
check "one@'s mail is about $S1" mail_about_is one@example.test $S1 1
m=$(mail_file_to one@example.test)
check "one@'s mail comes from the agent" [ "$(mail_header "$m" From)" = agent@srv.example.test ]
check "... says what $C1 tried: port 80" grep -qE "from $C1, port 80[^0-9]" "$m"
check "... no mail for $C3 (no address at the agent)" [ "$(pf_count)" -eq 2 ]
wait_for "the agent's outbox: 2 sent" 10 agent_jq '.outbox.sent == 2'

# Replay: the very same mail once more.
cp "$UPN_TMP/relay.eml" "$(dv_maildir agent)/new/replay.$$"
chown "$DV_UID:$DV_GID" "$(dv_maildir agent)/new/replay.$$"
wait_for "a replayed relay mail is taken off the mailbox" 10 dv_count_is agent 0
wait_for "... and counted as rejected.replayed" 5 agent_counter_is rejected.replayed 1
hold_false "... no mail sent for it" 2 mail_count_ge 3

rc=0
agent_stop || rc=$?
check "the agent stops on SIGTERM, status 0" [ $rc -eq 0 ]
cp "$UPN_TMP/relay.eml" "$(dv_maildir agent)/new/replay2.$$"
chown "$DV_UID:$DV_GID" "$(dv_maildir agent)/new/replay2.$$"
agent_start "$NS_S" "$UPN_TMP/agent.conf"
wait_for "after a restart: replayed again, and refused again" 10 \
	agent_counter_is rejected.replayed 2
check "still two client mails" [ "$(pf_count)" -eq 2 ]
check "accepted is still 1 (the counters are in the store)" agent_counter_is accepted 1
check "the agent is still running" alive "$AGENT_PID"
check "upnotifyd is still running" alive "$DAEMON_PID"
