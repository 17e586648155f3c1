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

import skipsign

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_env():
    run = os.environ.get("SKIP_RUN_DIR") or os.path.join(REPO, ".run")
    env = {}
    with open(os.path.join(run, "env")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):  # `export KEY=VALUE` lines (spec §2)
                line = line[len("export "):].lstrip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k] = v
    return env


def daemon_urls(env):
    """Each ./dev daemon directly (daemon1 first); SKIP_URL is HAProxy in front of them."""
    return (env.get("SKIP_DAEMON_URLS") or env["SKIP_URL"]).split()


def daemon_names(env):
    """The ./dev fault targets of the daemons: daemon1..daemonN."""
    return ["daemon%d" % (i + 1) for i in range(len(daemon_urls(env)))]


def daemon_log(env, n=1):
    return os.path.join(env["SKIP_RUN_DIR"], "log", "daemon%d.log" % n)


def node_of(order_no):
    """The node id stamped into an order number (which daemon made it)."""
    return int(order_no[14:17])


def lb_stat(env):
    """HAProxy's `show stat` over its admin socket: {(proxy, server): {column: value}}."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(env["SKIP_LB_SOCKET"])
    s.sendall(b"show stat\n")
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    lines = buf.decode().splitlines()
    cols = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        if line:
            f = dict(zip(cols, line.split(",")))
            out[(f["pxname"], f["svname"])] = f
    return out


def lb_retries(env):
    """Retries + redispatches HAProxy has done so far (all backends)."""
    n = 0
    for (px, sv), f in lb_stat(env).items():
        if sv == "BACKEND":
            n += int(f["wretr"] or 0) + int(f["wredis"] or 0)
    return n


def dev(*args, check=True, timeout=120):
    p = subprocess.run([os.path.join(REPO, "dev"), *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("./dev %s failed (%d): %s %s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def uid(prefix="t"):
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(12))


class Client:
    """One keep-alive HTTP/1.1 connection. Returns (status, headers, body-json-or-text).
    An https:// url needs ssl_context (an ssl.SSLContext with the CA, and the client
    certificate when the daemon asks for one).

    Every request is signed (skipsign.py) with `key` — a key id from SKIP_KEYS,
    None for the default (the widest admin key), False for an unsigned request
    — and the answer's Skip-Signature is verified (SignatureError otherwise)."""

    def __init__(self, url, timeout=10, key=None, ssl_context=None):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.key = key
        self.https, self.ssl_context = u.scheme == "https", ssl_context
        self.conn = None

    def _c(self):
        if self.conn is None:
            if self.https:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                        context=self.ssl_context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def request(self, method, path, body=None, headers=None, raw=None, key=None, retry=True):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        kid = None
        use = self.key if key is None else key
        if use is not False and "Authorization" not in h:
            kid = skipsign.pick(use or None)
        for attempt in (0, 1) if retry else (1,):
            n = None
            if kid:
                h["Authorization"], n = skipsign.sign(method, path, data, kid)
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
        if kid:
            skipsign.check_response(kid, r.status, n, text, r.getheader("Skip-Signature"))
            if r.status == 401 and b'"REPLAYED"' in text and getattr(self, "_resent", 0) < 3:
                # our nonce was fresh: the balancer delivered the request twice (the
                # first daemon died after reading it). Re-sign and send it again, as
                # the C client does (client/httpc.c); writes are idempotent. Bounded:
                # while a daemon dies the re-signed request can meet the same fate.
                self._resent = getattr(self, "_resent", 0) + 1
                try:
                    return self.request(method, path, body, headers, raw, key)
                finally:
                    self._resent -= 1
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


def backend_tls(env):
    """Does the cluster run in backend TLS mode (SKIP_BACKEND_TLS=1, devtools/dev/tls.sh)?"""
    return env.get("SKIP_BACKEND_TLS") == "1"


def tls_file(env, name):
    """A file of the dev PKI ($SKIP_TLS_DIR): ca.pem, client-skipstore.pem/.key, rogue-ca.pem, ..."""
    return os.path.join(env["SKIP_TLS_DIR"], name)


def db_tls_args(env, client="client-skipstore"):
    """pymysql arguments for a TLS session with the dev CA and a client certificate: always
    accepted by the dev MariaDBs, needed by the application account in backend TLS mode."""
    return dict(ssl_ca=tls_file(env, "ca.pem"), ssl_cert=tls_file(env, client + ".pem"),
                ssl_key=tls_file(env, client + ".key"), ssl_verify_cert=True)


def read_secret(path):
    with open(path) as f:
        return f.read().rstrip("\r\n")


def redis_client(env, addr=None, **kw):
    """redis.Redis for the cluster's Redis: its password (from SKIP_REDIS_PASSWORD_FILE) and,
    in backend TLS mode, TLS with the dev CA and the skipstore client certificate."""
    import redis
    host, port = (addr or env["SKIP_REDIS"]).rsplit(":", 1)
    args = dict(host=host, port=int(port), socket_timeout=3,
                password=read_secret(env["SKIP_REDIS_PASSWORD_FILE"]))
    if backend_tls(env):
        args.update(ssl=True, ssl_ca_certs=tls_file(env, "ca.pem"), ssl_certfile=tls_file(env, "client-skipstore.pem"),
                    ssl_keyfile=tls_file(env, "client-skipstore.key"), ssl_cert_reqs="required")
    args.update(kw)
    return redis.Redis(**args)


