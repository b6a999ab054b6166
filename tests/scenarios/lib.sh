# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Shared by every scenario script and tests/demo.sh; sourced, never run.
#
# Three network namespaces joined by two veth pairs, named upn<pid>-{client,gw,server}
# so that parallel runs never meet. Only documentation addresses, only in them:
#
#  upnN-client                  upnN-gw                          upnN-server
# +-------------------+       +------------------------------+       +-------------------+
# | c0                |       | g0                        g1 |       |                s0 |
# | 198.51.100.2/24   |       | 198.51.100.1/24              |       |   203.0.113.2/24  |
# | 198.51.100.3/24   | veth  | 2001:db8:1::1/64             | veth  |   203.0.113.3/24  |
# | 198.51.100.4/24   +-------+              203.0.113.1/24  +-------+   2001:db8:2::2/64 |
# | 2001:db8:1::2/64  |       |              2001:db8:2::1/64|       |   2001:db8:2::3/64 |
# | 2001:db8:1::3/64  |       |                              |       |                   |
# | 2001:db8:1::4/64  |       |  forwarding v4+v6, upnotifyd |       |  default via gw   |
# | default via gw    |       |  short ARP/NDP probing on g1 |       |                   |
# +-------------------+       +------------------------------+       +-------------------+
#
# Scenario 22 adds a fourth, upnN-nms (nms_up): a network-management station behind
# the gateway on a link of its own, 192.0.2.128/25 (the upper half of TEST-NET-1: the
# lower half stays free for the "nobody's" addresses scenarios use, 192.0.2.7, ...):
#
#                                upnN-gw g2 192.0.2.129/25 --veth-- n0 192.0.2.130/25
#                                                                   upnN-nms, default via gw
#
# "The server fails" is `ip link set s0 down` in the server namespace: g1 loses its
# carrier, the gateway's neighbour entries for the server are flushed, the next
# forwarded SYN waits for ARP/NDP, which fails after ~1 s (shortened below), and the
# gateway itself sends the client an ICMP host unreachable (ICMPv6 address
# unreachable). Those errors are generated locally, so they traverse OUTPUT, not FORWARD.
#
# Measured here (kernel 6.18, iptables-nft), with tcpdump in the gateway:
#  - link down: ICMP host unreachable (ICMPv6 address unreachable) leaves g0 ~0.82 s
#    after the SYN with the neighbour settings below (~3 s with the defaults); the
#    same for an address on the link that nobody answers (203.0.113.9, 2001:db8:2::9);
#  - closed port: RST back through the gateway within ~1 ms; DROP: nothing at all;
#  - `ip link set s0 down` also deletes the server's default routes, and its IPv6
#    addresses unless keep_addr_on_down is set: server_link_up restores the routes;
#  - the gateway rate-limits ICMP errors per destination (burst 6, then 1/s), which
#    would hide repeated attempts: topo_up turns that off in the gateway only.
#
# The event source comes from UPN_SOURCE (nfqueue by default; kmod in the qemu run,
# tests/vm/suite). With kmod the daemon installs no rules: the module's hooks, one
# instance per network namespace, report to the daemon in the gateway namespace; the
# module must be loaded first (require_env checks), and a failure report adds its
# counters in that namespace. Nothing else here depends on the source. Binaries come
# from UPN_BUILD (default <repo>/build).
#
# Output is TAP: `ok N - what`, `not ok N - what` with `# ...` diagnostics (the
# daemon's log tail and its waitlist), then the plan `1..N` when the script exits.
# An assertion that fails also returns 1, so under `set -e` it ends the scenario:
# each step builds on the one before, and one clear failure beats a cascade.
# `assertion || true` keeps going where a step stands alone.

UPN_ROOT=${UPN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
UPN_BUILD=${UPN_BUILD:-$UPN_ROOT/build}
UPN_SOURCE=${UPN_SOURCE:-nfqueue}
UPNOTIFYD=$UPN_BUILD/upnotifyd
UPNOTIFYCTL=$UPN_BUILD/upnotifyctl
GENLPOKE=$UPN_BUILD/tests/tools/genlpoke	# the module's netlink family (source kmod)

NS_C=upn$$-client
NS_G=upn$$-gw
NS_S=upn$$-server
NS_N=upn$$-nms		# only with nms_up

# Clients and servers by name, so scripts read as the story they tell.
C1=198.51.100.2
C2=198.51.100.3
C3=198.51.100.4
C1_6=2001:db8:1::2
C2_6=2001:db8:1::3
C3_6=2001:db8:1::4
GW_C=198.51.100.1
GW_C6=2001:db8:1::1
GW_S=203.0.113.1
GW_S6=2001:db8:2::1
S1=203.0.113.2
S2=203.0.113.3
S1_6=2001:db8:2::2
S2_6=2001:db8:2::3
S_NONE=203.0.113.9	# on the server link, but nobody answers ARP for it
S_NONE6=2001:db8:2::9
GW_N=192.0.2.129	# the gateway on the NMS link (nms_up)
NMS=192.0.2.130		# the network-management station

# Config knobs read by daemon_start; a scenario sets them before starting.
CFG_SOURCE=$UPN_SOURCE
CFG_WATCH=
CFG_IGNORE=
CFG_SYN_TIMEOUT=2s
CFG_COUNT_REFUSED=yes
CFG_QUEUE=0
CFG_PER_SERVER_MAX=65536
CFG_TOTAL_MAX=1048576
CFG_ONLY_KNOWN=no
CFG_CLIENTS=		# lines "prefix = mail" for [clients]
CFG_MAX_WAIT=		# [store] max_wait, when set
CFG_RECOVERY=		# lines "name = value" for [recovery]; the section only when set
CFG_MAIL=		# lines "name = value" for [mail]; the section only when set

# Every timeout in one place: nothing in a scenario may wait longer than these.
# UPN_TIME_SCALE (an integer, default 1) stretches them and every poll/wait_for for
# slow machines: tests/vm/suite sets it under qemu's emulation, where a process
# starts ~15 times slower. Never T_CONNECT: the guest's TCP timers run in real time.
UPN_TIME_SCALE=${UPN_TIME_SCALE:-1}
T_READY=$((10 * UPN_TIME_SCALE))	# daemon start until `upnotifyctl status` answers
T_STOP=$((10 * UPN_TIME_SCALE))	# SIGTERM until the daemon is gone
T_CTL=$((5 * UPN_TIME_SCALE))	# one upnotifyctl call
T_CONNECT=0.5		# one client connect attempt: short enough for one SYN only

UPN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/upn-$$.XXXXXX")
CONF=$UPN_TMP/upnotify.conf
DB=$UPN_TMP/upnotify.db
SOCK=$UPN_TMP/upnotifyd.sock
DLOG=$UPN_TMP/upnotifyd.log
DAEMON_PID=

T_N=0
T_FAILED=0
T_SKIPPED=0

# --- TAP --------------------------------------------------------------------------

diag() {
	local l
	for l in "$@"; do printf '%s\n' "$l"; done | sed 's/^/# /'
}

# What a failure report shows: the daemon's last words and what it has stored.
dump_state() {
	if [ -s "$DLOG" ]; then
		diag "upnotifyd log (last 25 lines):"
		tail -n 25 "$DLOG" | sed 's/^/#   /'
	fi
	if [ -n "$DAEMON_PID" ] && alive "$DAEMON_PID"; then
		local st wl
		if st=$(ctl status --json 2>&1) && wl=$(ctl waitlist --json 2>&1); then
			diag "non-zero counters:"
			jq -c '.counters | with_entries(select(.value != 0))' <<<"$st" 2>&1 |
				sed 's/^/#   /'
			diag "waitlist:"
			jq -c '.[]' <<<"$wl" 2>&1 | head -n 40 | sed 's/^/#   /'
		else
			diag "upnotifyctl fails: $st${wl:-}"
		fi
		# Scenarios with mail: what the outbox holds.
		if [ -n "$CFG_MAIL" ] && st=$(ctl outbox --json 2>&1); then
			diag "outbox (first 10):"
			jq -c '.[:10][] | {id, recipient, server, state, tries, last_error, relay}' \
				<<<"$st" 2>&1 | sed 's/^/#   /'
		fi
	fi
	# The module's own view of the gateway namespace.
	if [ "$CFG_SOURCE" = kmod ] && [ -x "$GENLPOKE" ] && ip netns pids "$NS_G" >/dev/null 2>&1; then
		diag "module counters in $NS_G (non-zero):"
		in_g "$GENLPOKE" stats 2>&1 | grep -v '=0$' | sed 's/^/#   /'
	fi
	if [ -n "${PF_LOG:-}" ] && [ -s "$PF_LOG" ]; then
		diag "postfix maillog (last 10 lines):"
		tail -n 10 "$PF_LOG" | sed 's/^/#   /'
	fi
}

pass() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1"
}

