"""Helpers for the skipstore integration tests: the cluster's env, an HTTP
client with keep-alive, extra daemons with their own config, a steady stream
of creates, and checks that acknowledged orders are stored exactly once."""
import http.client
import json
import os
import random
import signal
import string
import subprocess
import threading
import time
import urllib.parse

import pymysql

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_env():
    run = os.environ.get("SKIP_RUN_DIR") or os.path.join(REPO, ".run")
    env = {}
    with open(os.path.join(run, "env")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k] = v
    return env


def dev(*args, check=True, timeout=120):
    p = subprocess.run([os.path.join(REPO, "dev"), *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("./dev %s failed (%d): %s %s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def uid(prefix="t"):
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(12))


class Client:
    """One keep-alive HTTP/1.1 connection. Returns (status, headers, body-json-or-text)."""

    def __init__(self, url, timeout=10):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def _c(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        for attempt in (0, 1):
            try:
                c = self._c()
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                text = r.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt:
                    raise
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors="replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def create_body(merchant="m_test", out_trade_no=None, amount=None, **extra):
    b = {"merchant_id": merchant, "out_trade_no": out_trade_no or uid("o"),
         "amount": amount if amount is not None else random.randint(1, 100000), "channel": "wxpay"}
    b.update(extra)
    return b


def db(env, group, role="primary", user="admin", database="skipstore"):
    if role == "primary":
        addr = env["SKIP_G%d_PRIMARY" % group]
    else:
        addr = env["SKIP_G%d_REPLICAS" % group].split()[0]
    host, port = addr.rsplit(":", 1)
    if user == "admin":
        u, p = env["SKIP_DB_ADMIN_USER"], env["SKIP_DB_ADMIN_PASSWORD"]
    else:
        u, p = env["SKIP_DB_USER"], env["SKIP_DB_PASSWORD"]
    return pymysql.connect(host=host, port=int(port), user=u, password=p, database=database,
                           autocommit=True, connect_timeout=3, read_timeout=10, write_timeout=10)


def groups(env):
    return [int(g) for g in env["SKIP_GROUPS"].split()]


def assert_clean_log(path):
    """A daemon built with sanitizers reports memory errors and leaks in its log."""
    text = open(path, errors="replace").read()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in text, "%s in %s" % (marker, path)


class Daemon:
    """An extra skipstored on its own port with its own config (from ./dev config)."""

    def __init__(self, env, port_offset=100, node_id=None, window_s=5, threshold=5, extra_env=None, name=None,
                 transform=None):
        base = int(env["SKIP_PORT_BASE"])
        self.env = env
        self.port = base + port_offset
        self.node_id = node_id if node_id is not None else 100 + port_offset
        self.url = "http://127.0.0.1:%d" % self.port
        run = env["SKIP_RUN_DIR"]
        self.name = name or "daemon-%d" % self.port
        self.config = os.path.join(run, self.name + ".yaml")
        self.log = os.path.join(run, "log", self.name + ".log")
        e = dict(os.environ, SKIP_PORT_BASE=str(base), SKIP_RUN_DIR=run, SKIP_DAEMON_PORT=str(self.port),
                 SKIP_NODE_ID=str(self.node_id), SKIP_WINDOW_S=str(window_s), SKIP_THRESHOLD=str(threshold))
        e.update(extra_env or {})
        p = subprocess.run([os.path.join(REPO, "dev"), "config"], capture_output=True, text=True, env=e, timeout=30)
        assert p.returncode == 0, p.stderr
        text = transform(p.stdout) if transform else p.stdout
        with open(self.config, "w") as f:
            f.write(text)
        self.proc = None

    def start(self, wait=True):
        # SKIP_DAEMON_BIN lets a run use another build (e.g. the ASan one) for the daemons tests start
        binary = os.environ.get("SKIP_DAEMON_BIN") or os.path.join(
            self.env.get("SKIP_BUILD_DIR", os.path.join(REPO, "build")), "skipstored")
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([binary, "--config", self.config], stdout=self.logf, stderr=self.logf)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        c = Client(self.url, timeout=2)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("skipstored exited with %s; log %s" % (self.proc.returncode, self.log))
            try:
                st, _, body = c.get("/readyz")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("skipstored on %d not ready; log %s" % (self.port, self.log))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "logf", None):
            self.logf.close()
            assert_clean_log(self.log)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class CreateStream:
    """Threads sending creates back to back; records every request's outcome."""

    def __init__(self, url, threads=4, merchant="m_stream", pause=0.0):
        self.url, self.threads, self.merchant, self.pause = url, threads, merchant, pause
        self.results = []  # (t_start, latency_s, status, body_sent, response)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.ths = []

    def _run(self):
        c = Client(self.url, timeout=15)
        while not self.stop_ev.is_set():
            # a day's expiry: stream orders must not all expire in a burst during later tests
            body = create_body(self.merchant, expire_seconds=86400)
            t0 = time.time()
            try:
                st, _, r = c.post("/v1/orders", body)
            except Exception as e:  # a transport failure is a failed create too
                st, r = -1, str(e)
            with self.lock:
                self.results.append((t0, time.time() - t0, st, body, r))
            if self.pause:
                time.sleep(self.pause)
        c.close()

    def start(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.ths.append(t)
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.ths:
            t.join(30)
        return self.results

    def snapshot(self):
        with self.lock:
            return list(self.results)


def failures(results):
    return [(st, r) for (_, _, st, _, r) in results if st not in (200, 201)]


def acked(results):
    return [(body, r) for (_, _, st, body, r) in results if st in (200, 201)]


def verify_stored(env, acked_list):
    """Every acknowledged order is in its group's primary exactly once with the right fields,
    and its merchant_id+out_trade_no exists in no other group."""
    by_group = {}
    for body, r in acked_list:
        by_group.setdefault(int(r["group"]), []).append((body, r))
    conns = {g: db(env, g) for g in groups(env)}
    try:
        for g, items in by_group.items():
            cur = conns[g].cursor()
            nos = [r["order_no"] for _, r in items]
            found = {}
            for i in range(0, len(nos), 500):
                chunk = nos[i:i + 500]
                cur.execute("SELECT order_no, merchant_id, out_trade_no, amount, channel, group_id FROM orders "
                            "WHERE order_no IN (%s)" % ",".join(["%s"] * len(chunk)), chunk)
                for row in cur.fetchall():
                    assert row[0] not in found, "order %s twice" % row[0]
                    found[row[0]] = row
            for body, r in items:
                row = found.get(r["order_no"])
                assert row is not None, "acknowledged order %s missing from group %d" % (r["order_no"], g)
                assert row[1] == body["merchant_id"] and row[2] == body["out_trade_no"]
                assert row[3] == body["amount"] and row[4] == body["channel"] and row[5] == g
        # one order number per out_trade_no was given to the client; other rows with the same
        # key can only be orphans of unknown-outcome inserts (spec §6), never acknowledged
        per_key = {}
        for b, r in acked_list:
            per_key.setdefault((b["merchant_id"], b["out_trade_no"]), set()).add(r["order_no"])
        for k, nos in per_key.items():
            assert len(nos) == 1, "out_trade_no %s acknowledged with several numbers %r" % (k, nos)
    finally:
        for c in conns.values():
            c.close()
