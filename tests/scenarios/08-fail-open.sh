#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# upnotifyd must never stand between clients and servers, and must leave the
# gateway's own firewall as it found it:
#
#   client 198.51.100.2, 2001:db8:1::2 --> gw: upnotifyd running / killed -9 / gone
#          --> server 203.0.113.2, 2001:db8:2::2 :8080 listening (socat)
#   gw ruleset: the administrator's own mangle and filter rules, v4 and v6
#
# Expected: connections succeed while it runs and after kill -9 (queued traffic
# bypasses a queue nobody reads); a restart replaces its rules without duplicating
# them; the administrator's rules stay in place throughout; after SIGTERM the
# ruleset is exactly what it was before the first start, with no upnotify chains.
set -e
. "$(dirname "$0")/lib.sh"
# All of it is about the NFQUEUE source: traffic queued to a daemon that is gone, and
# the rules the daemon installs. With source kmod the module never holds a packet and
# the daemon installs no rules.
if [ "$UPN_SOURCE" = kmod ]; then
	rm -rf "$UPN_TMP"
	echo "1..0 # SKIP NFQUEUE only (queue-bypass and the daemon's own rules; source kmod installs none)"
	exit 0
fi
trap cleanup EXIT
require_env

# same "what" A B: two texts are identical, else the diff is the diagnostic.
same() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "diff:" "$(diff <(echo "$2") <(echo "$3") || true)"
		return 1
	fi
}
rule_lines() { grep -E '^-A |^add rule|^\s+(ip|meta|tcp|udp|counter|jump|queue)' <<<"$1" || true; }

topo_up
server_listen 8080

# A pristine gateway: nothing of upnotifyd's may remain after a clean exit.
daemon_start
rc=0
daemon_stop || rc=$?
check "SIGTERM on a pristine gateway: clean exit (status $rc)" [ $rc -eq 0 ]
left=$(rules_snapshot)
check "no upnotify chain left on a pristine gateway" not grep -qi upnotify <<<"$left"
check "no rule left on a pristine gateway" [ -z "$(rule_lines "$left")" ]
check "no table left on a pristine gateway (the empty mangle tables are dropped)" [ -z "$left" ]

# The administrator's own rules, in the tables and chains upnotifyd uses too.
in_g iptables -t mangle -N ADMIN_KEEP
in_g iptables -t mangle -A ADMIN_KEEP -j RETURN
in_g iptables -t mangle -A FORWARD -p udp --dport 9 -j ADMIN_KEEP
in_g iptables -t mangle -A OUTPUT -p udp --dport 9 -j MARK --set-mark 7
in_g iptables -A FORWARD -p udp --dport 9 -j ACCEPT
in_g ip6tables -t mangle -A FORWARD -p udp --dport 9 -j ACCEPT
in_g ip6tables -t mangle -A OUTPUT -p udp --dport 9 -j ACCEPT
rules0=$(rules_snapshot)

daemon_start
rules1=$(rules_snapshot)
check "while it runs, every rule of the administrator is still there" \
	[ -z "$(comm -23 <(rule_lines "$rules0" | sort) <(rule_lines "$rules1" | sort))" ]
check "IPv4 connection through the running daemon" connect_ok $C1 $S1 8080
check "IPv6 connection through the running daemon" connect_ok $C1_6 $S1_6 8080

daemon_kill9
check "after kill -9: IPv4 connection still succeeds" connect_ok $C1 $S1 8080
check "after kill -9: IPv6 connection still succeeds" connect_ok $C1_6 $S1_6 8080
n=0
for c in $C1 $C2 $C3 $C1_6 $C2_6 $C3_6; do
	if connect_ok $c "$([[ $c == *:* ]] && echo $S1_6 || echo $S1)" 8080; then
		n=$((n + 1))
	fi
done
check "after kill -9: 6 of 6 further connections succeed" [ $n -eq 6 ]

daemon_start
rules2=$(rules_snapshot)
same "restart after kill -9 replaces the rules, nothing duplicated" "$rules1" "$rules2"
check "IPv4 connection through the restarted daemon" connect_ok $C2 $S1 8080

rc=0
daemon_stop || rc=$?
check "SIGTERM: clean exit (status $rc)" [ $rc -eq 0 ]
rules3=$(rules_snapshot)
check "no upnotify chain left in the mangle table" \
	not grep -qi upnotify <<<"$(in_g iptables-save -t mangle; in_g ip6tables-save -t mangle)"
same "the ruleset is exactly as before the first start (counters aside)" "$rules0" "$rules3"
check "IPv4 connection with no daemon at all" connect_ok $C3 $S1 8080
