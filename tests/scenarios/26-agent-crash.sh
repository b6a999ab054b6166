#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# kill -9 of upnotify-agent in the middle of a big relay list: every client still gets
# its mail, once.
#
#   relaytool.py mail (2000 clients 10.9.0.1 ..., signed) --SMTP--> postfix (gateway)
#     -> agent@srv.example.test: dovecot Maildir --POP3--> upnotify-agent (gateway ns)
#     -> cK@example.test, one each --SMTP--> postfix -> $PF_MAILDIR
#
# The agent takes the list in one transaction (the seen id and 2000 outbox rows) and
# its mailer sends them in sessions of up to 200. The kill comes when the 200th mail
# has reached the Maildir; the agent starts again on the same store.
#
# Expected: all 2000 sent and delivered, one Message-ID per recipient, no recipient
# twice but possibly the one message in flight at the kill (see 17-crash-mid-send:
# Postfix may have queued it without the sender seeing the 250); the list accepted
# once, whether or not the mailbox still held it at the kill.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix dovecot sqlite3 python3 curl
[ -x "$UPNOTIFY_AGENT" ] || { fail "$UPNOTIFY_AGENT exists (run make)"; exit 1; }

N=2000
KEYS=$UPN_TMP/agent.keys
relay_keys "$KEYS" k1

topo_up
relay_mailbox_start

echo "$AGENT_PASS" >"$UPN_TMP/agent.pass"
chmod 600 "$UPN_TMP/agent.pass"
agent_conf "$UPN_TMP/agent.conf" \
	"[mailbox]" "url = pop3://agent@$GW_S:$DV_PORT/" "password_file = $UPN_TMP/agent.pass" \
	"poll = 1s" "[trap]" "listen =" \
	"[relay]" "key_file = $KEYS" \
	"[mail]" "relay = smtp://127.0.0.1:$PF_PORT" "from = agent@srv.example.test" \
	"retry_min = 1s" "retry_max = 2s" "relay_retry = 1s" \
	"[store]" "path = $UPN_TMP/agent.db" \
	"[clients]"
python3 -S "$RELAYTOOL" clients $N >>"$UPN_TMP/agent.conf"

relay_mail "$KEYS" k1 --server $S1 --clients $N --to "$AGENT_MAIL" >"$UPN_TMP/relay.eml"
smtp_send "$MAIL_FROM" "$AGENT_MAIL" "$UPN_TMP/relay.eml" >/dev/null
wait_for "a relay list of $N clients ($(($(wc -c <"$UPN_TMP/relay.eml") / 1024)) KiB) in the agent's mailbox" \
	10 dv_count_is agent 1

agent_start "$NS_G" "$UPN_TMP/agent.conf"
wait_for "the agent has sent 200 mails" 30 mail_count_ge 200
agent_kill9
at_kill=$(pf_count)
diag "killed with $at_kill mails delivered"
check "killed mid-batch ($at_kill of $N delivered)" [ "$at_kill" -lt $N ]
check "the list was accepted once before the kill" agent_counter_is accepted 1

agent_start "$NS_G" "$UPN_TMP/agent.conf"
wait_for "after the restart the agent's outbox is all sent: $N" 45 \
	agent_jq '.outbox.sent == $n and (.outbox.queued // 0) == 0 and (.outbox.failed // 0) == 0' \
	--argjson n $N
wait_for "postfix has delivered at least $N" 30 mail_count_ge $N
wait_for "... and its queue is empty" 10 pf_queue_empty
check "the mailbox is empty" dv_count_is agent 0
check "still accepted once (a re-fetched list is a replay)" agent_counter_is accepted 1

mail_index >"$UPN_TMP/index"
recipients=$(cut -f1 "$UPN_TMP/index" | sort -u | wc -l)
ids=$(cut -f2 "$UPN_TMP/index" | sort -u | wc -l)
pairs=$(cut -f1,2 "$UPN_TMP/index" | sort -u | wc -l)
total=$(wc -l <"$UPN_TMP/index")
dups=$((total - recipients))
diag "messages $total, recipients $recipients, Message-IDs $ids, duplicates $dups"
check "every one of the $N clients got mail" [ "$recipients" -eq $N ]
check "one Message-ID per recipient" [ "$ids" -eq $N ]
check "... the same on a copy" [ "$pairs" -eq $N ]
check "duplicates: $dups (at most the one in flight at the kill)" [ "$dups" -le 1 ]
want=$(for i in $(seq 0 $((N - 1))); do echo "c$i@example.test"; done | sort)
check "exactly c0..c$((N - 1))@example.test" [ "$(cut -f1 "$UPN_TMP/index" | sort -u)" = "$want" ]
check "the agent is still running" alive "$AGENT_PID"