# fail "what" [diagnostic lines...]
fail() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
	dump_state
}

skip() {
	T_N=$((T_N + 1))
	T_SKIPPED=$((T_SKIPPED + 1))
	echo "ok $T_N - $1 # SKIP ${2:-}"
}

# check "what" cmd...: one assertion, the command's status decides.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$what"
	else
		fail "$what" "command: $*" ${out:+"output: $out"}
		return 1
	fi
}

# check_not "what" cmd...: passes when the command fails.
check_not() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$what" "command unexpectedly succeeded: $*" ${out:+"output: $out"}
		return 1
	else
		pass "$what"
	fi
}

# poll TIMEOUT cmd...: rerun cmd every 0.1 s until it succeeds; 1 on timeout.
# TIMEOUT is stretched by UPN_TIME_SCALE.
poll() {
	local timeout=$1 end
	shift
	end=$(($(now_ms) + (${timeout%.*} * 1000 + 10#0$(frac_ms "$timeout")) * UPN_TIME_SCALE))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# wait_for "what" TIMEOUT cmd...: an assertion that cmd becomes true within TIMEOUT s.
# Sets WAITED_MS to how long it took.
wait_for() {
	local what=$1 timeout=$2 t0
	shift 2
	t0=$(now_ms)
	if poll "$timeout" "$@"; then
		WAITED_MS=$(($(now_ms) - t0))
		pass "$what"
		return 0
	fi
	WAITED_MS=$(($(now_ms) - t0))
	fail "$what" "still false after ${timeout} s$([ "$UPN_TIME_SCALE" = 1 ] ||
		echo " x $UPN_TIME_SCALE"): $*"
	return 1
}

# hold_false "what" SECONDS cmd...: cmd must stay false for the whole period.
hold_false() {
	local what=$1 secs=$2 end
	shift 2
	end=$(($(now_ms) + ${secs%.*} * 1000 + 10#0$(frac_ms "$secs")))
	while [ "$(now_ms)" -lt "$end" ]; do
		# Only a check that finished inside the window proves anything: one that
		# started just before its end may see what happened just after (under
		# emulation a check takes a few hundred ms).
		if "$@" >/dev/null 2>&1 && [ "$(now_ms)" -le "$end" ]; then
			fail "$what" "became true: $*"
			return 1
		fi
		sleep 0.1
	done
	pass "$what"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# "1.5" -> "500", "2" -> "0", "0.25" -> "250"
frac_ms() {
	case $1 in
	*.*) local f=${1#*.}000; echo "${f:0:3}" ;;
	*) echo 0 ;;
	esac
}

tap_end() {
	echo "1..$T_N"
	if [ "$T_FAILED" -ne 0 ]; then
		echo "# $T_FAILED of $T_N failed"
		return 1
	fi
	return 0
}

# --- preconditions ----------------------------------------------------------------

# Scenarios need root, netns and the binaries; without root or netns, skip the whole
# script (TAP "1..0 # SKIP"), but missing binaries are a failure: make check builds them.
require_env() {
	if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
		echo "1..0 # SKIP needs root and network namespaces"
		exit 0
	fi
	local b
	for b in "$UPNOTIFYD" "$UPNOTIFYCTL"; do
		if [ ! -x "$b" ]; then
			echo "not ok 1 - $b exists (run make)"
			echo "1..1"
			exit 1
		fi
	done
	for b in ip jq nc socat iptables-save; do
		if ! command -v "$b" >/dev/null; then
			echo "not ok 1 - $b installed (scripts/deps.sh)"
			echo "1..1"
			exit 1
		fi
	done
	# A failure, not a skip: whoever asks for source kmod means to test the module.
	if [ "$UPN_SOURCE" = kmod ] && [ ! -d /sys/module/upnotify ]; then
		echo "not ok 1 - the upnotify module is loaded for UPN_SOURCE=kmod (tests/vm/suite loads it)"
		echo "1..1"
		exit 1
	fi
}

# --- topology ---------------------------------------------------------------------

in_c() { ip netns exec "$NS_C" "$@"; }
in_g() { ip netns exec "$NS_G" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }
in_n() { ip netns exec "$NS_N" "$@"; }

topo_up() {
	local ns
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	# Created inside the namespaces: nothing ever appears in the caller's.
	ip -n "$NS_C" link add c0 type veth peer name g0 netns "$NS_G"
	ip -n "$NS_S" link add s0 type veth peer name g1 netns "$NS_G"

	ip -n "$NS_C" addr add $C1/24 dev c0
	ip -n "$NS_C" addr add $C2/24 dev c0
	ip -n "$NS_C" addr add $C3/24 dev c0
	ip -n "$NS_C" addr add $C1_6/64 dev c0 nodad
	ip -n "$NS_C" addr add $C2_6/64 dev c0 nodad
	ip -n "$NS_C" addr add $C3_6/64 dev c0 nodad

	ip -n "$NS_G" addr add $GW_C/24 dev g0
	ip -n "$NS_G" addr add $GW_C6/64 dev g0 nodad
	ip -n "$NS_G" addr add $GW_S/24 dev g1
	ip -n "$NS_G" addr add $GW_S6/64 dev g1 nodad

	ip -n "$NS_S" addr add $S1/24 dev s0
	ip -n "$NS_S" addr add $S2/24 dev s0
	ip -n "$NS_S" addr add $S1_6/64 dev s0 nodad
	ip -n "$NS_S" addr add $S2_6/64 dev s0 nodad

	in_s sysctl -qw net.ipv6.conf.s0.keep_addr_on_down=1
	in_g sysctl -qw net.ipv4.ip_forward=1
	in_g sysctl -qw net.ipv6.conf.all.forwarding=1
	# Each failed access is one ICMP error to one client; the per-destination rate
	# limit (1/s after a burst) would hide repeated attempts from the daemon.
	in_g sysctl -qw net.ipv4.icmp_ratelimit=0
	in_g sysctl -qw net.ipv6.icmp.ratelimit=0
	# Give up on ARP/NDP for the server after ~1 s instead of ~3 s. New namespaces
	# have per-device copies of these, so they must be set on g1 itself.
	in_g sysctl -qw net.ipv4.neigh.g1.mcast_solicit=2 \
		net.ipv4.neigh.g1.ucast_solicit=1 \
		net.ipv4.neigh.g1.retrans_time_ms=400 \
		net.ipv6.neigh.g1.mcast_solicit=2 \
		net.ipv6.neigh.g1.ucast_solicit=1 \
		net.ipv6.neigh.g1.retrans_time_ms=400

	ip -n "$NS_C" link set c0 up
	ip -n "$NS_G" link set g0 up
	ip -n "$NS_G" link set g1 up
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_C" route add default via $GW_C
	ip -n "$NS_C" -6 route add default via $GW_C6
	ip -n "$NS_S" route add default via $GW_S
	ip -n "$NS_S" -6 route add default via $GW_S6

	# Both ends reach each other before any scenario starts counting seconds.
	poll 5 in_c ping -c1 -W1 -I $C1 $S1 ||
		{ echo "# topology: IPv4 client -> server does not work" >&2; return 1; }
	poll 5 in_c ping -c1 -W1 -I $C1_6 $S1_6 ||
		{ echo "# topology: IPv6 client -> server does not work" >&2; return 1; }
	# With the module, the gateway's hooks run from the namespace's first packet, not
	# from the daemon's start as NFQUEUE's rules do: a ping above that failed while
	# the links came up (NDP not yet answered, slower under emulation) leaves the
	# server down in the module's table, which the daemon then loads. Start clean.
	if [ "$UPN_SOURCE" = kmod ] && [ -x "$GENLPOKE" ]; then
		local a
		for a in $(in_g "$GENLPOKE" servers 2>/dev/null | awk '{ print $1 }'); do
			echo "# topology: $a was down in the module after set-up; set up" >&2
			in_g "$GENLPOKE" set-server "$a" up >/dev/null 2>&1 || true
		done
	fi
}

# nms_up: the NMS namespace (see the drawing above), after topo_up. IPv4 only: the
# NMS talks to the gateway's own addresses (Dovecot, Postfix's forwarder on $GW_S),
# which it reaches through INPUT, never FORWARD, and gets traps from the server and
# clients, UDP, which upnotifyd's rules never queue. The link never fails, so it keeps
# the default neighbour timers; topo_down removes the namespace with the others.
nms_up() {
	ip netns add "$NS_N"
	ip -n "$NS_N" link set lo up
	ip -n "$NS_N" link add n0 type veth peer name g2 netns "$NS_G"
	ip -n "$NS_N" addr add $NMS/25 dev n0
	ip -n "$NS_G" addr add $GW_N/25 dev g2
	ip -n "$NS_N" link set n0 up
	ip -n "$NS_G" link set g2 up
	ip -n "$NS_N" route add default via $GW_N
	# The gateway's own address on the server side, and the server through it.
	poll 5 in_n ping -c1 -W1 $GW_S ||
		{ echo "# topology: NMS -> gateway ($GW_S) does not work" >&2; return 1; }
	poll 5 in_n ping -c1 -W1 $S1 ||
		{ echo "# topology: NMS -> server does not work" >&2; return 1; }
}

# Processes left in a namespace survive `ip netns del`; end them by pid first.
ns_kill_all() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null) || return 0
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

topo_down() {
	local ns
	# NS_N exists only after nms_up; for the others both calls do nothing.
	for ns in "$NS_C" "$NS_G" "$NS_S" "$NS_N"; do
		ns_kill_all "$ns"
		ip netns del "$ns" 2>/dev/null || true
	done
}

# Unplugging the server: s0 goes administratively down, g1 loses its carrier. The
# server keeps its IPv6 addresses (keep_addr_on_down, set in topo_up) but loses its
# default routes, so bringing it back restores them.
server_link_down() { ip -n "$NS_S" link set s0 down; }
server_link_up() {
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_S" route replace default via $GW_S
	ip -n "$NS_S" -6 route replace default via $GW_S6
}

# server_drop_syns [ADDR...]: the server silently drops every SYN (to ADDR only, if
# given; v4 and v6): no RST, no ICMP. server_accept_syns undoes it.
server_drop_syns() { server_syn_rules -A "$@"; }
server_accept_syns() { server_syn_rules -D "$@"; }
server_syn_rules() {
	local op=$1 a
	shift
	if [ $# -eq 0 ]; then
		in_s iptables "$op" INPUT -p tcp --syn -j DROP
		in_s ip6tables "$op" INPUT -p tcp --syn -j DROP
		return
	fi
	for a in "$@"; do
		case $a in
		*:*) in_s ip6tables "$op" INPUT -d "$a" -p tcp --syn -j DROP ;;
		*) in_s iptables "$op" INPUT -d "$a" -p tcp --syn -j DROP ;;
		esac
	done
}

# server_listen PORT: a TCP service on every server address; ends with the namespace.
server_listen() {
	in_s socat TCP6-LISTEN:"$1",ipv6only=0,reuseaddr,fork SYSTEM:'echo upnotify-test' \
		</dev/null >/dev/null 2>&1 8>&- 9>&- &
	poll 5 listening "$1"
}
listening() { [ -n "$(in_s ss -Htln "sport = :$1")" ]; }

# --- clients ----------------------------------------------------------------------

# syn_from CLIENT SERVER PORT: one connect attempt from CLIENT, given up after
# T_CONNECT s (before the first SYN retransmission at 1 s, so one SYN leaves). The
# outcome does not matter to the caller and never fails the script.
syn_from() {
	in_c timeout $((3 * UPN_TIME_SCALE)) socat -T1 /dev/null \
		"TCP:$(bracket "$2"):$3,bind=$(bracket "$1"),connect-timeout=$T_CONNECT" \
		>/dev/null 2>&1 || true
}

# connect_ok CLIENT SERVER PORT: a full TCP connection that reads the service's line
# (its time limits stretched by UPN_TIME_SCALE: the service forks a shell per client).
connect_ok() {
	local out s=$UPN_TIME_SCALE
	out=$(in_c timeout $((5 * s)) socat -T$((2 * s)) - \
		"TCP:$(bracket "$2"):$3,bind=$(bracket "$1"),connect-timeout=$((2 * s))" \
		</dev/null 2>/dev/null) || return 1
	[ "$out" = upnotify-test ]
}

bracket() {
	case $1 in
	*:*) echo "[$1]" ;;
	*) echo "$1" ;;
	esac
}

# --- the daemon -------------------------------------------------------------------

write_config() {
	cat >"$CONF" <<-CONF
	[detect]
	source = $CFG_SOURCE
	watch = $CFG_WATCH
	ignore_clients = $CFG_IGNORE
	syn_timeout = $CFG_SYN_TIMEOUT
	count_refused = $CFG_COUNT_REFUSED
	queue = $CFG_QUEUE
	[waitlist]
	per_server_max = $CFG_PER_SERVER_MAX
	total_max = $CFG_TOTAL_MAX
	only_known_clients = $CFG_ONLY_KNOWN
	[store]
	path = $DB
	${CFG_MAX_WAIT:+max_wait = $CFG_MAX_WAIT}
	[control]
	socket = $SOCK
	[clients]
	$CFG_CLIENTS
	CONF
	[ -z "$CFG_RECOVERY" ] || printf '[recovery]\n%s\n' "$CFG_RECOVERY" >>"$CONF"
	[ -z "$CFG_MAIL" ] || printf '[mail]\n%s\n' "$CFG_MAIL" >>"$CONF"
}

# A child that has exited stays a zombie until waited for, and kill -0 still
# succeeds on it; so "alive" means "exists and is not a zombie".
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*) return 1 ;; esac
}

