# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# A private Postfix instance for the mail tests; sourced, never run.
#
# Everything lives under one temporary directory: its own config_directory,
# queue_directory and data_directory, a maillog file (Postfix otherwise logs fatal
# errors only to syslog, where nobody looks) and one Maildir. The system's Postfix,
# if any, is never touched: no postmulti, no /etc/postfix/main.cf.
#
#   pf_start ADDR PORT [tls] [auth]
#                          set up and start; sets PF_DIR, PF_MAILDIR, PF_LOG. With
#                          "tls", STARTTLS is offered with a self-signed certificate
#                          for "localhost", which is $PF_CERT (a CA file for it).
#                          With "auth", mail is taken only after AUTH PLAIN or LOGIN
#                          as $PF_AUTH_USER with $PF_AUTH_PASS (Cyrus SASL, sasldb;
#                          needs saslpasswd2 from sasl2-bin)
#   pf_stop                stop and remove the directory (safe to call twice)
#   pf_count               messages delivered so far
#   pf_wait_count N SECS   poll until N messages are delivered; 1 on timeout
#
# Mail for any local part of example.test and example.net is accepted and delivered
# to the one Maildir $PF_MAILDIR ($PF_DIR/mail/example.test/all/): a static map,
# because virtual(8) refuses $1 substitution from regexp maps. Local parts steer
# the relay:
#   reject@example.test    554 at RCPT (a permanent failure)
#   defer@example.test     450 at RCPT (a temporary one)
# Messages to other domains are refused (relay access denied): nothing leaves.
#
# Opt-in, for the relay tests: PF_MAILBOXES (in the environment of pf_start; export it
# when pf_start runs in another shell, as gw_pf_start's does) holds lines or words
# "ADDRESS MAILDIR/", e.g. "agent@srv.example.test /tmp/upn-dovecot.x/home/agent/Maildir/":
# mail for exactly ADDRESS goes to that Maildir (a Dovecot user's, tests/lib/dovecot.sh)
# instead of $PF_MAILDIR, and ADDRESS's domain is accepted too. Unset or empty: the
# instance is exactly as above.

PF_DIR=
PF_MAILDIR=
PF_LOG=
PF_CERT=
PF_STARTED=
PF_AUTH_USER=upnotify
PF_AUTH_PASS='not so s3cret'  # a blank in it, as passwords have
PF_MAILBOXES=${PF_MAILBOXES:-}

# The instance runs delivery as nobody: virtual(8) will not deliver as root.
PF_UID=$(id -u nobody)
PF_GID=$(id -g nobody)

# Say which step failed and show the end of the instance's log, so that a
# failure on a machine nobody can log into still tells why.
pf_fail() {
	echo "# postfix: $1 failed" >&2
	[ -f "$PF_LOG" ] && tail -n 15 "$PF_LOG" | sed 's/^/#   /' >&2
	return 1
}

