# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Shared by the module's tests tests/vm/t-*.sh (run inside the qemu guest by
# tests/vm/suite); sourced after tests/scenarios/lib.sh, whose TAP helpers, topology
# and cleanup they use. Never run on the host: they load and unload the module.

KO=${UPN_KO:-$UPN_ROOT/kmod/upnotify.ko}
PARAMS=/sys/module/upnotify/parameters
GENLPOKE=$UPN_BUILD/tests/tools/genlpoke

# vm_require: the guest, the module file and the test tool, or a TAP bail-out.
vm_require() {
	if [ -z "${UPN_VM:-}" ]; then
		echo "1..0 # SKIP loads kernel modules: run inside tests/vm/run-in-vm (make vm-check)"
		exit 0
	fi
	local f
	for f in "$KO" "$GENLPOKE"; do
		if [ ! -f "$f" ]; then
			echo "not ok 1 - $f exists (make kmod; make build/tests/tools/genlpoke)"
			echo "1..1"
			exit 1
		fi
	done
}

kmod_loaded() { [ -d /sys/module/upnotify ]; }

# kmod_unload: rmmod if loaded; 1 if it stays loaded.
kmod_unload() {
	kmod_loaded || return 0
	rmmod upnotify || return 1
	! kmod_loaded
}

# kmod_reload [PARAM=VALUE...]: a fresh instance with the given parameters.
kmod_reload() {
	kmod_unload || return 1
	insmod "$KO" "$@"
}

# poke ARGS...: genlpoke in the root namespace; in_g "$GENLPOKE" ... for the gateway.
poke() { timeout 20 "$GENLPOKE" "$@"; }
gpoke() { in_g timeout 20 "$GENLPOKE" "$@"; }

# stat_in NS NAME: one module counter in a namespace.
stat_in() { ip netns exec "$1" timeout 20 "$GENLPOKE" stat "$2"; }

# The kernel log from here on: dmesg_mark, then dmesg_since.
DMESG_MARK=0
dmesg_mark() { DMESG_MARK=$(dmesg | wc -l); }
dmesg_since() { dmesg | tail -n +$((DMESG_MARK + 1)); }

# What counts as a kernel complaint: the suite's final check uses the same.
KERNEL_BAD='WARNING|BUG|Oops|leak|general protection|KASAN|refcount_t|list_(add|del) corruption|Call Trace'

# flood_syns COUNT DST PORT [SRC]: COUNT SYNs from the client namespace, each from
# another source port (hping3 counts the source port up), ~2000 a second.
flood_syns() {
	in_c timeout 60 hping3 -q -S -p "$3" -i u500 -c "$1" ${4:+-a "$4"} "$2" \
		>/dev/null 2>&1 || true
}

# trim TEXT: without leading and trailing blanks (no sed: every exec counts here).
trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}
