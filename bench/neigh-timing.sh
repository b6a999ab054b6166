#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# How much earlier the gateway's neighbour table reveals a dead server than the ICMP
# host-unreachable path, when the server dies while the gateway's entry for it is
# REACHABLE. Until that entry ages out, the gateway keeps sending SYNs to the old MAC
# and has nothing to be unreachable about, so the ICMP error comes only after
# REACHABLE -> STALE -> DELAY -> PROBE -> FAILED and then a fresh resolution, started
# by the next packet, has failed too.
#
#   client ns                    gateway ns                       server ns
#   198.51.100.2/24  eth0 ---- c0  198.51.100.1/24
#                                  203.0.113.1/24    s0 ---- eth0  203.0.113.2/24
#
# Each trial builds the namespaces afresh (so that each draws its own random
# reachable_time, between 1/2 and 3/2 of base_reachable_time), pings the server from
# the gateway so that the entry is REACHABLE, starts `ip -ts monitor neigh` in the
# gateway and tcpdump on the client's link, starts the client, and then kills the
# server silently: an nftables netdev ingress chain on its interface drops every frame,
# ARP included. No RST, no ARP reply, and the link stays up, as when a host behind a
# switch hangs. Times are relative to that moment:
#   SYN+30  the first SYN after the death plus upnotifyd's default syn_timeout (30 s):
#           when the SYN-timeout path alone would report the server
#   FAILED  the first RTM_NEWNEIGH with NUD_FAILED for the server: what upnotifyd's
#           neighbour monitor sees; with a SYN to that server pending, it knows then
#   ICMP    the first ICMP host unreachable for the server on the client's link
#
#   bench/neigh-timing.sh [TRIALS] [CLIENT]     (root; about a minute a trial)
#
# CLIENT is `retry` (default: a new connect every second, as users hammering reload)
# or `single` (one connect, left to the kernel's SYN retransmissions: on 6.x with
# tcp_syn_linear_timeouts=4 at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s; the next packet
# after FAILED, and so the ICMP, can then come much later).
# ENTRY=stale in the environment turns the entry STALE just before the death, as for
# a server nobody has reached for a while (the ping's answer is then not fresh). The
# neighbour sysctls are the kernel's defaults (printed first): a fresh namespace gets
# them whatever the host's own settings are. Only documentation addresses, only these
# namespaces, all deleted on exit.
set -euo pipefail

TRIALS=${1:-3}
CLIENT=${2:-retry}
ENTRY=${ENTRY:-reachable}
PORT=80
SYN_TIMEOUT=30 # upnotifyd's default syn_timeout, in seconds
WAIT_MAX=150   # seconds a trial may take before it is called lost

NS_CLI="upnnt$$-cli"
NS_GW="upnnt$$-gw"
NS_SRV="upnnt$$-srv"
GWC4=198.51.100.1
CLI4=198.51.100.2
GWS4=203.0.113.1
SRV4=203.0.113.2

PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/upn-neigh-timing.XXXXXX")

log() { echo "neigh-timing: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

stop_pids() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

teardown() {
	local ns
	stop_pids
	for ns in "$NS_CLI" "$NS_GW" "$NS_SRV"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

cleanup() {
	set +e
	teardown
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip nft tcpdump ping timeout awk; do
	command -v "$t" >/dev/null || die "$t is missing"
done
case $CLIENT in retry | single) ;; *) die "CLIENT is retry or single, not $CLIENT" ;; esac
case $ENTRY in reachable | stale) ;; *) die "ENTRY is reachable or stale, not $ENTRY" ;; esac

