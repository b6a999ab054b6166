#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# `make demo`: the whole story, told as it happens, in throw-away network namespaces
# (the topology of tests/scenarios/lib.sh; nothing outside them is touched):
#
#   client 198.51.100.2, .3 ----- gw 198.51.100.1 | 203.0.113.1 ----- server 203.0.113.2
#                                 upnotifyd                           web service :80
#
# A client reaches the healthy server; the server's link fails; two clients try and
# fail; upnotifyd has put them on the server's waitlist; it survives kill -9.
# (Recovery and mail come in later chapters.) Exits nonzero if any step fails.
set -e
. "$(dirname "$0")/scenarios/lib.sh"

PORT=80
STEP=0

say() { printf '%s\n' "$@"; }
step() {
	STEP=$((STEP + 1))
	printf '\n[%d] %s\n' "$STEP" "$*"
}
die() {
	printf '\nDEMO FAILED at step %d: %s\n' "$STEP" "$*" >&2
	if [ -s "$DLOG" ]; then
		echo "upnotifyd log:" >&2
		tail -n 20 "$DLOG" | sed 's/^/  /' >&2
	fi
	exit 1
}
# shown NS CMD...: print the command as a person would type it, then run it there.
shown() {
	local ns=$1
	shift
	printf '  %s# %s\n' "${ns}" "$*"
	ip netns exec "upn$$-$ns" "$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}

demo_cleanup() {
	local rc=$?
	set +e
	trap - EXIT
	exec 1>&8 2>&9
	[ -z "$DAEMON_PID" ] || daemon_stop >/dev/null 2>&1
	topo_down
	rm -rf "$UPN_TMP"
	if [ "$rc" -eq 0 ]; then
		printf '\nDone: namespaces removed, daemon stopped.\n'
	fi
	exit "$rc"
}
trap demo_cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces)" >&2
	exit 1
fi
for b in "$UPNOTIFYD" "$UPNOTIFYCTL"; do
	[ -x "$b" ] || { echo "demo: $b missing; run make" >&2; exit 1; }
done

# --- chapter 1: a healthy network --------------------------------------------------

step "Building a small network: clients, a gateway, a server (namespaces upn$$-*)."
topo_up || die "the namespaces could not be set up"
server_listen $PORT || die "the server's web service did not start"
say "  client 198.51.100.2 and .3  ->  gateway 198.51.100.1 / 203.0.113.1  ->  server 203.0.113.2:$PORT"

step "Starting upnotifyd on the gateway (event source: $UPN_SOURCE)."
CFG_SYN_TIMEOUT=2s
CFG_CLIENTS="$C1 = sato@example.test
198.51.100.0/24 = lab@example.test"
daemon_start >/dev/null || die "upnotifyd did not start"
say "  It watches traffic through the gateway. Status:"
ctl status --json | jq -c '{source, uptime}' | sed 's/^/    /'

step "A client visits the healthy server."
out=$(in_c timeout 5 socat -T2 - "TCP:$S1:$PORT,bind=$C1,connect-timeout=2" </dev/null 2>&1) ||
	die "the healthy server could not be reached"
say "  client $C1 connected to $S1:$PORT and got: \"$out\""
say "  Nothing to remember: the server answered."

# --- chapter 2: the server fails ---------------------------------------------------

step "The server's network link fails."
server_link_down
say "  Its cable is out: the gateway can no longer reach $S1."

step "Two clients try to visit the server, and fail."
for c in $C1 $C2; do
	shown client nc -v -z -w 3 -s $c $S1 $PORT || true
done
say "  The gateway found nobody at $S1 and told each client so (ICMP host unreachable)."

step "upnotifyd has put both clients on the server's waitlist."
poll 10 wl_has $S1 $C1 || die "$C1 is not on the waitlist"
poll 10 wl_has $S1 $C2 || die "$C2 is not on the waitlist"
say "  In words (upnotifyctl waitlist):"
ctl waitlist | sed 's/^/    /'
say "  And as JSON, for programs (upnotifyctl waitlist --json):"
ctl waitlist --json | sed 's/^/    /'
say "  The mail addresses that will be told when the server is back:"
ctl clients list | sed 's/^/    /'

# --- chapter 3: the daemon dies -----------------------------------------------------

step "The daemon is killed without warning (kill -9)."
before=$(wl_sorted)
daemon_kill9
say "  Traffic still flows: its firewall rules let packets pass when nobody listens."

step "It is started again, and the waitlist is still there."
daemon_start >/dev/null || die "upnotifyd did not restart"
after=$(wl_sorted)
[ "$before" = "$after" ] || die "the waitlist changed across the restart"
ctl waitlist | sed 's/^/    /'
say "  Same clients, same first attempts: it was safely stored before it was shown."

# Later chapters: the server comes back, the clients get mail.

step "Cleaning up."
