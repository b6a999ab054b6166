#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# Abusive HTTP clients for the portal scenario (19), standard library only; each
# prints one JSON object on stdout and exits 0 unless its arguments are wrong.
#
#   httpload.py flood HOST PORT N [--bind ADDR] [--timeout S] [--path P]
#       N connections opened at once (non-blocking connects, all in flight together),
#       each sending "GET P" with Connection: close as soon as it is connected and
#       reading until the peer closes. Every connection ends up in one class:
#         answered    an HTTP status line came back (status: {code: count})
#         refused     connect() failed (ECONNREFUSED, ...): errors: {name: count}
#         closed      connected, then closed or reset without a status line
#         timeout     nothing decided within --timeout s (default 20) of the start
#       Also: max_open (connections open at the same time, at most), elapsed_s.
#
#   httpload.py slow HOST PORT [--bind ADDR] [--max S] [--drip S]
#       Slowloris: connects, sends the beginning of a request header and then
#       nothing (--drip S: one more header byte every S seconds, never the blank
#       line). Reports when the peer closed: {connected, closed_after (seconds from
#       the connect, null if still open after --max s, default 15), how (eof |
#       reset | null), got (the first bytes received, text), sent (bytes)}.
import argparse
import errno
import json
import resource
import selectors
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def new_socket(host, bind):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    if bind:
        s.bind((bind, 0))
    s.setblocking(False)
    return s


def errname(e):
    return errno.errorcode.get(e, str(e))


def flood(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    req = ('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
           % (a.path, a.host if ':' not in a.host else '[%s]' % a.host)).encode()
    sel = selectors.DefaultSelector()
    res = {'n': a.n, 'answered': 0, 'status': {}, 'refused': 0, 'errors': {},
           'closed': 0, 'timeout': 0, 'max_open': 0}
    t0 = time.monotonic()
    conns = {}
    for _ in range(a.n):
        s = new_socket(a.host, a.bind)
        e = s.connect_ex((a.host, a.port))
        if e not in (0, errno.EINPROGRESS):
            res['refused'] += 1
            res['errors'][errname(e)] = res['errors'].get(errname(e), 0) + 1
            s.close()
            continue
        st = {'sent': False, 'buf': b''}
        conns[s] = st
        sel.register(s, selectors.EVENT_WRITE, st)
    res['max_open'] = len(conns)

    def finish(s, cls, err=None):
        sel.unregister(s)
        del conns[s]
        s.close()
        if cls == 'refused':
            res['errors'][err] = res['errors'].get(err, 0) + 1
        res[cls] += 1

    while conns:
        left = a.timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        for key, ev in sel.select(timeout=min(left, 0.5)):
            s, st = key.fileobj, key.data
            if not st['sent']:
                e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    finish(s, 'refused', errname(e))
                    continue
                try:
                    s.sendall(req)
                except OSError as x:
                    # Connected, then dropped before the request went out.
                    finish(s, 'closed')
                    continue
                st['sent'] = True
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = None
            except BlockingIOError:
                continue
            if chunk:
                st['buf'] += chunk[:4096 - len(st['buf'])] if len(st['buf']) < 4096 else b''
                continue
            line = st['buf'].split(b'\r\n', 1)[0].decode('latin-1')
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith('HTTP/') and parts[1].isdigit():
                res['answered'] += 1
                res['status'][parts[1]] = res['status'].get(parts[1], 0) + 1
                sel.unregister(s)
                del conns[s]
                s.close()
            else:
                finish(s, 'closed')
    res['timeout'] = len(conns)
    for s in list(conns):
        s.close()
    res['elapsed_s'] = round(time.monotonic() - t0, 3)
    return res


def slow(a):
    res = {'connected': False, 'closed_after': None, 'how': None, 'got': '', 'sent': 0}
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    if a.bind:
        s.bind((a.bind, 0))
    s.settimeout(5)
    try:
        s.connect((a.host, a.port))
    except OSError as x:
        res['error'] = str(x)
        return res
    res['connected'] = True
    t0 = time.monotonic()
    head = b'GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: slowloris\r\nX-Pad: ' % a.host.encode()
    s.sendall(head)
    res['sent'] = len(head)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    next_drip = t0 + a.drip if a.drip else None
    got = b''
    while True:
        now = time.monotonic()
        if now - t0 >= a.max:
            break
        wait = t0 + a.max - now
        if next_drip is not None:
            wait = max(0, min(wait, next_drip - now))
        events = sel.select(timeout=wait)
        if not events:
            if next_drip is not None and time.monotonic() >= next_drip:
                try:
                    s.send(b'a')
                    res['sent'] += 1
                except OSError:
                    res['closed_after'] = round(time.monotonic() - t0, 3)
                    res['how'] = 'reset'
                    break
                next_drip += a.drip
            continue
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            res['closed_after'] = round(time.monotonic() - t0, 3)
            res['how'] = 'reset'
            break
        except BlockingIOError:
            continue
        if not chunk:
            res['closed_after'] = round(time.monotonic() - t0, 3)
            res['how'] = 'eof'
            break
        got += chunk
    res['got'] = got[:200].decode('latin-1')
    s.close()
    return res


def main():
    ap = argparse.ArgumentParser(description='abusive HTTP clients for the portal tests')
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('flood')
    f.add_argument('host')
    f.add_argument('port', type=int)
    f.add_argument('n', type=int)
    f.add_argument('--bind')
    f.add_argument('--timeout', type=float, default=20)
    f.add_argument('--path', default='/')
    s = sub.add_parser('slow')
    s.add_argument('host')
    s.add_argument('port', type=int)
    s.add_argument('--bind')
    s.add_argument('--max', type=float, default=15)
    s.add_argument('--drip', type=float, default=0)
    a = ap.parse_args()
    res = flood(a) if a.cmd == 'flood' else slow(a)
    json.dump(res, sys.stdout)
    print()


if __name__ == '__main__':
    main()
