#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The kernel module's measurements, run inside the qemu guest that boots the pinned
# Debian kernel (bench/run --only kmod starts it through tests/vm/run-in-vm). The
# topology is bench/lib.sh's: client -- gateway -- server namespaces, the server
# dropping TCP port 80 in raw PREROUTING.
#
# Under software emulation absolute numbers mean nothing; only ratios taken in this
# one boot, with the conditions rotated round by round, count. Four measurements, in
# this order:
#
#   mem     memory per pending SYN with 1,000,000 of them: the cache's object and slot
#           size, and the growth of the kernel's unreclaimable Slab and of vmalloc
#           (where the hash table's 2^21 buckets live) divided by the entries;
#           conntrack's slot beside it. First, while no conntrack entry from the other
#           parts is expiring and shrinking the Slab total under it.
#   udp     small-UDP packets/s forwarded by the gateway: module loaded vs not, and
#           conntrack (an nft `ct state` rule) vs not, and none vs none (noise). The
#           module must cost at most a third of what conntrack costs.
#   syn     SYNs/s forwarded (hping3 --flood, every SYN a new attempt): module vs
#           conntrack tracking them, and module vs module (noise).
#   events  events/s delivered to a listener (genlpoke listen, 8 MiB buffer) with
#           batch_max 16 vs 1, against a server set down, and the events lost
#           (listener overruns, the module's event_fails); and how many events an
#           8 MiB buffer holds when its reader stalls.
#
# Prints a Markdown table on stdout (and into FILE with --out); progress on stderr.
#
# usage: bench/kmod-guest.sh [--rounds N] [--seconds S] [--entries N] [--out FILE]
#                            [--only udp|syn|mem|events]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=5
SECS=2
ENTRIES=1000000
OUTFILE=
ONLY=all
FILL_SECS=300 # the 1M-entry fill gives up after this long
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--entries) ENTRIES=$2; shift ;;
	--out) OUTFILE=$2; shift ;;
	--only) ONLY=$2; shift ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[[ $ROUNDS =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] ||
	die "--rounds must be 1..20"
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 30 ] ||
	die "--seconds must be 1..30"
[[ $ENTRIES =~ ^[0-9]+$ ]] && [ "$ENTRIES" -ge 1000 ] && [ "$ENTRIES" -le 4000000 ] ||
	die "--entries must be 1000..4000000"
case $ONLY in all | udp | syn | mem | events) ;; *) die "--only: udp, syn, mem or events" ;; esac
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }

KO=kmod/upnotify.ko
TOOLS=build/bench/tools
POKE=build/tests/tools/genlpoke
[ "$(id -u)" -eq 0 ] || die "needs root"
[ -f "$KO" ] || die "$KO missing: make kmod"
for t in "$TOOLS/udpblast" "$TOOLS/udpsink" "$POKE"; do
	[ -x "$t" ] || die "$t missing: make bench"
done
for c in hping3 nft iptables insmod rmmod modprobe; do
	command -v $c >/dev/null || die "$c missing: scripts/deps.sh"
done
[ "${UPN_VM:-0}" = 1 ] || log "note: not in tests/vm/run-in-vm's guest; this loads $KO here"
START=$(date +%s)

