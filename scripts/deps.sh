#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Installs every Debian package that building, testing, benchmarking and the demo
# need. Idempotent and non-interactive: when everything is present it only checks.
set -euo pipefail

PKGS=(
	# build
	make gcc pkg-config clang libclang-rt-dev
	libmnl-dev libnetfilter-queue-dev libsqlite3-dev libinih-dev libjansson-dev
	libsodium-dev libsnmp-dev libesmtp-dev libssl-dev
	# relay lists: HMAC (libssl), received mail (gmime), POP3 and webhooks (curl)
	libgmime-3.0-dev libcurl4-openssl-dev
	# the inquiry portal: HTTP, and the nft set of down servers it intercepts
	libmicrohttpd-dev libnftables-dev
	# run: upnotifyd installs its rules with iptables-nft and drops an empty table with nft
	iptables nftables
	# tests: a real MTA and a real SNMP agent and trap sender
	libcmocka-dev sqlite3 iproute2 netcat-openbsd curl socat postfix snmpd snmp
	# the agent's and the mail commands' POP3 mailbox
	dovecot-core dovecot-pop3d
	# STARTTLS and AUTH checks of the mail tests
	openssl sasl2-bin
	procps psmisc jq
	# the portal's browser test, driven through WebDriver
	chromium chromium-driver
	# bench
	hping3 wrk
	# the kernel module: built against Debian's packaged kernel, tested in qemu booting it
	sparse qemu-system-x86 busybox-static
)
. "$(dirname "$0")/kernel.env"
# Versioned: the headers and the image of exactly the pinned kernel.
PINNED=("linux-headers-$KVER=$KDEB" "linux-image-$KVER=$KDEB")

missing=()
for p in "${PKGS[@]}"; do
	# Only "install ok installed" counts; a removed package leaves config behind.
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
for p in "${PINNED[@]}"; do
	st=$(dpkg-query -W -f='${Status} ${Version}' "${p%%=*}" 2>/dev/null || true)
	[ "$st" = "install ok installed ${p#*=}" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run scripts/deps.sh as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks what kind of mail system this is; the tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
