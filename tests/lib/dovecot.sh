# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# A private Dovecot POP3 server for the relay and mail-command tests; sourced, never
# run. Like tests/lib/postfix.sh, everything lives under one temporary directory: its
# own base_dir, state_dir, config, log, passwd-file and the users' Maildirs. The
# system's Dovecot, if any, is never touched (no /etc/dovecot, no systemd).
#
#   dv_start ADDR PORT SPORT   set up and start a Dovecot with POP3 on ADDR:PORT (plain
#                              USER/PASS allowed without TLS: a test address only) and
#                              POP3S on ADDR:SPORT with a self-signed certificate for
#                              "localhost", $DV_CERT (a CA file for it). Run it in the
#                              namespace where ADDR is; it daemonizes. Sets DV_DIR,
#                              DV_LOG, DV_CERT.
#   dv_stop                    stop it (by its master's pid file, from any namespace)
#                              and remove the directory; safe to call twice
#   dv_user NAME PASS          add a user (passwd-file, before or after dv_start) and
#                              create its Maildir (new, cur, tmp)
#   dv_maildir NAME            that user's Maildir
#   dv_count NAME              messages in it (new and cur), what POP3 would list
#
# Mail users run as nobody: the uid Postfix's virtual(8) delivers as (postfix.sh), so
# that what Postfix delivers for PF_MAILBOXES lands in a Maildir Dovecot may read and
# delete from. Postfix -> Dovecot:
#
#   dv_user agent secret
#   PF_MAILBOXES="agent@srv.example.test $(dv_maildir agent)/" ; export PF_MAILBOXES
#   pf_start ...                               # or gw_pf_start
#   curl -s pop3://127.0.0.1:1110/ -u agent:secret        # the list
#
# dv_start can be called before dv_user: the passwd-file is read at each login.

DV_DIR=${DV_DIR:-}
DV_LOG=
DV_CERT=
DV_STARTED=
DV_UID=$(id -u nobody)
DV_GID=$(id -g nobody)

dv_fail() {
	echo "# dovecot: $1 failed" >&2
	[ -f "$DV_LOG" ] && tail -n 15 "$DV_LOG" | sed 's/^/#   /' >&2
	return 1
}

# The directory is made on first use (dv_user or dv_start), so either may come first.
dv_dir() {
	if [ -z "$DV_DIR" ]; then
		DV_DIR=$(mktemp -d "${TMPDIR:-/tmp}/upn-dovecot.XXXXXX") || return 1
		chmod 755 "$DV_DIR"
	fi
	DV_LOG=$DV_DIR/dovecot.log
	mkdir -p "$DV_DIR/home" "$DV_DIR/run" "$DV_DIR/state"
	[ -f "$DV_DIR/passwd" ] || { : >"$DV_DIR/passwd"; chmod 644 "$DV_DIR/passwd"; }
}

dv_maildir() { echo "$DV_DIR/home/$1/Maildir"; }

dv_user() {
	local name=$1 pass=$2 d
	dv_dir || return 1
	case $name$pass in
	*:* | *$'\n'*) echo "# dovecot: no ':' or newline in a user or password" >&2; return 1 ;;
	esac
	# passwd-file: user:{scheme}password:uid:gid::home
	printf '%s:{PLAIN}%s:%s:%s::%s\n' "$name" "$pass" "$DV_UID" "$DV_GID" \
		"$DV_DIR/home/$name" >>"$DV_DIR/passwd"
	d=$(dv_maildir "$name")
	mkdir -p "$d/new" "$d/cur" "$d/tmp"
	chown -R "$DV_UID:$DV_GID" "$DV_DIR/home/$name"
	chmod -R 700 "$DV_DIR/home/$name"
}

dv_start() {
	local addr=$1 port=$2 sport=$3 conf dh=
	dv_dir || return 1
	conf=$DV_DIR/dovecot.conf
	DV_CERT=$DV_DIR/cert.pem
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$addr -keyout "$DV_DIR/key.pem" \
		-out "$DV_CERT" >>"$DV_LOG" 2>&1 || dv_fail "the certificate" || return 1
	chmod 600 "$DV_DIR/key.pem"
	[ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
	cat >"$conf" <<-CONF
		# A test instance; see tests/lib/dovecot.sh.
		instance_name = upn-dovecot-$$-${DV_DIR##*.}
		base_dir = $DV_DIR/run
		state_dir = $DV_DIR/state
		log_path = $DV_LOG
		info_log_path = $DV_LOG
		protocols = pop3
		listen = $addr
		ssl = yes
		ssl_cert = <$DV_CERT
		ssl_key = <$DV_DIR/key.pem
		$dh
		# USER/PASS in clear on the test address: nothing leaves the namespace.
		disable_plaintext_auth = no
		auth_mechanisms = plain login
		default_internal_user = dovecot
		default_login_user = dovenull
		first_valid_uid = 1
		mail_location = maildir:~/Maildir
		pop3_uidl_format = %08Xu%08Xv
		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN username_format=%u $DV_DIR/passwd
		}
		userdb {
		  driver = passwd-file
		  args = username_format=%u $DV_DIR/passwd
		}
		service pop3-login {
		  inet_listener pop3 {
		    address = $addr
		    port = $port
		  }
		  inet_listener pop3s {
		    address = $addr
		    port = $sport
		    ssl = yes
		  }
		}
		service imap-login {
		  inet_listener imap {
		    port = 0
		  }
		  inet_listener imaps {
		    port = 0
		  }
		}
		service stats {
		  unix_listener stats-reader {
		    mode = 0600
		  }
		  unix_listener stats-writer {
		    mode = 0660
		  }
		}
		shutdown_clients = yes
	CONF
	dovecot -c "$conf" >>"$DV_LOG" 2>&1 || dv_fail "dovecot start" || return 1
	DV_STARTED=1
	dv_wait_listen "$addr" "$port" 10 && dv_wait_listen "$addr" "$sport" 10
}

dv_wait_listen() {
	local addr=$1 port=$2 secs=$3 i
	for ((i = 0; i < secs * 20; i++)); do
		(exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	dv_fail "listening on $addr:$port within $secs s"
}

dv_stop() {
	local pid i
	[ -n "$DV_DIR" ] || return 0
	if [ -n "$DV_STARTED" ] && pid=$(cat "$DV_DIR/run/master.pid" 2>/dev/null); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	DV_STARTED=
	rm -rf "$DV_DIR" 2>/dev/null || { sleep 0.5; rm -rf "$DV_DIR" || true; }
	DV_DIR=
	DV_CERT=
}

dv_count() {
	local n=0 f d
	d=$(dv_maildir "$1")
	for f in "$d"/new/* "$d"/cur/*; do
		[ -f "$f" ] && n=$((n + 1))
	done
	echo "$n"
}
