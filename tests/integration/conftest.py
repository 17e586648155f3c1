"""Shared fixtures for skipstore integration tests against the ./dev cluster.

The cluster is started by `./dev up` (or `./dev test`, which also exports the
variables of `<run dir>/env`). Fixtures, all cheap:

  env            dict of the cluster's env file (SKIP_URL = HAProxy in front of the
                 daemons, SKIP_DAEMON_URLS = each daemon directly, SKIP_G1_PRIMARY, ...)
  dev            dev("fault", "g1", "kill") runs ./dev, asserts exit 0, returns the
                 CompletedProcess (check=False to allow failure; text in .stdout)
  db             db(group, role="primary"|"replica", user="admin"|"app", replica=1,
                 database=None) -> pymysql connection (autocommit, connect_timeout=2,
                 read_timeout=5); closed at test end
  merchant_db    merchant_db(user="admin"|"app") -> pymysql connection
  restore_cluster  explicit guarantee that the cluster is whole again at test end
  api            api(method, path, body=None, base=None, headers=None) -> Response
                 (status, headers, json, text) over plain HTTP (no extra packages)
  extra_daemon   extra_daemon(index=0, **overrides) starts build/skipstored on port
                 base+100+index with its own config (node_id 100+index: the ./dev
                 daemons are node ids 1..SKIP_DAEMONS on base+131.., overrides
                 e.g. window_s=5, threshold=3), waits for /healthz; stopped at test end
  wait_until     wait_until(fn, timeout=10, interval=0.1, msg="") -> fn()'s truthy value

Fault hygiene: any ./dev fault run through `dev` marks the test; at its teardown
the cluster is restored (SIGCONT/start of anything not up via `./dev up --no-build`,
read_only=0 on every primary and the merchant DB), so the next test starts whole.
"""

import json
import os
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pymysql

import skipsign
import pytest

import skiputil

REPO = Path(__file__).resolve().parents[2]
DEV = str(REPO / "dev")


# ------------------------------------------------------------------ env


def run_dir():
    """The cluster's run dir, chosen the way ./dev chooses it."""
    if os.environ.get("SKIP_RUN_DIR"):
        return Path(os.environ["SKIP_RUN_DIR"])
    base = int(os.environ.get("SKIP_PORT_BASE", "17000"))
    return REPO / (".run" if base == 17000 else ".run-%d" % base)


def load_env(path):
    """Parse the env file: `export KEY=VALUE` lines (values may be quoted)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, val = line.partition("=")
        parts = shlex.split(val) if val else [""]
        out[key.strip()] = parts[0] if parts else ""
    return out


def addr(hostport):
    host, _, port = hostport.rpartition(":")
    return host, int(port)


_state = {"faulted": False}


def run_dev(*args, check=True, timeout=300, env_extra=None):
    """Run ./dev with the cluster's env; assert success unless check=False."""
    e = dict(os.environ)
    e["SKIP_RUN_DIR"] = str(run_dir())
    if env_extra:
        e.update(env_extra)
    if args and args[0] == "fault":
        _state["faulted"] = True
    p = subprocess.run([DEV, *map(str, args)], cwd=REPO, env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, "./dev %s -> rc %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(map(str, args)), p.returncode, p.stdout, p.stderr)
    return p


def status():
    """./dev status as {name: (pid or None, address, state)}."""
    out = {}
    for line in run_dev("status").stdout.splitlines():
        f = line.split()
        if len(f) >= 4:
            out[f[0]] = (None if f[1] == "-" else int(f[1]), f[2], f[3])
    return out


def wait_until(fn, timeout=10.0, interval=0.1, msg=""):
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last one
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (
                timeout, msg or getattr(fn, "__name__", "condition"),
                " (last error: %r)" % last_exc if last_exc else ""))
        time.sleep(interval)


