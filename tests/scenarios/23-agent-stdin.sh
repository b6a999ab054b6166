#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# upnotify-agent --stdin, as an MTA's pipe alias runs it (`|upnotify-agent --stdin -c
# ...`): one message on stdin, then it sends what is due and exits. The relay mails
# are made by tests/tools/relaytool.py from the format and signature in the spec, not
# by upnotifyd, so that the two implementations check each other.
#
#   relaytool.py mail ... | upnotify-agent --stdin   (gateway namespace)
#                              └─SMTP─> postfix 127.0.0.1:2525 ─> $PF_MAILDIR
#
# Expected: a good list: exit 0, one mail per client with an address. The same list
# again (replayed), a forged one (body changed after signing), one signed with a key
# the agent does not have, an unsigned one, an expired one (signed 2 days ago, max_age
# 1d), a malformed signature header: each exit 0 (no bounce to a forged sender), each
# counted under rejected.<verdict>, none sends anything. A key file readable by others
# is refused by --check (exit 2, "file:line"-style message).
set -e
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
require_env
require_tools postfix sqlite3 python3
[ -x "$UPNOTIFY_AGENT" ] || { fail "$UPNOTIFY_AGENT exists (run make)"; exit 1; }

KEYS=$UPN_TMP/agent.keys
relay_keys "$KEYS" k1 k2
CONF=$UPN_TMP/agent.conf
agent_conf "$CONF" \
	"[mailbox]" "url =" "poll = 0" "[trap]" "listen =" \
	"[relay]" "key_file = $KEYS" "max_age = 1d" \
	"[clients]" "$C1 = one@example.test" "$C2 = two@example.test" \
	"198.51.100.128/25 = net@example.test" \
	"[mail]" "relay = smtp://127.0.0.1:$PF_PORT" "from = agent@srv.example.test" \
	"retry_min = 1s" "retry_max = 2s" "relay_retry = 1s" \
	"[store]" "path = $UPN_TMP/agent.db"
AGENT_CONF=$CONF

topo_up
gw_pf_start

check "--check: the config is good (exit 0)" in_g "$UPNOTIFY_AGENT" -c "$CONF" --check

# feed NAME FILE: the agent's --stdin on FILE; leaves its status in RC and output in OUT.
feed() {
	RC=0
	OUT=$(in_g timeout 30 "$UPNOTIFY_AGENT" -c "$CONF" --stdin <"$2" 2>&1) || RC=$?
	echo "--- --stdin $1: exit $RC" >>"$AGENT_LOG"
	echo "$OUT" >>"$AGENT_LOG"
}

M=$UPN_TMP/mail
mkdir -p "$M"
relay_mail "$KEYS" k1 --server $S1 --client $C1,80 --client $C2,443 --client 192.0.2.77 \
	--client 198.51.100.200,8080 >"$M/good"
feed good "$M/good"
check "a good list: exit 0" [ "$RC" -eq 0 ] || diag "$OUT"
wait_for "one@, two@ and net@ (the /25) get one mail each" 15 mail_count_ge 3
check "... exactly those" \
	[ "$(mail_recipients | tr '\n' ' ')" = "net@example.test one@example.test two@example.test " ]
check "... about $S1" mail_about_is one@example.test $S1 1
check "... two@'s says port 443" grep -qE "from $C2, port 443[^0-9]" "$(mail_file_to two@example.test)"
check "counted: accepted 1, clients 4, mails 3, no_address 1 (192.0.2.77)" agent_jq \
	'.counters | .accepted == 1 and .clients == 4 and .mails == 3 and .no_address == 1'
check "the outbox: 3 sent" agent_jq '.outbox.sent == 3'

# reject NAME VERDICT FILE: refused, exit 0, counted, nothing sent.
reject() {
	local name=$1 verdict=$2 file=$3 before
	before=$(agent_counter "rejected.$verdict")
	feed "$name" "$file"
	check "$name: exit 0 (no bounce)" [ "$RC" -eq 0 ] || diag "$OUT"
	check "$name: counted in rejected.$verdict" agent_counter_is "rejected.$verdict" $((before + 1))
	check "$name: nothing sent" [ "$(pf_count)" -eq 3 ]
}
reject "the same list again (replayed)" replayed "$M/good"
relay_mail "$KEYS" k1 --server $S1 --client $C1 --forge >"$M/forged"
reject "a forged list (changed after signing)" forged "$M/forged"
relay_mail "$KEYS" k9 --server $S1 --client $C1 >"$M/unknown"
reject "a list signed with k9 (not in the key file)" unknown-key "$M/unknown"
relay_mail "$KEYS" k1 --server $S1 --client $C1 --unsigned >"$M/unsigned"
reject "an unsigned list" unsigned "$M/unsigned"
relay_mail "$KEYS" k1 --server $S1 --client $C1 --t $(($(date +%s) - 2 * 86400)) >"$M/expired"
reject "a list signed two days ago (max_age 1d)" expired "$M/expired"
relay_mail "$KEYS" k1 --server $S1 --client $C1 --bad-header >"$M/badhdr"
reject "a malformed X-Upnotify-Signature" malformed "$M/badhdr"
check "accepted is still 1" agent_counter_is accepted 1

# A second, good list signed with the other key, for another outage: accepted.
relay_mail "$KEYS" k2 --server $S2 --client $C1 >"$M/good2"
feed "good, k2, $S2" "$M/good2"
check "a good list signed with k2: exit 0" [ "$RC" -eq 0 ]
wait_for "one@ gets a mail about $S2" 15 mail_about_is one@example.test $S2 1
check "accepted 2" agent_counter_is accepted 2

# Not mail at all: never a crash; a temporary-failure exit would make the MTA retry.
printf '\0\1\2 not a message \377\n' >"$M/junk"
feed junk "$M/junk"
check "binary junk on stdin: exit 0 or 65, not a crash ($RC)" test "$RC" -eq 0 -o "$RC" -eq 65
: >"$M/empty"
feed empty "$M/empty"
check "empty stdin: exit 0 or 65, not a crash ($RC)" test "$RC" -eq 0 -o "$RC" -eq 65
check "still 4 mails in all" [ "$(pf_count)" -eq 4 ]

# A key file others can read: refused, as ssh refuses such a key.
chmod 644 "$KEYS"
RC=0
OUT=$(in_g "$UPNOTIFY_AGENT" -c "$CONF" --check 2>&1) || RC=$?
check "--check with a key file of mode 0644: exit 2 ($RC)" [ "$RC" -eq 2 ]
check "... naming the key file ($OUT)" grep -qF "$KEYS" <<<"$OUT"
chmod 600 "$KEYS"
