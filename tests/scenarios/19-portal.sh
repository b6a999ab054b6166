#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The inquiry portal with curl: while a server is down, the gateway answers HTTP on
# its address, asks whether and where to send a recovery mail, and registers the
# answer; every abuse it must resist, one client address each so that no limit of
# one case spills into the next.
#
#   client 198.51.100.2-4, .10-.23 --HTTP :80--> gw: tproxy -> upnotifyd [::]:8080 (portal)
#          2001:db8:1::2-3                       postfix 127.0.0.1:2525 -> Maildir
#                                                          203.0.113.2, 2001:db8:2::2 [DROP SYNs]
#                                                          203.0.113.3  up, serves :80
#
#  A (mode server, client_rate 3, max_connections 200, timeout 2s): .2's SYN makes
#    203.0.113.2 down; .3 gets the inquiry page (503, Retry-After, the server named, a
#    form with csrf) and is on the waitlist (server-down); 203.0.113.3 is untouched.
#    Refused: a decline (200, no mail), a bad address, CR LF in it, one too long,
#    markup in it (not echoed), a bad notify value, no csrf, a wrong one, another
#    client's, a body over max_body (twice), a 4th registration within the hour;
#    each counted. .3 registers good@ (200, fig. 32B) and then sees "already
#    registered" with the address masked. IPv6: the same on 2001:db8:2::2. 1,000
#    connections at once: answered or cleanly refused, none hangs, the daemon goes on.
#    Slowloris: closed after the timeout, others served meanwhile. Recovery: exactly
#    one mail to good@ (and r3@), with List-Unsubscribe and one-click; GET does not
#    unsubscribe, a forged token does not, the one-click POST does.
#  B (mode gateway): the form posts to http://198.51.100.1:8080; registering works
#    and recovery mails that address; a post about a server that is up again: 409/503.
#  C (confirm yes, confirm_ttl 1m): "check your mail", the link's page (a GET registers
#    nothing), a forged link: 410; the POST registers.
#  D (confirm_ttl 2s): the link, once expired (by the clock in the token): 410, nothing
#    registered.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3 curl python3

SC=$UPN_TIME_SCALE
CFG_SYN_TIMEOUT=1s
cfg_mail
cfg_recovery
cfg_portal mode=server client_rate=3 max_connections=200 timeout=2s max_body=4096

# One client address per case (see above).
CD=198.51.100.10	# declines
CI=198.51.100.11	# an invalid address
CX=198.51.100.12	# CR LF injection
CL=198.51.100.13	# an address too long
CS=198.51.100.14	# markup in the address
CN=198.51.100.15	# notify=maybe
CM=198.51.100.16	# no csrf
CW=198.51.100.17	# a wrong csrf
CF=198.51.100.18	# another client's csrf
CB=198.51.100.19	# a body over max_body
CR=198.51.100.20	# the rate limit
CG=198.51.100.21	# gateway mode
CG2=198.51.100.22	# gateway mode, too late
CO=198.51.100.23	# double opt-in, clicked
CE=198.51.100.24	# double opt-in, expired
CU=198.51.100.25	# the mail provider's one-click POST

client_table_empty() { ctl clients list --json | jq -e 'length == 0' >/dev/null; }

topo_up
client_addr_add $CD $CI $CX $CL $CS $CN $CM $CW $CF $CB $CR $CG $CG2 $CO $CE $CU
gw_pf_start
server_listen 80
server_drop_syns $S1 $S1_6
portal_daemon_start

# === A: mode server ====================================================================

# syn_down CLIENT SERVER: the SYN that makes SERVER down, from a source port below the
# ephemeral range. After the portal has served thousands of connections, a random
# port may be one the gateway still holds in TIME-WAIT from the portal's side of an
# earlier connection (same client, server and port): early demux then attaches that
# socket to the SYN and ip_forward drops it unseen, for up to 60 s. README.md,
# "The inquiry portal", says more.
SYN_SPORT=900
syn_down() {
	SYN_SPORT=$((SYN_SPORT + 1))
	in_c timeout $((3 * UPN_TIME_SCALE)) socat -T1 /dev/null \
		"TCP:$(bracket "$2"):80,bind=$(bracket "$1"):$SYN_SPORT,reuseaddr,connect-timeout=$T_CONNECT" \
		>/dev/null 2>&1 || true
}