TMP=$(mktemp -d /tmp/upnotify-kbench.XXXXXX)
cleanup() {
	set +e
	reap_all
	topology_down
	mod_unload
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mod_loaded() { [ -d /sys/module/upnotify ]; }
mod_load() { mod_loaded || insmod "$KO" "$@"; }
mod_unload() { if mod_loaded; then rmmod upnotify; fi; }
stat_of() { in_gw "$POKE" stat "$1"; }

# conntrack in the gateway namespace: one nft `ct state` rule that makes every
# forwarded packet go through it, as a stateful firewall's would.
ct_on() {
	in_gw nft -f - <<-EOF
		table ip upnbct {
			chain fw {
				type filter hook forward priority 0; policy accept;
				ct state established,related,new counter accept
			}
		}
	EOF
}
ct_off() { in_gw nft delete table ip upnbct 2>/dev/null || true; }

# Put the gateway in condition $1: none, kmod or ct (a trailing 2 is the same thing
# again, for the A/A rows). The module is loaded fresh for each kmod run, with the
# default syn_timeout_ms (30 s) and a max_pending no run can fill.
# Every process is slow under emulation, so only what changes is touched.
CT=0
ct_set() {
	if [ "$1" = 1 ] && [ $CT = 0 ]; then ct_on; fi
	if [ "$1" = 0 ] && [ $CT = 1 ]; then ct_off; fi
	CT=$1
}
condition() {
	case ${1%2} in
	none) mod_unload; ct_set 0 ;;
	kmod) ct_set 0; mod_unload; mod_load max_pending=4000000 ;;
	ct) mod_unload; ct_set 1 ;;
	*) die "condition $1?" ;;
	esac
}

# Packets the server's eth0 received, read through a process of the server namespace
# (the sink, up for the whole run) rather than by entering it: UDP datagrams, or SYNs
# (which its raw table then drops).
SINK=
srv_rx() {
	awk -F: '$1 ~ /eth0$/ { split($2, a, " "); print a[2] }' "/proc/$SINK/net/dev"
}

# One UDP round in condition $1: "pkt/s pkt/cpu-s", packets the server received per
# second of udpblast's wall time and per CPU-second of udpblast (on veth that is the
# whole path's softirq work).
udp_round() {
	local kind=$1 r0 r1 t0 t1 cpu
	condition "$kind"
	r0=$(srv_rx)
	t0=$(now)
	in_cli timeout $((SECS + 10)) "$TOOLS/udpblast" -d "$SRV4" -p "$UDP_PORT" -s 64 \
		-t "$SECS" >"$TMP/blast.out" 2>&1 || true
	t1=$(now)
	sleep 0.1
	r1=$(srv_rx)
	cpu=$(awk '$1 == "cpu_us" { print $2 }' "$TMP/blast.out")
	awk -v n=$((r1 - r0)) -v t0="$t0" -v t1="$t1" -v c="${cpu:-0}" \
		'BEGIN { printf "%.0f %.0f\n", n / (t1 - t0), (c > 0 ? n / (c / 1e6) : 0) }'
}

# One SYN round in condition $1: SYNs/s that reached the server.
syn_round() {
	local kind=$1 s0 s1 t0 t1
	condition "$kind"
	s0=$(srv_rx)
	t0=$(now)
	in_cli timeout "$SECS" hping3 -q -S -p "$SYN_PORT" --flood "$SRV4" >/dev/null 2>&1 || true
	t1=$(now)
	sleep 0.1
	s1=$(srv_rx)
	if [ "${kind%2}" = kmod ]; then
		log "  $kind: $(in_gw "$POKE" stats | grep -E '^(syns_tracked|table_full)=' | tr '\n' ' ')"
	fi
	awk -v n=$((s1 - s0)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f\n", n / (t1 - t0) }'
}

# Rounds of FN over the conditions in $@ after one discarded warm-up run of each, the
# order rotated each round (ABC, BCA, CAB, ...); one file of results per condition in
# $TMP/FN.KIND, a line a round.
rounds() {
	local fn=$1 i j n k
	shift
	local kinds=("$@")
	n=${#kinds[@]}
	for k in "${kinds[@]}"; do
		: >"$TMP/$fn.$k"
		"$fn" "$k" >/dev/null
	done
	for ((i = 0; i < ROUNDS; i++)); do
		for ((j = 0; j < n; j++)); do
			k=${kinds[$(((i + j) % n))]}
			"$fn" "$k" >>"$TMP/$fn.$k"
		done
		log "$fn round $((i + 1)): $(for k in "${kinds[@]}"; do
			printf '%s=%s ' "$k" "$(tail -n1 "$TMP/$fn.$k" | tr ' ' /)"
		done)"
	done
	condition none
}

# Per-round ratios B/A of column COL (1-based): FN A B COL.
ratios() {
	paste -d' ' <(cut -d' ' -f"$4" "$TMP/$1.$2") <(cut -d' ' -f"$4" "$TMP/$1.$3") |
		awk '$1 > 0 { printf "%.4f\n", $2 / $1 }'
}
ratio() { ratios "$@" | median; }
range() { ratios "$@" | minmax; }
med() { cut -d' ' -f"$3" "$TMP/$1.$2" | median; }
# yes/NO: awk condition on r.
verdict() { awk -v r="$1" "BEGIN { print ($2) ? \"yes\" : \"NO\" }"; }
fmt() { awk -v r="$1" 'BEGIN { printf "%.3f", r }'; }

ROWS=()
# measurement | A | B | B/A (range) | target | met
row() { ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); }

