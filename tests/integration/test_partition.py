"""Network partitions (spec §2 `partition`/`heal`, §6, §7; issue 15): while a steady
stream of creates runs, a component is cut off with `./dev fault T partition` — every
packet to and from it dropped, so connects hang and established connections go
silent — and later healed. For a group primary, a replica, Redis, Kafka and the
merchant store: no create fails while it is partitioned, every acknowledged order is
stored exactly once, and after `heal` the component is used again (the group takes
orders once its failure window rolls over, the replica catches up, Redis counters are
shared again, the mirror catches up).

The daemon under test runs with a 5 s failure window. Latency is measured and printed
(the worst second's p99, target <= 1.2 s), never asserted."""
import contextlib
import socket
import subprocess
import time

import pymysql
import pytest

import skiputil
from skiputil import (Client, CreateStream, Daemon, acked, create_body, daemon_urls, db, failures, load_env,
                      read_secret, verify_stored)

ENV = load_env()
WINDOW = 5
BASE = int(ENV["SKIP_PORT_BASE"])


@pytest.fixture(scope="module")
def d():
    # millisecond attempt deadlines as in production (config/skipstore.production.yaml
    # has 300): a create that picked a silent group moves on after 250 ms, not the
    # whole-second Connector/C timeout (docs/partitions.md has the measurements)
    daemon = Daemon(ENV, port_offset=113, node_id=53, window_s=WINDOW, threshold=5, name="partition",
                    extra_env={"SKIP_ATTEMPT_TIMEOUT_MS": "250"})
    try:   # stopped even when it never got ready (a leftover would hold the port)
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


# ------------------------------------------------------------------ helpers


@contextlib.contextmanager
def partitioned(dev, target):
    p = dev("fault", target, "partition")
    assert "partitioned" in p.stdout, p.stdout
    try:
        yield time.time()
    finally:
        dev("fault", target, "heal")


def wait_for(pred, timeout, step=0.2):
    return skiputil.wait_for(pred, timeout, step, recheck=False)


def groups_view(url):
    st, _, r = Client(url, timeout=5).get("/v1/groups")
    assert st == 200, r
    return r


def group_state(url, gid):
    return [g for g in groups_view(url)["groups"] if g["id"] == gid][0]


def settle(d):
    """Every group ACTIVE with a good probe, Redis counters shared (after earlier scenarios)."""
    assert wait_for(lambda: all(x["state"] == "ACTIVE" and x["last_probe"] and x["last_probe"]["ok"]
                                for x in groups_view(d.url)["groups"]), 3 * WINDOW + 5), groups_view(d.url)


def takes_orders(url, gid, timeout):
    """Create until one lands in gid; seconds it took, or None."""
    c = Client(url)
    t0 = time.time()
    while time.time() - t0 < timeout:
        st, _, r = c.post("/v1/orders", create_body(merchant="m_back"))
        if st == 201 and r["group"] == gid:
            return time.time() - t0
        time.sleep(0.02)
    return None


def worst_second(res, t_from, t_to):
    """(p99 s, second offset from t_from, creates in it) of the worst one-second bucket
    of creates started in [t_from, t_to)."""
    buckets = {}
    for t0, lat, _, _, _ in res:
        if t_from <= t0 < t_to:
            buckets.setdefault(int(t0 - t_from), []).append(lat)
    worst = (0.0, None, 0)
    for sec, lats in buckets.items():
        lats.sort()
        p99 = lats[min(len(lats) - 1, int(len(lats) * 0.99))]
        if p99 > worst[0]:
            worst = (p99, sec, len(lats))
    return worst


def report(name, res, t_part, t_heal, extra=""):
    p99, sec, n = worst_second(res, t_part - 1, t_heal + 1)
    during = [r for r in res if t_part <= r[0] < t_heal]
    print("\npartition %s: %d creates (%d while partitioned), %d failed; worst second p99 %.0f ms "
          "(t=%+d s from the partition, %d creates), max while partitioned %.0f ms%s"
          % (name, len(res), len(during), len(failures(res)), p99 * 1000, (sec if sec is not None else 0) - 1, n,
             max((r[1] for r in during), default=0) * 1000, extra))
    return p99


