"""TLS (and AUTH) from skipstored to its backends, against real servers with the dev PKI.

MariaDB: every dev MariaDB serves TLS with the dev server certificate (devtools/dev/tls.sh).
The tests make an account that REQUIREs X509 (a client certificate from the dev CA), so any
session of it is TLS by construction, and run a daemon whose group and merchant-store
connections use it through db.tls.

Redis: the tests start their own Redis on base+9 that listens on TLS only (--port 0), asks
for client certificates and a password (requirepass in a 0600 config file), and run a
daemon whose redis section points there with redis.tls and redis.password_file.

Each test also shows the refusals: plaintext, a client certificate from the rogue CA, a
server certificate the client does not trust, a wrong Redis password (the daemon then
counts failures locally and creates go on: payment first).
"""
import os
import re
import shutil
import subprocess
import time

import pymysql
import pytest
import redis
import yaml

import skiputil
from skiputil import Client, Daemon, create_body, db_tls_args, tls_file

ENV = skiputil.load_env()

X509_USER = "app_x509"
X509_PW = "x509-pw-dev"


def work_dir(name):
    d = os.path.join(ENV["SKIP_RUN_DIR"], "extra", name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def secret_file(path, text):
    """A 0600 file, made so from its creation (never world-readable for a moment)."""
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


class _Loader(yaml.SafeLoader):
    """YAML as skipstore reads it: only true/false are booleans (YAML 1.1 would turn
    `mode: on` into True, and the dump would write `true`)."""


_Loader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def with_config(**sections):
    """A transform for Daemon: set keys of the generated config, section by section."""
    def transform(text):
        cfg = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        for name, values in sections.items():
            sec = cfg.setdefault(name, {})
            for k, v in values.items():
                if v is None:
                    sec.pop(k, None)
                else:
                    sec[k] = v
        return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    return transform


def tls_section(ca="ca.pem", client="client-skipstore"):
    return {"enabled": True, "ca": tls_file(ENV, ca), "cert": tls_file(ENV, client + ".pem"),
            "key": tls_file(ENV, client + ".key")}


def primaries():
    return [ENV["SKIP_G%d_PRIMARY" % g] for g in skiputil.groups(ENV)] + [ENV["SKIP_MERCHANT_DB"]]


def admin(hostport, database=None):
    host, port = hostport.rsplit(":", 1)
    tls = db_tls_args(ENV) if skiputil.backend_tls(ENV) else {}
    return pymysql.connect(host=host, port=int(port), user=ENV["SKIP_DB_ADMIN_USER"],
                           password=ENV["SKIP_DB_ADMIN_PASSWORD"], database=database, autocommit=True,
                           connect_timeout=3, read_timeout=10, **tls)


def as_x509(hostport, **kw):
    host, port = hostport.rsplit(":", 1)
    args = dict(host=host, port=int(port), user=X509_USER, password=X509_PW, database=ENV["SKIP_DB_NAME"],
                autocommit=True, connect_timeout=3, read_timeout=10)
    args.update(kw)
    return pymysql.connect(**args)


@pytest.fixture(scope="module")
def x509_user():
    """app_x509: the application account's rights, REQUIRE X509, on every primary (replicated
    to the replicas) and the merchant store."""
    for hp in primaries():
        c = admin(hp)
        try:
            with c.cursor() as cur:
                for h in ("%", "127.0.0.1", "localhost"):
                    u = "'%s'@'%s'" % (X509_USER, h)
                    cur.execute("CREATE USER IF NOT EXISTS %s IDENTIFIED BY '%s'" % (u, X509_PW))
                    cur.execute("ALTER USER %s REQUIRE X509" % u)
                    for d in (ENV["SKIP_DB_NAME"], ENV["SKIP_MERCHANT_DB_NAME"]):
                        cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO %s" % (d, u))
        finally:
            c.close()
    # the replicas have it once replication applied it
    for g in skiputil.groups(ENV):
        for hp in ENV["SKIP_G%d_REPLICAS" % g].split():
            skiputil_wait(lambda hp=hp: one(admin(hp), "SELECT COUNT(*) FROM mysql.global_priv WHERE User='%s'"
                                            % X509_USER) == 3, "app_x509 on replica %s" % hp)
    return secret_file(os.path.join(work_dir("db-tls"), "x509.pw"), X509_PW)


def one(conn, sql):
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def skiputil_wait(fn, what, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if fn():
                return
        except Exception:  # noqa: BLE001 - keep polling until the deadline
            pass
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def poll_alive(d, fn, what, timeout=20):
    """fn()'s truthy value, polled while the daemon d runs."""
    deadline = time.monotonic() + timeout
    while True:
        assert d.proc.poll() is None, "skipstored exited (%s); log %s" % (d.proc.returncode, d.log)
        try:
            v = fn()
            if v:
                return v
        except OSError:
            pass
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def x509_sessions(hostport):
    """Connections of app_x509 on a server (each one is TLS: the account requires it)."""
    return one(admin(hostport), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='%s'" % X509_USER)


def db_daemon(pwfile, port_offset, node_id, ca="ca.pem"):
    tls = tls_section(ca=ca)
    return Daemon(ENV, port_offset=port_offset, node_id=node_id, transform=with_config(
        db={"user": X509_USER, "password": None, "password_file": pwfile, "tls": tls},
        merchant_db={"user": None, "password": None, "password_file": None, "tls": None}))


# ------------------------------------------------------------------ MariaDB


def test_mariadb_tls_create_and_read_through_daemon(x509_user):
    d = db_daemon(x509_user, 105, 170)
    with d:
        c = Client(d.url)
        body = create_body(merchant="m_dbtls")
        st, _, o = c.post("/v1/orders", body)
        assert st == 201, o
        st, _, r = c.get("/v1/orders/%s?consistency=strong" % o["order_no"])
        assert st == 200 and r["out_trade_no"] == body["out_trade_no"] and r["read_from"] == "primary", r
        # the order's group primary holds sessions of the X509-only account: the daemon's pool
        assert x509_sessions(ENV["SKIP_G%d_PRIMARY" % o["group"]]) >= 1
        st, _, gs = c.get("/v1/groups")
        assert all(g["last_probe"]["ok"] for g in gs["groups"]), gs
    # the row is there, read by a TLS session of the same account: cipher in use
    conn = as_x509(ENV["SKIP_G%d_PRIMARY" % o["group"]], **db_tls_args(ENV))
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        assert cur.fetchone()[1], "no cipher: not a TLS session"
        cur.execute("SELECT out_trade_no FROM orders WHERE order_no=%s", (o["order_no"],))
        assert cur.fetchone()[0] == body["out_trade_no"]
    conn.close()


def test_mariadb_refuses_plaintext_and_rogue_client_cert(x509_user):
    hp = ENV["SKIP_G1_PRIMARY"]
    # the good certificate works ...
    assert one(as_x509(hp, **db_tls_args(ENV)), "SELECT 1") == 1
    # ... no TLS at all does not
    with pytest.raises(pymysql.err.OperationalError) as ei:
        as_x509(hp)
    assert ei.value.args[0] == 1045, ei.value
    # TLS without a client certificate does not
    with pytest.raises(pymysql.err.OperationalError) as ei:
        as_x509(hp, ssl_ca=tls_file(ENV, "ca.pem"), ssl_verify_cert=True)
    assert ei.value.args[0] == 1045, ei.value
    # a client certificate of the rogue CA does not (same CN, other issuer)
    with pytest.raises(pymysql.err.OperationalError):
        as_x509(hp, **db_tls_args(ENV, client="client-rogue"))


def test_daemon_refuses_a_server_it_does_not_trust(x509_user):
    """db.tls.ca = the rogue CA: the dev servers' certificates do not chain to it, so the
    daemon gets no connection (and no plaintext fallback): probes fail, creates answer 503."""
    d = db_daemon(x509_user, 106, 171, ca="rogue-ca.pem")
    d.start(wait=False)
    try:
        c = Client(d.url, timeout=5)

        def probes_failed():
            st, _, gs = c.get("/v1/groups")
            lp = [g["last_probe"] for g in gs["groups"]]
            return st == 200 and all(p and not p["ok"] for p in lp) and lp
        lp = poll_alive(d, probes_failed, "every probe failing")
        assert any("certificate" in (p["error"] or "").lower() or "ssl" in (p["error"] or "").lower()
                   for p in lp), lp
        st, _, r = c.post("/v1/orders", create_body(merchant="m_dbtls"))
        assert st == 503, (st, r)
    finally:
        d.stop()


# ------------------------------------------------------------------ Redis


REDIS_PW = "redis-tls-test-pw"


@pytest.fixture(scope="module")
def tls_redis():
    """A Redis on base+9: TLS only, client certificates from the dev CA, a password."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    port = int(ENV["SKIP_PORT_BASE"]) + 9
    wd = work_dir("redis-tls")
    conf = os.path.join(wd, "redis.conf")
    text = "\n".join([
        "bind 127.0.0.1", "port 0", "tls-port %d" % port, "save \"\"", "appendonly no", "dir " + wd,
        "requirepass " + REDIS_PW, "proc-title-template \"{title} {listen-addr} {server-mode} {config-file}\"",
        "tls-cert-file " + tls_file(ENV, "server.pem"), "tls-key-file " + tls_file(ENV, "server.key"),
        "tls-ca-cert-file " + tls_file(ENV, "ca.pem"), "tls-auth-clients yes"])
    secret_file(conf, text)
    log = open(os.path.join(wd, "redis.log"), "ab")
    p = subprocess.Popen(["redis-server", conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True)
    log.close()
    addr = "127.0.0.1:%d" % port
    good = dict(ssl=True, ssl_ca_certs=tls_file(ENV, "ca.pem"), ssl_certfile=tls_file(ENV, "client-skipstore.pem"),
                ssl_keyfile=tls_file(ENV, "client-skipstore.key"), ssl_cert_reqs="required", password=REDIS_PW)
    try:
        skiputil_wait(lambda: p.poll() is None and redis_at(addr, **good).ping(), "TLS redis on %s" % addr)
        yield {"addr": addr, "port": port, "good": good,
               "pwfile": secret_file(os.path.join(wd, "redis.pw"), REDIS_PW),
               "badpw": secret_file(os.path.join(wd, "wrong.pw"), "not-the-password")}
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def redis_at(addr, **kw):
    host, port = addr.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), socket_timeout=3, socket_connect_timeout=3, **kw)


def redis_daemon(r, port_offset, node_id, pwfile=None, ca="ca.pem"):
    return Daemon(ENV, port_offset=port_offset, node_id=node_id, transform=with_config(
        # timeout_ms 1000: a TLS handshake on a busy 2-core box can take longer than 200 ms
        redis={"addr": r["addr"], "password": None, "password_file": pwfile or r["pwfile"], "timeout_ms": 1000,
               "tls": tls_section(ca=ca)}))


def test_redis_tls_auth_create_and_read_through_daemon(tls_redis):
    rc = redis_at(tls_redis["addr"], **tls_redis["good"])
    with redis_daemon(tls_redis, 109, 172) as d:
        c = Client(d.url)
        body = create_body(merchant="m_redistls")
        st, _, o = c.post("/v1/orders", body)
        assert st == 201, o
        st, _, r = c.get("/v1/orders/%s" % o["order_no"])
        assert st == 200 and r["out_trade_no"] == body["out_trade_no"], r
        st, _, gs = c.get("/v1/groups")
        assert gs["counters"] == "shared", gs
        # the daemon's own writes reached this Redis, which speaks TLS only and wants a password
        assert rc.exists("skip:node:172") == 1
        clients = rc.client_list()
        assert len(clients) >= 2, clients   # this test's client and the daemon's pool


def test_redis_refuses_plaintext_rogue_cert_and_no_password(tls_redis):
    addr, good = tls_redis["addr"], tls_redis["good"]
    assert redis_at(addr, **good).ping()
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_at(addr, password=REDIS_PW).ping()            # plaintext to a TLS-only port
    rogue = dict(good, ssl_certfile=tls_file(ENV, "client-rogue.pem"), ssl_keyfile=tls_file(ENV, "client-rogue.key"))
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_at(addr, **rogue).ping()                      # client certificate of another CA
    nopw = dict(good)
    del nopw["password"]
    with pytest.raises(redis.exceptions.AuthenticationError) as ei:  # the server's NOAUTH
        redis_at(addr, **nopw).ping()
    assert "Authentication required" in str(ei.value)


@pytest.mark.parametrize("case", ["wrong_password", "untrusted_server"])
def test_redis_refused_means_local_counters_and_creates_go_on(tls_redis, case):
    """A wrong password, or a server certificate not from the configured CA: the daemon sees
    Redis down (counters local, reason in the log) and creates keep working."""
    if case == "wrong_password":
        d = redis_daemon(tls_redis, 118, 173, pwfile=tls_redis["badpw"])
        reason = "WRONGPASS"
    else:
        d = redis_daemon(tls_redis, 119, 174, ca="rogue-ca.pem")
        reason = "certificate"
    start = os.path.getsize(d.log) if os.path.exists(d.log) else 0  # the log file is appended to

    def this_run():
        with open(d.log, errors="replace") as f:
            f.seek(start)
            return f.read()
    with d:
        c = Client(d.url)
        skiputil_wait(lambda: c.get("/v1/groups")[2]["counters"] == "local", "counters local")
        for _ in range(3):
            st, _, o = c.post("/v1/orders", create_body(merchant="m_redisdown"))
            assert st == 201, o
            st, _, r = c.get("/v1/orders/%s?consistency=strong" % o["order_no"])
            assert st == 200, r
        # the first failure is logged at once; a different lasting reason within 10 s
        skiputil_wait(lambda: reason in this_run(), "%s in %s" % (reason, d.log), timeout=30)
        log = this_run()
        assert "event=redis_down" in log
        assert REDIS_PW not in log and "not-the-password" not in log


# ------------------------------------------------------------------ secrets


def test_dev_secrets_are_files_not_arguments():
    """The Redis password lives in 0600 files and in no process's command line; the dev
    PKI's private keys are 0600 in a 0700 directory; the env file is 0600."""
    pw = skiputil.read_secret(ENV["SKIP_REDIS_PASSWORD_FILE"])
    assert len(pw) >= 24
    for path in (ENV["SKIP_REDIS_PASSWORD_FILE"], os.path.join(ENV["SKIP_RUN_DIR"], "redis", "redis.conf"),
                 os.path.join(ENV["SKIP_RUN_DIR"], "env")):
        assert os.stat(path).st_mode & 0o077 == 0, path
    d = ENV["SKIP_TLS_DIR"]
    assert os.stat(d).st_mode & 0o077 == 0
    keys = [f for f in os.listdir(d) if f.endswith(".key")]
    assert {"ca.key", "server.key", "client-skipstore.key", "client-cashier.key", "client-backoffice.key",
            "client-admin.key", "client-observer.key", "client-rogue.key"} <= set(keys)
    for f in keys + ["server-bundle.pem"]:
        assert os.stat(os.path.join(d, f)).st_mode & 0o077 == 0, f
    seen = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cl = f.read()
        except OSError:
            continue
        seen += 1
        assert pw.encode() not in cl, "the Redis password is on the command line of pid %s" % pid
    assert seen > 10
