#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The family validates at the edge: every malformed request is refused with an error
# and an extended-ack message, nothing of it is applied, and an unprivileged user gets
# EPERM. In the root namespace of a freshly loaded module, reloaded again at the end
# (ip netns exec per call would cost half a second each under emulation). Table-driven:
#
#   EXPECT | what | genlpoke raw arguments
#
# EXPECT is ok, EINVAL, EINVAL|ERANGE (a range or an exact length: the kernel's own
# policy check says ERANGE there), EINVAL|EAFNOSUPPORT, or EOPNOTSUPP (an unknown
# command: the genetlink core, no extack). Every other refusal must carry an
# extended-ack message.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

check "a fresh instance" kmod_reload
at_cleanup kmod_reload
np() { timeout 20 "$GENLPOKE" "$@"; }

V4='family=u8:2'
V6='family=u8:10'
S4='server=addr:203.0.113.2'
S6='server=addr:2001:db8:2::2'
pfx() { echo "$1=nest prefix_family=u8:$2 prefix_addr=$3 prefix_len=u8:$4 end"; }

CASES="
ok     | SET_SERVER down, IPv4                   | set_server $V4 $S4 state=u8:1 cause=u8:9
ok     | SET_SERVER up again                     | set_server $V4 $S4 state=u8:0
ok     | SET_SERVER down, IPv6                   | set_server $V6 $S6 state=u8:1
EINVAL | server address of 5 bytes               | set_server $V4 server=hex:cb00710201 state=u8:1
EINVAL | server address of 3 bytes               | set_server $V4 server=hex:cb0071 state=u8:1
EINVAL | AF_INET6 with a 4-byte address          | set_server $V6 $S4 state=u8:1
EINVAL | AF_INET with a 16-byte address          | set_server $V4 $S6 state=u8:1
EINVAL|EAFNOSUPPORT | address family 7           | set_server family=u8:7 server=hex:cb007102 state=u8:1
EINVAL | no family                               | set_server $S4 state=u8:1
EINVAL | no server                               | set_server $V4 state=u8:1
EINVAL | no state                                | set_server $V4 $S4
EINVAL|ERANGE | state 2                          | set_server $V4 $S4 state=u8:2
EINVAL|ERANGE | cause 200                        | set_server $V4 $S4 state=u8:1 cause=u8:200
EINVAL | state as u32                            | set_server $V4 $S4 state=u32:1
EINVAL | family as an empty attribute            | set_server family=empty $S4 state=u8:1
EINVAL | unknown attribute type 99               | set_server $V4 $S4 state=u8:1 99=u8:1
EINVAL | unknown attribute type 99 in GET_STATS  | get_stats 99=u32:1
ok     | SET_CONFIG syn_timeout_ms 100           | set_config syn_timeout_ms=u32:100
ok     | SET_CONFIG syn_timeout_ms 3600000       | set_config syn_timeout_ms=u32:3600000
EINVAL|ERANGE | SET_CONFIG syn_timeout_ms 0      | set_config syn_timeout_ms=u32:0
EINVAL|ERANGE | SET_CONFIG syn_timeout_ms 99     | set_config syn_timeout_ms=u32:99
EINVAL|ERANGE | SET_CONFIG syn_timeout_ms 3600001 | set_config syn_timeout_ms=u32:3600001
EINVAL | SET_CONFIG syn_timeout_ms as u16        | set_config syn_timeout_ms=u16:1000
EINVAL|ERANGE | SET_CONFIG count_refused 2       | set_config count_refused=u8:2
EINVAL|ERANGE | SET_CONFIG mode 0                | set_config mode=u8:0
EINVAL|ERANGE | SET_CONFIG mode 4                | set_config mode=u8:4
EINVAL|ERANGE | SET_CONFIG icmp_codes of 31 bytes | set_config icmp_codes=hex:$(printf '00%.0s' {1..31})
ok     | SET_CONFIG icmp_codes of 32 bytes       | set_config icmp_codes=hex:0f26$(printf '00%.0s' {1..30})
ok     | SET_WATCH 203.0.113.0/24                | set_watch $(pfx watch 2 addr:203.0.113.0 24)
ok     | SET_WATCH 2001:db8:2::/64, ignore /32   | set_watch $(pfx watch 10 addr:2001:db8:2:: 64) $(pfx ignore 2 addr:198.51.100.4 32)
EINVAL | SET_WATCH 203.0.113.1/24: host bits     | set_watch $(pfx watch 2 addr:203.0.113.1 24)
EINVAL | SET_WATCH 2001:db8:2::1/64: host bits   | set_watch $(pfx watch 10 addr:2001:db8:2::1 64)
EINVAL | SET_IGNORE 198.51.100.1/0: host bits    | set_watch $(pfx ignore 2 addr:198.51.100.1 0)
EINVAL|ERANGE | SET_WATCH IPv4 /33              | set_watch $(pfx watch 2 addr:203.0.113.0 33)
EINVAL|ERANGE | SET_WATCH IPv6 /129             | set_watch $(pfx watch 10 addr:2001:db8:2:: 129)
EINVAL | SET_WATCH prefix address of 5 bytes     | set_watch $(pfx watch 2 hex:cb00710000 24)
EINVAL | SET_WATCH AF_INET6 with 4 bytes         | set_watch $(pfx watch 10 addr:203.0.113.0 24)
EINVAL | SET_WATCH nest without its length       | set_watch watch=nest prefix_family=u8:2 prefix_addr=addr:203.0.113.0 end
EINVAL | SET_WATCH watch as a u32, not a nest    | set_watch watch=u32:1
EOPNOTSUPP | unknown command 200                 | 200
EOPNOTSUPP | a notification as a command         | failed_access_ntf
"

