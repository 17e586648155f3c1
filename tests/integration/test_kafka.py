"""Apache Kafka under the mirror (spec §7, §12; issue 14): broker faults under a steady
create + pay load, and the Kafka settings pass-through (kafka.producer / kafka.consumer).

Every fault test runs a load (threads creating orders for the test's own merchants and
paying every third one), injects the fault with ./dev fault while the load goes on, and
then asserts:
  - no create and no pay failed (Kafka down never fails a write, spec §7);
  - every acknowledged create is stored once in its group (skiputil.verify_stored) and
    every acknowledged pay shows there (PAID);
  - the merchant store converges on the groups: for the test's merchants exactly the
    groups' orders, each with the same version and status (nothing lost, nothing extra);
  - no merchant-store version went backwards while the test ran (an old change applied
    again over a newer one would show so).
Markers: kafka1 = needs one Apache Kafka broker (the default `./dev` cluster); kafka3 =
needs SKIP_KAFKA_BROKERS=3 (.ci/run's Kafka pass). conftest.py skips them otherwise.
"""
import os
import re
import signal
import subprocess
import threading
import time

import pymysql
import pytest

from conftest import run_dev, wait_until
from skiputil import (Client, Daemon, create_body, db, groups, kafka_end_offsets, kafka_partitions,
                      uid, verify_stored)

LOAD_MAX_S = 300  # a load thread stops by itself after this, whatever happens to the test


class Load:
    """Threads sending creates back to back for `merchants` merchants of `prefix`, paying
    every `pay_every`-th order they created. Records what the API acknowledged."""

    def __init__(self, url, prefix, threads=4, merchants=4, pay_every=3, pause=0.01):
        self.url, self.prefix, self.threads = url, prefix, threads
        self.merchants, self.pay_every, self.pause = merchants, pay_every, pause
        self.created = []   # (body, order) of acknowledged creates
        self.paid = set()   # order numbers of acknowledged pays
        self.failures = []  # (what, status, response)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.ths = []

    def _run(self, idx):
        c = Client(self.url, timeout=15)
        deadline = time.monotonic() + LOAD_MAX_S
        n = 0
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            body = create_body("%s_%d" % (self.prefix, (idx + n) % self.merchants), expire_seconds=86400)
            n += 1
            try:
                st, _, r = c.post("/v1/orders", body)
            except Exception as e:  # noqa: BLE001 - a transport failure is a failed create
                st, r = -1, str(e)
            with self.lock:
                if st in (200, 201):
                    self.created.append((body, r))
                else:
                    self.failures.append(("create", st, r))
            if st == 201 and n % self.pay_every == 0:
                try:
                    st, _, p = c.post("/v1/orders/%s/pay" % r["order_no"],
                                      {"channel_txn_id": "tx" + r["order_no"], "paid_amount": r["amount"]})
                except Exception as e:  # noqa: BLE001
                    st, p = -1, str(e)
                with self.lock:
                    if st == 200:
                        self.paid.add(r["order_no"])
                    else:
                        self.failures.append(("pay", st, p))
            time.sleep(self.pause)
        c.close()

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.ths.append(t)
        return self

    def count(self):
        with self.lock:
            return len(self.created)

    def wait_more(self, n, what, timeout=120):
        """Wait until n more creates were acknowledged (the load goes on meanwhile)."""
        target = self.count() + n
        wait_until(lambda: self.count() >= target or self.failures, timeout=timeout, interval=0.1,
                   msg="%d more acknowledged creates (%s)" % (n, what))
        assert not self.failures, self.failures[:5]

    def stop(self):
        self.stop_ev.set()
        for t in self.ths:
            t.join(30)


def merchant_conn(env):
    host, port = env["SKIP_MERCHANT_DB"].rsplit(":", 1)
    return pymysql.connect(host=host, port=int(port), user=env["SKIP_DB_ADMIN_USER"],
                           password=env["SKIP_DB_ADMIN_PASSWORD"], database=env["SKIP_MERCHANT_DB_NAME"],
                           autocommit=True, connect_timeout=3, read_timeout=10, write_timeout=10)


