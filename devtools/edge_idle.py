#!/usr/bin/env python3
"""devtools/edge_idle.py — hold N idle keep-alive connections to a skipstored (the
connection test of issue 13; numbers in bench/README.md).

Each connection sends one GET /healthz, reads the answer and then stays open and
silent (an idle keep-alive client). When all are open it prints `ready N` and, with
--pid, the daemon's thread count and RSS; it holds them for --hold seconds (run the
active load meanwhile, e.g. `build/skipbench --mix read --concurrency 64`), then
prints the daemon's numbers again and how many connections the daemon closed.

  devtools/edge_idle.py --url http://127.0.0.1:23131 --conns 10000 --hold 60 --pid PID
  devtools/edge_idle.py --url https://127.0.0.1:8443 --ca ca.pem --cert c.pem --key c.key ...
"""
import argparse
import resource
import selectors
import socket
import ssl
import sys
import time
import urllib.parse


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Threads", "VmRSS", "VmHWM"):
                out[k] = v.strip()
    return "threads=%s rss=%s peak_rss=%s" % (out.get("Threads"), out.get("VmRSS"), out.get("VmHWM"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=60.0)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--ca", help="https: the CA of the server certificate")
    ap.add_argument("--cert", help="https: client certificate (mTLS)")
    ap.add_argument("--key", help="https: its key")
    a = ap.parse_args()
    ctx = None
    if a.url.startswith("https:"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(a.ca)
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
    u = urllib.parse.urlparse(a.url)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    req = b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n" % u.netloc.encode()
    socks = []
    sel = selectors.DefaultSelector()
    t0 = time.time()
    for i in range(a.conns):
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname=u.hostname)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [s, b""])
        socks.append(s)
    pending = a.conns
    deadline = time.time() + 120
    while pending and time.time() < deadline:
        for key, _ in sel.select(1.0):
            s, buf = key.data
            try:
                chunk = s.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            if not chunk:
                sys.exit("a connection was closed before its answer")
            key.data[1] = buf = buf + chunk
            if b"\r\n\r\n" in buf:
                head, body = buf.split(b"\r\n\r\n", 1)
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    if not head.startswith(b"HTTP/1.1 200"):
                        sys.exit("unexpected answer: %r" % head[:80])
                    sel.unregister(s)
                    pending -= 1
    if pending:
        sys.exit("%d connections without an answer" % pending)
    print("ready %d (%.1f s)" % (a.conns, time.time() - t0), flush=True)
    if a.pid:
        print("daemon with %d idle connections: %s" % (a.conns, proc_status(a.pid)), flush=True)
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    end = time.time() + a.hold
    while time.time() < end:
        for key, _ in sel.select(max(0.0, min(1.0, end - time.time()))):
            sel.unregister(key.fileobj)
            closed += 1
    if a.pid:
        print("daemon at the end: %s" % proc_status(a.pid), flush=True)
    print("closed by the daemon while held: %d" % closed, flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
