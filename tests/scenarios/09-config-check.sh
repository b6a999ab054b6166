#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# `upnotifyd -c FILE --check`, table-driven. No namespaces: --check touches nothing
# but the file. Each case replaces one line of a good config:
#
#   LINE | replacement | what is wrong (empty: a good config)
#
# Expected: exit 2 with "FILE:LINE: message" for the bad ones, exit 0 for the good.
set -e
. "$(dirname "$0")/lib.sh"

cleanup() {
	rm -rf "$UPN_TMP"
	tap_end
}
trap cleanup EXIT
if [ ! -x "$UPNOTIFYD" ]; then
	fail "$UPNOTIFYD exists (run make)"
	exit 1
fi

base() {
	cat <<-CONF
	[detect]
	source = nfqueue
	watch = 203.0.113.0/24, 2001:db8:2::/64
	ignore_clients =
	syn_timeout = 2s
	count_refused = yes
	queue = 0
	[waitlist]
	per_server_max = 65536
	total_max = 1048576
	only_known_clients = no
	[store]
	path = $UPN_TMP/check.db
	[control]
	socket = $UPN_TMP/check.sock
	[clients]
	198.51.100.2 = sato@example.test
	198.51.100.0/24 = lab@example.test
	CONF
}

trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }

CASES='
0 |                                       |
5 | syn_timeout = 1500ms                  |
5 | syn_timeout = 1m                      |
5 | syn_timeout = 1h                      |
3 | watch =                               |
3 | watch = 203.0.113.2                   |
3 | watch = 2001:db8:2::2/128             |
4 | ignore_clients = 198.51.100.4/32      |
2 | source = auto                         |
2 | source = kmod                         |
6 | count_refused = no                    |
11 | only_known_clients = yes             |
5 | syn_timeout = 2x                      | bad duration unit
5 | syn_timeout = s                       | duration without a number
5 | syn_timeout = 2d                      | duration above the 1 h maximum
5 | syn_timeout = 10ms                    | duration below the 100 ms minimum
3 | watch = 203.0.113.0/33                | IPv4 prefix length above 32
3 | watch = 2001:db8:2::/129              | IPv6 prefix length above 128
3 | watch = 203.0.113.256/24              | not an address
3 | watch = 203.0.113.0/24, nonsense      | bad second prefix
3 | watch = 203.0.113.1/24                | host bits set (IPv4)
3 | watch = 2001:db8:2::1/64              | host bits set (IPv6)
4 | ignore_clients = 198.51.100.0/24x     | bad prefix in ignore_clients
4 | ignore_clients = 198.51.100.1/24      | host bits set in ignore_clients
4 | frobnicate = 1                        | unknown key
6 | count_refused = maybe                 | bad bool
11 | only_known_clients = 2               | bad bool
2 | source = carrier-pigeon               | unknown source
7 | queue = 65536                         | queue number out of range
7 | queue = -1                            | negative queue number
9 | per_server_max = lots                 | not a number
17 | 198.51.100.300 = sato@example.test   | bad client address
17 | 198.51.100.1/24 = lab@example.test   | host bits set in a client prefix
'

n=0
while IFS='|' read -r line repl why; do
	line=${line// /}
	[ -n "$line" ] || continue
	repl=$(trim "$repl")
	why=$(trim "$why")
	n=$((n + 1))
	conf=$UPN_TMP/case$n.conf
	if [ "$line" = 0 ]; then
		base >"$conf"
	else
		base | awk -v l="$line" -v r="$repl" 'NR == l { print r; next } { print }' >"$conf"
	fi
	rc=0
	out=$(timeout 10 "$UPNOTIFYD" -c "$conf" --check 2>&1) || rc=$?
	if [ -z "$why" ]; then
		what="good: ${repl:-the example config}"
		if [ $rc -eq 0 ]; then
			pass "$what"
		else
			fail "$what" "exit $rc, expected 0" "output: $out"
		fi
	else
		what="bad: $why ($repl) -> exit 2, FILE:$line:"
		if [ $rc -eq 2 ] && grep -qF "$conf:$line:" <<<"$out"; then
			pass "$what"
		else
			fail "$what" "exit $rc" "output: $out"
		fi
	fi
done <<<"$CASES"

# [servers] and [relay]: --check reads the key file too. Each case is the text after
# the base config (whose last line is 18): [relay] on 19-20, [servers] on 21, the entry on 22.
printf 'agent-1 %s\n# spare\nspare %s\n' 00112233445566778899aabbccddeeff \
	ffeeddccbbaa99887766554433221100ffeeddcc >"$UPN_TMP/relay.keys"
chmod 600 "$UPN_TMP/relay.keys"
cp "$UPN_TMP/relay.keys" "$UPN_TMP/open.keys"
chmod 644 "$UPN_TMP/open.keys"
RELAY_CASES="
0  | relay.keys | 10.0.2.0/24 = server agent@srv.example.test
0  | relay.keys | 10.0.3.0/24 = nms nms@example.test spare
0  | relay.keys | 2001:db8:2::/64 = webhook https://status.example.test/h agent-1
22 | relay.keys | 10.0.2.0/24 = server agent@srv.example.test nope
22 | relay.keys | 10.0.2.0/24 = relay agent@srv.example.test
22 | relay.keys | 10.0.2.0/24 = server
22 | relay.keys | 10.0.2.0/24 = webhook ftp://status.example.test/
22 |            | 10.0.2.0/24 = nms nms@example.test
-  | open.keys  | 10.0.2.0/24 = nms nms@example.test
"
while IFS='|' read -r line keys entry; do
	line=${line// /}
	[ -n "$line" ] || continue
	keys=$(trim "$keys")
	entry=$(trim "$entry")
	n=$((n + 1))
	conf=$UPN_TMP/case$n.conf
	{
		base
		echo "[relay]"
		if [ -n "$keys" ]; then echo "key_file = $UPN_TMP/$keys"; else echo "max_clients = 10"; fi
		echo "[servers]"
		echo "$entry"
	} >"$conf"
	rc=0
	out=$(timeout 10 "$UPNOTIFYD" -c "$conf" --check 2>&1) || rc=$?
	if [ "$line" = 0 ]; then
		if [ $rc -eq 0 ]; then
			pass "good: [servers] $entry"
		else
			fail "good: [servers] $entry" "exit $rc, expected 0" "output: $out"
		fi
	elif [ "$line" = - ]; then
		if [ $rc -eq 2 ] && grep -qF "$conf: [relay] key_file: " <<<"$out"; then
			pass "bad: a key file readable by others -> exit 2"
		else
			fail "bad: a key file readable by others -> exit 2" "exit $rc" "output: $out"
		fi
	elif [ $rc -eq 2 ] && grep -qF "$conf:$line:" <<<"$out"; then
		pass "bad: [servers] $entry (key file '$keys') -> exit 2, FILE:$line:"
	else
		fail "bad: [servers] $entry (key file '$keys') -> exit 2, FILE:$line:" "exit $rc" \
			"output: $out"
	fi
done <<<"$RELAY_CASES"

rc=0
out=$(timeout 10 "$UPNOTIFYD" -c "$UPN_TMP/does-not-exist.conf" --check 2>&1) || rc=$?
if [ $rc -ne 0 ] && grep -qF does-not-exist.conf <<<"$out"; then
	pass "a missing file fails (exit $rc) and names the file"
else
	fail "a missing file fails and names the file" "exit $rc" "output: $out"
fi
