# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# shellcheck shell=bash
#
# Helpers for bench/run: the namespace topology, the NFQUEUE rules, the readers
# (upnotifyd and bench/tools/nfq_bare), counters and statistics. Sourced, not run.
#
#   client ns                 gateway ns                        server ns
#   198.51.100.2/24  eth0 --- c0  198.51.100.1/24
#   2001:db8:1::2/64              2001:db8:1::1/64
#                                 203.0.113.1/24   s0 --- eth0  203.0.113.2/24
#                                 2001:db8:2::1/64              2001:db8:2::2/64
#
# The server drops TCP port 80 in raw PREROUTING: it is "down" (no SYN/ACK, no RST), so
# the readers see the SYNs alone, and the DROP rule's counter is the number of SYNs the
# gateway let through.

# Namespace names are unique per run so two runs (or a leftover) never collide.
NS_CLI="upnb$$-cli"
NS_GW="upnb$$-gw"
NS_SRV="upnb$$-srv"
CLI4=198.51.100.2
SRV4=203.0.113.2
WATCH4=203.0.113.0/24
SYN_PORT=80
# shellcheck disable=SC2034 # used by bench/run
UDP_PORT=9000

# PIDs this script started and must end, and the namespaces it made.
BENCH_PIDS=()
BENCH_NETNS=()

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_gw() { ip netns exec "$NS_GW" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }

now() { date +%s.%N; }

topology_up() {
	local ns
	for ns in "$NS_CLI" "$NS_GW" "$NS_SRV"; do
		ip netns add "$ns" || die "cannot create namespace $ns"
		BENCH_NETNS+=("$ns")
		ip -n "$ns" link set lo up
	done
	ip link add c0 netns "$NS_GW" type veth peer name eth0 netns "$NS_CLI"
	ip link add s0 netns "$NS_GW" type veth peer name eth0 netns "$NS_SRV"

	ip -n "$NS_CLI" addr add $CLI4/24 dev eth0
	ip -n "$NS_CLI" addr add 2001:db8:1::2/64 dev eth0 nodad
	ip -n "$NS_GW" addr add 198.51.100.1/24 dev c0
	ip -n "$NS_GW" addr add 2001:db8:1::1/64 dev c0 nodad
	ip -n "$NS_GW" addr add 203.0.113.1/24 dev s0
	ip -n "$NS_GW" addr add 2001:db8:2::1/64 dev s0 nodad
	ip -n "$NS_SRV" addr add $SRV4/24 dev eth0
	ip -n "$NS_SRV" addr add 2001:db8:2::2/64 dev eth0 nodad
	ip -n "$NS_CLI" link set eth0 up
	ip -n "$NS_SRV" link set eth0 up
	ip -n "$NS_GW" link set c0 up
	ip -n "$NS_GW" link set s0 up
	ip -n "$NS_CLI" route add default via 198.51.100.1
	ip -n "$NS_CLI" -6 route add default via 2001:db8:1::1
	ip -n "$NS_SRV" route add default via 203.0.113.1
	ip -n "$NS_SRV" -6 route add default via 2001:db8:2::1
	in_gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	# The "down" server, see the header.
	in_srv iptables -t raw -A PREROUTING -p tcp --dport $SYN_PORT -j DROP

	# Resolve neighbours once, so the first round does not pay for it.
	in_cli ping -c1 -W2 -q $SRV4 >/dev/null || die "no IPv4 path client -> server"
}

topology_down() {
	local ns
	for ns in "${BENCH_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	BENCH_NETNS=()
}