syn_down $C1 $S1
wait_for "A: $S1 is down (syn-timeout)" 5 wl_state_is $S1 down
wait_for "A: the portal intercepts $S1 (nft set down4)" 3 portal_intercepts $S1
check_not "A: ... and not $S2, which is up" portal_intercepts $S2 || true
check_not "A: $C2 is not on the waitlist yet" wl_has $S1 $C2 || true

# --- the inquiry page -------------------------------------------------------------
http $C2 GET http://$S1/
check "A: GET http://$S1/ from $C2: 503" http_code_is 503
check "A: Retry-After: 300" [ "$(http_header Retry-After)" = 300 ] || true
check "A: Content-Type text/html" grep -qi '^text/html' <<<"$(http_header Content-Type)" || true
check "A: the page names the server $S1" page_text_has "$S1" || true
check "A: the page asks for a mail address" page_jq \
	'any(.forms[]; .method == "post" and (.fields | has("mail") and has("server")))'
CSRF_C2=$(form_field csrf) || CSRF_C2=
check "A: the form carries a csrf token" [ -n "$CSRF_C2" ]
check "A: the form's server field is $S1" [ "$(form_field server)" = "$S1" ] || true
check "A: mode server: the form posts to /.upnotify/register (the dead server's address)" \
	[ "$(form_action)" = /.upnotify/register ] || true
check "A: two answers: notify yes and no" page_jq \
	'[.forms[].buttons[] | select(.name == "notify") | .value] | index("yes") != null and index("no") != null' || true
check "A: no external resources on the page" page_jq '.external == []' || true
wait_for "A: $C2 is on $S1's waitlist, cause server-down" 3 wl_has $S1 $C2 server-down
check "A: ... port 80, the one it tried" wl_field_is $S1 $C2 port 80 || true
check "A: counted: portal.pages 1" counter_is portal.pages 1 || true

http $C2 GET http://$S1/some/deep/path?q=1
check "A: any path on the down server gets the page: 503" http_code_is 503 || true
http $C2 HEAD http://$S1/
check "A: HEAD: 503 too" http_code_is 503 || true
http $C2 GET $PORTAL_URL/no-such-page
check "A: anything else on the gateway's own address: 404" http_code_is 404 || true

# --- hands off ----------------------------------------------------------------------
check "A: hands off: $C2 reaches $S2:80, which is up" connect_ok $C2 $S2 80 || true
check "A: hands off: $C2_6 reaches [$S2_6]:80 too" connect_ok $C2_6 $S2_6 80 || true
check_not "A: only the portal ports: $S1:81 is not answered (from $C3)" \
	in_c curl -s -o /dev/null --interface $C3 --max-time 1 http://$S1:81/ || true

# --- answers refused ---------------------------------------------------------------
portal_register $CD http://$S1/ no ""
check "A: decline: 200" http_code_is 200
check "A: decline: the page says no mail will be sent" page_text_has 'no mail' || true
check "A: decline: counted" counter_is portal.declined 1 || true
check "A: decline: nothing in the client table" client_absent $CD || true

portal_register $CI http://$S1/ yes not-an-address
check "A: an invalid address: 400" http_code_is 400 || true
check "A: ... counted in portal.rej_address" counter_is portal.rej_address 1 || true

portal_register $CX http://$S1/ yes "a@example.test"$'\r\n'"Bcc: spy@example.test"
check "A: CR LF injection (a@example.test%0d%0aBcc: spy@...): 400" http_code_is 400 || true
portal_register $CX http://$S1/ yes "a@example.test"$'\n'"Bcc: spy@example.test"
check "A: a bare LF: 400" http_code_is 400 || true
check "A: ... both counted in portal.rej_address" counter_is portal.rej_address 3 || true

before=$(counter_of portal.rej_address)
portal_register $CL http://$S1/ yes "$(printf 'a%.0s' $(seq 1 250))@example.test"
check "A: an address of 263 characters: 400" http_code_is 400 || true
check "A: ... counted in portal.rej_address (a length check is an address check)" \
	counter_above '^portal\.rej_address$' "$before" || true

