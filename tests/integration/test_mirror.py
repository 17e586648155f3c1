"""Merchant mirror (spec §7, issue 5): outbox -> relay -> Kafka -> skipstore-mirror ->
merchant store, and GET /v1/merchants/{id}/orders.

Each test uses its own merchant ids (random prefix), so tests do not see each
other's orders, and restores every fault it injects (try/finally; the conftest's
fault hygiene is the second line of defence).
"""
import base64
import random
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from skiputil import Client, kcat

THREADS = 16


def _prefix():
    return "mm" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


class Api:
    """Thread-local keep-alive clients over the daemon's API."""

    def __init__(self, url):
        self.url = url
        self.local = threading.local()

    def c(self):
        if not hasattr(self.local, "c"):
            self.local.c = Client(self.url, timeout=15)
        return self.local.c

    def create(self, merchant, amount=None):
        body = {"merchant_id": merchant, "out_trade_no": "o" + "".join(random.choice(string.digits) for _ in range(18)),
                "amount": amount or random.randint(1, 100000), "channel": "wx"}
        t0 = time.monotonic()
        st, _, j = self.c().request("POST", "/v1/orders", body)
        return st, j, time.monotonic() - t0

    def pay(self, o):
        return self.c().request("POST", "/v1/orders/%s/pay" % o["order_no"],
                                {"channel_txn_id": "tx" + o["order_no"], "paid_amount": o["amount"]})

    def close(self, o):
        return self.c().request("POST", "/v1/orders/%s/close" % o["order_no"], {})

    def refund(self, o, amount, n):
        return self.c().request("POST", "/v1/orders/%s/refunds" % o["order_no"],
                                {"out_refund_no": "r%d%s" % (n, o["order_no"]), "amount": amount})

    def list(self, merchant, **q):
        qs = "&".join("%s=%s" % (k, v) for k, v in q.items())
        return self.c().request("GET", "/v1/merchants/%s/orders%s" % (merchant, "?" + qs if qs else ""))


@pytest.fixture
def mapi(env):
    return Api(env["SKIP_URL"])


def create_many(mapi, merchants, n, threads=THREADS):
    """n creates spread over merchants; every one must succeed. Returns orders."""
    def one(i):
        st, j, dt = mapi.create(merchants[i % len(merchants)])
        assert st == 201, (st, j)
        return j
    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, range(n)))


def mix_changes(mapi, orders):
    """Pay ~60%, close ~20%, refund (partial, then for some the rest) ~half of the paid."""
    rnd = random.Random(7)

    def one(o):
        r = rnd.random()
        if r < 0.2:
            st, _, j = mapi.close(o)
            assert st == 200, (st, j)
        elif r < 0.8:
            st, _, j = mapi.pay(o)
            assert st == 200, (st, j)
            if r < 0.5 and o["amount"] >= 2:
                half = o["amount"] // 2
                st, _, j = mapi.refund(o, half, 1)
                assert st in (200, 201), (st, j)
                if r < 0.35:
                    st, _, j = mapi.refund(o, o["amount"] - half, 2)
                    assert st in (200, 201), (st, j)
    with ThreadPoolExecutor(THREADS) as ex:
        list(ex.map(one, orders))


def group_rows(env, db, prefix):
    rows = {}
    for g in env["SKIP_GROUPS"].split():
        c = db(int(g), database=env["SKIP_DB_NAME"])
        with c.cursor() as cur:
            cur.execute("SELECT order_no, merchant_id, status, version, amount, refunded_amount FROM orders "
                        "WHERE merchant_id LIKE %s", (prefix + "%",))
            for r in cur.fetchall():
                rows[r[0]] = tuple(r[1:])
    return rows


def mirror_rows(mdb, prefix):
    with mdb.cursor() as cur:
        cur.execute("SELECT order_no, merchant_id, status, version, amount, refunded_amount FROM merchant_orders "
                    "WHERE merchant_id LIKE %s", (prefix + "%",))
        return {r[0]: tuple(r[1:]) for r in cur.fetchall()}


def wait_mirror_matches(env, db, merchant_db, wait_until, prefix, expect_n, timeout=30):
    groups = group_rows(env, db, prefix)
    assert len(groups) == expect_n
    mdb = merchant_db()
    state = {}

    def same():
        state["m"] = mirror_rows(mdb, prefix)
        return state["m"] == groups
    try:
        wait_until(same, timeout=timeout, interval=0.25, msg="merchant store == groups for %s" % prefix)
    except AssertionError:
        m = state.get("m", {})
        missing = [k for k in groups if k not in m]
        differ = [(k, groups[k], m[k]) for k in groups if k in m and m[k] != groups[k]]
        raise AssertionError("mirror mismatch: %d missing, %d differ, e.g. %r %r" % (
            len(missing), len(differ), missing[:3], differ[:3]))
    return groups