def mirror_rows(conn, prefix):
    with conn.cursor() as cur:
        cur.execute("SELECT order_no, version, status FROM merchant_orders WHERE merchant_id LIKE %s",
                    (prefix + "\\_%",))
        return {r[0]: (r[1], r[2]) for r in cur.fetchall()}


def group_rows(env, prefix):
    out = {}
    for g in groups(env):
        c = db(env, g)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT order_no, version, status FROM orders WHERE merchant_id LIKE %s",
                            (prefix + "\\_%",))
                for r in cur.fetchall():
                    assert r[0] not in out, "order %s in two groups" % r[0]
                    out[r[0]] = (r[1], r[2])
        finally:
            c.close()
    return out


class VersionWatch:
    """Polls the merchant store's versions of the test's orders; records any that went
    backwards."""

    def __init__(self, env, prefix):
        self.env, self.prefix = env, prefix
        self.seen, self.regressions = {}, []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        conn = None
        deadline = time.monotonic() + LOAD_MAX_S + 120
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            try:
                conn = conn or merchant_conn(self.env)
                for no, (v, _) in mirror_rows(conn, self.prefix).items():
                    if v < self.seen.get(no, 0):
                        self.regressions.append((no, self.seen[no], v))
                    self.seen[no] = max(v, self.seen.get(no, 0))
            except pymysql.MySQLError:
                conn = None  # merchant store busy or restarting: try again
            time.sleep(0.2)
        if conn:
            conn.close()

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        self.th.join(10)


def assert_converged(env, load, watch, timeout=120):
    assert not load.failures, "failed writes: %r" % load.failures[:5]
    assert load.created, "no create was acknowledged"
    verify_stored(env, load.created)
    g = group_rows(env, load.prefix)
    for no in load.paid:
        assert g[no][1] == "PAID" and g[no][0] >= 2, (no, g[no])
    conn = merchant_conn(env)
    state = {}
    try:
        def same():
            state["m"] = mirror_rows(conn, load.prefix)
            return state["m"] == g
        try:
            wait_until(same, timeout=timeout, interval=0.5, msg="merchant store == groups for %s" % load.prefix)
        except AssertionError:
            m = state.get("m", {})
            missing = sorted(k for k in g if k not in m)
            behind = sorted((k, g[k], m[k]) for k in g if k in m and m[k][0] < g[k][0])
            ahead = sorted((k, g[k], m[k]) for k in g if k in m and m[k] != g[k] and m[k][0] >= g[k][0])
            extra = sorted(k for k in m if k not in g)
            raise AssertionError("mirror did not converge: %d missing %r, %d behind %r, %d differ at the same or a "
                                 "newer version %r, %d not in any group %r" % (
                                     len(missing), missing[:3], len(behind), behind[:3], len(ahead), ahead[:3],
                                     len(extra), extra[:3]))
    finally:
        conn.close()
    assert not watch.regressions, "merchant-store versions went backwards: %r" % watch.regressions[:5]
    return g


# ------------------------------------------------------------------ broker faults


@pytest.mark.kafka1
def test_single_broker_killed_and_restarted_with_its_data(env, dev):
    """The only broker SIGKILLed under load and started again on the same data: creates
    and pays never fail, its log survives (end offsets do not go back), and the merchant
    store converges on the groups."""
    prefix = uid("kb")
    parts = sorted(kafka_partitions(env))
    assert len(parts) == 4, parts
    with VersionWatch(env, prefix) as watch:
        load = Load(env["SKIP_URL"], prefix).start()
        try:
            load.wait_more(60, "before the kill")
            before = kafka_end_offsets(env, parts)
            dev("fault", "kafka", "kill")
            load.wait_more(100, "broker down")
            dev("fault", "kafka", "start")
            after = kafka_end_offsets(env, parts)
            for p in parts:
                assert after[p] >= before[p], "partition %d: end offset %d after the restart, %d before the kill" % (
                    p, after[p], before[p])
            load.wait_more(60, "after the restart")
        finally:
            load.stop()
        g = assert_converged(env, load, watch)
    assert len(g) >= 220