before=$(counter_of portal.rej_address)
portal_register $CS http://$S1/ yes '<script>alert(1)</script>@example.test'
check "A: markup as the address: 400" http_code_is 400 || true
check_not "A: ... and not echoed unescaped" grep -qi '<script>alert' "$HTTP_BODY" || true
check "A: ... counted in portal.rej_address" counter_above '^portal\.rej_address$' "$before" || true

before=$(counter_of portal.rej_bad_request)
portal_register $CN http://$S1/ maybe n@example.test
check "A: notify=maybe: 400" http_code_is 400 || true
check "A: ... counted in portal.rej_bad_request" counter_above '^portal\.rej_bad_request$' "$before" || true

http $CM GET http://$S1/
http_post $CM http://$S1/.upnotify/register "server=$S1" notify=yes mail=m@example.test
check "A: no csrf: 400" http_code_is 400 || true
check "A: ... counted in portal.rej_csrf" counter_is portal.rej_csrf 1 || true

http $CW GET http://$S1/
tok=$(form_field csrf) || tok=x
http_post $CW http://$S1/.upnotify/register "server=$S1" "csrf=$(token_forge "$tok")" \
	notify=yes mail=w@example.test
check "A: a wrong csrf (one character of its MAC changed): 400" http_code_is 400 || true
http_post $CW http://$S1/.upnotify/register "server=$S1" "csrf=garbage" notify=yes \
	mail=w@example.test
check "A: a csrf that is no token at all: 400" http_code_is 400 || true
http $CF GET http://$S1/
http_post $CF http://$S1/.upnotify/register "server=$S1" "csrf=$CSRF_C2" notify=yes \
	mail=f@example.test
check "A: $C2's csrf posted by $CF: 400 (bound to the client)" http_code_is 400 || true
check "A: ... all three counted in portal.rej_csrf" counter_is portal.rej_csrf 4 || true
check "A: none of the refused addresses is in the client table" client_table_empty || true

http $CB GET http://$S1/
tok=$(form_field csrf) || tok=x
big=$(printf 'x%.0s' $(seq 1 5000))
http $CB POST http://$S1/.upnotify/register --data-binary \
	"server=$S1&csrf=$tok&notify=yes&mail=b%40example.test&pad=$big"
check "A: a 5 kB body (max_body 4096): 413, or the connection closed" http_code_is 413 000 || true
http $CB POST http://$S1/.upnotify/register -H 'Expect:' --data-binary \
	"server=$S1&csrf=$tok&notify=yes&mail=b%40example.test&pad=$big"
check "A: ... sent without Expect: 100-continue: 413, or closed" http_code_is 413 000 || true
check "A: ... both counted in portal.rej_too_big" counter_is portal.rej_too_big 2 || true
check "A: ... and not registered" client_absent $CB || true
check "A: the daemon is still running" alive "$DAEMON_PID"

# --- a good registration, and the already-registered page ---------------------------
portal_register $C2 http://$S1/ yes good@example.test
check "A: $C2 registers good@example.test: 200" http_code_is 200
check "A: the confirmation page names the address" page_text_has 'good@example\.test' || true
check "A: ... and the server" page_text_has "$S1" || true
check "A: counted: portal.registered 1" counter_is portal.registered 1 || true
check "A: the client table has $C2 -> good@example.test" client_mail_is $C2 good@example.test
check "A: $C2's waitlist entry still says port 80" wl_field_is $S1 $C2 port 80 || true

http $C2 GET http://$S1/
check "A: $C2 again: still 503" http_code_is 503
check "A: ... \"already registered\", the address masked (g***@example.test)" \
	page_text_has 'g\*+@example\.test' || true
check_not "A: ... never in full" grep -q 'good@example.test' "$HTTP_BODY" || true
check "A: ... with a form to change it" page_jq 'any(.forms[]; .fields | has("mail") and has("csrf"))' || true
check "A: counted: portal.already_registered 1" counter_is portal.already_registered 1 || true

