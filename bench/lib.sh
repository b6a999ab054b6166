# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# shellcheck shell=bash
#
# Helpers for bench/run: the namespace topology, the NFQUEUE rules, the readers
# (upnotifyd and bench/tools/nfq_bare), the private Postfix of the mail measurements,
# counters and statistics. Sourced, not run.
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
#
# The mail measurements add, in the gateway namespace only: a private Postfix on the
# namespace's own loopback (127.0.0.1:$PF_PORT, tests/lib/postfix.sh), upnotifyd's SNMP
# trap listener on 203.0.113.1:$TRAP_PORT and a bare UDP reader on :$BARE_TRAP_PORT. The
# traps come from the server namespace (203.0.113.2, a watched server).

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
# shellcheck disable=SC2034 # used by bench/run
GW_S4=203.0.113.1
PF_PORT=2525
# shellcheck disable=SC2034 # used by bench/run
TRAP_PORT=10162
# shellcheck disable=SC2034 # used by bench/run
BARE_TRAP_PORT=10163

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
		ns_kill_leftovers "$ns"
		ip netns del "$ns" 2>/dev/null || true
	done
	BENCH_NETNS=()
}

# A process left in a namespace survives `ip netns del`. Only processes this run started
# can be in its namespaces (the names are unique per run): a Postfix child still on its
# way out, say. SIGTERM, up to 2 s, then SIGKILL, each by PID.
ns_kill_leftovers() {
	local ns=$1 pids i
	for i in $(seq 20); do
		pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086 # one PID a word
		if [ "$i" = 1 ]; then kill -TERM $pids 2>/dev/null || true; fi
		sleep 0.1
	done
	pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# ---------------------------------------------------------------------------------
# The private Postfix of the mail measurements: tests/lib/postfix.sh's instance, started
# inside the gateway namespace on its loopback, with its queue and Maildir on tmpfs
# ($1, /dev/shm by default; see bench/README.md for why).
# Sets PF_DIR, PF_MAILDIR, PF_LOG, PF_STARTED; pf_stop (postfix.sh) undoes it.
bench_pf_start() {
	local tmpdir=$1 out rc=0
	# pf_start runs inside the namespace; the last line it tells back is its PF_DIR,
	# after the tail of its log if it failed.
	out=$(in_gw env TMPDIR="$tmpdir" bash -c '. "$1"; pf_start "$2" "$3" >&2; rc=$?
		[ $rc = 0 ] || tail -n 5 "$PF_DIR/maillog" >&2; echo "$PF_DIR"; exit $rc' \
		bench_pf_start tests/lib/postfix.sh 127.0.0.1 "$PF_PORT" </dev/null 2>&1) || rc=$?
	PF_DIR=$(tail -n 1 <<<"$out")
	if [ -d "$PF_DIR" ]; then
		PF_LOG=$PF_DIR/maillog
		PF_MAILDIR=$PF_DIR/mail/example.test/all
		# master(8) is signalled through its pid file: pf_stop works from here, and
		# cleans up after a failed start too.
		# shellcheck disable=SC2034 # pf_stop (postfix.sh) reads it
		PF_STARTED=1
	else
		PF_DIR=
	fi
	if [ $rc != 0 ] || [ -z "$PF_DIR" ]; then
		log "postfix did not start:"
		sed 's/^/  /' <<<"$out" >&2
		return 1
	fi
}

# Messages delivered to the Maildir so far (new/ only: nobody reads them).
mdir_count() { ls -U1 "$PF_MAILDIR/new" 2>/dev/null | wc -l; }

# Wait until N messages are delivered (at most SECS), then delete them all, so that every
# run starts with an idle Postfix and an empty Maildir. 1 if they did not all arrive.
# Leaves the number found in MDIR_SEEN.
MDIR_SEEN=0
mdir_drain() {
	local want=$1 secs=$2 i rc=1
	for ((i = 0; i < secs * 10; i++)); do
		MDIR_SEEN=$(mdir_count)
		if [ "$MDIR_SEEN" -ge "$want" ]; then
			rc=0
			break
		fi
		sleep 0.1
	done
	find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -type f -delete 2>/dev/null || true
	return $rc
}

# The size= of the last message from FROM that Postfix's queue manager logged.
pf_last_size() {
	local from=$1 i s
	for i in $(seq 30); do
		s=$(grep -F "from=<$from>, size=" "$PF_LOG" 2>/dev/null | tail -n 1 |
			sed -n 's/.*, size=\([0-9]*\),.*/\1/p')
		[ -n "$s" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}

# The gateway's UDP counters (/proc/net/snmp, per namespace): "InDatagrams RcvbufErrors".
gw_udp_counters() {
	in_gw awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1; next }
		print $col["InDatagrams"], $col["RcvbufErrors"]; exit }' /proc/net/snmp
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

# Wait for a PID we started that ends by itself (every such tool has its own time
# limit), and forget it.
await() {
	local pid=$1 keep=() p
	wait "$pid" 2>/dev/null || true
	for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
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