while IFS='|' read -r e1 e2 e3; do
	# "EINVAL|ERANGE" spans two fields.
	if [ "$(trim "$e2")" = ERANGE ] || [ "$(trim "$e2")" = EAFNOSUPPORT ]; then
		expect="EINVAL|$(trim "$e2")"
		IFS='|' read -r what args <<<"$e3"
	else
		expect=$(trim "$e1")
		what=$e2
		args=$e3
	fi
	what=$(trim "$what")
	[ -n "$what" ] || continue
	# shellcheck disable=SC2086
	out=$(np raw $(trim "$args") 2>&1) && rc=0 || rc=$?
	case $expect in
	ok) re='^ok' ;;
	EINVAL) re='^error: -22 \(Invalid argument\): .+' ;;
	"EINVAL|ERANGE") re='^error: -(22|34) \([^)]*\): .+' ;;
	"EINVAL|EAFNOSUPPORT") re='^error: -(22|97) \([^)]*\): .+' ;;
	EOPNOTSUPP) re='^error: -95 \([^)]*\)' ;;
	esac
	want_rc=1
	[ "$expect" != ok ] || want_rc=0
	if [ "$rc" -eq "$want_rc" ] && [[ $out =~ $re ]]; then
		msg=
		[[ $out =~ ^error:\ [^:]*:\ ([^$'\n']*) ]] && msg=${BASH_REMATCH[1]}
		pass "$what: $expect${msg:+ with extack \"$msg\"}"
	else
		fail "$what: $expect" "genlpoke raw $(trim "$args")" "exit $rc: $out"
	fi
done <<<"$CASES"

# What the refused requests left behind: only what the accepted ones set.
check "the state: only the IPv6 server is down" \
	[ "$(np servers | cut -d' ' -f1,2)" = '2001:db8:2::2 down' ]
check "the config: syn_timeout_ms 3600000 from the last accepted SET_CONFIG" \
	grep -qx syn_timeout_ms=3600000 <<<"$(np get-config)"
check "the watch list: the last accepted SET_WATCH" \
	[ "$(np get-watch | sort | tr '\n' ' ')" = 'ignore 198.51.100.4/32 watch 2001:db8:2::/64 ' ]

# Unprivileged: every operation needs CAP_NET_ADMIN, the reads too.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups timeout 20 "$GENLPOKE" "$@"; }
for c in stats servers get-config get-watch "set-server 203.0.113.7 down" \
	"set-config syn_timeout_ms=1000" "set-watch watch 203.0.113.0/24"; do
	# shellcheck disable=SC2086
	out=$(nobody $c 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 1 ] && [[ $out == "error: -1 (Operation not permitted)"* ]]; then
		pass "unprivileged $c: EPERM"
	else
		fail "unprivileged $c: EPERM" "exit $rc: $out"
	fi
done
check "... and nothing changed: 203.0.113.7 is not down" not grep -q 203.0.113.7 <<<"$(np servers)"
check "the dump reads the same twice" [ "$(np servers)" = "$(np servers)" ]