# --- the rate limit per client (client_rate 3) --------------------------------------
for i in 1 2 3; do
	portal_register $CR http://$S1/ yes r$i@example.test
	check "A: rate: $CR's registration $i of 3: 200" http_code_is 200
done
portal_register $CR http://$S1/ yes r4@example.test
check "A: rate: the 4th within the hour: 429" http_code_is 429 || true
check "A: rate: counted in portal.rej_rate_client" counter_is portal.rej_rate_client 1 || true
check "A: rate: $CR keeps r3@" client_mail_is $CR r3@example.test || true

# --- IPv6 ---------------------------------------------------------------------------
syn_down $C1_6 $S1_6
wait_for "A: $S1_6 is down" 5 wl_state_is $S1_6 down
wait_for "A: the portal intercepts $S1_6 (nft set down6)" 3 portal_intercepts $S1_6
http $C2_6 GET "http://[$S1_6]/"
check "A: GET http://[$S1_6]/ from $C2_6: 503" http_code_is 503
check "A: ... the page names $S1_6" page_text_has "$S1_6" || true
check "A: ... with a csrf form for $S1_6" [ "$(form_field server)" = "$S1_6" ] || true
wait_for "A: $C2_6 is on $S1_6's waitlist, cause server-down" 3 wl_has $S1_6 $C2_6 server-down || true
check "A: ... port 80" wl_field_is $S1_6 $C2_6 port 80 || true
portal_register $C2_6 "http://[$S1_6]/" yes six@example.test
check "A: $C2_6 registers six@example.test over IPv6: 200" http_code_is 200 || true
check "A: ... the client table has $C2_6" client_mail_is $C2_6 six@example.test || true

# --- 1,000 connections at once (max_connections 200) --------------------------------
out=$(in_c python3 "$HTTPLOAD" flood $S1 80 1000 --bind $C1 --timeout $((25 * SC)))
diag "flood: $out"
check "A: 1000 connections: none left hanging" jq -e '.timeout == 0' <<<"$out" || true
check "A: ... each answered or cleanly refused" \
	jq -e '.answered + .refused + .closed == 1000' <<<"$out" || true
check "A: ... at least 100 answered, all with the inquiry page (503)" \
	jq -e '.answered >= 100 and (.status | keys) == ["503"]' <<<"$out" || true
check "A: ... the limit is counted in portal.conn_limit" counter_above '^portal\.conn_limit$' 0 || true
check "A: the daemon is still running" alive "$DAEMON_PID"
http $C3 GET http://$S1/
check "A: after the flood, $C3 gets the page: 503" http_code_is 503

# --- a slow client (timeout 2s) -----------------------------------------------------
before=$(counter_of portal.timeouts)
in_c python3 "$HTTPLOAD" slow $S1 80 --bind $C1 --max $((4 * SC + 1)) >"$UPN_TMP/slow.json" &
SLOW_PID=$!
# Others are served while it hangs (as many as fit in its time, three at most).
served=0
while [ $served -lt 3 ] && alive $SLOW_PID; do
	http $C3 GET http://$S1/
	[ "$HTTP_CODE" = 503 ] && alive $SLOW_PID || break
	served=$((served + 1))
done
check "A: while a slowloris hangs, other requests are served ($served, last $HTTP_CODE)" \
	[ $served -ge 1 ] || true
wait $SLOW_PID || true
out=$(cat "$UPN_TMP/slow.json")
diag "slowloris: $out"
check "A: slowloris (half a header, then nothing): closed after 1-$((4 * SC)) s" \
	jq -e --argjson hi $((4 * SC)) '.connected and .closed_after != null and
		.closed_after >= 1 and .closed_after <= $hi' <<<"$out" || true
check "A: ... counted in portal.timeouts" counter_above '^portal\.timeouts$' "$before" || true
# A trickle of one header byte every 0.5 s: an idle timer alone never fires.
out=$(in_c python3 "$HTTPLOAD" slow $S1 80 --bind $C1 --max $((5 * SC + 1)) --drip 0.5)
diag "trickle: $out"
check "A: a trickling header: closed within $((5 * SC)) s all the same" \
	jq -e --argjson hi $((5 * SC)) '.connected and .closed_after != null and
		.closed_after <= $hi' <<<"$out" || true