pf_start() {
	local addr=$1 port=$2 opts=" ${*:3} " etc

	PF_DIR=$(mktemp -d "${TMPDIR:-/tmp}/upn-postfix.XXXXXX") || return 1
	chmod 755 "$PF_DIR"
	etc=$PF_DIR/etc
	PF_LOG=$PF_DIR/maillog
	PF_MAILDIR=$PF_DIR/mail/example.test/all
	mkdir -p "$etc" "$PF_DIR/spool" "$PF_DIR/data" "$PF_DIR/mail"
	chown "$PF_UID:$PF_GID" "$PF_DIR/mail"
	chown postfix "$PF_DIR/data"

	# Only our listener: the stock smtp inet service would take port 25. No
	# chroot, since the queue directory holds none of /etc.
	sed -e '/^smtp[[:space:]]\+inet/d' /etc/postfix/master.cf >"$etc/master.cf"
	printf '%s:%s inet n - n - - smtpd\n' "$addr" "$port" >>"$etc/master.cf"
	printf '/^reject@/ REJECT no such mailbox here\n/^defer@/ 450 try again later\n' \
		>"$etc/rcpt_access"
	cat >"$etc/main.cf" <<-CF
		compatibility_level = 3.6
		queue_directory = $PF_DIR/spool
		data_directory = $PF_DIR/data
		meta_directory = /etc/postfix
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = mail.example.test
		mydomain = example.test
		mydestination =
		inet_interfaces = $addr
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		smtpd_recipient_restrictions = check_recipient_access regexp:$etc/rcpt_access,
		    permit_mynetworks, reject_unauth_destination
		virtual_mailbox_domains = example.test example.net
		virtual_mailbox_base = $PF_DIR/mail
		virtual_mailbox_maps = static:example.test/all/
		virtual_uid_maps = static:$PF_UID
		virtual_gid_maps = static:$PF_GID
		virtual_minimum_uid = 1
		maillog_file = $PF_LOG
		maillog_file_prefixes = $PF_DIR
		biff = no
		alias_maps =
		alias_database =
		local_recipient_maps =
		# Measure the client, not Postfix's own back-pressure on a fast sender.
		in_flow_delay = 0
		smtpd_client_connection_count_limit = 0
		smtpd_client_message_rate_limit = 0
	CF
	if [[ $opts == *" tls "* ]]; then
		PF_CERT=$etc/cert.pem
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
			-addext subjectAltName=DNS:localhost -keyout "$etc/key.pem" \
			-out "$PF_CERT" >>"$PF_LOG" 2>&1 || return 1
		postconf -c "$etc" smtpd_tls_security_level=may \
			smtpd_tls_cert_file="$PF_CERT" smtpd_tls_key_file="$etc/key.pem" \
			smtpd_tls_received_header=yes || return 1
	fi
	if [[ $opts == *" auth "* ]]; then
		printf '%s' "$PF_AUTH_PASS" |
			saslpasswd2 -p -c -f "$etc/sasldb2" -u example.test "$PF_AUTH_USER" \
			>>"$PF_LOG" 2>&1 || pf_fail saslpasswd2 || return 1
		chown root:postfix "$etc/sasldb2" && chmod 640 "$etc/sasldb2" ||
			pf_fail "the sasldb2 owner" || return 1
		printf '%s\n' 'pwcheck_method: auxprop' 'auxprop_plugin: sasldb' \
			'mech_list: PLAIN LOGIN' "sasldb_path: $etc/sasldb2" >"$etc/smtpd.conf"
		# Nobody gets in without AUTH, not even from mynetworks.
		postconf -c "$etc" smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus \
			smtpd_sasl_path=smtpd cyrus_sasl_config_path="$etc" \
			import_environment="$(postconf -dh import_environment) SASL_CONF_PATH=$etc" \
			smtpd_sasl_local_domain=example.test \
			smtpd_sasl_security_options=noanonymous \
			smtpd_sasl_authenticated_header=yes \
			smtpd_recipient_restrictions="check_recipient_access regexp:$etc/rcpt_access, permit_sasl_authenticated, reject" \
			>>"$PF_LOG" 2>&1 || pf_fail "postconf (auth)" || return 1
	fi
	if [ -n "$PF_MAILBOXES" ]; then
		pf_mailboxes "$etc" || pf_fail "PF_MAILBOXES" || return 1
	fi
	postconf -c "$etc" -F '*/*/chroot = n' >>"$PF_LOG" 2>&1 ||
		pf_fail "postconf (chroot)" || return 1
	postfix -c "$etc" check >>"$PF_LOG" 2>&1 || pf_fail "postfix check" || return 1
	postfix -c "$etc" start >>"$PF_LOG" 2>&1 || pf_fail "postfix start" || return 1
	PF_STARTED=1
	pf_wait_listen "$addr" "$port" 10
}

# pf_mailboxes ETC: PF_MAILBOXES into a texthash map in front of the static one. The
# map's paths are relative to virtual_mailbox_base, so the base becomes / and the
# static catch-all its absolute form: the same directory as without the option.
pf_mailboxes() {
	local etc=$1 a d doms="example.test example.net"
	: >"$etc/mailboxes"
	set -- $PF_MAILBOXES
	while [ $# -ge 2 ]; do
		a=$1 d=$2
		shift 2
		case $a in *@*) ;; *) echo "# postfix: PF_MAILBOXES: $a is no address" >&2; return 1 ;; esac
		case $d in /*/) ;; *) echo "# postfix: PF_MAILBOXES: $d: an absolute Maildir path ending in /" >&2; return 1 ;; esac
		printf '%s %s\n' "$a" "${d#/}" >>"$etc/mailboxes"
		[[ " $doms " == *" ${a#*@} "* ]] || doms="$doms ${a#*@}"
	done
	[ $# -eq 0 ] || { echo "# postfix: PF_MAILBOXES: odd number of words" >&2; return 1; }
	postconf -c "$etc" virtual_mailbox_base=/ \
		"virtual_mailbox_maps=texthash:$etc/mailboxes, static:${PF_MAILDIR#/}/" \
		"virtual_mailbox_domains=$doms" >>"$PF_LOG" 2>&1
}

# Bounded poll for the listener: master(8) opens it as it starts.
pf_wait_listen() {
	local addr=$1 port=$2 secs=$3 i
	for ((i = 0; i < secs * 20; i++)); do
		(exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# postfix: nothing listens on $addr:$port after $secs s" >&2
	return 1
}

pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	if [ -n "$PF_STARTED" ]; then
		postfix -c "$PF_DIR/etc" stop >>"$PF_LOG" 2>&1 ||
			postfix -c "$PF_DIR/etc" abort >>"$PF_LOG" 2>&1 || true
		PF_STARTED=
	fi
	# The master's children may still be closing files a moment after stop.
	rm -rf "$PF_DIR" 2>/dev/null || { sleep 0.5; rm -rf "$PF_DIR" || true; }
	PF_DIR=
	PF_CERT=
}

pf_count() {
	local n=0 f
	for f in "$PF_MAILDIR"/new/* "$PF_MAILDIR"/cur/*; do
		[ -f "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

pf_wait_count() {
	local want=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(pf_count)" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
