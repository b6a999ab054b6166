#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The mailer against a real Postfix on loopback; no namespaces, no daemon:
#
#   mailtool queue ──UPN_STORE_PUT_MAIL──> outbox (SQLite, WAL)
#                                            │
#   mailtool run: the mailer thread ─────────┘──SMTP──> postfix 127.0.0.1:$PORT
#                                                        │ virtual(8)
#                                                        └──> $PF_MAILDIR
#
# Postfix stores the mail with LF line ends; the CRLF on the wire is the unit
# tests' (test_mailtext).
#
# A relay that is down at first, then comes up; the message itself (figure 8);
# duplicates; 5xx and 4xx; failover to a second relay; least-loaded; STARTTLS with a
# good and a bad CA; rate limits overall and per domain; header injection from a
# hand-edited row; a template file; the outbox listing; a relay without STARTTLS;
# AUTH refused.
set -e
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/postfix.sh"

MAILTOOL=$UPN_BUILD/tests/tools/mailtool
# Bounds of every wait here.
T_RUN=30     # one mailtool run until the outbox is empty
T_DELIVER=20 # Postfix's delivery into the Maildir

cleanup() {
	local rc=$?
	[ -z "${BG_PID:-}" ] || kill "$BG_PID" 2>/dev/null || true
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
for b in "$MAILTOOL" "$(command -v sqlite3)" "$(command -v jq)" "$(command -v openssl)"; do
	if [ ! -x "$b" ]; then
		fail "$b exists (make build/tests/tools/mailtool; scripts/deps.sh)"
		exit 1
	fi
done

# A port nobody listens on, different for parallel runs.
free_port() {
	local p
	for ((p = 20000 + ($$ + ${1:-0}) % 20000; ; p++)); do
		[ -z "$(ss -Htln "sport = :$p")" ] && { echo $p; return; }
	done
}

mt() { "$MAILTOOL" "$@"; }
sql() { sqlite3 -cmd ".timeout 5000" "$1" "$2"; }
# A JSON field of mailtool run's one-line report.
field() { jq -r ".$2" <<<"$1"; }
maildir_has() { [ "$(pf_count)" -ge "$1" ]; }
# The delivered message for recipient $1.
message_for() { grep -l -m1 "^To: $1\$" "$PF_MAILDIR"/new/* "$PF_MAILDIR"/cur/* 2>/dev/null | head -n 1; }
sql_is() { [ "$(sql "$1" "$2")" = "$3" ]; }

PORT=$(free_port)
DEAD=$(free_port 7)
RUN=(--from upnotify@gw.example.test --retry-min 1000 --retry-max 2000 --relay-retry 500)

# --- 1. the relay is down at first ------------------------------------------------

DB=$UPN_TMP/down.db
mt queue "$DB" 2 --base 900
mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --until-empty --timeout $T_RUN \
	>"$UPN_TMP/bg.out" 2>"$UPN_TMP/bg.err" &
BG_PID=$!
wait_for "relay down: tries are counted, mail stays queued" 10 \
	sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'queued' AND tries >= 1" 2
check "relay down: last_error says why" \
	sql_is "$DB" "SELECT count(*) FROM outbox WHERE last_error LIKE '%connect%refused%'" 2
pf_start 127.0.0.1 "$PORT" tls
pass "postfix starts on 127.0.0.1:$PORT"
if wait "$BG_PID"; then
	pass "relay up: the outbox empties"
else
	fail "relay up: the outbox empties" "$(cat "$UPN_TMP/bg.out" "$UPN_TMP/bg.err")"
fi
BG_PID=
out=$(cat "$UPN_TMP/bg.out")
check "relay up: the first session failed, a later one sent both" \
	test "$(field "$out" relay_failures)" -ge 1 -a "$(field "$out" sent)" -eq 2
wait_for "relay up: both delivered" $T_DELIVER maildir_has 2

# --- 2. three mails, and what they say --------------------------------------------

DB=$UPN_TMP/a.db
mt queue "$DB" 3 --server 127.0.0.1
check "3 mails queued" sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'queued'" 3
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --until-empty --timeout $T_RUN)
check "3 mails accepted in one session" \
	test "$(field "$out" sent)" -eq 3 -a "$(field "$out" sessions)" -eq 1
wait_for "3 mails delivered" $T_DELIVER maildir_has 5
msg=$(message_for user1@example.test)
check "a message for user1" test -n "$msg"
mid=$(sql "$DB" "SELECT message_id FROM outbox WHERE recipient = 'user1@example.test'")
check "From, To, Subject" grep -q -z \
	$'From: upnotify@gw.example.test\nTo: user1@example.test\nSubject: Server localhost (127.0.0.1) has recovered\n' \
	"$msg"
check "Message-ID is the outbox's, <upn-HASH@from-domain>" \
	grep -q -E "^Message-ID: <$mid>\$" "$msg"
check "Message-ID form" grep -q -E '^upn-[0-9a-f]{32}@gw\.example\.test$' <<<"$mid"
check "Auto-Submitted, MIME" grep -q -z \
	$'Auto-Submitted: auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n' \
	"$msg"
check "Date is RFC 5322" \
	grep -q -E '^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$' "$msg"
check "figure 8: notice, server by name and address, recovery time in RFC 3339" \
	grep -q -z $'SERVER FAILURE RECOVERY NOTIFICATION\n.*Recovered server : localhost (127.0.0.1)\nRecovered time   : 2023-11-1[45]T[0-9:]*[+-][0-9][0-9]:[0-9][0-9]\n' "$msg"
check "what the client tried" grep -q "from 10.0.0.1, port 443, first at 2023-11-1" "$msg"
check_not "not over TLS: starttls is off by default" grep -q "using TLS" "$msg"
check "outbox: sent, once, with the relay and sent_at" \
	sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent' AND tries = 1 AND
		relay = 'localhost:$PORT' AND sent_at >= created AND last_error IS NULL" 3

# --- 3. duplicates ----------------------------------------------------------------

mt queue "$DB" 3 --server 127.0.0.1
check "the same outage queued again: ignored" sql_is "$DB" "SELECT count(*) FROM outbox" 3
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --until-empty --timeout $T_RUN)
check "nothing to send" test "$(field "$out" sent)" -eq 0 -a "$(field "$out" sessions)" -eq 0
hold_false "and nothing more delivered" 1 maildir_has 6

# --- 4. 5xx and 4xx ---------------------------------------------------------------

DB=$UPN_TMP/fail.db
mt queue "$DB" 1 --to reject@example.test --base 100
mt queue "$DB" 1 --to defer@example.test --base 101
mt queue "$DB" 1 --to ok@example.test --base 102
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --give-up 2500 --until-empty \
	--timeout $T_RUN)
check "5xx: failed at once with the relay's reply" \
	sql_is "$DB" "SELECT state || ' ' || tries || ' ' || (last_error LIKE 'RCPT TO: 554 %')
		FROM outbox WHERE recipient = 'reject@example.test'" "failed 1 1"
check "4xx: retried, then given up after give_up" \
	sql_is "$DB" "SELECT state || ' ' || (tries >= 2) || ' ' ||
		(last_error LIKE 'gave up after % tries: RCPT TO: 450 %')
		FROM outbox WHERE recipient = 'defer@example.test'" "failed 1 1"
check "the good one in the same sessions went" \
	sql_is "$DB" "SELECT state FROM outbox WHERE recipient = 'ok@example.test'" sent
check "counters: 2 permanent, temporary ones, 1 sent" \
	test "$(field "$out" perm_failures)" -eq 2 -a "$(field "$out" temp_failures)" -ge 2 \
	-a "$(field "$out" sent)" -eq 1

# --- 5. two relays, the first dead ------------------------------------------------

DB=$UPN_TMP/failover.db
mt queue "$DB" 4 --base 300
out=$(mt run "$DB" --relay "localhost:$DEAD" --relay "localhost:$PORT" "${RUN[@]}" \
	--until-empty --timeout $T_RUN)
check "failover: all sent through the second relay, no try lost on the first" \
	sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent' AND
		relay = 'localhost:$PORT' AND tries = 1" 4
check "failover: the dead relay is counted" test "$(field "$out" relay_failures)" -eq 1

# --- 6. least loaded: both relays take a share -------------------------------------

DB=$UPN_TMP/least.db
mt queue "$DB" 500 --base 1000 --to "ll%d@example.test"
out=$(mt run "$DB" --relay "localhost:$PORT" --relay "127.0.0.1:$PORT" --least-loaded \
	"${RUN[@]}" --until-empty --timeout $T_RUN)
check "least loaded: 500 sent in 3 sessions" \
	test "$(field "$out" sent)" -eq 500 -a "$(field "$out" sessions)" -eq 3
check "least loaded: an untried relay gets a turn" \
	sql_is "$DB" "SELECT count(DISTINCT relay) FROM outbox" 2

# --- 7. STARTTLS ------------------------------------------------------------------

DB=$UPN_TMP/tls.db
mt queue "$DB" 1 --base 400 --to tls@example.test
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --starttls required --ca "$PF_CERT" \
	--until-empty --timeout $T_RUN)
check "starttls required, the relay's CA: sent" test "$(field "$out" sent)" -eq 1
wait_for "delivered" $T_DELIVER message_for tls@example.test
check "over TLS" grep -q "using TLS" "$(message_for tls@example.test)"
# libesmtp 1.1.0 stalls a minute after a TLS 1.3 handshake now and then (mailsend.c):
# ten sessions in a row, none may take long.
t0=$(now_ms)
for i in $(seq 1 10); do
	mt queue "$DB" 1 --base $((410 + i)) --to "tls$i@example.test"
	mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --starttls required --ca "$PF_CERT" \
		--until-empty --timeout 10 >/dev/null
done
check "starttls: ten sessions, none stalls" test $(($(now_ms) - t0)) -lt 8000

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$UPN_TMP/other.key" \
	-out "$UPN_TMP/other.pem" >/dev/null 2>&1
DB=$UPN_TMP/badca.db
mt queue "$DB" 1 --base 401 --to badca@example.test
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --starttls required \
	--ca "$UPN_TMP/other.pem" --timeout 2) || true
check "starttls required, another CA: nothing sent, the relay is dead" \
	test "$(field "$out" sent)" -eq 0 -a "$(field "$out" relay_failures)" -ge 1
check "and the row says why" \
	sql_is "$DB" "SELECT state || ' ' || (last_error LIKE '%certificate does not verify%')
		FROM outbox" "queued 1"
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --starttls yes \
	--ca "$UPN_TMP/other.pem" --until-empty --timeout $T_RUN)
check "starttls yes (opportunistic), another CA: sent" test "$(field "$out" sent)" -eq 1

# --- 8. rate limits ---------------------------------------------------------------

DB=$UPN_TMP/rate.db
mt queue "$DB" 20 --base 500 --to "r%d@example.test"
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --rate 5 --until-empty \
	--timeout $T_RUN)
check "rate 5/s: 20 mails take 3 s or more" \
	awk -v t="$(field "$out" elapsed_s)" 'BEGIN { exit !(t >= 2.5 && t < 10) }'
check "rate 5/s: 15 held back once each" test "$(field "$out" rate_limited)" -eq 15

DB=$UPN_TMP/domain.db
mt queue "$DB" 12 --base 600 --to "busy%d@example.test"
mt queue "$DB" 3 --base 700 --to "idle%d@example.net"
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --rate-domain 3 --until-empty \
	--timeout $T_RUN)
check "3/s per domain: the busy domain's 12 take 3 s or more" \
	sql_is "$DB" "SELECT max(sent_at) - min(sent_at) >= 3 FROM outbox" 1
check "3/s per domain: the idle domain does not queue behind it" \
	sql_is "$DB" "SELECT max(sent_at) - (SELECT min(sent_at) FROM outbox) <= 1
		FROM outbox WHERE recipient LIKE '%@example.net'" 1
check "3/s per domain: all sent" sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'sent'" 15

# --- 9. a value that would inject a header ----------------------------------------

DB=$UPN_TMP/inject.db
mt queue "$DB" 1 --base 800
# The store refuses such an address; an operator with the sqlite3 shell does not.
sql "$DB" "INSERT INTO outbox (recipient, server, client, outage, recovered, cause, port,
	proto, first, last, attempts, next_try, created) VALUES ('a@example.test' ||
	char(13, 10) || 'Bcc: victim@example.org', '127.0.0.1', '10.9.9.9', 1, 2, 'synack',
	80, 6, 1, 1, 1, 0, 0)"
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --until-empty --timeout $T_RUN)
check "injection: refused and counted" test "$(field "$out" header_rejected)" -eq 1 \
	-a "$(field "$out" sent)" -eq 1
check "injection: failed with a clear last_error" \
	sql_is "$DB" "SELECT state || ' ' || tries || ' ' || last_error FROM outbox
		WHERE client = '10.9.9.9'" \
	"failed 0 refused: the to value holds a control or non-ASCII character (header injection)"

# --- 10. a template file ----------------------------------------------------------

cat >"$UPN_TMP/tmpl" <<-'T'
	Subject: {server} is back (for {to})
	X-Upnotify-Client: {client}

	Hello, {server_full} answers again since {recovered}.
	.
	A line with a dot above.
T
DB=$UPN_TMP/tmpl.db
mt queue "$DB" 1 --base 850 --to tmpl@example.test
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --template "$UPN_TMP/tmpl" \
	--until-empty --timeout $T_RUN)
wait_for "template: delivered" $T_DELIVER message_for tmpl@example.test
msg=$(message_for tmpl@example.test)
check "template: its Subject and header" grep -q -z \
	$'Subject: 127.0.0.1 is back (for tmpl@example.test)\n.*X-Upnotify-Client: 10.0.3.82\n' \
	"$msg"
check "template: the lone dot survived the SMTP dot-stuffing" grep -q -z $'\n\\.\nA line' "$msg"
printf 'Subject: {nope}\n\nbody\n' >"$UPN_TMP/bad-tmpl"
if out=$("$MAILTOOL" run "$DB" --template "$UPN_TMP/bad-tmpl" --timeout 1 2>&1); then
	fail "template: an unknown placeholder stops the start" "$out"
else
	check "template: an unknown placeholder stops the start, and says where" \
		grep -q "bad-tmpl: line 1: unknown placeholder {nope}" <<<"$out"
fi

# --- 11. the outbox listing -------------------------------------------------------

out=$(mt outbox "$UPN_TMP/a.db" 2)
check "outbox: the newest first, limited" \
	test "$(jq -r 'length, .[0].id, .[1].id' <<<"$out" | tr '\n' ' ')" = "2 3 2 "
check "outbox: the documented fields" \
	jq -e '.[0] | (.state == "sent") and (.tries == 1) and (.last_error == null) and
		(.recipient == "user2@example.test") and (.server == "127.0.0.1") and
		(.client == "10.0.0.2") and (.created | test("Z$")) and (.sent | test("Z$"))' \
	<<<"$out"
check_not "outbox: a database without the table is an error" \
	"$MAILTOOL" outbox "$UPN_TMP/none.db"

# --- 12. a relay without STARTTLS, and AUTH refused -------------------------------

# A relay that offers no STARTTLS when it is required is no relay for us. With
# sasl2-bin, the same relay takes mail only after AUTH, and refuses our password:
# the relay is dead for us, the mail stays queued with the reason; the refused
# RCPTs of the unauthenticated session must not fail the messages for good.
pf_stop
PORT=$(free_port 21)
# A Postfix whose SASL set-up fails here (pf_start says why on stderr) still
# serves the STARTTLS check; only the AUTH check is then skipped, with the reason.
AUTH_SKIP="saslpasswd2 (sasl2-bin) is not installed"
if command -v saslpasswd2 >/dev/null; then
	if pf_start 127.0.0.1 "$PORT" auth; then
		AUTH_SKIP=
	else
		AUTH_SKIP="Postfix with Cyrus SASL did not start here (see the lines above)"
		pf_stop
	fi
fi
[ -n "$PF_DIR" ] || pf_start 127.0.0.1 "$PORT"
DB=$UPN_TMP/notls.db
mt queue "$DB" 1 --base 940
out=$(mt run "$DB" --relay "localhost:$PORT" "${RUN[@]}" --starttls required --timeout 2 \
	2>/dev/null) || true
check "starttls required, none offered: nothing sent, the relay is dead" \
	test "$(field "$out" sent)" -eq 0 -a "$(field "$out" relay_failures)" -ge 1
check "and the row says why" \
	sql_is "$DB" "SELECT state || ' ' || (last_error LIKE '%offers no STARTTLS%')
		FROM outbox" "queued 1"
if [ -z "$AUTH_SKIP" ]; then
	printf '%s wrong-password\n' "$PF_AUTH_USER" >"$UPN_TMP/auth"
	chmod 600 "$UPN_TMP/auth"
	DB=$UPN_TMP/auth.db
	mt queue "$DB" 2 --base 950
	# Long enough for the session: Postfix sleeps a second after each error.
	out=$(mt run "$DB" --relay "127.0.0.1:$PORT" "${RUN[@]}" --auth "$UPN_TMP/auth" \
		--timeout 8 2>/dev/null) || true
	check "AUTH refused: nothing sent, nothing failed, the relay is dead" \
		test "$(field "$out" sent)" -eq 0 -a "$(field "$out" perm_failures)" -eq 0 \
		-a "$(field "$out" relay_failures)" -ge 1
	check "AUTH refused: queued, and the row says why" \
		sql_is "$DB" "SELECT count(*) FROM outbox WHERE state = 'queued' AND
			(last_error LIKE '%: AUTH: 5__ %' OR last_error LIKE '%: AUTH: 4__ %')" 2
else
	skip "AUTH refused" "$AUTH_SKIP"
fi
