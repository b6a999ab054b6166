#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The mailer's throughput into a local Postfix, and kill -9 in the middle of long
# sessions (same set-up as 10-mail.sh):
#
#   mailtool run ──SMTP──> postfix 127.0.0.1:$PORT ──> $PF_MAILDIR
#        ^ kill -9, three times, at about 1/4, 1/2 and 3/4 of the outbox
#
# Each message is marked sent the moment the relay accepts it, so after the kills
# and a last run every mail must have arrived, and at most once each but for the
# one that can be in the window between the end of its data and our commit of the
# relay's reply, per kill (mailer.c). Mails are counted by Message-ID, which is the
# same for a message sent twice.
set -e
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/postfix.sh"

MAILTOOL=$UPN_BUILD/tests/tools/mailtool
N_SPEED=1000
N_CRASH=2000
T_RUN=120
T_DELIVER=120

cleanup() {
	local rc=$?
	[ -z "${BG_PID:-}" ] || kill -9 "$BG_PID" 2>/dev/null || true
	pf_stop
	rm -rf "$UPN_TMP"
	tap_end || rc=1
	exit $rc
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
	echo "1..0 # SKIP needs root and postfix"
	exit 0
fi
for b in "$MAILTOOL" "$(command -v sqlite3)" "$(command -v jq)"; do
	if [ ! -x "$b" ]; then
		fail "$b exists (make build/tests/tools/mailtool; scripts/deps.sh)"
		exit 1
	fi
done

free_port() {
	local p
	for ((p = 20000 + ($$ + 13) % 20000; ; p++)); do
		[ -z "$(ss -Htln "sport = :$p")" ] && { echo $p; return; }
	done
}
sql() { sqlite3 -cmd ".timeout 5000" "$1" "$2"; }
field() { jq -r ".$2" <<<"$1"; }
maildir_has() { [ "$(pf_count)" -ge "$1" ]; }
sent_at_least() { [ "$(sql "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent'")" -ge "$1" ]; }

PORT=$(free_port)
RELAY=(--relay "127.0.0.1:$PORT" --from upnotify@gw.example.test --retry-min 1000)
pf_start 127.0.0.1 "$PORT"
pass "postfix starts on 127.0.0.1:$PORT"

# --- throughput -------------------------------------------------------------------

DB=$UPN_TMP/speed.db
"$MAILTOOL" queue "$DB" $N_SPEED --outage 1
out=$("$MAILTOOL" run "$DB" "${RELAY[@]}" --until-empty --timeout $T_RUN)
check "$N_SPEED mails accepted" test "$(field "$out" sent)" -eq $N_SPEED
rate=$(awk -v n=$N_SPEED -v t="$(field "$out" elapsed_s)" 'BEGIN { printf "%.0f", n / t }')
diag "throughput: $N_SPEED mails in $(field "$out" elapsed_s) s, $rate mails/s," \
	"$(field "$out" sessions) sessions"
wait_for "$N_SPEED mails delivered" $T_DELIVER maildir_has $N_SPEED

# --- kill -9 ----------------------------------------------------------------------

DB=$UPN_TMP/crash.db
"$MAILTOOL" queue "$DB" $N_CRASH --outage 2
for at in $((N_CRASH / 4)) $((N_CRASH / 2)) $((N_CRASH * 3 / 4)); do
	"$MAILTOOL" run "$DB" "${RELAY[@]}" --timeout $T_RUN >/dev/null 2>&1 &
	BG_PID=$!
	if ! poll 60 sent_at_least "$at"; then
		fail "kill -9 after $at sent" "only $(sql "$DB" "SELECT count(*) FROM outbox
			WHERE state = 'sent'") sent"
		exit 1
	fi
	kill -9 "$BG_PID"
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=
	pass "kill -9 with $(sql "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent'") of $N_CRASH sent"
done
out=$("$MAILTOOL" run "$DB" "${RELAY[@]}" --until-empty --timeout $T_RUN)
check "after the kills, a last run: every mail marked sent" \
	test "$(sql "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent'")" -eq $N_CRASH
wait_for "every mail delivered" $T_DELIVER maildir_has $((N_SPEED + N_CRASH))
sql "$DB" "SELECT message_id FROM outbox" | sort >"$UPN_TMP/want"
cat "$PF_MAILDIR"/new/* "$PF_MAILDIR"/cur/* 2>/dev/null |
	sed -n 's/^Message-ID: <\(.*\)>$/\1/p' | grep -F -x -f "$UPN_TMP/want" |
	sort >"$UPN_TMP/got"
got=$(wc -l <"$UPN_TMP/got")
uniq=$(sort -u "$UPN_TMP/got" | wc -l)
diag "kill -9: $got mails arrived for $N_CRASH messages, $uniq distinct," \
	"$((got - uniq)) duplicates"
check "kill -9: every message arrived" test "$uniq" -eq $N_CRASH
check "kill -9: duplicates only from the window, at most one per kill" \
	test $((got - uniq)) -le 3