def test_mirror_matches_groups_row_for_row(env, db, merchant_db, mapi, wait_until):
    """1,000 orders for 20 merchants with pays, closes and refunds mixed in -> the
    merchant store matches the groups row for row (status, version, amounts)."""
    p = _prefix()
    # the mirror is consuming (not e.g. still rejoining its group after an earlier fault)
    create_many(mapi, [p + "_warm"], 1)
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 1, timeout=60)
    merchants = ["%s_%02d" % (p, i) for i in range(20)]
    orders = create_many(mapi, merchants, 1000)
    mix_changes(mapi, orders)
    t0 = time.monotonic()
    rows = wait_mirror_matches(env, db, merchant_db, wait_until, p, 1001, timeout=30)
    took = time.monotonic() - t0
    assert took < 20, "mirror took %.1fs to converge" % took
    statuses = {r[1] for r in rows.values()}
    assert {"CREATED", "PAID", "CLOSED", "REFUNDED"} <= statuses
    # the listing serves the mirror, newest first
    st, _, j = mapi.list(merchants[0], limit=500)
    assert st == 200 and j["source"] == "mirror", j
    got = [o["order_no"] for o in j["orders"]]
    assert sorted(got) == sorted(k for k, v in rows.items() if v[0] == merchants[0])
    assert len(got) == 50
    keys = [(o["created_at"], o["order_no"]) for o in j["orders"]]
    assert keys == sorted(keys, reverse=True)
    assert j["mirror_lag_ms"] is None or j["mirror_lag_ms"] >= 0


def test_mirror_killed_mid_stream_loses_and_duplicates_nothing(env, db, dev, merchant_db, mapi, wait_until):
    """SIGKILL the mirror while events stream in, restart it: every order arrives,
    exactly one row each, and no version ever goes backwards."""
    p = _prefix()
    merchants = ["%s_%d" % (p, i) for i in range(5)]
    mdb = merchant_db()
    seen = {}
    regress = []
    stop = threading.Event()

    def watch():
        c = merchant_db()
        while not stop.is_set():
            with c.cursor() as cur:
                cur.execute("SELECT order_no, version FROM merchant_orders WHERE merchant_id LIKE %s", (p + "%",))
                for no, v in cur.fetchall():
                    if v < seen.get(no, 0):
                        regress.append((no, seen[no], v))
                    seen[no] = max(v, seen.get(no, 0))
            time.sleep(0.05)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    try:
        orders = []
        killer_done = threading.Event()

        def killer():
            time.sleep(0.4)
            dev("fault", "mirror", "kill")
            time.sleep(1.0)
            dev("fault", "mirror", "start")
            killer_done.set()
        k = threading.Thread(target=killer)
        k.start()
        for _ in range(4):
            batch = create_many(mapi, merchants, 150)
            mix_changes(mapi, batch)
            orders += batch
        k.join()
        assert killer_done.is_set()
        wait_mirror_matches(env, db, merchant_db, wait_until, p, 600, timeout=40)
    finally:
        stop.set()
        w.join(timeout=5)
        dev("fault", "mirror", "start")
    assert not regress, regress[:5]
    with mdb.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT order_no) FROM merchant_orders WHERE merchant_id LIKE %s",
                    (p + "%",))
        n, d = cur.fetchone()
    assert n == d == 600


def test_kafka_stopped_creates_succeed_and_mirror_catches_up(env, db, dev, merchant_db, mapi, wait_until, api):
    """Kafka SIGSTOPped while orders are created: every create succeeds (fast); the
    outbox backlog shows; after SIGCONT the mirror catches up completely."""
    p = _prefix()
    merchants = ["%s_%d" % (p, i) for i in range(4)]
    dev("fault", "kafka", "stop")
    stopped_at = time.monotonic()
    try:
        lat = []

        def one(i):
            st, j, dt = mapi.create(merchants[i % 4])
            assert st == 201, (st, j)
            lat.append(dt)
            return j
        with ThreadPoolExecutor(8) as ex:
            orders = list(ex.map(one, range(300)))
        mix_changes(mapi, orders[:100])
        lat.sort()
        assert lat[int(len(lat) * 0.99)] < 1.0, "p99 create latency %.3fs with Kafka down" % lat[int(len(lat) * 0.99)]

        def backlog():
            r = api("GET", "/metrics")
            tot = 0
            for line in r.text.splitlines():
                if line.startswith("skipstore_outbox_pending{"):
                    tot += float(line.split()[-1])
            return tot >= 300
        # each daemon's relay thread refreshes the gauge every second, also while
        # its round waits (up to 7 s) for Kafka's delivery reports and while it
        # backs off: the backlog shows within a refresh or two
        wait_until(backlog, timeout=3, msg="skipstore_outbox_pending shows the backlog within 3 s")
        # stay down longer than the relay's message timeout (5 s): rounds fail and
        # are retried, rows stay in the outbox (a SIGSTOPped broker: connections hang)
        time.sleep(max(0.0, 7.0 - (time.monotonic() - stopped_at)))
        st, j, dt = mapi.create(merchants[0])
        assert st == 201 and dt < 1.0, (st, dt)
        orders.append(j)
    finally:
        dev("fault", "kafka", "cont")
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 301, timeout=60)


