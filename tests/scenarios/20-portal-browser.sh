#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The inquiry portal in a real browser: Debian's headless Chromium in the client
# namespace, driven through chromedriver's WebDriver HTTP API with curl (POST
# /session, /url, /element, /value, /click; GET /source, /screenshot), in both modes:
#
#   client 198.51.100.2 (mode server)  chromium --HTTP :80--> gw: tproxy -> upnotifyd :8080
#          198.51.100.4 (mode gateway)          postfix 127.0.0.1:2525 -> Maildir
#                                                     203.0.113.2 [DROP SYNs] down
#
# Each mode: 198.51.100.3's SYN makes 203.0.113.2 down; chromium --dump-dom shows the
# inquiry page; a WebDriver session opens http://203.0.113.2/, sees the page (the server
# named, a form), types an address, presses "yes", and gets the confirmation page naming
# the address and the server (mode server: posted to the dead server's own address;
# mode gateway: to http://198.51.100.1:8080). The client table has the address; the
# server recovers (`upnotifyctl recover`) and Postfix delivers the mail to it.
#
# Each page is kept, as HTML and as a PNG screenshot, in build/tests/artifacts/
# 20-portal-browser/ (UPN_BUILD). Skipped when chromium or chromedriver is missing
# (scripts/deps.sh installs chromium and chromium-driver).
set -e
. "$(dirname "$0")/lib.sh"

