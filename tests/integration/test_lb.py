"""Several daemons behind HAProxy (spec §12): SKIP_URL is the balancer, the ./dev
daemons are daemon1..N (SKIP_DAEMON_URLS). A daemon SIGKILLed or SIGSTOPped under a
steady load, and a rolling restart of every daemon, cost the client nothing: the
balancer re-sends a request whose daemon went away to another one, which is safe
because creates, pays and refunds are idempotent (out_trade_no, channel_txn_id,
out_refund_no). Every acknowledged order is stored exactly once; no pay or refund
takes effect twice."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from skiputil import (Client, CreateStream, acked, create_body, daemon_names, daemon_urls, db, failures, groups,
                      lb_retries, lb_stat, load_env, node_of, uid, verify_stored)

ENV = load_env()
URL = ENV["SKIP_URL"]


@pytest.fixture(autouse=True)
def two_daemons_up():
    """Both daemons ready and UP in HAProxy. A group that failed in an earlier test
    stays SKIPPED in the ./dev daemons' view until its 60 s window rolls over, and a
    daemon with no writable group fails /readyz: wait for that, as test_api does."""
    if len(daemon_urls(ENV)) < 2:
        pytest.skip("needs SKIP_DAEMONS >= 2")
    wait_for(lambda: all(lb_status(n) == "UP" for n in daemon_names(ENV)), 75, "every daemon UP in HAProxy")


def lb_status(name):
    return lb_stat(ENV)[("skipstored", name)]["status"]


def wait_for(fn, timeout, msg):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, msg))


def served_by(results, node, since):
    """Acknowledged creates of daemon `node` sent at or after `since`."""
    return [r for (t0, _, st, _, r) in results if st in (200, 201) and t0 >= since and node_of(r["order_no"]) == node]


def test_every_daemon_serves_and_is_up_in_haproxy():
    st = lb_stat(ENV)
    for name in daemon_names(ENV):
        assert st[("skipstored", name)]["status"] == "UP", st[("skipstored", name)]
        assert st[("skipstored_create", name)]["status"] == "UP", st[("skipstored_create", name)]
    # each daemon answers directly with its own node id in the numbers it makes
    for n, url in enumerate(daemon_urls(ENV), 1):
        s, _, r = Client(url).post("/v1/orders", create_body(merchant="m_lbnode"))
        assert s == 201 and node_of(r["order_no"]) == n, r


def test_daemon_killed_under_create_load_fails_no_create(dev):
    stream = CreateStream(URL, threads=8, merchant="m_lbkill").start()
    try:
        t_start = time.time()
        # both daemons take part before the kill (leastconn spreads the connections)
        wait_for(lambda: served_by(stream.snapshot(), 1, t_start) and served_by(stream.snapshot(), 2, t_start),
                 20, "creates acknowledged by daemon1 and daemon2")
        retries0 = lb_retries(ENV)
        t_kill = time.time()
        assert served_by(stream.snapshot(), 1, t_kill - 1.0), "daemon1 idle just before the kill"
        dev("fault", "daemon1", "kill")
        # the load goes on through the balancer while daemon1 is dead
        wait_for(lambda: lb_status("daemon1").startswith("DOWN"), 10, "HAProxy calls daemon1 DOWN")
        wait_for(lambda: len([r for r in stream.snapshot() if r[0] > t_kill + 1.0]) > 20, 10,
                 "creates after the kill")
        # SIGKILL leaves its node-id lease in Redis: start waits it out (<= node_lease_s)
        dev("fault", "daemon1", "start")
        t_back = time.time()
        assert lb_status("daemon1") == "UP"
        wait_for(lambda: len(stream.snapshot()) and stream.snapshot()[-1][0] > t_back + 1.0, 10,
                 "creates after the restart")
    finally:
        res = stream.stop()
    assert failures(res) == [], failures(res)[:5]
    # the kill did hit requests on their way to / inside daemon1: the balancer re-sent them
    assert lb_retries(ENV) > retries0
    verify_stored(ENV, acked(res))


def test_daemon_stopped_under_create_load_fails_no_create(dev):
    """A hung daemon (SIGSTOP): its in-flight requests time out in HAProxy (timeout
    server) and are re-sent to the other daemon; its checks fail and new requests
    avoid it. The client sees latency, never a failure."""
    stream = CreateStream(URL, threads=8, merchant="m_lbstop").start()
    try:
        t_start = time.time()
        wait_for(lambda: served_by(stream.snapshot(), 1, t_start) and served_by(stream.snapshot(), 2, t_start),
                 20, "creates acknowledged by daemon1 and daemon2")
        retries0 = lb_retries(ENV)
        dev("fault", "daemon2", "stop")
        t_stop = time.time()
        wait_for(lambda: lb_status("daemon2").startswith("DOWN"), 10, "HAProxy calls daemon2 DOWN")
        wait_for(lambda: served_by(stream.snapshot(), 1, time.time() - 0.5), 20, "creates on daemon1")
        # stopped past HAProxy's timeout server (5 s): what was in flight on it is re-sent
        time.sleep(max(0.0, 6.5 - (time.time() - t_stop)))
        assert lb_retries(ENV) > retries0
        dev("fault", "daemon2", "cont")
        wait_for(lambda: lb_status("daemon2") == "UP", 10, "daemon2 UP again")
        time.sleep(0.5)
    finally:
        res = stream.stop()
    assert failures(res) == [], failures(res)[:5]
    verify_stored(ENV, acked(res))


def test_rolling_restart_under_create_load_fails_no_create(dev):
    before = {line.split()[0]: line.split()[1] for line in dev("status").stdout.splitlines()}
    stream = CreateStream(URL, threads=8, merchant="m_lbroll").start()
    try:
        t_start = time.time()
        wait_for(lambda: served_by(stream.snapshot(), 1, t_start) and served_by(stream.snapshot(), 2, t_start),
                 20, "creates acknowledged by daemon1 and daemon2")
        p = dev("restart", "daemons", timeout=180)
        t_done = time.time()
        wait_for(lambda: stream.snapshot()[-1][0] > t_done + 1.0, 10, "creates after the restart")
    finally:
        res = stream.stop()
    assert failures(res) == [], failures(res)[:5]
    after = {line.split()[0]: line.split()[1] for line in dev("status").stdout.splitlines()}
    for name in daemon_names(ENV):
        assert "%s restarted" % name in p.stdout, p.stdout
        assert after[name] != before[name], (name, before[name], after[name])
        assert lb_status(name) == "UP"
    verify_stored(ENV, acked(res))


def test_pays_and_refunds_through_a_daemon_kill_take_effect_once(dev):
    """Pay, then two partial refunds, of 300 orders through the balancer while daemon1
    is SIGKILLed and started again: no request fails, every order ends REFUNDED at
    version 4 with exactly its two refunds (a re-sent pay or refund is answered from
    the first one's effect, never applied twice)."""
    amount = 1000
    merchant = uid("mlbpay")
    c = Client(URL)
    orders = []
    for _ in range(300):
        s, _, r = c.post("/v1/orders", create_body(merchant=merchant, amount=amount, expire_seconds=86400))
        assert s == 201, r
        orders.append(r)
    c.close()
    assert {node_of(o["order_no"]) for o in orders} >= {1, 2}

    local = threading.local()
    outcomes = []
    lock = threading.Lock()

    def call(path, body):
        if not hasattr(local, "c"):
            local.c = Client(URL, timeout=20)
        try:
            s, _, r = local.c.post(path, body)
        except Exception as e:  # noqa: BLE001 - a transport failure is a failure
            s, r = -1, str(e)
        with lock:
            outcomes.append((path, s, r))
        return s

    def work(o):
        no = o["order_no"]
        call("/v1/orders/%s/pay" % no, {"channel_txn_id": "tx" + no, "paid_amount": amount})
        call("/v1/orders/%s/refunds" % no, {"out_refund_no": "ra" + no, "amount": 400})
        call("/v1/orders/%s/refunds" % no, {"out_refund_no": "rb" + no, "amount": 600})

    killer_done = threading.Event()

    def killer():
        try:
            wait_for(lambda: len(outcomes) > 150, 60, "150 pays/refunds")
            dev("fault", "daemon1", "kill")
            wait_for(lambda: len(outcomes) > 450, 60, "pays/refunds after the kill")
            dev("fault", "daemon1", "start")
        finally:
            killer_done.set()
    kt = threading.Thread(target=killer)
    kt.start()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(work, orders))
    kt.join(120)
    assert killer_done.is_set()

    bad = [(p, s, r) for (p, s, r) in outcomes if s not in (200, 201)]
    assert bad == [], bad[:5]
    assert len(outcomes) == 900
    nos = [o["order_no"] for o in orders]
    found = {}
    for g in groups(ENV):
        conn = db(ENV, g)
        cur = conn.cursor()
        cur.execute("SELECT order_no, status, version, refunded_amount, channel_txn_id FROM orders "
                    "WHERE merchant_id=%s", (merchant,))
        for row in cur.fetchall():
            assert row[0] not in found, "order %s twice" % row[0]
            found[row[0]] = row
        cur.execute("SELECT r.order_no, r.out_refund_no, r.amount FROM refunds r JOIN orders o "
                    "ON o.order_no = r.order_no WHERE o.merchant_id=%s", (merchant,))
        for no, orn, amt in cur.fetchall():
            found.setdefault(("refunds", no), []).append((orn, amt))
        conn.close()
    for no in nos:
        status, version, refunded, txn = found[no][1:]
        assert (status, version, refunded, txn) == ("REFUNDED", 4, amount, "tx" + no), (no, found[no])
        assert sorted(found[("refunds", no)]) == [("ra" + no, 400), ("rb" + no, 600)], found[("refunds", no)]


def test_fault_daemon_means_daemon1_and_lb_faults(dev):
    st = dev("status").stdout
    pid1 = [line.split()[1] for line in st.splitlines() if line.startswith("daemon1 ")][0]
    out = dev("fault", "daemon", "stop").stdout
    assert "daemon1 stopped (pid %s)" % pid1 in out, out
    dev("fault", "daemon", "cont")
    # the balancer itself: while it is down SKIP_URL refuses, the daemons still answer
    dev("fault", "lb", "kill")
    with pytest.raises(OSError):
        Client(URL, timeout=2).get("/healthz")
    for url in daemon_urls(ENV):
        assert Client(url).get("/healthz")[0] == 200
    dev("fault", "lb", "start")
    for name in daemon_names(ENV):
        wait_for(lambda: lb_status(name) == "UP", 10, "%s UP in the new HAProxy" % name)
    assert Client(URL).get("/readyz")[0] == 200