# ---- terminals (spec §11): a cashier create names an ACTIVE terminal of its merchant ----

def register_terminal(url, merchant, store=None, key="backoffice", tid=None):
    """Register a terminal through the API: (terminal_id, one-time activation code)."""
    tid = tid or uid("T")
    body = {"terminal_id": tid, "merchant_id": merchant}
    if store:
        body["store_id"] = store
    c = Client(url, key=key)
    st, _, r = c.post("/v1/terminals", body)
    c.close()
    assert st == 201, (st, r)
    return tid, r["activation_code"]


def activate_terminal(url, tid, code, key="cashier"):
    c = Client(url, key=key)
    st, _, r = c.post("/v1/terminals/%s/activate" % tid, {"activation_code": code})
    c.close()
    return st, r


def new_active_terminal(url, merchant, store=None):
    """A fresh terminal of merchant, registered (backoffice) and activated (cashier)."""
    tid, code = register_terminal(url, merchant, store)
    st, r = activate_terminal(url, tid, code)
    assert st == 200 and r["status"] == "ACTIVE", (st, r)
    return tid


_terminals = {}


def active_terminal(url, merchant):
    """One ACTIVE terminal of merchant for this test process (cashier creates
    need one); registered and activated through the API on first use. A
    terminal is in force on every daemon within one registry refresh: the
    daemon that activated it has it at once, the others on the Redis
    notification."""
    if merchant not in _terminals:
        _terminals[merchant] = new_active_terminal(url, merchant)
        wait_terminal_everywhere(_terminals[merchant], "ACTIVE")
    return _terminals[merchant]


def wait_terminal_everywhere(tid, status, urls=None, timeout=10):
    """Until every daemon enforces tid as status: GET /v1/terminals/{id}
    on each daemon directly answers its registry copy's view as "in_force"."""
    urls = urls or daemon_urls(load_env())
    deadline = time.monotonic() + timeout
    for u in urls:
        c = Client(u, key="backoffice")
        try:
            while True:
                st, _, r = c.get("/v1/terminals/%s" % tid)
                if st == 200 and r.get("in_force") == status:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("terminal %s not %s on %s: %s %s" % (tid, status, u, st, r))
                time.sleep(0.05)
        finally:
            c.close()


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
    tls = db_tls_args(env) if backend_tls(env) else {}
    return pymysql.connect(host=host, port=int(port), user=u, password=p, database=database,
                           autocommit=True, connect_timeout=3, read_timeout=10, write_timeout=10, **tls)


def groups(env):
    return [int(g) for g in env["SKIP_GROUPS"].split()]


def assert_clean_log(path):
    """A daemon built with sanitizers reports memory errors, leaks and data races in its log."""
    text = open(path, errors="replace").read()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer"):
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
        c = Client(self.url, timeout=2, key=False,   # readiness is unauthenticated
                   ssl_context=getattr(self, "ssl_context", None))
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
        # a daemon that started but never became ready is stopped here: __exit__ does not
        # run when __enter__ raises, and a leaked daemon keeps its node-id lease
        try:
            return self.start()
        except BaseException:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            raise

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


# ------------------------------------------------------------------ Kafka


def kcat(env, *args, stdin=None, timeout=30):
    """kcat against the cluster's brokers with the cluster's client settings (TLS mode:
    SASL_SSL + the dev CA, from SKIP_KAFKA_CLIENT_CONF). Returns the CompletedProcess."""
    cmd = ["kcat"]
    if env.get("SKIP_KAFKA_CLIENT_CONF"):
        cmd += ["-F", env["SKIP_KAFKA_CLIENT_CONF"]]
    cmd += ["-b", env["SKIP_KAFKA"], *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def kafka_partitions(env, topic=None):
    """{partition: {"leader": id, "replicas": [ids], "isr": [ids]}} of the topic, from
    the metadata (kcat -L -J); {} when it cannot be had."""
    p = kcat(env, "-L", "-J", "-m", "5", "-t", topic or env["SKIP_KAFKA_TOPIC"], timeout=20)
    if p.returncode != 0:
        return {}
    md = json.loads(p.stdout)
    out = {}
    for t in md.get("topics", []):
        for part in t.get("partitions", []):
            out[part["partition"]] = {"leader": part.get("leader", -1),
                                      "replicas": [r["id"] for r in part.get("replicas", [])],
                                      "isr": [r["id"] for r in part.get("isrs", [])]}
    return out


def kafka_end_offsets(env, partitions, topic=None):
    """{partition: log end offset} (kcat -Q, OFFSET_END)."""
    topic = topic or env["SKIP_KAFKA_TOPIC"]
    args = ["-Q"]
    for p in partitions:
        args += ["-t", "%s:%d:-1" % (topic, p)]
    r = kcat(env, *args, timeout=20)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        # "skipstore.orders [0] offset 987"
        f = line.split()
        if len(f) == 4 and f[2] == "offset":
            out[int(f[1].strip("[]"))] = int(f[3])
    return out


def broker_name(env, i):
    """./dev's component name of broker i: "kafka" in a one-broker cluster, else kafkaN."""
    return "kafka" if env.get("SKIP_KAFKA_BROKERS", "1") == "1" else "kafka%d" % i


def wait_for(pred, timeout, step=0.2, recheck=True):
    """Poll pred every step seconds (monotonic clock) until it returns something
    true or timeout seconds pass; return that value. At the deadline, recheck=True
    asks pred once more and returns its answer, recheck=False returns None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred() if recheck else None