def test_merchant_store_down_listing_falls_back_to_groups(env, db, dev, merchant_db, mapi, wait_until):
    """Merchant store killed: listings come from the groups (same shape), creates are
    unaffected; after restart the mirror catches up."""
    p = _prefix()
    m = p + "_0"
    before = create_many(mapi, [m], 50)
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 50, timeout=20)
    dev("fault", "merchantdb", "kill")
    try:
        t0 = time.monotonic()
        st, _, j = mapi.list(m, limit=20)
        assert st == 200, j
        assert j["source"] == "groups" and j.get("partial") is False, j
        assert len(j["orders"]) == 20 and j["next_cursor"], j
        assert time.monotonic() - t0 < 3
        during = create_many(mapi, [m], 100)
        # page through the fallback: all 150, newest first, each once
        got, cur = [], None
        while True:
            q = {"limit": 40}
            if cur:
                q["cursor"] = cur
            st, _, j = mapi.list(m, **q)
            assert st == 200 and j["source"] == "groups", j
            got += [o["order_no"] for o in j["orders"]]
            cur = j["next_cursor"]
            if not cur:
                break
        assert len(got) == len(set(got)) == 150
        assert set(got) == {o["order_no"] for o in before + during}
    finally:
        dev("fault", "merchantdb", "start")
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 150, timeout=40)

    def back_to_mirror():
        st, _, j = mapi.list(m, limit=5)
        return st == 200 and j["source"] == "mirror"
    wait_until(back_to_mirror, timeout=10, msg="listing served by the mirror again")


def test_paging_while_creating_returns_each_order_once(env, db, merchant_db, mapi, wait_until):
    """A merchant with 1,000+ orders, paged (limit 100) while new orders keep arriving:
    every order that existed at the start is returned exactly once, never twice."""
    p = _prefix()
    m = p + "_big"
    initial = create_many(mapi, [m], 1100)
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 1100, timeout=30)
    stop = threading.Event()
    extra = []

    def creator():
        a = Api(mapi.url)
        while not stop.is_set():
            st, j, _ = a.create(m)
            if st == 201:
                extra.append(j["order_no"])
    ts = [threading.Thread(target=creator) for _ in range(4)]
    for t in ts:
        t.start()
    try:
        for source in ("mirror", "groups"):
            got, cur, pages = [], None, 0
            while True:
                q = {"limit": 100, "source": source}
                if cur:
                    q["cursor"] = cur
                st, _, j = mapi.list(m, **q)
                assert st == 200 and j["source"] == source, j
                got += [o["order_no"] for o in j["orders"]]
                cur = j["next_cursor"]
                pages += 1
                time.sleep(0.02)  # let creates land between pages
                if not cur:
                    break
            assert len(got) == len(set(got)), "duplicates across pages (%s)" % source
            missing = {o["order_no"] for o in initial} - set(got)
            assert not missing, "%d initial orders skipped (%s)" % (len(missing), source)
            assert pages >= 11
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert extra, "creates kept running during paging"


def test_listing_rejects_bad_arguments(mapi):
    m = _prefix()
    cases = [
        ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "x"}, "limit"),
        ({"status": "PAYED"}, "status"), ({"since": "yesterday"}, "since"),
        ({"until": "2026-01-01T00:00:00"}, "until"), ({"cursor": "!!"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"2:1:x").decode().rstrip("=")}, "cursor"),
        ({"source": "cache"}, "source"),
    ]
    for q, field in cases:
        st, _, j = mapi.list(m, **q)
        assert st == 400 and j["error"]["code"] == "INVALID_ARGUMENT" and j["error"]["field"] == field, (q, j)
    st, _, j = mapi.list("bad.merchant")
    assert st == 400 and j["error"]["field"] == "merchant_id", j
    st, _, j = mapi.list(m)
    assert st == 200 and j["orders"] == [] and j["next_cursor"] is None, j


