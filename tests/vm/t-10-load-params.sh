#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# kmod/upnotify.ko loads, registers its family, and every knob in
# /sys/module/upnotify/parameters/ takes what it should and refuses the rest with an
# error, leaving its value as it was. Table-driven, one line a case:
#
#   KNOB | good values (space separated) | bad values
#
# A knob the module has and this table does not is reported (and fails), so that a
# new one gets its cases; the table's knobs must all be there. A read-only knob
# (selftest: at load time only) has no good values.
set -e
. "$(dirname "$0")/../scenarios/lib.sh"
. "$(dirname "$0")/lib-vm.sh"
trap cleanup EXIT
vm_require

CASES='
syn_timeout_ms | 100 2000 3600000     | 0 99 3600001 -1 abc 1.5 4294967296
max_pending    | 1 1000 100000        | 0 -1 abc
mode           | gateway host all     | bogus GATEWAY 1 gatewayx
count_refused  | 0 1 Y N y n          | abc 2 -1
batch_max      | 1 16 256             | 0 257 abc
batch_delay_us | 0 1000 1000000       | 1000001 -1 abc
selftest       |                      | 1 0 Y
'

check "insmod kmod/upnotify.ko" kmod_reload
check "the family resolves, version 1, with its events group" \
	bash -c "$GENLPOKE family | grep -Eq '^id=[0-9]+ version=1 events=[1-9][0-9]*$'"
check "GET_STATS answers" poke stats
check "dmesg: the module says it is loaded" bash -c "dmesg | grep -q 'upnotify: loaded'"

# set KNOB VALUE: the write's own status (a refused write fails).
set_knob() { printf '%s' "$2" >"$PARAMS/$1" 2>/dev/null; }

known=
while IFS='|' read -r knob good bad; do
	knob=$(trim "$knob")
	[ -n "$knob" ] || continue
	known="$known $knob"
	if [ ! -e "$PARAMS/$knob" ]; then
		fail "knob $knob exists"
		continue
	fi
	orig=$(cat "$PARAMS/$knob")
	for v in $good; do
		if set_knob "$knob" "$v"; then
			pass "$knob accepts '$v' (reads back $(cat "$PARAMS/$knob"))"
		else
			fail "$knob accepts '$v'"
		fi
	done
	set_knob "$knob" "$orig" || true
	for v in $bad; do
		before=$(cat "$PARAMS/$knob")
		if set_knob "$knob" "$v"; then
			fail "$knob refuses '$v'" "it was accepted; reads back $(cat "$PARAMS/$knob")"
		elif [ "$(cat "$PARAMS/$knob")" != "$before" ]; then
			fail "$knob refuses '$v'" "refused, but the value changed to $(cat "$PARAMS/$knob")"
		else
			pass "$knob refuses '$v' with an error, value unchanged"
		fi
	done
	set_knob "$knob" "$orig" || true
	check "$knob is back to its load-time value $orig" [ "$(cat "$PARAMS/$knob")" = "$orig" ]
done <<<"$CASES"

for f in "$PARAMS"/*; do
	k=$(basename "$f")
	case " $known " in
	*" $k "*) ;;
	*) fail "knob $k has cases in t-10-load-params.sh" "it reads $(cat "$f")" ;;
	esac
done

# A value set as a knob is what a new namespace starts with.
ns=upn$$-knob
set_knob syn_timeout_ms 4321
set_knob mode host
ip netns add "$ns"
at_cleanup "ip netns del $ns"
check "a namespace made after the change starts with syn_timeout_ms 4321, mode host" \
	bash -c "ip netns exec $ns $GENLPOKE get-config | grep -qx syn_timeout_ms=4321 &&
		ip netns exec $ns $GENLPOKE get-config | grep -qx mode=host"
ip netns del "$ns"

check "insmod with parameters: syn_timeout_ms=2500 mode=all max_pending=77" \
	kmod_reload syn_timeout_ms=2500 mode=all max_pending=77
check "... they read back" bash -c "[ \$(cat $PARAMS/syn_timeout_ms) = 2500 ] &&
	[ \$(cat $PARAMS/mode) = all ] && [ \$(cat $PARAMS/max_pending) = 77 ]"
check_not "insmod with syn_timeout_ms=0 is refused" kmod_reload syn_timeout_ms=0
check "rmmod" kmod_unload
check "dmesg: the module says it is unloaded" bash -c "dmesg | grep -q 'upnotify: unloaded'"
check "insmod again, defaults" kmod_reload
