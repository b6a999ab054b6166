#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# The relay list from the other side, for the relay scenarios (21-26) and the agent
# bench: written from the format in upnotify-agent(8) / the issue 6 spec, not from the C
# code, so that each checks the other.
#
#   relaytool.py mail KEYFILE KEYID [options]   a signed relay mail on stdout
#       --server ADDR --id HEX32 --clients N (10.9.x.y, first/last/attempts/port made up)
#       --client ADDR[,PORT] (repeatable; instead of --clients) --from --to
#       --t UNIX (signature time; default now) --down-since UNIX --recovered UNIX
#       --forge (change the body after signing) --unsigned --bad-header
#   relaytool.py verify-mail KEYFILE FILE       verdict of a delivered relay mail:
#       prints "ok KEYID ID N" (N clients) and exits 0, or the verdict and exits 1
#   relaytool.py clients N                      "ADDR = cK@example.test" lines for [clients]
#       (the addresses of `mail --clients N`)
#   relaytool.py webhook ADDR PORT KEYFILE LOG [--fail-first N] [--fail-code C]
#       an HTTP receiver: each POST is verified (X-Upnotify-Signature over the exact
#       body) and recorded as one JSON line in LOG {path, verdict, key, id, hdr_id,
#       content_type, user_agent, code, doc}; the first N POSTs get C (503), then 200;
#       a POST to /reject gets 400. Ends after 120 s (bounded) or on SIGTERM.
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import time
from datetime import datetime, timezone

PREFIX = b"upnotify-relay-v1\n"


def load_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kid, hexkey = line.split()
            keys[kid] = bytes.fromhex(hexkey)
    return keys


def canonical(text):
    lines = text.replace("\r\n", "\n").split("\n")
    lines = [l.rstrip(" \t") for l in lines]
    while lines and lines[-1] == "":
        lines.pop()
    return ("\n".join(lines) + "\n").encode()


def mac(key, kid, t, payload):
    msg = PREFIX + b"k=" + kid.encode() + b"\nt=" + str(t).encode() + b"\n" + payload
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def sig_header(key, kid, t, payload):
    return "v=1; k=%s; t=%d; s=%s" % (kid, t, mac(key, kid, t, payload))