# The daemon_* functions keep DAEMON_PID and wait for the daemon: call them from the
# script itself, never inside $(...), a pipeline or check, which run in a subshell.

# daemon_start: write the config from the CFG_* variables, start upnotifyd in the
# gateway namespace and wait until its control socket answers.
daemon_start() {
	local end
	write_config
	echo "--- upnotifyd start $(date +%T.%N) source=$CFG_SOURCE" >>"$DLOG"
	ip netns exec "$NS_G" "$UPNOTIFYD" -c "$CONF" -f </dev/null >>"$DLOG" 2>&1 8>&- 9>&- &
	DAEMON_PID=$!
	end=$(($(now_ms) + T_READY * 1000))
	while :; do
		if ! alive "$DAEMON_PID"; then
			local rc=0
			wait "$DAEMON_PID" || rc=$?
			DAEMON_PID=
			fail "upnotifyd starts (source $CFG_SOURCE)" "it exited with status $rc" \
				"config:" "$(sed 's/^/  /' "$CONF")"
			return 1
		fi
		ctl status --json >/dev/null 2>&1 && return 0
		if [ "$(now_ms)" -ge "$end" ]; then
			fail "upnotifyd starts (source $CFG_SOURCE)" \
				"upnotifyctl status did not succeed within $T_READY s"
			return 1
		fi
		sleep 0.1
	done
}