@pytest.mark.kafka1
def test_mirror_killed_during_broker_outage(env, dev):
    """Broker SIGKILLed, then the mirror SIGKILLed while the broker is down, broker back
    (the relay drains the outboxes into it with no mirror running), then the mirror back:
    nothing lost, nothing applied twice, the merchant store converges."""
    prefix = uid("km")
    with VersionWatch(env, prefix) as watch:
        load = Load(env["SKIP_URL"], prefix).start()
        try:
            load.wait_more(60, "before the faults")
            dev("fault", "kafka", "kill")
            load.wait_more(40, "broker down")
            dev("fault", "mirror", "kill")
            load.wait_more(40, "broker and mirror down")
            dev("fault", "kafka", "start")
            load.wait_more(60, "mirror down")
            dev("fault", "mirror", "start")
            load.wait_more(40, "after the faults")
        finally:
            load.stop()
            dev("fault", "mirror", "start")
        g = assert_converged(env, load, watch)
    assert len(g) >= 240


@pytest.mark.kafka3
def test_topic_is_replicated_three_times_with_min_isr_2(env):
    """Three brokers: every partition of the topic has 3 replicas, all in sync, and the
    topic refuses acks=all writes below 2 in-sync replicas (min.insync.replicas=2)."""
    md = kafka_partitions(env)
    assert len(md) == 4, md
    for p, m in md.items():
        assert sorted(m["replicas"]) == [1, 2, 3] and sorted(m["isr"]) == [1, 2, 3], (p, m)
    home = env["SKIP_KAFKA_HOME"]
    admin = os.path.join(os.path.dirname(env["SKIP_KAFKA_CLIENT_CONF"]), "admin.properties")
    out = subprocess.run(["java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", os.path.join(home, "libs", "*"),
                          "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", env["SKIP_KAFKA"],
                          "--command-config", admin, "--describe", "--topic", env["SKIP_KAFKA_TOPIC"]],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"ReplicationFactor: 3\s", out.stdout), out.stdout
    assert "min.insync.replicas=2" in out.stdout, out.stdout


@pytest.mark.kafka3
def test_partition_leader_killed_under_load(env, dev):
    """Three brokers: the leader of partition 0 SIGKILLed under load. New leaders are
    elected from the in-sync replicas, the relay keeps publishing (acks=all with 2 of 3
    in sync), creates and pays never fail, and the merchant store converges while the
    broker is still dead; started again, it rejoins every ISR."""
    prefix = uid("kl")
    md = kafka_partitions(env)
    assert len(md) == 4 and all(len(m["replicas"]) == 3 for m in md.values()), md
    victim = md[0]["leader"]
    assert victim in (1, 2, 3), md
    name = "kafka%d" % victim
    with VersionWatch(env, prefix) as watch:
        load = Load(env["SKIP_URL"], prefix).start()
        try:
            load.wait_more(60, "before the kill")
            dev("fault", name, "kill")

            def moved():
                m = kafka_partitions(env)
                return len(m) == 4 and all(p["leader"] not in (victim, -1) and victim not in p["isr"]
                                           and len(p["isr"]) == 2 for p in m.values())
            wait_until(moved, timeout=60, interval=0.5, msg="every partition led by a live broker, ISR of 2")
            load.wait_more(120, "leader dead")
        finally:
            load.stop()
        try:
            assert_converged(env, load, watch)
        finally:
            dev("fault", name, "start")

    def rejoined():
        m = kafka_partitions(env)
        return len(m) == 4 and all(sorted(p["isr"]) == [1, 2, 3] for p in m.values())
    wait_until(rejoined, timeout=120, interval=0.5, msg="%s back in every ISR" % name)


# ------------------------------------------------------------------ pass-through settings


def add_kafka_prop(text, section, line):
    """The config text with `line` ("name: value") added to kafka.<section>."""
    head = "  %s:\n" % section
    if head in text:
        return text.replace(head, head + "    " + line + "\n", 1)
    anchor = "  relay_interval_ms:"
    i = text.index(anchor)
    j = text.index("\n", i) + 1
    return text[:j] + head + "    " + line + "\n" + text[j:]


