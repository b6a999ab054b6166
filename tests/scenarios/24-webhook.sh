#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The relay list as a webhook: a signed JSON POST instead of a mail.
#
#   client .2 .3 .4 --SYN--> gw: upnotifyd [servers] 203.0.113.2 = webhook http://127.0.0.1:8088/hook
#                                            203.0.113.3 = webhook http://127.0.0.1:8088/reject
#                             receiver: tests/tools/relaytool.py webhook on 127.0.0.1:8088,
#                             verifies X-Upnotify-Signature over the exact body, logs each POST
#
# Expected: the receiver is down when the server recovers: the POST is retried (the
# outbox row stays queued, its error says why); the receiver comes up and answers 503
# once (temporary: retried), then 200: delivered once, signed with k1, X-Upnotify-Id
# = the document's id, Content-Type application/json, the document lists both clients
# with port 80. A URL that answers 400 fails at once, for good.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools python3 sqlite3

HOOK_PORT=8088
KEYS=$UPN_TMP/relay.keys
relay_keys "$KEYS" k1
HLOG=$UPN_TMP/webhook.log
: >"$HLOG"

cfg_mail
cfg_recovery
CFG_RELAY="[servers]
$S1 = webhook http://127.0.0.1:$HOOK_PORT/hook k1
$S2 = webhook http://127.0.0.1:$HOOK_PORT/reject
[relay]
key_file = $KEYS
webhook_timeout = 2s"

topo_up
relay_daemon_start

server_link_down
syn_from $C1 $S1 80
syn_from $C2 $S1 80
syn_from $C3 $S2 80
wait_for "$C1 and $C2 wait for $S1, $C3 for $S2" 5 \
	wl_jq '([.[] | select(.server == $s) | .clients[].client] | sort == ([$a, $b] | sort)) and
		any(.[]; .server == $t and any(.clients[]; .client == $c))' \
	--arg s $S1 --arg a $C1 --arg b $C2 --arg t $S2 --arg c $C3
server_link_up

ctl recover $S1 >/dev/null 2>&1 || true
wait_for "$S1 recovered" 5 server_gone $S1
check "counted: webhook.queued 1" counter_is webhook.queued 1
check "the outbox row: kind webhook, to the URL" \
	outbox_jq 'length == 1 and .[0].kind == "webhook" and .[0].recipient == $u' \
	--arg u "http://127.0.0.1:$HOOK_PORT/hook"
wait_for "receiver down: tried, still queued, the error says why" 10 \
	outbox_jq '.[0].state == "queued" and .[0].tries >= 1 and (.[0].last_error // "" | test("connect|refused|Couldn"; "i"))'
check "nothing delivered" [ ! -s "$HLOG" ]

in_g python3 -S "$RELAYTOOL" webhook 127.0.0.1 $HOOK_PORT "$KEYS" "$HLOG" --fail-first 1 \
	</dev/null >"$UPN_TMP/webhook.out" 2>&1 8>&- 9>&- &
at_cleanup "kill $! 2>/dev/null"
wait_for "the receiver listens" 5 grep -q listening "$UPN_TMP/webhook.out"
wait_for "after a 503 and a retry, the POST is delivered: the row is sent" 15 \
	outbox_jq '.[0].state == "sent"'
check "two POSTs: 503, then 200" [ "$(jq -r .code "$HLOG" | tr '\n' ' ')" = "503 200 " ]
check "both signed with k1, and the signature verifies" \
	jq -se 'length == 2 and all(.[]; .verdict == "ok" and .key == "k1")' "$HLOG"
check "X-Upnotify-Id is the document's id (32 hex digits)" \
	jq -se 'all(.[]; .hdr_id == .id and (.id | test("^[0-9a-f]{32}$")))' "$HLOG"
check "Content-Type: application/json" \
	jq -se 'all(.[]; .content_type | startswith("application/json"))' "$HLOG"
check "User-Agent: upnotify/..." jq -se 'all(.[]; .user_agent | startswith("upnotify/"))' "$HLOG"
check "the document: version 1, server $S1, cause manual" \
	jq -se --arg s $S1 '.[1].doc | .version == 1 and .server == $s and .cause == "manual"' "$HLOG"
check "... its clients: $C1 and $C2, port 80, attempts >= 1" \
	jq -se --arg a $C1 --arg b $C2 '.[1].doc.clients | (map(.client) | sort) == ([$a, $b] | sort)
		and all(.[]; .port == 80 and .attempts >= 1 and .first <= .last)' "$HLOG"
check "... down_since before recovered" \
	jq -se 'def t: if type == "string" then fromdateiso8601 else . end;
		.[1].doc | (.down_since | t) <= (.recovered | t)' "$HLOG"
check "counted: one webhook sent" [ "$(counter_sum 'webhooks_sent$')" -eq 1 ]
hold_false "delivered once: no third POST (2 s)" 2 test "$(wc -l <"$HLOG")" -gt 2

ctl recover $S2 >/dev/null 2>&1 || true
wait_for "$S2's URL answers 400: failed at once" 10 \
	outbox_jq 'any(.[]; .recipient == $u and .state == "failed" and .tries == 1)' \
	--arg u "http://127.0.0.1:$HOOK_PORT/reject"
check "one POST to /reject, and no retry" [ "$(jq -r .path "$HLOG" | grep -c /reject)" -eq 1 ]
check "counted in webhook_failures" [ "$(counter_sum 'webhook_failures$')" -ge 1 ]
check "upnotifyd is still running" alive "$DAEMON_PID"