now() { date +%s.%N; }
# "[2026-01-01T12:00:00.123456] ..." from ip -ts (local time) to epoch seconds.
ts_epoch() {
	local t=${1#[}
	date -d "${t%%]*}" +%s.%N
}
# rel A B [C]: A + C - B, to the hundredth.
rel() { awk -v a="$1" -v b="$2" -v c="${3:-0}" 'BEGIN { printf "%.2f", a + c - b }'; }

setup() {
	local ns
	for ns in "$NS_CLI" "$NS_GW" "$NS_SRV"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link add eth0 netns "$NS_CLI" type veth peer name c0 netns "$NS_GW"
	ip link add s0 netns "$NS_GW" type veth peer name eth0 netns "$NS_SRV"
	ip -n "$NS_CLI" addr add "$CLI4/24" dev eth0
	ip -n "$NS_CLI" link set eth0 up
	ip -n "$NS_CLI" route add default via "$GWC4"
	ip -n "$NS_GW" addr add "$GWC4/24" dev c0
	ip -n "$NS_GW" addr add "$GWS4/24" dev s0
	ip -n "$NS_GW" link set c0 up
	ip -n "$NS_GW" link set s0 up
	ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$NS_SRV" addr add "$SRV4/24" dev eth0
	ip -n "$NS_SRV" link set eth0 up
	ip -n "$NS_SRV" route add default via "$GWS4"
	# Nothing listens on the server: alive, it refuses, which is just as good a
	# source of SYNs; dead, it says nothing at all.
	ip netns exec "$NS_CLI" ping -c 1 -W 2 -q "$SRV4" >/dev/null ||
		die "no path client -> server"
}

show_sysctls() {
	local k
	for k in base_reachable_time_ms delay_first_probe_time ucast_solicit mcast_solicit \
		retrans_time_ms; do
		printf ' %s=%s' "$k" "$(ip netns exec "$NS_GW" sysctl -n "net.ipv4.neigh.s0.$k")"
	done
	echo
}

kill_server() {
	ip netns exec "$NS_SRV" nft -f - <<-EOF
		table netdev dead {
			chain in {
				type filter hook ingress device eth0 priority 0; policy drop;
			}
		}
	EOF
}

# retry: one connect a second, each given up after 3 s, like a user reloading.
client_retry() {
	while :; do
		ip netns exec "$NS_CLI" timeout 3 bash -c "exec 3<>/dev/tcp/$SRV4/$PORT" \
			2>/dev/null &
		sleep 1
	done
}

client_single() {
	exec ip netns exec "$NS_CLI" timeout $((WAIT_MAX + 10)) bash -c \
		"exec 3<>/dev/tcp/$SRV4/$PORT" 2>/dev/null
}

trial() {
	local n=$1 mon="$TMP/mon.$1" dump="$TMP/dump.$1" t0 deadline state line
	local t_fail="" t_icmp="" t_syn="" timeline=""

	setup
	[ "$n" -gt 1 ] || {
		echo "gateway neighbour sysctls (defaults of a fresh namespace):"
		show_sysctls
		echo "client: $CLIENT, gateway entry at the death: $ENTRY"
	}
	ip netns exec "$NS_GW" ping -c 1 -W 2 -q "$SRV4" >/dev/null || die "server does not answer"
	state=$(ip -n "$NS_GW" neigh show "$SRV4" dev s0)
	case $state in *REACHABLE*) ;; *) die "entry is not REACHABLE: $state" ;; esac
	# For comparison: an entry already STALE, as for a server nobody reached lately.
	if [ "$ENTRY" = stale ]; then
		ip -n "$NS_GW" neigh change "$SRV4" dev s0 nud stale
	fi

	ip -n "$NS_GW" -ts monitor neigh >"$mon" 2>&1 &
	PIDS+=($!)
	# ICMP errors in, SYNs out.
	ip netns exec "$NS_CLI" tcpdump -i eth0 -n -tt -l \
		'icmp or tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' >"$dump" 2>"$dump.err" &
	PIDS+=($!)
	deadline=$((SECONDS + 10))
	until grep -q 'listening on' "$dump.err" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "tcpdump did not start"
		sleep 0.1
	done
	# The single connect starts after the death, so that its SYN goes unanswered.
	[ "$CLIENT" = single ] || {
		client_retry &
		PIDS+=($!)
		sleep 0.5
	}

	t0=$(now)
	kill_server
	[ "$CLIENT" = retry ] || {
		client_single &
		PIDS+=($!)
	}

	deadline=$((SECONDS + WAIT_MAX))
	while [ -z "$t_fail" ] || [ -z "$t_icmp" ]; do
		if [ $SECONDS -ge $deadline ]; then
			log "trial $n: gave up after ${WAIT_MAX}s"
			break
		fi
		sleep 0.5
		if [ -z "$t_fail" ]; then
			line=$(grep -m1 "^\[.*\] $SRV4 dev s0 .*FAILED" "$mon" || true)
			[ -z "$line" ] || t_fail=$(ts_epoch "$line")
		fi
		if [ -z "$t_icmp" ]; then
			line=$(grep -m1 "host $SRV4 unreachable" "$dump" || true)
			[ -z "$line" ] || t_icmp=${line%% *}
		fi
	done
	stop_pids
	t_syn=$(awk -v t0="$t0" -v s="$SRV4.$PORT:" '$5 == s && $1 > t0 { print $1; exit }' "$dump")

	# The whole story of the entry, for the notes.
	while read -r line; do
		case $line in "["*"] $SRV4 dev s0 "*) ;; *) continue ;; esac
		timeline+=" +$(rel "$(ts_epoch "$line")" "$t0")s:$(awk '{ print $NF }' <<<"$line")"
	done <"$mon"

	printf 'trial %d: SYN+%d +%ss  FAILED +%ss  ICMP +%ss  (ICMP - FAILED = %ss)\n' "$n" \
		"$SYN_TIMEOUT" \
		"$([ -n "$t_syn" ] && rel "$t_syn" "$t0" "$SYN_TIMEOUT" || echo '?')" \
		"$([ -n "$t_fail" ] && rel "$t_fail" "$t0" || echo '?')" \
		"$([ -n "$t_icmp" ] && rel "$t_icmp" "$t0" || echo '?')" \
		"$([ -n "$t_fail" ] && [ -n "$t_icmp" ] && rel "$t_icmp" "$t_fail" || echo '?')"
	echo "  entry:$timeline"
	echo "  SYNs sent:$(awk -v t0="$t0" -v s="$SRV4.$PORT:" \
		'$5 == s && $1 > t0 { printf " +%.2f", $1 - t0 }' "$dump" | cut -c1-200)"
	echo "  ICMP errors:$(awk -v t0="$t0" '/unreachable/ { printf " +%.2f", $1 - t0 }' "$dump" |
		cut -c1-200)"
	teardown
}

for i in $(seq 1 "$TRIALS"); do
	trial "$i"
done