# daemon_stop: SIGTERM and wait; returns the daemon's exit status (1 if it had to be
# killed after T_STOP s).
daemon_stop() {
	local pid=$DAEMON_PID rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! poll "$T_STOP" not alive "$pid"; then
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		DAEMON_PID=
		echo "# upnotifyd ignored SIGTERM for $T_STOP s; killed"
		return 1
	fi
	wait "$pid" || rc=$?
	DAEMON_PID=
	echo "--- upnotifyd exited with status $rc" >>"$DLOG"
	return $rc
}

daemon_kill9() {
	local pid=$DAEMON_PID
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	DAEMON_PID=
	echo "--- upnotifyd killed with SIGKILL $(date +%T.%N)" >>"$DLOG"
}

not() { ! "$@"; }

# ctl ARGS...: upnotifyctl in the gateway namespace, bounded in time.
ctl() { ip netns exec "$NS_G" timeout "$T_CTL" "$UPNOTIFYCTL" -s "$SOCK" "$@"; }

# --- what the daemon shows --------------------------------------------------------

# wl_entry SERVER CLIENT: that client's entry in SERVER's waitlist (JSON), or fail.
wl_entry() {
	ctl waitlist --json | jq -ec --arg s "$1" --arg c "$2" \
		'first(.[] | select(.server == $s) | .clients[] | select(.client == $c))'
}

