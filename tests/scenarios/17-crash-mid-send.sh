#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# kill -9 in the middle of a large send: every recipient still gets its mail, once.
#
#   client 2001:db8:1::2 and 330 more: --SYN--> gw (upnotifyd, postfix     --> server 2001:db8:2::2
#   2001:db8:1::1:1 .. ::1:14a, each          127.0.0.1:2525)                   [DROP SYNs]
#   with an address uN@example.test
#
# The waitlist is filled by real SYNs: 330 addresses on the client's interface, one
# nc each, all at once, after a first SYN has timed out (server down), so each counts
# at once. Addresses come in by `upnotifyctl clients import`. The mailer sends them in
# SMTP sessions of up to 200 messages, a few hundred a second; the kill comes as the
# 100th message reaches the Maildir, in the middle of a session. Then the daemon
# starts again.
#
# Expected: all 331 mails sent and delivered; each recipient's Message-ID is unique to
# it; nothing failed, nothing left queued. A recipient may get a second copy only of
# the message in flight at the kill: Postfix queues a message once it has all of its
# data, whether or not the client is still there to read the 250, and the daemon,
# which never saw that 250, sends it again (RFC 1047). The mailer sends one message
# at a time, so at most one; the copy has the same Message-ID. The count is reported:
# here the kill lands in that window about two times in three, as Postfix takes a few
# milliseconds to answer the end of the data and the daemon none to record it.
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3

N=330
CFG_SYN_TIMEOUT=1s
cfg_recovery
cfg_mail
client_addr() { printf '2001:db8:1::1:%x' "$1"; }

topo_up
gw_pf_start
for i in $(seq 1 $N); do
	printf 'address add %s/64 dev c0 nodad\n' "$(client_addr $i)"
done | ip -n "$NS_C" -batch -
server_drop_syns $S1_6
daemon_start
{
	echo "$C1_6 u0@example.test"
	for i in $(seq 1 $N); do echo "$(client_addr $i) u$i@example.test"; done
} >"$UPN_TMP/clients.txt"
check "$((N + 1)) addresses imported" ctl clients import "$UPN_TMP/clients.txt"

syn_from $C1_6 $S1_6 80
wait_for "$S1_6 is down" 5 wl_state_is $S1_6 down
in_c bash -c 'for i in $(seq 1 '$N'); do
	nc -z -w1 -s "$(printf 2001:db8:1::1:%x $i)" '$S1_6' 80 & done; wait' >/dev/null 2>&1 || true
wait_for "$((N + 1)) clients wait for $S1_6" 10 \
	wl_jq '[.[].clients[]] | length == $n' --argjson n $((N + 1))

out=$(ctl recover $S1_6 2>&1) || true
check "recover: \"$out\"" grep -qx "$S1_6 recovered: $((N + 1)) mails queued" <<<"$out"
# The mailer sends a few hundred a second here: look without pausing, for 10 s at most.
end=$(($(now_ms) + 10000))
until [ "$(pf_count)" -ge 100 ] || [ "$(now_ms)" -ge "$end" ]; do :; done
daemon_kill9
sent=$(db "SELECT count(*) FROM outbox WHERE state = 'sent'")
delivered=$(pf_count)
diag "killed with $sent of $((N + 1)) recorded sent, $delivered in the Maildir"
check "the kill came mid-send: some sent, not all" between 1 "$sent" $N

daemon_start
all_sent() { [ "$(db "SELECT state, count(*) FROM outbox GROUP BY state")" = "sent|$((N + 1))" ]; }
wait_for "after the restart the outbox is all sent: $((N + 1)) rows" 20 all_sent
wait_for "postfix has delivered at least $((N + 1)) messages" 20 mail_count_ge $((N + 1))
wait_for "... and its queue is empty: nothing more to come" 10 pf_queue_empty

mail_index >"$UPN_TMP/index"
recipients=$(cut -f1 "$UPN_TMP/index" | sort -u | wc -l)
ids=$(cut -f2 "$UPN_TMP/index" | sort -u | wc -l)
pairs=$(cut -f1,2 "$UPN_TMP/index" | sort -u | wc -l)
total=$(wc -l <"$UPN_TMP/index")
dups=$((total - recipients))
diag "messages $total, recipients $recipients, Message-IDs $ids, duplicates $dups"
check "every one of the $((N + 1)) recipients got mail" [ "$recipients" -eq $((N + 1)) ]
check "one Message-ID per recipient" [ "$ids" -eq $((N + 1)) ]
check "... the same on a copy" [ "$pairs" -eq $((N + 1)) ]
check "duplicates: $dups (at most the one in flight at the kill)" [ "$dups" -le 1 ]
want=$(for i in $(seq 0 $N); do echo "u$i@example.test"; done | sort)
check "exactly u0..u$N@example.test" [ "$(cut -f1 "$UPN_TMP/index" | sort -u)" = "$want" ]