# --- recovery: the mail, its unsubscribe link ---------------------------------------
check "A: nothing queued while $S1 is down" outbox_jq 'length == 0' || true
server_accept_syns $S1
out=$(ctl recover $S1 2>&1) || true
check "A: recover $S1: \"$out\" (good@ and r3@; no decline, nothing refused)" \
	grep -qx "$S1 recovered: 2 mails queued" <<<"$out"
wait_for "A: the portal lets go of $S1" 3 not portal_intercepts $S1
check "A: hands off: $C2 reaches $S1:80 itself again" connect_ok $C2 $S1 80
wait_for "A: two mails delivered" 15 mail_count_ge 2
wait_for "A: ... the outbox is sent" 5 outbox_jq 'all(.[]; .state == "sent")'
check "A: exactly good@ and r3@, one mail each" \
	[ "$(mail_recipients | tr '\n' ' ')" = "good@example.test r3@example.test " ] || true
check "A: good@'s mail is about $S1" mail_about_is good@example.test $S1 1 || true
msg=$(mail_file_to good@example.test)
lu=$(mail_header "$msg" List-Unsubscribe) || lu=
diag "List-Unsubscribe: $lu"
check "A: List-Unsubscribe: <$PORTAL_URL/.upnotify/unsubscribe?t=...>" \
	grep -qE "^<$PORTAL_URL/\.upnotify/unsubscribe\?t=[^>]+>\$" <<<"$lu" || true
check "A: List-Unsubscribe-Post: List-Unsubscribe=One-Click" \
	[ "$(mail_header "$msg" List-Unsubscribe-Post)" = List-Unsubscribe=One-Click ] || true