# wl_has SERVER CLIENT [CAUSE|CAUSE...]: the client is on SERVER's waitlist (with one
# of the causes, if given).
wl_has() {
	local e
	e=$(wl_entry "$1" "$2") || return 1
	[ $# -ge 3 ] || return 0
	echo "$e" | jq -e --arg re "^($3)\$" '.cause | test($re)' >/dev/null
}

# wl_field SERVER CLIENT FIELD: one field of the entry, raw.
wl_field() { wl_entry "$1" "$2" | jq -r --arg f "$3" '.[$f]'; }

# wl_field_is SERVER CLIENT FIELD VALUE
wl_field_is() {
	local v
	v=$(wl_field "$1" "$2" "$3") || return 1
	[ "$v" = "$4" ] || { echo "$3 is $v, expected $4"; return 1; }
}

# wl_jq FILTER [jq options]: the waitlist JSON satisfies FILTER.
wl_jq() {
	local f=$1
	shift
	ctl waitlist --json | jq -e "$@" "$f" >/dev/null
}

# status_jq FILTER [jq options]: `upnotifyctl status --json` satisfies FILTER.
status_jq() {
	local f=$1
	shift
	ctl status --json | jq -e "$@" "$f" >/dev/null
}

# wl_state SERVER: "down", "refusing", "up"; fails if the server is not listed.
wl_state() {
	ctl waitlist --json | jq -er --arg s "$1" 'first(.[] | select(.server == $s)) | .state'
}

# wl_state_is SERVER STATE
wl_state_is() { [ "$(wl_state "$1")" = "$2" ]; }

# wl_attempts_ge SERVER CLIENT N
wl_attempts_ge() {
	local a
	a=$(wl_field "$1" "$2" attempts) || return 1
	[ "$a" -ge "$3" ] 2>/dev/null
}

# The waitlist in a stable order, for before/after comparisons.
wl_sorted() {
	ctl waitlist --json |
		jq -S 'map(.clients |= sort_by(.client)) | sort_by(.server)'
}

# Is TIME an RFC 3339 date-time between FROM and TO (epoch seconds, inclusive)?
rfc3339_between() {
	local t=$1 s
	[[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$ ]] ||
		return 1
	s=$(date -d "$t" +%s) || return 1
	[ "$s" -ge "$2" ] && [ "$s" -le "$3" ]
}

counters() { ctl status --json | jq -c '.counters'; }

# counter_sum REGEX: the sum of the counters whose names match REGEX.
counter_sum() {
	ctl status --json |
		jq -e --arg re "$1" '[.counters | to_entries[] | select(.key | test($re; "i")) | .value] | add // 0'
}

# counter_above REGEX N: that sum has grown beyond N.
counter_above() {
	local v
	v=$(counter_sum "$1") || return 1
	[ "$v" -gt "$2" ]
}

# --- rules on the gateway ---------------------------------------------------------

# Every iptables/ip6tables/nft rule of the gateway, without packet counters.
rules_snapshot() {
	{
		in_g iptables-save
		in_g ip6tables-save
		in_g nft list ruleset
	} 2>&1 | grep -v '^#' |
		sed -E 's/\[[0-9]+:[0-9]+\]/[0:0]/g; s/counter packets [0-9]+ bytes [0-9]+/counter/g'
}

# --- recovery and mail: scenarios 12-18 and the demo --------------------------------
#
# The real parts run where they would on a real network: a private Postfix
# (tests/lib/postfix.sh) on the gateway's loopback, where upnotifyd's mailer reaches it
# as $MAIL_RELAY; net-snmp's snmpd as the server's own agent in the server namespace,
# which sends a coldStart trap to the gateway as it starts (trap2sink); snmptrap and
# snmpinform from either end for the traps a test crafts. Everything started here is
# stopped by cleanup (at_cleanup), on failure too, and keeps its files in UPN_TMP
# (Postfix in its own PF_DIR, removed by pf_stop).

. "$UPN_ROOT/tests/lib/postfix.sh"

PF_ADDR=127.0.0.1
PF_PORT=2525
MAIL_RELAY=smtp://$PF_ADDR:$PF_PORT
MAIL_FROM=upnotify@example.test
SNMP_PORT=10162
SNMP_COMMUNITY=upn-test-community
SNMPD_PID=

# require_tools CMD...: like require_env's check of the tools: scripts/deps.sh
# installs them, so a missing one is a failure, not a skip.
require_tools() {
	local b
	for b in "$@"; do
		if ! command -v "$b" >/dev/null; then
			echo "not ok 1 - $b installed (scripts/deps.sh)"
			echo "1..1"
			exit 1
		fi
	done
}

# [mail] for a test: fast retries, so that nothing waits for minutes.
# cfg_mail [RELAY...]: the relays in order ($MAIL_RELAY if none).
cfg_mail() {
	CFG_MAIL="relay = ${*:-$MAIL_RELAY}
from = $MAIL_FROM
retry_min = 1s
retry_max = 2s
relay_retry = 1s"
}

# cfg_recovery KEY=VALUE...: [recovery] with every signal off but the ones given, e.g.
# `cfg_recovery probe=yes rise=3`; traps are on when snmp_listen is given.
cfg_recovery() {
	local kv probe=no neigh=no extra=
	for kv in "$@"; do
		case $kv in
		probe=*) probe=${kv#*=} ;;
		neigh=*) neigh=${kv#*=} ;;
		*) extra="$extra
${kv%%=*} = ${kv#*=}" ;;
		esac
	done
	CFG_RECOVERY="probe = $probe
neigh = $neigh$extra"
}

# Named cleanups, run in reverse order by cleanup before the namespaces go.
UPN_CLEANUPS=()
at_cleanup() { UPN_CLEANUPS+=("$*"); }
run_cleanups() {
	local i
	for ((i = ${#UPN_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${UPN_CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	UPN_CLEANUPS=()
}

# gw_pf_start [PORT]: pf_start in the gateway namespace on $PF_ADDR, so that the
# daemon's mailer and nothing else reaches it; sets PF_DIR, PF_MAILDIR, PF_LOG. Like
# daemon_start, call it from the script itself, never inside check or $(...).
gw_pf_start() {
	local port=${1:-$PF_PORT} out rc=0
	# pf_start runs inside the namespace; the one thing it tells back is its PF_DIR.
	out=$(in_g bash -c '. "$1"; pf_start "$2" "$3" >&2; rc=$?; echo "$PF_DIR"; exit $rc' \
		gw_pf_start "$UPN_ROOT/tests/lib/postfix.sh" "$PF_ADDR" "$port" \
		</dev/null 8>&- 9>&-) || rc=$?
	PF_DIR=$(tail -n 1 <<<"$out")
	if [ -n "$PF_DIR" ]; then
		PF_LOG=$PF_DIR/maillog
		PF_MAILDIR=$PF_DIR/mail/example.test/all
		PF_STARTED=1
		# master(8) is signalled through its pid file: pf_stop works from here.
		at_cleanup pf_stop
	fi
	if [ "$rc" -ne 0 ] || [ -z "$PF_DIR" ]; then
		fail "postfix starts in the gateway namespace on $PF_ADDR:$port" "$out"
		return 1
	fi
}

# pf_queue_empty: Postfix holds no message it has yet to deliver.
pf_queue_empty() { postqueue -c "$PF_DIR/etc" -p 2>&1 | grep -q 'Mail queue is empty'; }

# --- the messages delivered --------------------------------------------------------

mail_files() {
	local f
	for f in "$PF_MAILDIR"/new/* "$PF_MAILDIR"/cur/*; do
		[ -f "$f" ] && printf '%s\n' "$f"
	done
	return 0
}

# mail_count_ge N: at least N messages delivered (for wait_for and poll).
mail_count_ge() { [ "$(pf_count)" -ge "$1" ]; }

# mail_index: one line per delivered message, "to<TAB>message-id<TAB>subject<TAB>file",
# header names matched without case, folded lines unfolded, angle brackets kept.
mail_index() {
	local files
	files=$(mail_files)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	awk '
	function flush() {
		if (prev != "")
			printf "%s\t%s\t%s\t%s\n", h["to"], h["message-id"], h["subject"], prev
		delete h
	}
	FNR == 1 { flush(); inhdr = 1; last = ""; prev = FILENAME }
	inhdr && /^$/ { inhdr = 0; next }
	inhdr && /^[ \t]/ { if (last != "" && last in h) { sub(/^[ \t]+/, " "); h[last] = h[last] $0 }; next }
	inhdr {
		n = index($0, ":"); if (!n) next
		last = tolower(substr($0, 1, n - 1)); v = substr($0, n + 1); sub(/^[ \t]+/, "", v)
		if (last in h) last = ""; else h[last] = v
	}
	END { flush() }' $files
}

# mail_count_to ADDR: messages whose To header is ADDR.
mail_count_to() { mail_index | awk -F'\t' -v a="$1" 'tolower($1) == tolower(a)' | wc -l; }

# mail_file_to ADDR: the (first) message to ADDR.
mail_file_to() { mail_index | awk -F'\t' -v a="$1" 'tolower($1) == tolower(a) { print $4; exit }'; }

# mail_recipients: the To of every message, sorted, one a line (duplicates kept).
mail_recipients() { mail_index | cut -f1 | sort; }

# mail_count_about ADDR SERVER: messages to ADDR whose Subject names SERVER.
mail_count_about() {
	mail_index | awk -F'\t' -v a="$1" -v s="$2" \
		'tolower($1) == tolower(a) && (index($3 " ", s " ") || index($3, s ")")) { n++ }
		END { print n + 0 }'
}

# mail_about_is ADDR SERVER N: N messages to ADDR about SERVER (for wait_for).
mail_about_is() { [ "$(mail_count_about "$1" "$2")" -eq "$3" ]; }

# mail_header FILE NAME: the first NAME header of FILE, unfolded; 1 if there is none.
mail_header() {
	awk -v want="$(tr 'A-Z' 'a-z' <<<"$2")" '
	/^$/ { exit }
	/^[ \t]/ { if (found == 1) { sub(/^[ \t]+/, " "); v = v $0 }; next }
	{ if (found == 1) { found = 2; exit }
	  n = index($0, ":"); if (n && tolower(substr($0, 1, n - 1)) == want) {
		found = 1; v = substr($0, n + 1); sub(/^[ \t]+/, "", v) } }
	END { if (found) { print v; exit 0 } exit 1 }' "$1"
}

# mail_body FILE: what follows the header.
mail_body() { awk 'body { print } /^$/ { body = 1 }' "$1"; }

# --- SNMP ---------------------------------------------------------------------------

# snmp_in NS CMD ARGS...: a net-snmp tool in a namespace, reading no config of this
# machine's and keeping its state (engine boots, ...) in UPN_TMP; numeric OIDs, no MIBs.
snmp_in() {
	local ns=$1
	shift
	mkdir -p "$UPN_TMP/snmp-tools/cert_indexes"
	ip netns exec "$ns" env SNMPCONFPATH="$UPN_TMP/snmp-tools" \
		SNMP_PERSISTENT_DIR="$UPN_TMP/snmp-tools" MIBS= MIBDIRS=/nonexistent \
		timeout 15 "$@" </dev/null
}

# snmpd_start [CONFIG LINE...]: net-snmp's snmpd as the server's agent, in the server
# namespace on $S1 (port 1161: nothing to do with the test), with a private config;
# without lines, `trap2sink $GW_S:$SNMP_PORT $SNMP_COMMUNITY`, which makes it send a
# v2c coldStart to the gateway as it starts, as every snmpd does. Sets SNMPD_PID and
# returns at once; its log is $UPN_TMP/snmpd/snmpd.log.
snmpd_start() {
	local dir=$UPN_TMP/snmpd
	mkdir -p "$dir/state/cert_indexes"
	{
		echo "agentAddress udp:$S1:1161"
		echo "rocommunity public 127.0.0.1"
		if [ $# -eq 0 ]; then
			echo "trap2sink $GW_S:$SNMP_PORT $SNMP_COMMUNITY"
		else
			printf '%s\n' "$@"
		fi
	} >"$dir/snmpd.conf"
	# The persistent directory is not the config's: snmpd rewrites its snmpd.conf.
	ip netns exec "$NS_S" env SNMP_PERSISTENT_DIR="$dir/state" MIBS= MIBDIRS=/nonexistent \
		snmpd -f -Lf "$dir/snmpd.log" -C -c "$dir/snmpd.conf" -p "$dir/snmpd.pid" \
		</dev/null >>"$dir/snmpd.log" 2>&1 8>&- 9>&- &
	SNMPD_PID=$!
	at_cleanup snmpd_stop
}

# snmpd_stop: SIGTERM (it sends its shutdown notification on the way out) and wait.
snmpd_stop() {
	local pid=$SNMPD_PID
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	poll 5 not alive "$pid" || kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	SNMPD_PID=
}

# OIDs, numeric: no MIB files are needed anywhere.
OID_COLDSTART=1.3.6.1.6.3.1.1.5.1
OID_LINKDOWN=1.3.6.1.6.3.1.1.5.3
OID_TRAPADDRESS=1.3.6.1.6.3.18.1.3.0	# snmpTrapAddress.0 (SNMP-COMMUNITY-MIB)
OID_NETSNMP=1.3.6.1.4.1.8072.3.2.10	# a v1 trap's enterprise: net-snmp's Linux agent

# --- counters, the outbox, the store --------------------------------------------------

# between LO N HI: LO <= N <= HI.
between() { [ "$1" -le "$2" ] && [ "$2" -le "$3" ]; }

# counter_is NAME N: the counter NAME (exact) is N.
counter_is() {
	local v
	v=$(ctl status --json | jq -e --arg k "$1" '.counters[$k]') || return 1
	[ "$v" = "$2" ] || { echo "$1 is $v, expected $2"; return 1; }
}

# outbox_jq FILTER [jq options]: `upnotifyctl outbox --json` satisfies FILTER.
outbox_jq() {
	local f=$1
	shift
	ctl outbox --json | jq -e "$@" "$f" >/dev/null
}

# db SQL: a query of the daemon's store, read-only beside the running daemon (WAL);
# rows as "a|b|c".
db() { sqlite3 -cmd '.timeout 5000' -readonly "$DB" "$1"; }

# outbox_rows: every outbox row as "recipient|server|client|cause|state", sorted.
outbox_rows() {
	db "SELECT recipient, server, client, cause, state FROM outbox
		ORDER BY recipient, server, client"
}

# server_gone SERVER: no longer on the waitlist (it recovered, or was never down).
server_gone() { wl_jq 'all(.[]; .server != $s)' --arg s "$1"; }

# --- exit -------------------------------------------------------------------------

cleanup() {
	local rc=$?
	set +e
	trap - EXIT
	# A signal's trap runs inside whatever redirection was active, often poll's
	# >/dev/null: report on the script's own stdout and stderr.
	exec 1>&8 2>&9
	if [ "$rc" -ne 0 ] && [ "$T_FAILED" -eq 0 ]; then
		fail "scenario ran to its end" "it stopped with status $rc${UPN_ERR:+ at $UPN_ERR}"
	fi
	# After a signal (time limit, ^C) the daemon got it too; its end is no news.
	if [ "$rc" -lt 128 ] && [ -n "$DAEMON_PID" ] && ! alive "$DAEMON_PID"; then
		local drc=0
		wait "$DAEMON_PID" || drc=$?
		DAEMON_PID=
		fail "upnotifyd still running at the end" "it exited with status $drc"
	fi
	daemon_kill9
	run_cleanups
	topo_down
	if [ "$T_FAILED" -ne 0 ] && [ -n "${UPN_KEEP:-}" ]; then
		echo "# kept $UPN_TMP"
	else
		rm -rf "$UPN_TMP"
	fi
	tap_end
	exit $?
}

# The script's stdout and stderr, for cleanup (see there). Background children get
# them closed, so that none can keep a runner's pipe open.
exec 8>&1 9>&2
# Where set -e struck, for the report.
trap 'UPN_ERR="line $LINENO: $BASH_COMMAND"' ERR
# A timeout or ^C still cleans up: bash runs the EXIT trap for an `exit`.
trap 'exit 143' TERM
trap 'exit 130' INT

# ---- the portal ----
#
# Scenarios 19 (curl) and 20 (a browser): while a server is down, the daemon answers
# HTTP on its address (tproxy to the transparent listener, PORTAL_PORT in the gateway);
# its own pages live under /.upnotify/, also on the gateway's address ($PORTAL_URL,
# the gateway_url: gateway mode's form and every mail link go there).
#
# http CLIENT METHOD URL [curl args...] makes one request from the client namespace,
# bound to CLIENT, and leaves HTTP_CODE ("000" when nothing came back), HTTP_HDR and
# HTTP_BODY (files of this request only) and HTTP_URL; like daemon_start it sets
# globals, so call it from the script itself, then check what it left:
#
#   http $C2 GET http://$S1/
#   check "503" [ "$HTTP_CODE" = 503 ]
#
# page_* read the HTML of HTTP_BODY (or a FILE) through tests/tools/htmlform.py.

HTMLFORM=$UPN_ROOT/tests/tools/htmlform.py
HTTPLOAD=$UPN_ROOT/tests/tools/httpload.py
PORTAL_PORT=8080
PORTAL_URL=http://$GW_C:$PORTAL_PORT
CFG_PORTAL=		# lines "name = value" for [portal] (cfg_portal sets them)

# cfg_portal KEY=VALUE...: [portal] on, listening on [::]:$PORTAL_PORT for port 80,
# with $PORTAL_URL as gateway_url (so that mails carry their unsubscribe link), and
# the given keys on top (a later key wins).
cfg_portal() {
	local kv
	CFG_PORTAL="enable = yes
ports = 80
listen = [::]:$PORTAL_PORT
gateway_url = $PORTAL_URL"
	for kv in "$@"; do
		CFG_PORTAL="$CFG_PORTAL
${kv%%=*} = ${kv#*=}"
	done
}

# portal_daemon_start: daemon_start with [portal] from CFG_PORTAL. write_config knows
# no [portal]: the section rides after [mail], which it writes last (the portal needs
# [mail] anyway). Call it from the script itself, like daemon_start.
portal_daemon_start() {
	if [ -z "$CFG_MAIL" ] || [ -z "$CFG_PORTAL" ]; then
		fail "portal_daemon_start: cfg_mail and cfg_portal first"
		return 1
	fi
	local CFG_MAIL="$CFG_MAIL
[portal]
$CFG_PORTAL"
	daemon_start
}

# client_addr_add ADDR...: more client addresses on c0 (a /24 or /64 of the topology).
client_addr_add() {
	local a
	for a in "$@"; do
		case $a in
		*:*) ip -n "$NS_C" addr add "$a/64" dev c0 nodad ;;
		*) ip -n "$NS_C" addr add "$a/24" dev c0 ;;
		esac
	done
}

# portal_intercepts SERVER: the daemon has put SERVER into its nft set down4/down6,
# so that connections to it on the portal ports reach the portal.
portal_intercepts() {
	local set=down4
	case $1 in *:*) set=down6 ;; esac
	in_g nft -j list set inet upnotify_portal "$set" 2>/dev/null |
		jq -e --arg a "$1" '[.. | strings] | index($a) != null' >/dev/null
}

HTTP_N=0
HTTP_CODE=
HTTP_HDR=
HTTP_BODY=
HTTP_URL=

# http CLIENT GET|HEAD|POST URL [curl args...]: see above. POST data comes in the
# curl args (--data-urlencode, --data-binary, ...); http_post builds them from fields.
http() {
	local client=$1 method=$2 s=$UPN_TIME_SCALE
	HTTP_URL=$3
	shift 3
	HTTP_N=$((HTTP_N + 1))
	mkdir -p "$UPN_TMP/http"
	HTTP_HDR=$UPN_TMP/http/$HTTP_N.hdr
	HTTP_BODY=$UPN_TMP/http/$HTTP_N.body
	: >"$HTTP_HDR"
	: >"$HTTP_BODY"
	local m=()
	case $method in
	HEAD) m=(-I) ;;
	POST) m=(-X POST) ;;
	esac
	HTTP_CODE=$(in_c curl -s -g "${m[@]}" --interface "$client" --connect-timeout $((3 * s)) \
		--max-time $((10 * s)) -D "$HTTP_HDR" -o "$HTTP_BODY" -w '%{http_code}' \
		"$@" "$HTTP_URL" 2>/dev/null </dev/null) || true
	HTTP_CODE=${HTTP_CODE:-000}
	echo "$(date +%T.%N) $client $method $HTTP_URL -> $HTTP_CODE" >>"$UPN_TMP/http/log"
}

# http_post CLIENT URL NAME=VALUE...: a form post (application/x-www-form-urlencoded),
# each value percent-encoded by curl; NAME may not hold "=".
http_post() {
	local client=$1 url=$2 kv args=()
	shift 2
	for kv in "$@"; do args+=(--data-urlencode "$kv"); done
	[ $# -gt 0 ] || args=(--data-binary '')
	http "$client" POST "$url" "${args[@]}"
}

# http_header NAME [FILE]: the value of the last response's header NAME (the last one
# of that name), CR stripped; 1 if there is none.
http_header() {
	awk -v want="$(tr 'A-Z' 'a-z' <<<"$1")" '
	{ sub(/\r$/, "") }
	/^HTTP\// { v = ""; found = 0 }
	{ n = index($0, ":"); if (n && tolower(substr($0, 1, n - 1)) == want) {
		v = substr($0, n + 1); sub(/^[ \t]+/, "", v); found = 1 } }
	END { if (found) { print v; exit 0 } exit 1 }' "${2:-$HTTP_HDR}"
}

# http_code_is CODE...: the last request's status is one of CODEs (for check).
http_code_is() {
	local c
	for c in "$@"; do [ "$HTTP_CODE" = "$c" ] && return 0; done
	echo "HTTP status $HTTP_CODE, expected $*; $HTTP_URL"
	head -c 600 "$HTTP_BODY" 2>/dev/null
	return 1
}

# page_json [FILE]: what the page says and asks (tests/tools/htmlform.py), parsed
# once per version of the file (a Python start costs a good part of a second on a
# busy machine).
page_json() {
	local f=${1:-$HTTP_BODY} c
	c=$UPN_TMP/pages/$(tr '/' '_' <<<"$f").json
	if [ ! -s "$c" ] || [ "$f" -nt "$c" ]; then
		mkdir -p "$UPN_TMP/pages"
		python3 -S "$HTMLFORM" "$f" >"$c.tmp" && mv "$c.tmp" "$c" || return 1
	fi
	cat "$c"
}

# page_jq FILTER [FILE]: that JSON satisfies FILTER (jq -e); shows it when not.
page_jq() {
	local j
	j=$(page_json "${2:-$HTTP_BODY}") || return 1
	jq -e "$1" <<<"$j" >/dev/null && return 0
	echo "page: $(jq -c '{title, text: .text[:400], forms}' <<<"$j")"
	return 1
}

# page_text_has REGEX [FILE]: the page's visible text matches (extended, no case).
page_text_has() {
	local t
	t=$(page_json "${2:-$HTTP_BODY}" | jq -r .text) || return 1
	grep -Eqi -- "$1" <<<"$t" && return 0
	echo "text: ${t:0:400}"
	return 1
}

# form_field NAME [FILE]: the value of field NAME in the page's first form that has it.
form_field() {
	page_json "${2:-$HTTP_BODY}" |
		jq -er --arg n "$1" 'first(.forms[] | .fields | select(has($n)) | .[$n])'
}

# form_action [FILE]: the action of the page's first post form ("" if it has none).
form_action() {
	page_json "${1:-$HTTP_BODY}" | jq -er 'first(.forms[] | select(.method == "post")) | .action'
}

# url_resolve BASE REF: REF (a form's action) made absolute against the page's URL.
url_resolve() {
	case $2 in
	http://* | https://*) echo "$2" ;;
	/*) echo "$(sed -E 's#^([a-z]+://[^/]+).*#\1#' <<<"$1")$2" ;;
	*) python3 -S -c 'import sys, urllib.parse; print(urllib.parse.urljoin(*sys.argv[1:3]))' \
		"$1" "$2" ;;
	esac
}

# portal_register CLIENT URL NOTIFY MAIL [NAME=VALUE...]: what a person does: get the
# inquiry page at URL from CLIENT, fill in its form (the page's own server and csrf
# fields, notify and mail, the extra fields on top) and post it to the form's action.
# Leaves the answer to the post in HTTP_*; PAGE_CODE and PAGE_BODY are the page's.
# When the page has no form to post, HTTP_CODE is "no form (page CODE)" and HTTP_BODY
# the page, for the check that follows to show.
portal_register() {
	local client=$1 url=$2 notify=$3 mail=$4 action server csrf
	shift 4
	http "$client" GET "$url"
	PAGE_CODE=$HTTP_CODE
	PAGE_BODY=$HTTP_BODY
	# One line: action, server, csrf of the first post form with both fields.
	if ! IFS=$'\t' read -r action server csrf < <(page_json | jq -er \
		'first(.forms[] | select(.method == "post" and (.fields | has("server") and has("csrf")))) |
		[.action, .fields.server, .fields.csrf] | @tsv'); then
		HTTP_CODE="no form (page $PAGE_CODE)"
		return 0
	fi
	http_post "$client" "$(url_resolve "$url" "$action")" "server=$server" "csrf=$csrf" \
		"notify=$notify" "mail=$mail" "$@"
}

# client_entry CLIENT: the client-table entry for exactly CLIENT (/32, /128), as JSON.
client_entry() {
	local len=32
	case $1 in *:*) len=128 ;; esac
	ctl clients list --json | jq -ec --arg a "$1" --arg p "$1/$len" \
		'first(.[] | select(.prefix == $a or .prefix == $p))'
}

# client_mail_is CLIENT MAIL: the table sends CLIENT's mail to MAIL.
client_mail_is() {
	local m
	m=$(client_entry "$1" | jq -r .mail) || { echo "$1 is not in the client table"; return 1; }
	[ "$m" = "$2" ] || { echo "$1's mail is $m, expected $2"; return 1; }
}

# client_absent CLIENT: no entry for exactly CLIENT.
client_absent() { ! client_entry "$1" >/dev/null; }

# mail_in_table MAIL: some client-table entry sends to MAIL.
mail_in_table() { ctl clients list --json | jq -e --arg m "$1" 'any(.[]; .mail == $m)' >/dev/null; }

# mail_link FILE KIND: the first /.upnotify/KIND?t=... link in a delivered message.
mail_link() {
	grep -oE "https?://[^[:space:]<>\"']+/\.upnotify/$2\?t=[A-Za-z0-9._~%=-]+" "$1" | head -n 1 |
		grep .
}

# counter_of NAME: one counter's value (0 when it is not there yet).
counter_of() { ctl status --json | jq -r --arg k "$1" '.counters[$k] // 0'; }

# token_expires TOKEN: the expiry (epoch seconds) signed into a confirmation token
# "k.<payload>.<mac>" (userspace/lib/token.h: the payload is base64url of client and
# server, 17 bytes each, then the expiry, 8 bytes big-endian, then the mail); 1 if it
# does not read so.
token_expires() {
	python3 -S -c '
import base64, sys
kind, p, mac = sys.argv[1].split(".")
b = base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
assert kind == "k" and len(b) > 42 and b[0] in (4, 6) and b[17] in (4, 6)
print(int.from_bytes(b[34:42], "big", signed=True))' "$1" 2>/dev/null
}

# token_forge TOKEN: TOKEN with the first character of its MAC (after the last ".")
# changed: still well-formed, no longer signed.
token_forge() {
	local head=${1%.*} mac=${1##*.} c
	c=${mac:0:1}
	[ "$c" = A ] && c=B || c=A
	echo "$head.$c${mac:1}"
}

# mail_to_ge ADDR N: at least N messages to ADDR delivered (for wait_for).
mail_to_ge() { [ "$(mail_count_to "$1")" -ge "$2" ]; }

# clock_past EPOCH: the clock has passed EPOCH (for poll: waiting for a time, no sleep).
clock_past() { [ "$(date +%s)" -gt "$1" ]; }

# ---- relay lists, upnotify-agent, webhooks, mail commands (scenarios 21-26) ----
#
# The relay mail goes where a real one would: upnotifyd's mailer -> the gateway's
# Postfix -> (PF_MAILBOXES) a Dovecot user's Maildir -> POP3 -> upnotify-agent, which
# sends the figure-8 mails through Postfix again, into $PF_MAILDIR with every other
# client's. Dovecot runs in the gateway namespace on $GW_S ($DV_PORT POP3, $DV_SPORT
# POP3S), so an agent in the server namespace (or the NMS's, nms_up) reaches it as its
# mail server; the same agent reaches Postfix through gw_smtp_forward ($GW_S:$PF_PORT
# -> 127.0.0.1:$PF_PORT, which Postfix counts as mynetworks). Keys are files of mode 0600, "KEYID HEX" lines.

. "$UPN_ROOT/tests/lib/dovecot.sh"

UPNOTIFY_AGENT=$UPN_BUILD/upnotify-agent
RELAYTOOL=$UPN_ROOT/tests/tools/relaytool.py
DV_PORT=1110
DV_SPORT=1995
AGENT_MAIL=agent@srv.example.test
AGENT_PASS='agent pop3 pass'
CFG_RELAY=		# lines for [servers], [relay], [commands]: after [mail]
AGENT_PID=
AGENT_NS=
AGENT_CONF=
AGENT_LOG=$UPN_TMP/agent.log

# relay_keys FILE KEYID...: a key file with a random 32-byte key for each KEYID.
relay_keys() {
	local f=$1 k
	shift
	(umask 077; : >"$f")
	for k in "$@"; do echo "$k $(openssl rand -hex 32)" >>"$f"; done
	chmod 600 "$f"
}

# gw_dv_start: dv_start in the gateway namespace on $GW_S; dv_user first (or after).
gw_dv_start() {
	local out rc=0
	dv_dir || return 1
	out=$(in_g env DV_DIR="$DV_DIR" bash -c '. "$1"; dv_start "$2" "$3" "$4" >&2' \
		gw_dv_start "$UPN_ROOT/tests/lib/dovecot.sh" "$GW_S" "$DV_PORT" "$DV_SPORT" \
		</dev/null 2>&1 8>&- 9>&-) || rc=$?
	DV_STARTED=1
	DV_CERT=$DV_DIR/cert.pem
	at_cleanup dv_stop
	if [ "$rc" -ne 0 ]; then
		fail "dovecot starts in the gateway namespace on $GW_S:$DV_PORT/$DV_SPORT" "$out"
		return 1
	fi
}

# gw_smtp_forward: Postfix (127.0.0.1:$PF_PORT in the gateway) also on $GW_S:$PF_PORT.
gw_smtp_forward() {
	in_g socat TCP-LISTEN:"$PF_PORT",bind=$GW_S,reuseaddr,fork TCP:127.0.0.1:"$PF_PORT" \
		</dev/null >/dev/null 2>&1 8>&- 9>&- &
	at_cleanup "kill $! 2>/dev/null"
	poll 5 in_g bash -c "exec 3<>/dev/tcp/$GW_S/$PF_PORT" ||
		{ fail "an SMTP forwarder on $GW_S:$PF_PORT"; return 1; }
}

# relay_mailbox_start: Dovecot with the agent's user, Postfix delivering $AGENT_MAIL
# (and any PF_MAILBOXES already set) there, the forwarder. Call from the script.
relay_mailbox_start() {
	dv_user agent "$AGENT_PASS" || { fail "dovecot user agent"; return 1; }
	PF_MAILBOXES="${PF_MAILBOXES:-} $AGENT_MAIL $(dv_maildir agent)/"
	export PF_MAILBOXES
	gw_dv_start && gw_pf_start && gw_smtp_forward
}

# relay_daemon_start: daemon_start with CFG_RELAY after [mail] (as portal_daemon_start).
relay_daemon_start() {
	local CFG_MAIL="$CFG_MAIL
$CFG_RELAY"
	daemon_start
}

# agent_conf FILE [SECTION-LINES...]: an agent config; the lines are written as given
# ("[mailbox]", "url = ...", ...).
agent_conf() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

# agent_start NS CONF: upnotify-agent -f in namespace NS; waits until --status answers.
agent_start() {
	AGENT_NS=$1
	AGENT_CONF=$2
	echo "--- upnotify-agent start $(date +%T.%N) in $1" >>"$AGENT_LOG"
	ip netns exec "$AGENT_NS" "$UPNOTIFY_AGENT" -c "$AGENT_CONF" -f \
		</dev/null >>"$AGENT_LOG" 2>&1 8>&- 9>&- &
	AGENT_PID=$!
	[ -n "${AGENT_CLEANUP:-}" ] || { AGENT_CLEANUP=1; at_cleanup agent_stop; }
	if ! poll "$T_READY" agent_status; then
		fail "upnotify-agent starts" "$(tail -n 15 "$AGENT_LOG")"
		return 1
	fi
	if ! alive "$AGENT_PID"; then
		fail "upnotify-agent starts and keeps running" "$(tail -n 15 "$AGENT_LOG")"
		return 1
	fi
}

agent_stop() {
	local pid=$AGENT_PID rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! poll "$T_STOP" not alive "$pid"; then
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		AGENT_PID=
		return 1
	fi
	wait "$pid" || rc=$?
	AGENT_PID=
	echo "--- upnotify-agent exited with status $rc" >>"$AGENT_LOG"
	return $rc
}

agent_kill9() {
	local pid=$AGENT_PID
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	AGENT_PID=
	echo "--- upnotify-agent killed with SIGKILL $(date +%T.%N)" >>"$AGENT_LOG"
}

# agent_status [CONF]: `upnotify-agent --status --json` (the store's counters and the
# outbox's counts, one flat object: "accepted", ..., "outbox.sent"), bounded in time,
# as {"counters": {"accepted": ...}, "outbox": {"queued", "sent", "failed"}}.
agent_status() {
	local out
	out=$(timeout "$T_CTL" "$UPNOTIFY_AGENT" -c "${1:-$AGENT_CONF}" --status --json) || return 1
	jq -ce '{counters: with_entries(select(.key | startswith("outbox.") | not)),
		outbox: (with_entries(select(.key | startswith("outbox."))) |
			with_entries(.key |= ltrimstr("outbox.")))}' <<<"$out"
}

# agent_counter NAME: one of the agent's counters (0 if not there yet).
agent_counter() { agent_status | jq -r --arg k "$1" '.counters[$k] // 0'; }
# agent_counter_is NAME N
agent_counter_is() {
	local v
	v=$(agent_counter "$1") || return 1
	[ "$v" = "$2" ] || { echo "agent counter $1 is $v, expected $2"; return 1; }
}
# agent_jq FILTER [jq options]: the agent's status JSON satisfies FILTER.
agent_jq() {
	local f=$1
	shift
	agent_status | jq -e "$@" "$f" >/dev/null
}

# relay_mail ARGS...: tests/tools/relaytool.py mail (a signed relay mail, CRLF).
relay_mail() { python3 -S "$RELAYTOOL" mail "$@"; }

# smtp_send FROM TO FILE: one message into the gateway's Postfix (curl, from the
# gateway namespace).
smtp_send() {
	in_g curl -s --max-time 10 "smtp://127.0.0.1:$PF_PORT" --mail-from "$1" \
		--mail-rcpt "$2" -T "$3" </dev/null
}

# dv_count_is USER N / dv_count_ge USER N: messages in a Dovecot user's Maildir.
dv_count_is() { [ "$(dv_count "$1")" -eq "$2" ]; }
dv_count_ge() { [ "$(dv_count "$1")" -ge "$2" ]; }

# dv_files USER: the messages in a Dovecot user's Maildir, one path a line.
dv_files() {
	local f d
	d=$(dv_maildir "$1")
	for f in "$d"/new/* "$d"/cur/*; do [ -f "$f" ] && printf '%s\n' "$f"; done
	return 0
}