def daemon_exit(d, timeout=20):
    """Start an extra daemon that must refuse to start; its exit code and log."""
    d.start(wait=False)
    try:
        rc = d.proc.wait(timeout)
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.logf.close()
    return rc, open(d.log, errors="replace").read()


def test_daemon_refuses_unknown_kafka_producer_property(env):
    d = Daemon(env, port_offset=109, name="daemon-badprop",
               transform=lambda t: add_kafka_prop(t, "producer", "linger.mz: 5"))
    rc, log = daemon_exit(d)
    assert rc == 1, log[-2000:]
    assert re.search(r"daemon-badprop\.yaml:\d+: kafka\.producer\.linger\.mz: No such configuration property", log), \
        log[-2000:]


def test_daemon_refuses_weakened_acks(env):
    d = Daemon(env, port_offset=109, name="daemon-acks1",
               transform=lambda t: add_kafka_prop(t, "producer", "acks: 1"))
    rc, log = daemon_exit(d)
    assert rc == 1, log[-2000:]
    assert re.search(r"daemon-acks1\.yaml:\d+: kafka\.producer\.acks: '1' is refused \(must be all\|-1\)", log), \
        log[-2000:]


def test_mirror_refuses_unknown_kafka_consumer_property(env, tmp_path):
    cfg = run_dev("config").stdout
    path = tmp_path / "mirror-badprop.yaml"
    path.write_text(add_kafka_prop(cfg, "consumer", "fetch.wait.max.mz: 20"))
    path.chmod(0o600)
    binary = os.path.join(env["SKIP_BUILD_DIR"], "skipstore-mirror")
    p = subprocess.run([binary, "--config", str(path)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert re.search(r"mirror-badprop\.yaml:\d+: kafka\.consumer\.fetch\.wait\.max\.mz: No such configuration "
                     r"property", p.stderr), p.stderr


def test_reload_checks_kafka_properties_and_replaces_producers(env):
    """SIGHUP with an unknown kafka.producer property: reload refused, old config kept,
    daemon serving. SIGHUP with a valid change: each group's producer is replaced."""
    d = Daemon(env, port_offset=109, name="daemon-reload")
    base = open(d.config).read()
    def since(mark):
        return open(d.log, errors="replace").read()[mark:]

    try:
        d.start()
        mark = len(open(d.log, errors="replace").read())  # the log file is appended to across runs
        with open(d.config, "w") as f:
            f.write(add_kafka_prop(base, "producer", "linger.mz: 5"))
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "kafka.producer.linger.mz" in since(mark), timeout=15, msg="reload_failed logged")
        assert re.search(r"event=reload_failed keep=old_config err=.*kafka\.producer\.linger\.mz: No such",
                         since(mark)), since(mark)
        st, _, _ = Client(d.url, timeout=5).get("/healthz")
        assert st == 200 and d.proc.poll() is None
        mark = len(open(d.log, errors="replace").read())
        with open(d.config, "w") as f:
            f.write(add_kafka_prop(base, "producer", "client.id: skipstored-reloaded"))
        d.proc.send_signal(signal.SIGHUP)
        ng = len(groups(env))
        wait_until(lambda: since(mark).count("event=relay_kafka_settings_changed") >= ng,
                   timeout=20, msg="every group's producer replaced after the reload")
        assert "event=reloaded" in since(mark)
    finally:
        d.stop()  # also when start() failed: nothing is left holding the port and node id


def test_dev_config_is_private(env):
    """skipstored.yaml holds passwords (with SKIP_KAFKA_TLS=1 the Kafka SASL one): 0600."""
    assert oct(os.stat(env["SKIP_CONFIG"]).st_mode & 0o777) == "0o600"
    if env.get("SKIP_KAFKA_CLIENT_CONF"):
        assert oct(os.stat(env["SKIP_KAFKA_CLIENT_CONF"]).st_mode & 0o777) == "0o600"