# The rules upnotifyd installs (userspace/upnotifyd/rules.c, for watch = WATCH4),
# installed by hand for a reader that installs nothing itself (nfq_bare): chains
# UPNOTIFY_FWD and UPNOTIFY_OUT in mangle, jumped to first thing from FORWARD and OUTPUT;
# SYNs to the watched servers, SYN/ACKs and RSTs from them, ICMP unreachables. IPv6
# gets the chains and jumps only, as the watch list has no IPv6 prefix. bench/run
# compares this with what upnotifyd really installs and prints any difference.
# Usage: bench_rules_install NS [QUEUE]
bench_rules_install() {
	local ns=$1 q=${2:-0}
	local nfq="-j NFQUEUE --queue-num $q --queue-bypass"
	ip netns exec "$ns" iptables-restore --noflush <<-EOF
		*mangle
		:UPNOTIFY_FWD - [0:0]
		:UPNOTIFY_OUT - [0:0]
		-A UPNOTIFY_FWD -p tcp --tcp-flags SYN,ACK,RST SYN -d $WATCH4 $nfq
		-A UPNOTIFY_FWD -p tcp --tcp-flags SYN,ACK,RST SYN,ACK -s $WATCH4 $nfq
		-A UPNOTIFY_FWD -p tcp --tcp-flags RST RST -s $WATCH4 $nfq
		-A UPNOTIFY_FWD -p icmp --icmp-type destination-unreachable $nfq
		-A UPNOTIFY_OUT -p icmp --icmp-type destination-unreachable $nfq
		-I FORWARD 1 -j UPNOTIFY_FWD
		-I OUTPUT 1 -j UPNOTIFY_OUT
		COMMIT
	EOF
	ip netns exec "$ns" ip6tables-restore --noflush <<-EOF
		*mangle
		:UPNOTIFY_FWD - [0:0]
		:UPNOTIFY_OUT - [0:0]
		-I FORWARD 1 -j UPNOTIFY_FWD
		-I OUTPUT 1 -j UPNOTIFY_OUT
		COMMIT
	EOF
}

# Remove every mangle rule and chain in NS, IPv4 and IPv6: whatever a reader left.
bench_rules_flush() {
	local ns=$1 t
	for t in iptables ip6tables; do
		ip netns exec "$ns" $t -t mangle -F 2>/dev/null || true
		ip netns exec "$ns" $t -t mangle -X 2>/dev/null || true
	done
}

# The mangle table of NS as iptables-save prints it, without counters and comments,
# so two rule sets can be compared with diff.
bench_rules_dump() {
	local ns=$1 t
	for t in iptables-save ip6tables-save; do
		ip netns exec "$ns" $t -t mangle 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
	done
}

# Whether a rule set (a bench_rules_dump) holds any rule, not just empty built-in chains.
rules_nonempty() { grep -q '^-A' "$1"; }

# Install a saved rule set (iptables-save format, IPv4 part and IPv6 part) into NS.
bench_rules_restore() {
	local ns=$1 file=$2
	awk '/^\*/{n++} {print > (FILENAME "." n)}' "$file"
	ip netns exec "$ns" iptables-restore < "$file.1"
	[ -f "$file.2" ] && ip netns exec "$ns" ip6tables-restore < "$file.2"
	rm -f "$file.1" "$file.2"
}

# Start a command in the background inside a namespace and remember its PID; `ip netns
# exec` execs the command, so the PID is the command's own and signals reach it.
# Usage: spawn NS OUTFILE ERRFILE cmd...   Leaves the PID in $SPAWNED.
spawn() {
	local ns=$1 out=$2 err=$3
	shift 3
	ip netns exec "$ns" "$@" >"$out" 2>"$err" &
	SPAWNED=$!
	BENCH_PIDS+=("$SPAWNED")
}

# Signal a PID we started and wait for it (at most ~5 s, then SIGKILL).
reap() {
	local pid=$1 sig=${2:-TERM} _
	kill -s "$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
}

reap_all() {
	local p
	for p in "${BENCH_PIDS[@]}"; do reap "$p"; done
}

# Wait until FILE contains PATTERN, or PID died, or ~5 s passed.
wait_for_line() {
	local file=$1 pattern=$2 pid=$3 _
	for _ in $(seq 100); do
		grep -q "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# utime+stime of a process and all its threads, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Packet counter of the server's DROP rule: SYNs that came out of the gateway.
srv_syn_count() {
	in_srv iptables -t raw -L PREROUTING -v -n -x | awk '$3 == "DROP" {print $1; exit}'
}
srv_syn_zero() { in_srv iptables -t raw -Z PREROUTING; }

# Packets the gateway handed to the server's interface.
srv_rx_packets() { in_srv cat /sys/class/net/eth0/statistics/rx_packets; }

# Statistics over the numbers on stdin, one a line.
median() {
	sort -g | awk '{a[NR] = $1}
		END {if (!NR) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
		     else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
minmax() {
	sort -g | awk 'NR == 1 {lo = $1} {hi = $1}
		END {if (NR) printf "%.3f-%.3f", lo, hi; else print "-"}'
}