def verify(keys, hdr, payload, max_age=7 * 86400):
    if hdr is None:
        return "unsigned", None
    f = {}
    for part in hdr.split(";"):
        part = part.strip()
        if "=" not in part:
            return "malformed", None
        k, v = part.split("=", 1)
        f[k] = v
    if f.get("v") != "1" or "k" not in f or not re.fullmatch(r"-?[0-9]+", f.get("t", "")) \
            or not re.fullmatch(r"[0-9a-f]{64}", f.get("s", "")):
        return "malformed", None
    kid, t = f["k"], int(f["t"])
    if kid not in keys:
        return "unknown-key", kid
    if not hmac.compare_digest(mac(keys[kid], kid, t, payload), f["s"]):
        return "forged", kid
    now = int(time.time())
    if t < now - max_age or t > now + 300:
        return "expired", kid
    return "ok", kid


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gen_client(k):
    return "10.9.%d.%d" % (k // 250, k % 250 + 1)


def body_of(a):
    n = len(a.clients)
    first = min(c[1] for c in a.clients) if n else a.down_since
    out = [
        "Server %s is reachable again since %s." % (a.server, rfc3339(a.recovered)),
        "%d clients tried to reach it while it was down, from %s." % (n, rfc3339(first)),
        "Please tell them it is back. The list below is signed; upnotify-agent(8) reads it.",
        "",
        "-----BEGIN UPNOTIFY RELAY-----",
        "version: 1",
        "id: " + a.id,
        "server: " + a.server,
        "down-since: " + rfc3339(a.down_since),
        "recovered: " + rfc3339(a.recovered),
        "cause: " + a.cause,
        "clients: %d" % n,
        "SERVER IP ADDRESS\t: " + a.server,
    ]
    for addr, f, l, att, port in a.clients:
        out.append("CLIENT IP ADDRESS\t: %s\tfirst=%s last=%s attempts=%d port=%d"
                   % (addr, rfc3339(f), rfc3339(l), att, port))
    out.append("-----END UPNOTIFY RELAY-----")
    return "\n".join(out) + "\n"


def cmd_mail(argv):
    import argparse
    p = argparse.ArgumentParser(prog="relaytool.py mail")
    p.add_argument("keyfile")
    p.add_argument("keyid")
    p.add_argument("--server", default="203.0.113.2")
    p.add_argument("--id", default=None)
    p.add_argument("--clients", type=int, default=0)
    p.add_argument("--client", action="append", default=[])
    p.add_argument("--from", dest="frm", default="upnotify@example.test")
    p.add_argument("--to", default="agent@srv.example.test")
    p.add_argument("--t", type=int, default=None)
    p.add_argument("--down-since", type=int, default=None)
    p.add_argument("--recovered", type=int, default=None)
    p.add_argument("--cause", default="manual")
    p.add_argument("--forge", action="store_true")
    p.add_argument("--unsigned", action="store_true")
    p.add_argument("--bad-header", action="store_true")
    a = p.parse_args(argv)
    now = int(time.time())
    a.recovered = a.recovered if a.recovered is not None else now - 1
    a.down_since = a.down_since if a.down_since is not None else a.recovered - 60
    a.id = a.id or os.urandom(16).hex()
    n, a.clients = a.clients, []
    for k in range(n):
        a.clients.append((gen_client(k), a.down_since + 1, a.down_since + 2, 1 + k % 3, 80))
    for c in a.client:
        addr, _, port = c.partition(",")
        a.clients.append((addr, a.down_since + 1, a.down_since + 5, 2, int(port or 80)))
    body = body_of(a)
    keys = load_keys(a.keyfile)
    t = a.t if a.t is not None else now
    hdrs = [
        "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(now)),
        "From: " + a.frm,
        "To: " + a.to,
        "Subject: upnotify: %d clients waited for %s" % (len(a.clients), a.server),
        "Message-ID: <upn-relay-%s@%s>" % (a.id, a.frm.split("@")[-1]),
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    if a.bad_header:
        hdrs.append("X-Upnotify-Signature: v=1; k=%s; t=soon; s=zz" % a.keyid)
    elif not a.unsigned:
        key = keys.get(a.keyid, b"\x00" * 32)  # an unknown id: any key, the id counts
        hdrs.append("X-Upnotify-Signature: " + sig_header(key, a.keyid, t, canonical(body)))
    if a.forge:
        body = body.replace("attempts=", "attempts=1", 1)
    sys.stdout.write("\r\n".join(hdrs) + "\r\n\r\n" + body.replace("\n", "\r\n"))
    return 0


def argv_int(argv, name):
    for i, v in enumerate(argv):
        if v == name and i + 1 < len(argv):
            return int(argv[i + 1])
        if v.startswith(name + "="):
            return int(v.split("=", 1)[1])
    return 0


def cmd_verify_mail(argv):
    keys = load_keys(argv[0])
    raw = open(argv[1], "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
    head, _, body = raw.partition("\n\n")
    hdr = None
    for line in re.sub(r"\n[ \t]+", " ", head).split("\n"):
        if line.lower().startswith("x-upnotify-signature:"):
            hdr = line.split(":", 1)[1].strip()
    verdict, kid = verify(keys, hdr, canonical(body))
    m = re.search(r"^id: ([0-9a-f]{32})$", body, re.M)
    n = len(re.findall(r"^CLIENT IP ADDRESS\t: ", body, re.M))
    print(verdict, kid or "-", m.group(1) if m else "-", n)
    return 0 if verdict == "ok" else 1


def cmd_clients(argv):
    for k in range(int(argv[0])):
        print("%s = c%d@example.test" % (gen_client(k), k))
    return 0


def cmd_webhook(argv):
    from http.server import BaseHTTPRequestHandler, HTTPServer
    addr, port, keyfile, log = argv[0], int(argv[1]), argv[2], argv[3]
    fail_first = argv_int(argv, "--fail-first")
    fail_code = argv_int(argv, "--fail-code") or 503
    keys = load_keys(keyfile)
    state = {"n": 0}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n) if 0 <= n <= (16 << 20) else b""
            verdict, kid = verify(keys, self.headers.get("X-Upnotify-Signature"), body)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            state["n"] += 1
            code = 200
            if self.path == "/reject":
                code = 400
            elif state["n"] <= fail_first:
                code = fail_code
            elif verdict != "ok":
                code = 403
            rec = {"path": self.path, "verdict": verdict, "key": kid,
                   "id": doc.get("id") if isinstance(doc, dict) else None,
                   "hdr_id": self.headers.get("X-Upnotify-Id"),
                   "content_type": self.headers.get("Content-Type"),
                   "user_agent": self.headers.get("User-Agent"), "code": code, "doc": doc}
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = HTTPServer((addr, port), H)
    srv.timeout = 0.5
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("listening", flush=True)
    end = time.time() + 120
    while time.time() < end:
        srv.handle_request()
    return 0


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: relaytool.py mail|verify-mail|clients|webhook ...\n")
        return 2
    cmd = {"mail": cmd_mail, "verify-mail": cmd_verify_mail, "clients": cmd_clients,
           "webhook": cmd_webhook}.get(sys.argv[1])
    if not cmd:
        sys.stderr.write("unknown command %s\n" % sys.argv[1])
        return 2
    return cmd(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