CHROMIUM=${UPN_CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${UPN_CHROMEDRIVER:-/usr/bin/chromedriver}
if [ "$(id -u)" -eq 0 ] && { [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; }; then
	rm -rf "$UPN_TMP"
	echo "1..0 # SKIP needs $CHROMIUM and $CHROMEDRIVER (chromium, chromium-driver)"
	exit 0
fi
trap cleanup EXIT
require_env
require_tools postfix sqlite3 curl python3

SC=$UPN_TIME_SCALE
ART=$UPN_BUILD/tests/artifacts/20-portal-browser
mkdir -p "$ART"
rm -f "$ART"/*.png "$ART"/*.html
WD_PORT=9515
WD=http://127.0.0.1:$WD_PORT
WD_PID=
SID=

CFG_SYN_TIMEOUT=1s
cfg_mail
cfg_recovery

# The browser resolves no name at all: the test uses addresses only, and the lookups
# a fresh profile makes (its search engine, updates) would each wait for a resolver
# that is not there; an address literal is a "name" to these rules too, so the ones
# visited are exempt.
CHROME_ARGS=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage
	--no-first-run --no-default-browser-check --disable-background-networking
	--disable-component-update --disable-sync --window-size=800,900
	"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE $S1 , EXCLUDE $GW_C , EXCLUDE localhost , EXCLUDE 127.0.0.1")

# wd METHOD PATH [JSON]: one WebDriver command; prints the answer's "value" (JSON),
# or fails with the WebDriver error on stderr.
wd() {
	local out
	out=$(in_c curl -s --max-time $((60 * SC)) -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$WD$2") || { echo "WebDriver $1 $2: no answer" >&2; return 1; }
	if ! jq -e 'has("value")' <<<"$out" >/dev/null 2>&1; then
		echo "WebDriver $1 $2: $out" | head -c 600 >&2
		return 1
	fi
	if jq -e '(.value | type) == "object" and (.value | has("error"))' <<<"$out" >/dev/null; then
		jq -r --arg w "WebDriver $1 $2" '.value | "\($w): \(.error): \(.message)"' <<<"$out" |
			head -c 600 >&2
		return 1
	fi
	jq -c '.value' <<<"$out"
}

# wd_element CSS: the id of the first element matching CSS.
wd_element() {
	wd POST "/session/$SID/element" "$(jq -nc --arg v "$1" '{using: "css selector", value: $v}')" |
		jq -er 'to_entries[0].value'
}

wd_url() { wd GET "/session/$SID/url" | jq -r .; }
wd_url_is() { [ "$(wd_url)" = "$1" ]; }

# wd_keep NAME: the page's DOM to $ART/NAME.html and a screenshot to $ART/NAME.png.
wd_keep() {
	wd GET "/session/$SID/source" | jq -r . >"$ART/$1.html"
	wd GET "/session/$SID/screenshot" | jq -r . | base64 -d >"$ART/$1.png"
}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$1")" -gt 2000 ]; }

# wd_start NAME: a browser session with a fresh profile; sets SID.
wd_start() {
	local caps
	caps=$(printf '%s\n' "${CHROME_ARGS[@]}" "--user-data-dir=$UPN_TMP/chrome-$1" about:blank |
		jq -Rsc --arg bin "$CHROMIUM" 'split("\n") | map(select(. != "")) as $a |
		{capabilities: {alwaysMatch: {browserName: "chrome",
		"goog:chromeOptions": {binary: $bin, args: $a}}}}')
	SID=$(wd POST /session "$caps" | jq -er .sessionId)
}

wd_stop() {
	[ -z "$SID" ] || wd DELETE "/session/$SID" >/dev/null 2>&1 || true
	SID=
}

chromedriver_stop() {
	wd_stop
	[ -z "$WD_PID" ] || kill "$WD_PID" 2>/dev/null || true
	WD_PID=
}

topo_up
gw_pf_start
server_listen 80
server_drop_syns $S1

ip netns exec "$NS_C" "$CHROMEDRIVER" --port=$WD_PORT --log-path="$UPN_TMP/chromedriver.log" \
	</dev/null >/dev/null 2>&1 8>&- 9>&- &
WD_PID=$!
at_cleanup chromedriver_stop
wait_for "chromedriver answers in the client namespace" $((10 * SC)) in_c curl -sf $WD/status

# browse MODE CLIENT MAIL ACTION: the story above, for one mode; the browser's
# connections come from CLIENT (the client's routes prefer it).
browse() {
	local mode=$1 client=$2 mail=$3 action=$4 el out url

	cfg_portal mode="$mode"
	portal_daemon_start
	ip -n "$NS_C" route replace 198.51.100.0/24 dev c0 proto kernel scope link src "$client"
	ip -n "$NS_C" route replace default via $GW_C src "$client"
	syn_from $C2 $S1 80
	wait_for "$mode: $S1 is down" 5 wl_state_is $S1 down
	wait_for "$mode: the portal intercepts $S1" 3 portal_intercepts $S1

	# The simplest use: chromium --dump-dom.
	in_c timeout $((60 * SC)) "$CHROMIUM" "${CHROME_ARGS[@]}" --user-data-dir="$UPN_TMP/dump-$mode" \
		--dump-dom "http://$S1/" >"$ART/$mode-0-dump-dom.html" 2>"$UPN_TMP/dump-$mode.err" || true
	check "$mode: chromium --dump-dom http://$S1/ shows the inquiry page naming $S1" \
		page_text_has "$S1" "$ART/$mode-0-dump-dom.html"
	check "$mode: ... with its form" \
		page_jq 'any(.forms[]; .fields | has("mail") and has("csrf"))' "$ART/$mode-0-dump-dom.html"

	wd_start "$mode"
	pass "$mode: a WebDriver session with headless Chromium"
	wd POST "/session/$SID/url" "{\"url\": \"http://$S1/\"}" >/dev/null
	wd_keep "$mode-1-inquiry"
	check "$mode: the browser shows the inquiry page naming $S1" \
		page_text_has "$S1" "$ART/$mode-1-inquiry.html"
	check "$mode: ... with a mail field and a yes button" page_jq \
		'any(.forms[]; (.fields | has("mail")) and any(.buttons[]; .name == "notify" and .value == "yes"))' \
		"$ART/$mode-1-inquiry.html"
	check "$mode: ... its form posts to $action" \
		[ "$(form_action "$ART/$mode-1-inquiry.html")" = "${action#http://$S1}" ] || true
	check "$mode: ... readable on a phone (a viewport meta tag)" \
		grep -qi '<meta[^>]*name="\?viewport' "$ART/$mode-1-inquiry.html" || true
	check "$mode: ... a screenshot ($ART/$mode-1-inquiry.png)" is_png "$ART/$mode-1-inquiry.png"
	check "$mode: $client waits for $S1, cause server-down" wl_has $S1 $client server-down

	el=$(wd_element 'input[name="mail"]')
	wd POST "/session/$SID/element/$el/value" "$(jq -nc --arg t "$mail" '{text: $t}')" >/dev/null
	el=$(wd_element 'button[name="notify"][value="yes"], input[type="submit"][name="notify"][value="yes"]')
	wd POST "/session/$SID/element/$el/click" '{}' >/dev/null
	wait_for "$mode: the form went to $action" $((5 * SC)) wd_url_is "$action"
	wd_keep "$mode-2-confirmed"
	check "$mode: the confirmation page names $mail" \
		page_text_has "$(sed 's/[.]/\\./g' <<<"$mail")" "$ART/$mode-2-confirmed.html"
	check "$mode: ... and $S1" page_text_has "$S1" "$ART/$mode-2-confirmed.html"
	check "$mode: ... a screenshot ($ART/$mode-2-confirmed.png)" is_png "$ART/$mode-2-confirmed.png"
	wd_stop
	check "$mode: the client table has $client -> $mail" client_mail_is $client "$mail"

	out=$(ctl recover $S1 2>&1) || true
	check "$mode: recover $S1: \"$out\"" grep -qx "$S1 recovered: 1 mails queued" <<<"$out"
	wait_for "$mode: Postfix delivers the recovery mail to $mail" 15 mail_about_is "$mail" $S1 1
	check "$mode: ... with its unsubscribe link" \
		mail_header "$(mail_file_to "$mail")" List-Unsubscribe || true
	daemon_stop
}

browse server $C1 browser-srv@example.test "http://$S1/.upnotify/register"
browse gateway $C3 browser-gw@example.test "$PORTAL_URL/.upnotify/register"
check "two mails in all, one to each address" \
	[ "$(mail_recipients | tr '\n' ' ')" = "browser-gw@example.test browser-srv@example.test " ]
diag "pages and screenshots: $ART"