# Tests that need a Kafka shape other than the cluster's are skipped with a reason that
# names their marker; .ci/run's Kafka pass (SKIP_KAFKA_BROKERS=3 SKIP_KAFKA_TLS=1, its
# own port base and run dir) runs `-m "kafka3 or kafka_tls"`.
SECOND_PASS = ("SKIP_PORT_BASE=<another base> SKIP_KAFKA_BROKERS=3 SKIP_KAFKA_TLS=1 "
               "./dev test -- -m 'kafka3 or kafka_tls' (what .ci/run's Kafka pass does)")


def pytest_collection_modifyitems(config, items):
    p = run_dir() / "env"
    e = load_env(p) if p.exists() else {}
    brokers = e.get("SKIP_KAFKA_BROKERS", "1")
    mode = e.get("SKIP_KAFKA_MODE", "apache")
    tls = e.get("SKIP_KAFKA_TLS", "0")
    for item in items:
        if "kafka3" in item.keywords and (brokers != "3" or mode != "apache"):
            item.add_marker(pytest.mark.skip(reason="marker kafka3: needs SKIP_KAFKA_BROKERS=3, this cluster has %s "
                                             "broker(s); run: %s" % (brokers, SECOND_PASS)))
        if "kafka_tls" in item.keywords and tls != "1":
            item.add_marker(pytest.mark.skip(reason="marker kafka_tls: needs SKIP_KAFKA_TLS=1; run: %s" % SECOND_PASS))
        if "kafka1" in item.keywords and (brokers != "1" or mode != "apache"):
            item.add_marker(pytest.mark.skip(reason="marker kafka1: needs one Apache Kafka broker (this cluster: "
                                             "SKIP_KAFKA_MODE=%s, SKIP_KAFKA_BROKERS=%s)" % (mode, brokers)))


@pytest.fixture(scope="session")
def env():
    p = run_dir() / "env"
    if not p.exists():
        pytest.fail("%s missing: run ./dev up first" % p)
    return load_env(p)


@pytest.fixture(scope="session")
def dev():
    return run_dev


@pytest.fixture(name="wait_until", scope="session")
def wait_until_fixture():
    return wait_until


# ------------------------------------------------------------------ databases


def connect(hostport, user, password, database=None, **kw):
    """pymysql connection; TLS with the dev client certificate in backend TLS mode."""
    host, port = addr(hostport)
    args = dict(host=host, port=port, user=user, password=password, database=database,
                autocommit=True, connect_timeout=2, read_timeout=5, write_timeout=5,
                charset="utf8mb4")
    e = load_env(run_dir() / "env")
    if skiputil.backend_tls(e):
        args.update(skiputil.db_tls_args(e))
    args.update(kw)
    return pymysql.connect(**args)


def db_address(env, group, role="primary", replica=1):
    if role == "primary":
        return env["SKIP_G%d_PRIMARY" % group]
    if role == "replica":
        return env["SKIP_G%d_REPLICAS" % group].split()[replica - 1]
    raise ValueError("role must be primary or replica")


def credentials(env, user):
    if user == "admin":
        return env["SKIP_DB_ADMIN_USER"], env["SKIP_DB_ADMIN_PASSWORD"]
    if user == "app":
        return env["SKIP_DB_USER"], env["SKIP_DB_PASSWORD"]
    raise ValueError("user must be admin or app")


@pytest.fixture
def db(env):
    conns = []

    def _db(group, role="primary", user="admin", replica=1, database=None, **kw):
        u, pw = credentials(env, user)
        if database is None and user == "app":
            database = env["SKIP_DB_NAME"]
        c = connect(db_address(env, group, role, replica), u, pw, database, **kw)
        conns.append(c)
        return c

    yield _db
    for c in conns:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def merchant_db(env):
    conns = []

    def _mdb(user="admin", **kw):
        u, pw = credentials(env, user)
        c = connect(env["SKIP_MERCHANT_DB"], u, pw, env["SKIP_MERCHANT_DB_NAME"], **kw)
        conns.append(c)
        return c

    yield _mdb
    for c in conns:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


# ------------------------------------------------------------------ fault hygiene