# conntrack big enough for every run (its defaults would drop SYNs once full, which
# would not be a fair comparison); nf_conntrack_max is only writable here, in the
# initial namespace. The listener's 8 MiB needs rmem_max.
modprobe nf_conntrack hashsize=262144 2>/dev/null || modprobe nf_conntrack || true
sysctl -qw net.netfilter.nf_conntrack_max=4194304 2>/dev/null || log "note: nf_conntrack_max not set"
sysctl -qw net.core.rmem_max=16777216
mod_unload
topology_up
# The sink: up for the whole run (bounded), so that no datagram is refused with an
# ICMP error, and the handle on the server namespace's counters.
spawn "$NS_SRV" "$TMP/sink.out" "$TMP/sink.err" "$TOOLS/udpsink" -l "$SRV4" -p "$UDP_PORT" \
	-i 1000000 -t 1500
SINK=$SPAWNED
wait_for_line "$TMP/sink.err" listening "$SINK" || die "udpsink did not start"

# --- mem -----------------------------------------------------------------------------
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
}
if want mem; then
	# Random sources, so that every SYN is a new attempt; a timeout longer than the
	# fill, and a cap above the count. Two senders, one per vCPU.
	log "mem: $ENTRIES pending IPv4 SYNs (at most ${FILL_SECS}s)"
	ct_set 0
	mod_unload
	mod_load max_pending=$((ENTRIES + ENTRIES / 20)) syn_timeout_ms=3600000
	OBJ=$(dmesg | sed -n 's/.*upnotify: loaded:.*entry sizes \([0-9]*\) (IPv4).*/\1/p' | tail -n1)
	SLAB_DIR=/sys/kernel/slab/upn_pend4
	SLOT=$(cat $SLAB_DIR/slab_size 2>/dev/null || echo -)
	MERGED=$(readlink $SLAB_DIR 2>/dev/null || echo "not merged")
	settle
	s0=$(meminfo SUnreclaim)
	a0=$(meminfo Slab)
	k0=$(meminfo VmallocUsed)
	t0=$(now)
	fill=()
	# hping3 itself, not under timeout(1): it is slow to die of SIGTERM in a flood, and
	# the loop below bounds it and kills it.
	for _ in 1 2; do
		spawn "$NS_CLI" /dev/null /dev/null hping3 -q -S -p "$SYN_PORT" --flood \
			--rand-source "$SRV4"
		fill+=("$SPAWNED")
	done
	fill_end=$((SECONDS + FILL_SECS))
	next_log=$((SECONDS + 15))
	while [ $SECONDS -lt $fill_end ]; do
		sleep 1
		PENDING=$(stat_of pending)
		[ "$PENDING" -ge "$ENTRIES" ] && break
		if [ $SECONDS -ge $next_log ]; then
			log "  mem: $PENDING pending after $((SECONDS + FILL_SECS - fill_end)) s"
			next_log=$((SECONDS + 15))
		fi
	done
	for p in "${fill[@]}"; do reap "$p" KILL 2>/dev/null; done
	t1=$(now)
	sleep 1
	settle
	PENDING=$(stat_of pending)
	FULL=$(stat_of table_full)
	s1=$(meminfo SUnreclaim)
	a1=$(meminfo Slab)
	k1=$(meminfo VmallocUsed)
	log "mem: $PENDING pending (table_full $FULL) after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s;" \
		"Slab +$((a1 - a0)) kB (unreclaimable +$((s1 - s0)) kB), vmalloc +$((k1 - k0)) kB; cache $MERGED"
	PER=$(awk -v a="$s0" -v b="$s1" -v n="$PENDING" 'BEGIN { if (n) printf "%.1f", (b - a) * 1024 / n }')
	PERK=$(awk -v a="$k0" -v b="$k1" -v n="$PENDING" 'BEGIN { if (n) printf "%.1f", (b - a) * 1024 / n }')
	mod_unload
	# conntrack's slot on this kernel, with conntrack in use.
	ct_set 1
	in_cli ping -c1 -W2 -q "$SRV4" >/dev/null 2>&1 || true
	CT_OBJ=$(cat /sys/kernel/slab/nf_conntrack/object_size 2>/dev/null || echo -)
	CT_SLOT=$(cat /sys/kernel/slab/nf_conntrack/slab_size 2>/dev/null || echo -)
	ct_set 0
	row "memory per pending IPv4 SYN, $PENDING entries" "conntrack: object $CT_OBJ B, slot $CT_SLOT B" \
		"module: object $OBJ B, slot $SLOT B; unreclaimable Slab +$PER B/entry, vmalloc (hash buckets) +$PERK B/entry" \
		"$(awk -v a="$CT_SLOT" -v b="$SLOT" 'BEGIN { if (a > 0) printf "%.3f", b / a; else print "-" }')" \
		"<= 64 B" "$(verdict "$SLOT" "r + 0 > 0 && r <= 64")"
	[ "$PENDING" -ge "$ENTRIES" ] || log "warning: only $PENDING of $ENTRIES entries within ${FILL_SECS}s"