def established_to(pid, port):
    """Established TCP connections of process pid to 127.0.0.1:port."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dst", "127.0.0.1:%d" % port],
                         capture_output=True, text=True, timeout=10).stdout
    return sum(1 for line in out.splitlines() if "pid=%d," % pid in line)


def merchant_db():
    host, port = ENV["SKIP_MERCHANT_DB"].rsplit(":", 1)
    return pymysql.connect(host=host, port=int(port), user=ENV["SKIP_DB_ADMIN_USER"],
                           password=ENV["SKIP_DB_ADMIN_PASSWORD"], database=ENV["SKIP_MERCHANT_DB_NAME"],
                           autocommit=True, connect_timeout=3, read_timeout=10)


def in_merchant_store(order_nos):
    """How many of order_nos the merchant store holds."""
    c = merchant_db()
    try:
        cur = c.cursor()
        n = 0
        nos = list(order_nos)
        for i in range(0, len(nos), 500):
            chunk = nos[i:i + 500]
            cur.execute("SELECT COUNT(*) FROM merchant_orders WHERE order_no IN (%s)" % ",".join(["%s"] * len(chunk)),
                        chunk)
            n += cur.fetchone()[0]
        return n
    finally:
        c.close()


def mirror_catches_up(res, timeout=60):
    nos = [r["order_no"] for _, r in acked(res)]
    t0 = time.time()
    ok = wait_for(lambda: in_merchant_store(nos) == len(nos), timeout, step=0.5)
    assert ok, "mirror holds %d of %d acknowledged orders %d s after heal" % (in_merchant_store(nos), len(nos), timeout)
    return time.time() - t0


def semi_sync_status(group):
    c = db(ENV, group)
    try:
        cur = c.cursor()
        cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_status'")
        return cur.fetchone()[1]
    finally:
        c.close()


# ------------------------------------------------------------------ ./dev itself


def test_partition_is_silent_both_ways_and_heal_restores(dev):
    """The mechanism: connects hang (no RST), an established connection goes silent,
    status says partitioned; after heal the very same connection carries traffic again
    (a re-plugged cable), and the mirror (no port of its own) is refused clearly."""
    port = int(ENV["SKIP_REDIS"].rsplit(":", 1)[1])
    est = socket.create_connection(("127.0.0.1", port), timeout=2)
    pw = read_secret(ENV["SKIP_REDIS_PASSWORD_FILE"]).encode()
    est.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw))
    assert est.recv(64) == b"+OK\r\n"
    est.sendall(b"PING\r\n")
    assert est.recv(64) == b"+PONG\r\n"
    try:
        with partitioned(dev, "redis"):
            st = dev("status").stdout
            assert [ln.split()[-1] for ln in st.splitlines() if ln.startswith("redis ")] == ["partitioned"], st
            est.sendall(b"PING\r\n")   # the send itself succeeds: nothing tells the sender
            with pytest.raises(socket.timeout):
                est.recv(64)
            t0 = time.time()
            with pytest.raises(socket.timeout):   # not ConnectionRefusedError: no RST
                socket.create_connection(("127.0.0.1", port), timeout=1)
            assert time.time() - t0 >= 0.9
        est.settimeout(10)
        assert est.recv(64) == b"+PONG\r\n"       # retransmitted after heal
        st = dev("status").stdout
        assert [ln.split()[-1] for ln in st.splitlines() if ln.startswith("redis ")] == ["up"], st
    finally:
        est.close()
    p = dev("fault", "mirror", "partition", check=False)
    assert p.returncode != 0 and "no port" in p.stderr, p.stderr
    p = dev("fault", "redis", "heal")
    assert "not partitioned" in p.stdout


# ------------------------------------------------------------------ scenarios


def test_primary_partitioned(d, dev):
    """Group 1's primary cut off: the daemon's pooled connections go silent, new
    connects hang. Creates move on within the timeout; the group is skipped; after heal
    it takes orders again once its window rolls over."""
    settle(d)
    port = int(ENV["SKIP_G1_PRIMARY"].rsplit(":", 1)[1])
    s = CreateStream(d.url, threads=4).start()
    assert wait_for(lambda: established_to(d.proc.pid, port) >= 1, 5), \
        "the daemon holds no connection to g1: the established-connection case is not exercised"
    with partitioned(dev, "g1") as t_part:
        assert wait_for(lambda: group_state(d.url, 1)["state"] == "SKIPPED", 10)
        t_skipped = time.time() - t_part
        time.sleep(3)
        t_cut_end = time.time()   # heal starts now; it may take effect before ./dev returns
    t_heal = time.time()
    back = takes_orders(d.url, 1, 2 * WINDOW + 5)
    res = s.stop()
    report("g1 (primary)", res, t_part, t_heal, "; SKIPPED after %.1f s; back %.1f s after heal"
           % (t_skipped, back if back is not None else -1))
    assert failures(res) == []
    late = [r for (t0, _, st, _, r) in res if st in (200, 201) and r["group"] == 1 and t_part < t0 < t_cut_end]
    assert late == [], "orders acknowledged from a partitioned group: %r" % late[:3]
    assert back is not None, "group 1 did not take orders again after heal"
    assert group_state(d.url, 1)["state"] == "ACTIVE"
    verify_stored(ENV, acked(res))


def test_replica_partitioned(d, dev):
    """Group 2's replica cut off (its replication link too): creates keep their pace
    (semi-sync degrades after its 500 ms timeout), reads of group 2 orders are still
    answered — only the first waits for the silent replica, the others go straight to
    the primary (flow/read.c's breaker) — and after heal the replica catches up."""
    settle(d)
    c = Client(d.url)
    mine = []
    while len(mine) < 5:
        st, _, r = c.post("/v1/orders", create_body(merchant="m_rep"))
        assert st == 201
        if r["group"] == 2:
            mine.append(r)
    s = CreateStream(d.url, threads=4).start()
    time.sleep(1)
    reads = []
    with partitioned(dev, "g2r1") as t_part:
        # the link is really cut: the primary stops waiting for the replica's ack
        assert wait_for(lambda: semi_sync_status(2) == "OFF", 5), "semi-sync still on: replication not cut"
        for o in mine:
            t0 = time.time()
            st, _, r = c.get("/v1/orders/%s" % o["order_no"])
            reads.append((st, time.time() - t0, r.get("read_from") if isinstance(r, dict) else r))
        time.sleep(2)
    t_heal = time.time()
    res = s.stop()
    g2 = [r["order_no"] for _, r in acked(res) if r["group"] == 2]

    def replica_has_all():
        conn = db(ENV, 2, role="replica")
        try:
            cur = conn.cursor()
            cur.execute("SELECT COUNT(*) FROM orders WHERE order_no IN (%s)" % ",".join(["%s"] * len(g2)), g2)
            return cur.fetchone()[0] == len(g2)
        finally:
            conn.close()
    caught_up = wait_for(replica_has_all, 60, step=0.5)
    t_caught = time.time() - t_heal
    resync = wait_for(lambda: semi_sync_status(2) == "ON", 30)
    report("g2r1 (replica)", res, t_part, t_heal, "; reads of g2 orders %s; replica caught up %.1f s after heal"
           % (["%d %s %.0f ms" % (st, rf, dt * 1000) for st, dt, rf in reads], t_caught))
    assert failures(res) == []
    assert all(st == 200 for st, _, _ in reads), reads
    # the replica's read timeout is 1 s: a read that waited for it takes >= 1 s
    waited = [x for x in reads if x[1] >= 0.9]
    assert len(waited) <= 1 and all(rf == "primary" for _, _, rf in reads[1:]), reads
    assert g2 and caught_up, "replica of group 2 missing acknowledged orders after heal"
    assert resync, "semi-sync did not come back on after heal"
    verify_stored(ENV, acked(res))


def test_redis_partitioned(d, dev):
    """Redis cut off: counters go local, a retried create is still idempotent; after
    heal the counters are shared again."""
    settle(d)
    s = CreateStream(d.url, threads=4).start()
    time.sleep(1)
    with partitioned(dev, "redis") as t_part:
        assert wait_for(lambda: groups_view(d.url)["counters"] == "local", 5), groups_view(d.url)
        body = create_body(merchant="m_redis")
        c = Client(d.url)
        st1, _, a = c.post("/v1/orders", body)
        st2, _, b = c.post("/v1/orders", body)
        assert st1 == 201 and st2 == 200 and a["order_no"] == b["order_no"], (st1, a, st2, b)
        time.sleep(3)
    t_heal = time.time()
    shared = wait_for(lambda: groups_view(d.url)["counters"] == "shared", 10)
    t_shared = time.time() - t_heal
    res = s.stop()
    report("redis", res, t_part, t_heal, "; counters shared again %.1f s after heal" % t_shared)
    assert failures(res) == []
    assert shared, "counters still local after heal"
    verify_stored(ENV, acked(res))


def test_kafka_partitioned(d, dev):
    """Kafka cut off for longer than the relay's message timeout: creates go on, nothing
    created meanwhile reaches the merchant store; after heal the mirror catches up."""
    settle(d)
    s = CreateStream(d.url, threads=4).start()
    time.sleep(1)
    with partitioned(dev, "kafka") as t_part:
        time.sleep(7)
        cut = [r["order_no"] for (t0, _, st, _, r) in s.snapshot() if st in (200, 201) and t0 > t_part]
        assert cut and in_merchant_store(cut) == 0, "orders reached the merchant store through a partitioned Kafka"
    t_heal = time.time()
    res = s.stop()
    took = mirror_catches_up(res)
    report("kafka", res, t_part, t_heal, "; mirror caught up %.1f s after heal" % took)
    assert failures(res) == []
    verify_stored(ENV, acked(res))


def test_merchant_store_partitioned(d, dev):
    """The merchant store cut off: creates go on, a merchant listing falls back to the
    groups; after heal the mirror catches up."""
    settle(d)
    s = CreateStream(d.url, threads=4, merchant="m_mstore").start()
    time.sleep(1)
    with partitioned(dev, "merchantdb") as t_part:
        time.sleep(1)
        t0 = time.time()
        st, _, r = Client(d.url).get("/v1/merchants/m_mstore/orders?limit=5")
        listing = (st, r.get("source") if isinstance(r, dict) else r, time.time() - t0)
        time.sleep(4)
    t_heal = time.time()
    res = s.stop()
    took = mirror_catches_up(res)
    report("merchantdb", res, t_part, t_heal, "; listing while partitioned: %d source=%s in %.0f ms; "
           "mirror caught up %.1f s after heal" % (listing[0], listing[1], listing[2] * 1000, took))
    assert failures(res) == []
    assert listing[0] == 200 and listing[1] == "groups", listing
    verify_stored(ENV, acked(res))


def config_window_s():
    """selector.window_s of the ./dev daemon (its config file)."""
    for line in open(ENV["SKIP_CONFIG"]):
        if line.strip().startswith("window_s:"):
            return int(line.split(":", 1)[1])
    return 60


def test_isolated_daemon_does_not_skip_groups_for_the_others(dev):
    """The ./dev daemon is cut off from everything (clients, groups, Redis, Kafka) for
    8 s and counts failures for every group — its own problem, not the groups'. After
    heal, another daemon that never lost anything must still see every group ACTIVE and
    answer /readyz 200: behind the balancer a 503 there takes it out of rotation."""
    window = config_window_s()
    other = Daemon(ENV, port_offset=115, node_id=55, window_s=window, threshold=5, name="observer")
    try:
        try:
            other.start()
        except AssertionError as e:   # not the bug under test
            pytest.fail("the other daemon did not start: %s" % e)
        c = Client(other.url, timeout=5)
        # partition, heal and look inside one failure window
        if time.time() % window > window - 15:
            time.sleep(window - time.time() % window + 0.5)
        w0 = int(time.time() // window)
        # preconditions fail the test (pytest.fail), only the final check is the known bug
        if c.get("/readyz")[0] != 200:
            pytest.fail("the other daemon is not ready before the partition")
        try:
            with partitioned(dev, "daemon"):
                time.sleep(8)
            time.sleep(1.5)   # a few counter refreshes of both daemons
            if int(time.time() // window) != w0:
                pytest.fail("the failure window rolled over during the test")
            states = [g["state"] for g in groups_view(other.url)["groups"]]
            ready = c.get("/readyz")[0]
            print("\nisolated ./dev daemon healed; the other daemon sees %s, /readyz %d" % (states, ready))
            assert states == ["ACTIVE"] * len(states) and ready == 200, (states, ready)
            if len(daemon_urls(ENV)) >= 2:
                # what a cashier sees: creates through the balancer (before the fix in
                # selector/grt.c: every daemon DOWN in HAProxy, 503 for the rest of the window)
                st, _, r = Client(ENV["SKIP_URL"], timeout=10).post("/v1/orders", create_body(merchant="m_iso"))
                assert st == 201, (st, r)
        finally:
            # the daemon that was cut off counted those failures itself and still skips
            # by them locally: wait out the window so later tests start with clean counters
            time.sleep(max(0.0, (int(time.time() // window) + 1) * window - time.time() + 0.5))
    finally:
        other.stop()