def restore(env):
    """Bring every component back (SIGCONT / start with its data) and make every
    primary and the merchant DB writable."""
    st = status()
    bad = [n for n, (_, _, s) in st.items() if s not in ("up", "absent")]
    if bad:
        p = run_dev("up", "--no-build", check=False)
        if p.returncode != 0:
            # One more try: a daemon can need a lease TTL before it may restart.
            run_dev("up", "--no-build")
    au, apw = credentials(env, "admin")
    targets = [env["SKIP_G%s_PRIMARY" % g] for g in env["SKIP_GROUPS"].split()]
    targets.append(env["SKIP_MERCHANT_DB"])
    for hp in targets:
        c = connect(hp, au, apw)
        try:
            with c.cursor() as cur:
                cur.execute("SET GLOBAL read_only=0")
        finally:
            c.close()


@pytest.fixture(autouse=True)
def _fault_hygiene(env):
    _state["faulted"] = False
    yield
    if _state["faulted"]:
        _state["faulted"] = False
        restore(env)


@pytest.fixture
def restore_cluster(env):
    yield
    restore(env)


# ------------------------------------------------------------------ HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.text[:200])


def http(method, url, body=None, headers=None, timeout=10, key=None):
    """One request, signed with `key` (skipsign.py: None = the default key,
    False = unsigned); the answer's signature is verified."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        hdrs.setdefault("Content-Type", "application/json")
    kid = skipsign.pick(key or None) if key is not False and "Authorization" not in hdrs else None
    n = None
    if kid:
        u = urllib.parse.urlsplit(url)
        target = u.path + ("?" + u.query if u.query else "")
        hdrs["Authorization"], n = skipsign.sign(method, target, data, kid)
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            resp = Response(r.status, dict(r.headers), r.read())
            raw = resp.raw
    except urllib.error.HTTPError as e:
        resp = Response(e.code, dict(e.headers), e.read())
        raw = resp.raw
    if kid:
        # field names are case-insensitive (HAProxy sends them lowercased)
        sig = next((v for k, v in resp.headers.items() if k.lower() == "skip-signature"), None)
        skipsign.check_response(kid, resp.status, n, raw, sig)
    return resp


@pytest.fixture
def api(env):
    def _api(method, path, body=None, base=None, headers=None, timeout=10, key=None):
        return http(method, (base or env["SKIP_URL"]) + path, body, headers, timeout, key)
    return _api


# ------------------------------------------------------------------ extra daemons


@pytest.fixture
def extra_daemon(env):
    """Start extra skipstored instances on base+100+index (index 0..19)."""
    procs = []
    binary = Path(env["SKIP_BUILD_DIR"]) / "skipstored"

    def _start(index=0, node_id=None, window_s=None, threshold=None, wait=True, **env_over):
        if not binary.exists():
            pytest.skip("skipstored is not built")
        assert 0 <= index < 20
        port = int(env["SKIP_PORT_BASE"]) + 100 + index
        extra = {"SKIP_DAEMON_PORT": str(port),
                 "SKIP_NODE_ID": str(node_id if node_id is not None else 100 + index)}
        if window_s is not None:
            extra["SKIP_WINDOW_S"] = str(window_s)
        if threshold is not None:
            extra["SKIP_THRESHOLD"] = str(threshold)
        extra.update({k: str(v) for k, v in env_over.items()})
        cfg_text = run_dev("config", env_extra=extra).stdout
        rd = run_dir() / "extra"
        rd.mkdir(parents=True, exist_ok=True)
        cfg = rd / ("skipstored-%d.yaml" % port)
        cfg.write_text(cfg_text)
        logf = open(rd / ("skipstored-%d.log" % port), "ab")
        p = subprocess.Popen([str(binary), "--config", str(cfg)], stdin=subprocess.DEVNULL,
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        p.url = "http://127.0.0.1:%d" % port
        p.config = cfg
        procs.append(p)
        if wait:
            wait_until(lambda: p.poll() is None and http("GET", p.url + "/healthz", timeout=1).status == 200,
                       timeout=20, msg="extra skipstored on %d /healthz" % port)
        return p

    yield _start
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.terminate()
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