fi

# --- udp -----------------------------------------------------------------------------
if want udp; then
	log "udp: $ROUNDS rounds of ${SECS}s, none / kmod / ct / none2"
	rounds udp_round none kmod ct none2
	R_KMOD=$(ratio udp_round none kmod 1)
	R_CT=$(ratio udp_round none ct 1)
	for c in 1 2; do
		u=$([ $c = 1 ] && echo pkt/s || echo pkt/cpu-s)
		r=$(ratio udp_round none kmod $c)
		row "UDP forwarding, module/none ($u)" "$(med udp_round none $c)" \
			"$(med udp_round kmod $c)" "$(fmt "$r") ($(range udp_round none kmod $c))" \
			"$([ $c = 1 ] && echo ">= 0.97" || echo -)" \
			"$([ $c = 1 ] && verdict "$r" "r >= 0.97" || echo -)"
		r=$(ratio udp_round none ct $c)
		row "UDP forwarding, conntrack/none ($u)" "$(med udp_round none $c)" \
			"$(med udp_round ct $c)" "$(fmt "$r") ($(range udp_round none ct $c))" - -
		r=$(ratio udp_round none none2 $c)
		row "UDP forwarding, none/none, noise ($u)" "$(med udp_round none $c)" \
			"$(med udp_round none2 $c)" "$(fmt "$r") ($(range udp_round none none2 $c))" - -
	done
	# Costs (1 - ratio) are only compared when conntrack's stands out of the noise
	# (the A/A row's distance from 1); otherwise there is nothing to divide.
	R_AA=$(ratio udp_round none none2 1)
	row "UDP: module's cost / conntrack's (pkt/s)" \
		"$(awk -v c="$R_CT" 'BEGIN { printf "conntrack %.1f%%", (1 - c) * 100 }')" \
		"$(awk -v k="$R_KMOD" 'BEGIN { printf "module %.1f%%", (1 - k) * 100 }')" \
		"$(awk -v k="$R_KMOD" -v c="$R_CT" 'BEGIN { if (c < 1) printf "%.2f", (1 - k) / (1 - c); else print "-" }')" \
		"<= 0.33" "$(awk -v k="$R_KMOD" -v c="$R_CT" -v a="$R_AA" 'BEGIN {
			n = a > 1 ? a - 1 : 1 - a
			if (1 - c <= n) print "n/a: conntrack within noise"
			else print ((1 - k) <= (1 - c) / 3) ? "yes" : "NO" }')"