def test_bad_events_are_dead_lettered_and_skipped(env, db, merchant_db, mapi, wait_until):
    """Invalid JSON, an unknown field, a missing field and a wrong type header go to
    dead_letters; the mirror keeps applying good events after them."""
    import json
    p = _prefix()
    m = p + "_0"
    mdb = merchant_db()
    with mdb.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM dead_letters")
        dead0 = cur.fetchone()[0]
    good = create_many(mapi, [m], 1)[0]
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 1, timeout=20)
    unknown = dict(good, surprise=1)
    missing = {k: v for k, v in good.items() if k != "status"}
    bad = [("type=order", "{not json"), ("type=order", json.dumps(unknown)),
           ("type=order", json.dumps(missing)), ("type=refund", json.dumps(good))]
    for hdr, payload in bad:
        r = kcat(env, "-t", env["SKIP_KAFKA_TOPIC"], "-P", "-k", m, "-H", hdr, stdin=payload)
        assert r.returncode == 0, r.stderr
    later = create_many(mapi, [m], 20)

    def dead():
        with mdb.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM dead_letters")
            return cur.fetchone()[0] - dead0 >= 4
    wait_until(dead, timeout=20, msg="4 dead letters")
    wait_mirror_matches(env, db, merchant_db, wait_until, p, 21, timeout=20)
    assert len(later) == 20


def _topic_ends(ck, env):
    """partition -> high watermark of the orders topic."""
    c = ck.Consumer({"bootstrap.servers": env["SKIP_KAFKA"], "group.id": "test-" + _prefix(),
                     "enable.auto.commit": False})
    try:
        t = env["SKIP_KAFKA_TOPIC"]
        parts = sorted(c.list_topics(t, timeout=10).topics[t].partitions)
        return {p: c.get_watermark_offsets(ck.TopicPartition(t, p), timeout=10, cached=False)[1] for p in parts}
    finally:
        c.close()


def _count_keys(ck, env, since, prefix):
    """Messages whose key starts with prefix, from offsets `since` to the end
    now (only this test's span of the topic is read, not its whole history)."""
    t = env["SKIP_KAFKA_TOPIC"]
    end = _topic_ends(ck, env)
    todo = {p for p in end if end[p] > since.get(p, 0)}
    c = ck.Consumer({"bootstrap.servers": env["SKIP_KAFKA"], "group.id": "test-" + _prefix(),
                     "enable.auto.commit": False})
    n = 0
    try:
        c.assign([ck.TopicPartition(t, p, since.get(p, 0)) for p in todo])
        deadline = time.monotonic() + 120
        while todo and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            if m.offset() < end[m.partition()] and (m.key() or b"").startswith(prefix.encode()):
                n += 1
            if m.offset() + 1 >= end[m.partition()]:
                todo.discard(m.partition())
    finally:
        c.close()
    assert not todo, "partitions %r not read to their end" % todo
    return n


def test_two_daemons_relay_without_double_publish(env, db, merchant_db, extra_daemon, wait_until):
    """Two skipstored on one cluster both run relays over the same outboxes: every
    event reaches the merchant store, and each outbox row is published once
    (SELECT ... FOR UPDATE SKIP LOCKED claims)."""
    ck = pytest.importorskip("confluent_kafka")
    d2 = extra_daemon(index=7)
    p = _prefix()
    merchants = ["%s_%d" % (p, i) for i in range(4)]
    a1, a2 = Api(env["SKIP_URL"]), Api(d2.url)
    start = _topic_ends(ck, env)

    def one(i):
        st, j, _ = (a1 if i % 2 else a2).create(merchants[i % 4])
        assert st == 201, (st, j)
        return j
    with ThreadPoolExecutor(THREADS) as ex:
        orders = list(ex.map(one, range(400)))
    mix_changes(a1, orders[:100])
    rows = wait_mirror_matches(env, db, merchant_db, wait_until, p, 400, timeout=30)
    events = sum(v[2] for v in rows.values())  # one event per version
    # count this test's messages on the topic (keys are its merchant ids), read
    # from where the topic ended when the test began
    published = _count_keys(ck, env, start, p)
    assert published == events, "published %d messages for %d outbox events" % (published, events)


def test_relay_ownership_moves_when_the_owner_dies(env, db, dev, merchant_db, extra_daemon, wait_until):
    """The daemons that own the groups' relays are killed (every ./dev daemon): a
    standby daemon's relays take over, and orders created through it reach the
    merchant store."""
    d2 = extra_daemon(index=8)
    p = _prefix()
    a2 = Api(d2.url)
    names = ["daemon%d" % (i + 1) for i in range(len(env["SKIP_DAEMON_URLS"].split()))]
    for name in names:
        dev("fault", name, "kill")
    try:
        with ThreadPoolExecutor(8) as ex:
            orders = list(ex.map(lambda i: a2.create(p + "_0"), range(200)))
        assert all(st == 201 for st, _, _ in orders)
        mix_changes(a2, [j for _, j, _ in orders[:50]])
        wait_mirror_matches(env, db, merchant_db, wait_until, p, 200, timeout=20)
    finally:
        for name in names:
            dev("fault", name, "start")