unsub=${lu#<}
unsub=${unsub%>}
check "A: the body has the same link" grep -qF "$unsub" "$msg" || true
check "A: the body says what $C2 tried: port 80" grep -q "from $C2, port 80," "$msg" || true

http $C2 GET "$unsub"
check "A: GET the unsubscribe link: 200, a page with a button" http_code_is 200 || true
check "A: ... that posts" page_jq 'any(.forms[]; .method == "post")' || true
check "A: ... a GET alone unsubscribes nobody" client_mail_is $C2 good@example.test || true
http $CU POST "${unsub%%t=*}t=$(token_forge "${unsub#*t=}")" --data-binary List-Unsubscribe=One-Click
check "A: a forged token: 4xx" grep -q '^4' <<<"$HTTP_CODE" || true
check "A: ... still registered" client_mail_is $C2 good@example.test || true
http $CU POST "$unsub" --data-binary List-Unsubscribe=One-Click
check "A: one-click POST (RFC 8058) from the mail provider's address: 200" http_code_is 200 || true
check "A: counted: portal.unsubscribed 1" counter_is portal.unsubscribed 1 || true
check "A: good@ is gone from the client table" not mail_in_table good@example.test || true
check "A: ... $C2's entry with it" client_absent $C2 || true
check "A: ... and suppressed in the store" \
	[ "$(db "SELECT count(*) FROM suppressed WHERE mail = 'good@example.test'")" = 1 ] || true
check "A: others keep theirs" client_mail_is $CR r3@example.test || true
daemon_stop

# === B: mode gateway ===================================================================

cfg_portal mode=gateway
portal_daemon_start
server_drop_syns $S1
syn_down $C1 $S1
wait_for "B: $S1 is down again" 5 wl_state_is $S1 down
wait_for "B: the portal intercepts $S1" 3 portal_intercepts $S1
http $CG GET http://$S1/
check "B: the inquiry page: 503" http_code_is 503
check "B: its form posts to the gateway: $PORTAL_URL/.upnotify/register" \
	[ "$(form_action)" = "$PORTAL_URL/.upnotify/register" ] || true
portal_register $CG http://$S1/ yes gw@example.test
check "B: $CG registers gw@ through $PORTAL_URL: 200" http_code_is 200
check "B: ... the page names the address and $S1" \
	page_text_has "gw@example\.test.*$S1|$S1.*gw@example\.test" || true
check "B: ... the client table has it" client_mail_is $CG gw@example.test || true
http $CG2 GET http://$S1/
tok=$(form_field csrf) || tok=x
out=$(ctl recover $S1 2>&1) || true
check "B: recover $S1: \"$out\"" grep -qx "$S1 recovered: 1 mails queued" <<<"$out" || true
wait_for "B: gw@ gets the recovery mail" 15 mail_about_is gw@example.test $S1 1
http_post $CG2 "$PORTAL_URL/.upnotify/register" "server=$S1" "csrf=$tok" notify=yes \
	mail=late@example.test
check "B: a registration for $S1 once it is up: 409 or 503" http_code_is 409 503 || true
check "B: ... counted in portal.rej_not_down" counter_is portal.rej_not_down 1 || true
check "B: ... not registered" client_absent $CG2 || true
daemon_stop

# === C: double opt-in ==================================================================

cfg_portal mode=server confirm=yes confirm_ttl=1m
portal_daemon_start
syn_down $C1 $S1
wait_for "C: $S1 is down again" 5 wl_state_is $S1 down
wait_for "C: the portal intercepts $S1" 3 portal_intercepts $S1
portal_register $CO http://$S1/ yes opt@example.test
check "C: $CO asks for opt@: 200 \"check your mail\"" http_code_is 200
check "C: ... the page says so" page_text_has 'check your (mail|inbox)' || true
check "C: counted: portal.confirm_sent 1" counter_is portal.confirm_sent 1 || true
check "C: not registered before the click" client_absent $CO || true
wait_for "C: the confirmation mail arrives" 15 mail_to_ge opt@example.test 1
link=$(mail_link "$(mail_file_to opt@example.test)" confirm) || link=
diag "confirm link: $link"
check "C: it links to $PORTAL_URL/.upnotify/confirm?t=..." \
	grep -q "^$PORTAL_URL/\.upnotify/confirm?t=" <<<"$link" || true
http $CO GET "$link"
check "C: GET the link: 200, a page with a button" http_code_is 200 || true
check "C: ... that posts the token t" page_jq 'any(.forms[]; .method == "post" and (.fields | has("t")))' || true
check "C: ... a GET alone registers nothing" client_absent $CO || true
t=${link#*t=}
http_post $CO "$PORTAL_URL/.upnotify/confirm" "t=$(token_forge "$t")"
check "C: POST a forged token: 410" http_code_is 410 || true
check "C: ... registers nothing" client_absent $CO || true
http_post $CO "$PORTAL_URL/.upnotify/confirm" "t=$t"
check "C: POST the token: 200" http_code_is 200
check "C: counted: portal.confirmed 1" counter_is portal.confirmed 1 || true
check "C: the client table has $CO -> opt@example.test" client_mail_is $CO opt@example.test
daemon_stop

# === D: an expired link ===================================================================

cfg_portal mode=server confirm=yes confirm_ttl=2s
portal_daemon_start
wait_for "D: after a restart the portal intercepts $S1 again" 3 portal_intercepts $S1
t0=$(date +%s)
portal_register $CE http://$S1/ yes exp@example.test
check "D: $CE asks for exp@: 200" http_code_is 200
wait_for "D: the confirmation mail arrives" 15 mail_to_ge exp@example.test 1
link=$(mail_link "$(mail_file_to exp@example.test)" confirm) || link=
t=${link#*t=}
if exp=$(token_expires "$t"); then
	check "D: the token expires 2 s after it was issued" between $t0 $((exp - 2)) $((t0 + 2 * SC)) ||
		true
else
	fail "D: the token reads k.<client, server, expiry, mail>.<mac> (token.h)" "token: $t"
	exp=$((t0 + 2))
fi
wait_for "D: the clock passes the expiry" $((5 * SC)) clock_past $((exp + 1))
http $CE GET "$link"
check "D: GET the expired link: 410" http_code_is 410 || true
http_post $CE "$PORTAL_URL/.upnotify/confirm" "t=$t"
check "D: POST the expired token: 410" http_code_is 410 || true
check "D: ... registers nothing" client_absent $CE || true
check "D: ... counted in portal.rej_token" counter_above '^portal\.rej_token$' 0 || true