fi

# --- syn -----------------------------------------------------------------------------
if want syn; then
	log "syn: $ROUNDS rounds of ${SECS}s, ct / kmod / kmod2"
	rounds syn_round ct kmod kmod2
	R_SYN=$(ratio syn_round ct kmod 1)
	row "SYN forwarding, module/conntrack (SYN/s)" "$(med syn_round ct 1)" \
		"$(med syn_round kmod 1)" "$(fmt "$R_SYN") ($(range syn_round ct kmod 1))" \
		">= 1.3" "$(verdict "$R_SYN" "r >= 1.3")"
	r=$(ratio syn_round kmod kmod2 1)
	row "SYN forwarding, module/module, noise (SYN/s)" "$(med syn_round kmod 1)" \
		"$(med syn_round kmod2 1)" "$(fmt "$r") ($(range syn_round kmod kmod2 1))" - -
fi

# --- events --------------------------------------------------------------------------
# The server is down for the module, so every SYN to it is an event at once. Random
# sources: every SYN is a new client (a new attempt; a SYN of an attempt already
# pending is a retransmission and no event), as when many clients hit a dead server.
# The module is loaded afresh for each run, so that no run inherits pending entries.
# One run: "ev/s lost multicast received overruns rmem", rmem being the bytes the
# listener's receive queue held when the senders stopped (only telling with a stalled
# reader). $1 batch_max, $2 senders (hping3 floods), $3 listener's --delay (0: none).
event_round() {
	local batch=$1 senders=$2 delay=${3:-0} lis e0 f0 t0 t1 i snd=() rmem
	mod_unload
	mod_load batch_max="$batch" max_pending=4000000
	in_gw "$POKE" set-server "$SRV4" down >/dev/null
	spawn "$NS_GW" "$TMP/lis.out" "$TMP/lis.err" "$POKE" listen --rcvbuf 8388608 \
		--timeout $((SECS + delay + 6)) --delay "$delay"
	lis=$SPAWNED
	wait_for_line "$TMP/lis.out" listening "$lis" || die "genlpoke listen did not start"
	e0=$(stat_of events)
	f0=$(stat_of event_fails)
	t0=$(now)
	for ((i = 0; i < senders; i++)); do
		spawn "$NS_CLI" /dev/null /dev/null timeout "$SECS" hping3 -q -S -p "$SYN_PORT" \
			--flood --rand-source "$SRV4"
		snd+=("$SPAWNED")
	done
	for i in "${snd[@]}"; do await "$i"; done
	t1=$(now)
	sleep 0.3
	# The listener's socket: its port id is its PID (the first netlink socket).
	rmem=$(in_gw awk -v p="$lis" '$3 == p { print $5; exit }' /proc/net/netlink)
	[ "$delay" = 0 ] || log "  stalled listener $lis: Rmem ${rmem:-?} after $(stat_of events) events"
	await "$lis"
	local got over fails sent
	got=$(sed -n 's/.*\bevents=\([0-9]*\).*/\1/p' "$TMP/lis.out" | tail -n1)
	over=$(sed -n 's/.*\boverruns=\([0-9]*\).*/\1/p' "$TMP/lis.out" | tail -n1)
	[ -n "$got" ] || die "genlpoke listen printed no result: $(cat "$TMP/lis.out" "$TMP/lis.err")"
	fails=$(($(stat_of event_fails) - f0))
	sent=$(($(stat_of events) - e0))
	awk -v g="$got" -v o="$over" -v f="$fails" -v s="$sent" -v t0="$t0" -v t1="$t1" \
		-v r="${rmem:-0}" 'BEGIN { printf "%.0f %d %d %d %d %d\n", g / (t1 - t0), o + f, s, g, o, r }'
}
if want events; then
	EV_ROUNDS=$((ROUNDS < 5 ? ROUNDS : 5))
	log "events: $EV_ROUNDS rounds of ${SECS}s, batch_max 1 / 16, 2 senders"
	ct_set 0
	event_round 16 2 >/dev/null # warm-up
	: >"$TMP/ev.1"
	: >"$TMP/ev.16"
	for ((i = 0; i < EV_ROUNDS; i++)); do
		for b in $([ $((i % 2)) = 0 ] && echo "1 16" || echo "16 1"); do
			event_round "$b" 2 >>"$TMP/ev.$b"
		done
		log "events round $((i + 1)): one/skb $(tail -n1 "$TMP/ev.1"), batched $(tail -n1 "$TMP/ev.16")" \
			"(ev/s lost multicast received overruns rmem)"
	done
	E1=$(cut -d' ' -f1 "$TMP/ev.1" | median)
	E16=$(cut -d' ' -f1 "$TMP/ev.16" | median)
	MAX=$(cat "$TMP/ev.1" "$TMP/ev.16" | cut -d' ' -f1 | sort -g | tail -n1)
	L1=$(awk '{ s += $2 } END { print s + 0 }' "$TMP/ev.1")
	L16=$(awk '{ s += $2 } END { print s + 0 }' "$TMP/ev.16")
	N1=$(awk '{ s += $3 } END { print s + 0 }' "$TMP/ev.1")
	N16=$(awk '{ s += $3 } END { print s + 0 }' "$TMP/ev.16")
	paste -d' ' <(cut -d' ' -f1 "$TMP/ev.1") <(cut -d' ' -f1 "$TMP/ev.16") |
		awk '$1 > 0 { printf "%.4f\n", $2 / $1 }' >"$TMP/ev.ratios"
	row "events/s delivered, batched/one per skb" "batch_max 1: $E1" "batch_max 16: $E16" \
		"$(fmt "$(median <"$TMP/ev.ratios")") ($(minmax <"$TMP/ev.ratios"))" - -
	row "events lost (overruns + event_fails), 8 MiB buffer, up to $MAX ev/s" \
		"$L1 of $N1" "$L16 of $N16" - "0" "$([ "$L16" = 0 ] && echo yes || echo NO)"
	# What an event costs in the listener's buffer: a reader that stalls while the
	# senders run, its queue's bytes (Rmem) over the events queued. SO_RCVBUF 8 MiB
	# lets the queue grow to 16 MiB (the kernel doubles it).
	CAP1=$(event_round 1 2 $((SECS + 8)))
	CAP16=$(event_round 16 2 $((SECS + 8)))
	log "events, stalled reader: one/skb $CAP1, batched $CAP16"
	per() { awk -v l="$1" 'BEGIN { split(l, a, " "); if (a[4] - a[5] > 0 && a[6] > 0) printf "%.0f", a[6] / a[4]; else print 0 }'; }
	P1=$(per "$CAP1")
	P16=$(per "$CAP16")
	holds() { awk -v b="$1" 'BEGIN { if (b > 0) printf "%.0f", 16777216 / b; else print "-" }'; }
	row "listener buffer per event (events 8 MiB holds)" "batch_max 1: $P1 B ($(holds "$P1"))" \
		"batch_max 16: $P16 B ($(holds "$P16"))" \
		"$(awk -v a="$P1" -v b="$P16" 'BEGIN { if (a > 0) printf "%.3f", b / a; else print "-" }')" - -
	mod_unload
fi

{
	echo "| measurement | A | B | B/A (range) | target | met |"
	echo "|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "B/A: median of $ROUNDS per-round ratios (runs of ${SECS}s, conditions rotated each round)," \
		"range their span; one boot of $(uname -r) under qemu, $(nproc) vCPUs," \
		"$([ -w /dev/kvm ] && echo KVM || echo software emulation), $(($(meminfo MemTotal) / 1024)) MiB;" \
		"$(date -u +%Y-%m-%d); $(($(date +%s) - START)) s in the guest."
} >"$TMP/table.md"
cat "$TMP/table.md"
[ -z "$OUTFILE" ] || cp "$TMP/table.md" "$OUTFILE"
