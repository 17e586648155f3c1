"""Spec §11 against the real cluster (two daemons, Redis, the merchant-store
MariaDB): terminal activation (right, wrong x5 -> LOCKED, expired, reused
code), create enforcement with nothing written anywhere, a block under a
steady create load from several terminals taking effect on both daemons
within 1 s while the other terminals see zero failures, the merchant store
stopped (ACTIVE keep creating, BLOCKED stay blocked, nothing activates), the
refund rule across the merchant-local midnight, and the audit trail (one row
per refund and terminal change with the caller's key id; events wait out a
merchant-store outage; the queue is bounded and its drops counted)."""
import datetime
import json
import os
import re
import signal
import subprocess
import threading
import time
import zoneinfo

import pytest

from skiputil import (Client, activate_terminal, create_body, daemon_urls, load_env, new_active_terminal,
                      redis_client, register_terminal, uid, wait_terminal_everywhere)

ENV = load_env()
URL = ENV["SKIP_URL"]
DAEMONS = daemon_urls(ENV)


def code(r):
    return r["error"]["code"]


def client(key, url=URL):
    return Client(url, key=key)


def zone():
    """The daemons' refunds.timezone (./dev: Asia/Shanghai unless SKIP_REFUNDS_TZ)."""
    with open(ENV["SKIP_CONFIG"]) as f:
        m = re.search(r"^refunds:\n(?:  .*\n)*?  timezone: (\S+)", f.read(), re.M)
    return zoneinfo.ZoneInfo(m.group(1) if m else "Asia/Shanghai")


def metric(url, name):
    """One unlabelled gauge/counter from a daemon's /metrics (open route)."""
    st, _, text = Client(url, key=False).get("/metrics")
    assert st == 200
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, name
    return float(m.group(1))


def pay(order):
    st, _, r = client("admin").post("/v1/orders/%s/pay" % order["order_no"],
                                    {"channel_txn_id": uid("tx"), "paid_amount": order["amount"]})
    assert st == 200, r
    return r


def create(tid, key="cashier-m1", merchant="m1", url=URL, **extra):
    return client(key, url).post("/v1/orders", create_body(merchant, terminal_id=tid, expire_seconds=3600, **extra))


# ---------------------------------------------------------------- activation

def test_activation_with_the_right_code(merchant_db):
    tid, code_ = register_terminal(URL, "m1", store="s1")
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{12}", code_), code_
    st, _, t = client("backoffice").get("/v1/terminals/%s" % tid)
    assert st == 200 and t["status"] == "REGISTERED" and "activation_code" not in t, t
    # stored hashed: the code is nowhere in the row
    with merchant_db().cursor() as cur:
        cur.execute("SELECT * FROM terminals WHERE terminal_id=%s", (tid,))
        row = cur.fetchone()
    assert row and code_ not in repr(row) and code_.lower() not in repr(row), row
    # not active yet: a create from it is refused
    st, _, r = create(tid, store_id="s1")
    assert st == 403 and code(r) == "TERMINAL_NOT_ACTIVE", r
    st, r = activate_terminal(URL, tid, code_.lower(), key="cashier-m1")   # typed in lower case
    assert st == 200 and r["status"] == "ACTIVE" and r["activated_at"], r
    wait_terminal_everywhere(tid, "ACTIVE")
    for u in DAEMONS:
        st, _, o = create(tid, url=u, store_id="s1")
        assert st == 201 and o["terminal_id"] == tid and o["store_id"] == "s1", o


def test_five_wrong_codes_lock_the_terminal():
    tid, right = register_terminal(URL, "m1")
    c = client("cashier-m1")
    for i in range(1, 6):
        st, _, r = c.post("/v1/terminals/%s/activate" % tid, {"activation_code": "WRONGCODE%d" % i})
        assert st == 403 and code(r) == "ACTIVATION_FAILED" and r["error"]["attempts_left"] == 5 - i, (i, r)
    st, _, t = client("backoffice").get("/v1/terminals/%s" % tid)
    assert t["status"] == "LOCKED" and t["failed_activations"] == 5, t
    # the right code no longer helps, and locked attempts are not counted further
    st, _, r = c.post("/v1/terminals/%s/activate" % tid, {"activation_code": right})
    assert st == 403 and code(r) == "ACTIVATION_FAILED", r
    # the back office issues a new code: REGISTERED again, the old code dead
    st, _, r = client("backoffice").post("/v1/terminals/%s/code" % tid)
    assert st == 200 and r["status"] == "REGISTERED" and r["failed_activations"] == 0, r
    fresh = r["activation_code"]
    assert fresh != right
    assert activate_terminal(URL, tid, right, key="cashier-m1")[0] == 403
    st, r = activate_terminal(URL, tid, fresh, key="cashier-m1")
    assert st == 200 and r["status"] == "ACTIVE", r


def test_expired_code_is_refused(merchant_db):
    tid, code_ = register_terminal(URL, "m1")
    with merchant_db().cursor() as cur:   # as the admin DB user: the code's 24 h are over
        cur.execute("UPDATE terminals SET code_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                    "WHERE terminal_id=%s", (tid,))
    st, r = activate_terminal(URL, tid, code_, key="cashier-m1")
    assert st == 403 and code(r) == "ACTIVATION_FAILED" and r["error"]["status"] == "REGISTERED", r
    st, _, r = client("backoffice").post("/v1/terminals/%s/code" % tid)
    assert st == 200
    st, r = activate_terminal(URL, tid, r["activation_code"], key="cashier-m1")
    assert st == 200 and r["status"] == "ACTIVE", r


def test_a_code_works_once():
    tid, code_ = register_terminal(URL, "m1")
    assert activate_terminal(URL, tid, code_, key="cashier-m1")[0] == 200
    st, r = activate_terminal(URL, tid, code_, key="cashier-m1")
    assert st == 403 and code(r) == "ACTIVATION_FAILED", r
    st, _, t = client("backoffice").get("/v1/terminals/%s" % tid)
    assert t["status"] == "ACTIVE" and t["failed_activations"] == 0, t
    # an ACTIVE terminal gets no new code
    st, _, r = client("backoffice").post("/v1/terminals/%s/code" % tid)
    assert st == 409 and code(r) == "ILLEGAL_TRANSITION", r


def test_terminals_are_scoped_to_their_merchant():
    tid, code_ = register_terminal(URL, "m1")
    c2 = client("cashier-m2")
    st, _, r = c2.get("/v1/terminals/%s" % tid)
    assert st == 404 and code(r) == "NOT_FOUND", r
    st, _, r = c2.post("/v1/terminals/%s/activate" % tid, {"activation_code": code_})
    assert st == 404 and code(r) == "NOT_FOUND", r
    # ... and that did not count as a wrong code
    st, _, t = client("backoffice").get("/v1/terminals/%s" % tid)
    assert t["status"] == "REGISTERED" and t["failed_activations"] == 0, t
    st, _, r = client("cashier-m1").get("/v1/merchants/m1/terminals")
    assert st == 403 and code(r) == "FORBIDDEN", r                        # the role: back office lists
    st, _, r = client("backoffice").get("/v1/merchants/m1/terminals?limit=1000")
    assert st == 200 and tid in [t["terminal_id"] for t in r["terminals"]], r
    # a terminal_id is global: registering it again (any merchant) is refused
    st, _, r = client("backoffice").post("/v1/terminals", {"terminal_id": tid, "merchant_id": "m2"})
    assert st == 409 and code(r) == "ILLEGAL_TRANSITION", r
    # strict bodies
    st, _, r = client("backoffice").post("/v1/terminals", {"terminal_id": uid("T"), "merchant_id": "m1", "x": 1})
    assert st == 400 and code(r) == "UNKNOWN_FIELD" and r["error"]["field"] == "x", r
    st, _, r = client("backoffice").post("/v1/terminals", {"terminal_id": "bad id", "merchant_id": "m1"})
    assert st == 400 and r["error"]["field"] == "terminal_id", r


# ---------------------------------------------------------------- create enforcement

def test_refused_creates_write_nothing_anywhere(db):
    """No order, no idempotency claim in Redis, no failure counted against a group."""
    blocked = new_active_terminal(URL, "m1", store="s1")
    assert client("backoffice").post("/v1/terminals/%s/block" % blocked, {"reason": "test"})[0] == 200
    registered, _ = register_terminal(URL, "m1")
    other = new_active_terminal(URL, "m2")
    wait_terminal_everywhere(blocked, "BLOCKED")
    wait_terminal_everywhere(other, "ACTIVE")
    before = {g["id"]: g["failures_this_window"] for g in client("admin").get("/v1/groups")[2]["groups"]}
    rd = redis_client(ENV)
    cases = [
        (None, {}, "TERMINAL_NOT_ACTIVE", "terminal_id"),
        ("nosuchterminal", {}, "TERMINAL_NOT_ACTIVE", "terminal_id"),
        (registered, {}, "TERMINAL_NOT_ACTIVE", "terminal_id"),
        (blocked, {}, "TERMINAL_BLOCKED", "terminal_id"),
        (other, {}, "TERMINAL_MISMATCH", "terminal_id"),            # m2's terminal, an m1 order
        (blocked, {"store_id": "s2"}, "TERMINAL_MISMATCH", "store_id"),
    ]
    for tid, extra, want, field in cases:
        body = create_body("m1", **extra)
        if tid:
            body["terminal_id"] = tid
        for u in DAEMONS:
            st, _, r = client("cashier", u).post("/v1/orders", body)
            assert st == 403 and code(r) == want and r["error"]["field"] == field, (tid, u, r)
        assert rd.get("skip:idem:m1:%s" % body["out_trade_no"]) is None, tid
        for g in [int(x) for x in ENV["SKIP_GROUPS"].split()]:
            with db(g).cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM skipstore.orders WHERE merchant_id='m1' AND out_trade_no=%s",
                            (body["out_trade_no"],))
                assert cur.fetchone()[0] == 0, (tid, g)
    after = {g["id"]: g["failures_this_window"] for g in client("admin").get("/v1/groups")[2]["groups"]}
    assert after == before, (before, after)
    # admin creates are not a cashier's: no terminal rule
    st, _, r = client("admin").post("/v1/orders", create_body("m1"))
    assert st == 201, r


# ---------------------------------------------------------------- block under load

def test_block_under_load_takes_effect_on_both_daemons_within_1s():
    assert len(DAEMONS) >= 2, "needs two daemons"
    tids = [new_active_terminal(URL, "m1") for _ in range(4)]
    for t in tids:
        wait_terminal_everywhere(t, "ACTIVE")
    victim = tids[0]
    notes_before = [metric(u, "skipstore_terminal_notifications_total") for u in DAEMONS]
    results = []   # (tid, daemon, t_send, t_recv, status, code)
    lock = threading.Lock()
    stop = threading.Event()

    def load(tid, u):
        c = Client(u, key="cashier-m1")
        while not stop.is_set():
            t0 = time.monotonic()
            st, _, r = c.post("/v1/orders", create_body("m1", terminal_id=tid))
            t1 = time.monotonic()
            with lock:
                results.append((tid, u, t0, t1, st, r["error"]["code"] if st != 201 else None))
        c.close()

    threads = [threading.Thread(target=load, args=(t, u)) for t in tids for u in DAEMONS]
    for th in threads:
        th.start()
    try:
        time.sleep(1.5)
        st, _, r = client("backoffice").post("/v1/terminals/%s/block" % victim, {"reason": "stolen POS"})
        t_blocked = time.monotonic()
        assert st == 200 and r["status"] == "BLOCKED", r
        time.sleep(3.0)   # keep the load on: every daemon must refuse the victim from +1 s on
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    # every other terminal: zero failures, on both daemons, all along
    others = [x for x in results if x[0] != victim]
    assert others and all(x[4] == 201 for x in others), [x for x in others if x[4] != 201][:5]
    for u in DAEMONS:
        mine = [x for x in results if x[0] == victim and x[1] == u]
        assert any(x[4] == 201 for x in mine), u                      # it took payments before
        assert all(x[4] == 201 or x[5] == "TERMINAL_BLOCKED" for x in mine), [x for x in mine if x[4] != 201][:3]
        late = [x for x in mine if x[2] >= t_blocked + 1.0]
        assert late, "no load on %s after the block" % u
        assert all(x[4] == 403 and x[5] == "TERMINAL_BLOCKED" for x in late), [x for x in late if x[4] != 403][:3]
        first = min((x[2] for x in mine if x[4] == 403), default=None)
        print("first TERMINAL_BLOCKED on %s: a request sent %+.3f s from the block's answer" % (u, first - t_blocked))
    # the change was announced through Redis (every daemon, the blocking one included, hears it)
    for u, n0 in zip(DAEMONS, notes_before):
        assert metric(u, "skipstore_terminal_notifications_total") > n0, u


def test_block_reaches_every_daemon_without_redis(dev):
    """No notification (Redis stopped): the registry reads alone carry a
    block to every daemon within 1 s."""
    tid = new_active_terminal(URL, "m1")
    wait_terminal_everywhere(tid, "ACTIVE")
    dev("fault", "redis", "stop")
    try:
        st, _, r = client("backoffice", DAEMONS[0]).post("/v1/terminals/%s/block" % tid, {"reason": "stolen"})
        t_blocked = time.monotonic()
        assert st == 200, r
        time.sleep(max(0.0, t_blocked + 1.0 - time.monotonic()))
        for u in DAEMONS:
            st, _, r = create(tid, url=u)
            assert st == 403 and code(r) == "TERMINAL_BLOCKED", (u, r)
    finally:
        dev("fault", "redis", "cont")


# ---------------------------------------------------------------- merchant store down

def test_merchant_store_stopped_last_copy_stays_in_force(dev, merchant_db, wait_until):
    active = new_active_terminal(URL, "m1")
    blocked = new_active_terminal(URL, "m1")
    assert client("backoffice").post("/v1/terminals/%s/block" % blocked, {"reason": "lost"})[0] == 200
    pending, pending_code = register_terminal(URL, "m1")
    wait_terminal_everywhere(active, "ACTIVE")
    wait_terminal_everywhere(blocked, "BLOCKED")
    st, _, o = create(active)
    assert st == 201
    pay(o)
    fails = [metric(u, "skipstore_terminal_refresh_failures_total") for u in DAEMONS]
    dev("fault", "merchantdb", "stop")
    try:
        # every daemon has noticed: its reads of the registry fail
        for u, f0 in zip(DAEMONS, fails):
            wait_until(lambda: metric(u, "skipstore_terminal_refresh_failures_total") > f0, timeout=15,
                       msg="registry refresh failing on %s" % u)
        for u in DAEMONS:
            for _ in range(5):
                st, _, r = create(active, url=u)
                assert st == 201, (u, r)                                   # the payment comes first
                st, _, r = create(blocked, url=u)
                assert st == 403 and code(r) == "TERMINAL_BLOCKED", (u, r)  # blocked stays blocked
        # nothing new activates without the store: 503, retry later
        st, r = activate_terminal(URL, pending, pending_code, key="cashier-m1")
        assert st == 503 and code(r) == "GROUP_UNAVAILABLE", r
        # a refund meanwhile: its audit event waits in the daemon's queue
        out_refund_no = uid("r")
        st, _, r = client("cashier-m1", DAEMONS[0]).post("/v1/orders/%s/refunds" % o["order_no"], {
            "out_refund_no": out_refund_no, "amount": 1, "terminal_id": active})
        assert st == 201, r
        assert metric(DAEMONS[0], "skipstore_audit_queue_depth") >= 1
    finally:
        dev("fault", "merchantdb", "cont")
    # ... and is written when the store is back
    def written():
        with merchant_db().cursor() as cur:
            cur.execute("SELECT key_id, result FROM audit_events WHERE action='refund' AND target=%s "
                        "AND detail LIKE %s", (o["order_no"], '%' + out_refund_no + '%'))
            return cur.fetchall()
    rows = wait_until(written, timeout=30, msg="the queued audit event written")
    assert rows == (("cashier-m1", "ok"),), rows
    # and with the store back the pending terminal activates (a 503 means retry)
    res = wait_until(lambda: (lambda x: x if x[0] != 503 else None)(
        activate_terminal(URL, pending, pending_code, key="cashier-m1")), timeout=20, msg="activation after cont")
    assert res[0] == 200 and res[1]["status"] == "ACTIVE", res


def test_audit_queue_is_bounded_and_counts_drops(dev, extra_daemon, merchant_db, wait_until):
    d = extra_daemon(index=7, SKIP_AUDIT_QUEUE_MAX=100)
    node = 107
    o = client("admin").post("/v1/orders", create_body("m1", amount=1000, expire_seconds=3600))[2]
    pay(o)
    dropped0 = metric(d.url, "skipstore_audit_dropped_total")
    dev("fault", "merchantdb", "stop")
    try:
        bo = Client(d.url, key="backoffice")
        for i in range(130):
            st, _, r = bo.post("/v1/orders/%s/refunds" % o["order_no"], {"out_refund_no": "q%d" % i, "amount": 1})
            assert st == 201, r                           # recording never fails a refund
        assert metric(d.url, "skipstore_audit_queue_depth") == 100
        assert metric(d.url, "skipstore_audit_dropped_total") - dropped0 == 30
    finally:
        dev("fault", "merchantdb", "cont")

    def n_written():
        with merchant_db().cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM audit_events WHERE action='refund' AND target=%s AND node_id=%s",
                        (o["order_no"], node))
            return cur.fetchone()[0] == 100
    wait_until(n_written, timeout=30, msg="the 100 queued events written")
    assert metric(d.url, "skipstore_audit_queue_depth") == 0


# ---------------------------------------------------------------- refunds

def _local_midnight_utc(z):
    now = datetime.datetime.now(z)
    if now.hour == 23 and now.minute == 59 and now.second >= 50:
        time.sleep(15)   # never straddle the local midnight while deciding what "today" is
        now = datetime.datetime.now(z)
    mid = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return mid.astimezone(datetime.timezone.utc)


def _set_created_at(db, order, when_utc):
    with db(order["group"]).cursor() as cur:   # as the admin DB user, in the order's group
        cur.execute("UPDATE skipstore.orders SET created_at=%s WHERE order_no=%s",
                    (when_utc.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], order["order_no"]))
        assert cur.rowcount == 1


def test_refund_rule_terminal_and_local_day(db):
    t1 = new_active_terminal(URL, "m1")
    t2 = new_active_terminal(URL, "m1")
    wait_terminal_everywhere(t1, "ACTIVE")
    wait_terminal_everywhere(t2, "ACTIVE")
    c1 = client("cashier-m1")

    def order():
        st, _, o = create(t1, amount=10000)
        assert st == 201, o
        pay(o)
        return o

    def refund(o, key="cashier-m1", **extra):
        return client(key).post("/v1/orders/%s/refunds" % o["order_no"],
                                dict({"out_refund_no": uid("r"), "amount": 1}, **extra))

    o = order()
    # same day, the terminal that took it
    st, _, r = refund(o, terminal_id=t1)
    assert st == 201 and r["refund"]["amount"] == 1, r
    # another terminal of the same merchant
    st, _, r = refund(o, terminal_id=t2)
    assert st == 403 and code(r) == "REFUND_NOT_ALLOWED" and r["error"]["field"] == "terminal_id", r
    # no terminal at all
    st, _, r = refund(o)
    assert st == 403 and code(r) == "REFUND_NOT_ALLOWED" and r["error"]["field"] == "terminal_id", r
    # an idempotent repeat answers the stored refund (nothing new is decided)
    rno = uid("r")
    assert c1.post("/v1/orders/%s/refunds" % o["order_no"], {"out_refund_no": rno, "amount": 2,
                                                              "terminal_id": t1})[0] == 201
    st, _, r = c1.post("/v1/orders/%s/refunds" % o["order_no"], {"out_refund_no": rno, "amount": 2,
                                                                  "terminal_id": t1})
    assert st == 200 and r["refund"]["out_refund_no"] == rno, r

    # across the merchant-local midnight (refunds.timezone)
    mid = _local_midnight_utc(zone())
    at_midnight, before_midnight = order(), order()
    _set_created_at(db, at_midnight, mid)                                        # today 00:00:00.000
    _set_created_at(db, before_midnight, mid - datetime.timedelta(milliseconds=1))  # yesterday 23:59:59.999
    st, _, r = refund(at_midnight, terminal_id=t1)
    assert st == 201, r
    st, _, r = refund(before_midnight, terminal_id=t1)
    assert st == 403 and code(r) == "REFUND_NOT_ALLOWED" and r["error"]["field"] == "created_at", r
    # ... which the back office refunds (and admin, like the back office)
    assert refund(before_midnight, key="backoffice")[0] == 201
    assert refund(before_midnight, key="admin")[0] == 201
    # up to refunds.max_age_days (365) local days
    old = order()
    _set_created_at(db, old, mid - datetime.timedelta(days=365))
    assert refund(old, key="backoffice")[0] == 201
    _set_created_at(db, old, mid - datetime.timedelta(days=365, milliseconds=1))
    st, _, r = refund(old, key="backoffice")
    assert st == 403 and code(r) == "REFUND_NOT_ALLOWED" and r["error"]["field"] == "created_at", r

    # a blocked terminal refunds nothing, even its own order of today
    o2 = order()
    assert client("backoffice").post("/v1/terminals/%s/block" % t1, {"reason": "test"})[0] == 200
    wait_terminal_everywhere(t1, "BLOCKED")
    st, _, r = refund(o2, terminal_id=t1)
    assert st == 403 and code(r) == "REFUND_NOT_ALLOWED" and r["error"]["field"] == "terminal_id", r


# ---------------------------------------------------------------- audit trail

def test_audit_rows_name_the_caller(merchant_db, wait_until):
    since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    tid, code_ = register_terminal(URL, "m1")                                 # backoffice
    client("cashier-m1").post("/v1/terminals/%s/activate" % tid, {"activation_code": "NOPE"})  # a wrong code
    assert activate_terminal(URL, tid, code_, key="cashier-m1")[0] == 200
    assert client("backoffice").post("/v1/terminals/%s/block" % tid, {"reason": "stolen"})[0] == 200
    assert client("admin").post("/v1/terminals/%s/unblock" % tid)[0] == 200
    wait_terminal_everywhere(tid, "ACTIVE")
    st, _, o = create(tid, amount=5000)
    assert st == 201
    pay(o)
    r1 = uid("r")
    assert client("cashier-m1").post("/v1/orders/%s/refunds" % o["order_no"],
                                     {"out_refund_no": r1, "amount": 10, "terminal_id": tid})[0] == 201
    # a repeat is not a refund
    assert client("cashier-m1").post("/v1/orders/%s/refunds" % o["order_no"],
                                     {"out_refund_no": r1, "amount": 10, "terminal_id": tid})[0] == 200
    assert client("backoffice").post("/v1/orders/%s/refunds" % o["order_no"],
                                     {"out_refund_no": uid("r"), "amount": 20})[0] == 201
    assert client("cashier-m1").post("/v1/orders/%s/refunds" % o["order_no"],
                                     {"out_refund_no": uid("r"), "amount": 1})[0] == 403
    assert client("backoffice").post("/v1/terminals/%s/retire" % tid)[0] == 200
    adm = client("admin")
    assert adm.post("/v1/groups/1/fence")[0] == 200
    assert adm.post("/v1/groups/1/unfence")[0] == 200
    assert adm.post("/v1/admin/reload")[0] == 200
    pidf = os.path.join(ENV["SKIP_RUN_DIR"], "pids", "daemon1.pid")
    os.kill(int(open(pidf).read().split()[0]), signal.SIGHUP)

    want_terminal = [("terminal_register", "backoffice", "ok"), ("terminal_activate", "cashier-m1", "ACTIVATION_FAILED"),
                     ("terminal_activate", "cashier-m1", "ok"), ("terminal_block", "backoffice", "ok"),
                     ("terminal_unblock", "admin", "ok"), ("terminal_retire", "backoffice", "ok")]

    def rows(where, args):
        with merchant_db().cursor() as cur:
            cur.execute("SELECT action, key_id, result FROM audit_events WHERE " + where + " ORDER BY at, event_id",
                        args)
            return list(cur.fetchall())
    wait_until(lambda: len(rows("target=%s", (tid,))) >= len(want_terminal), timeout=20, msg="terminal rows")
    assert [tuple(x) for x in rows("target=%s", (tid,))] == want_terminal
    wait_until(lambda: len(rows("target=%s", (o["order_no"],))) >= 3, timeout=20, msg="refund rows")
    got = sorted(tuple(x) for x in rows("target=%s", (o["order_no"],)))
    assert got == sorted([("refund", "cashier-m1", "ok"), ("refund", "backoffice", "ok"),
                          ("refund_denied", "cashier-m1", "REFUND_NOT_ALLOWED")]), got
    wait_until(lambda: len(rows("action='reload' AND key_id='signal:SIGHUP' AND at >= %s",
                                (since.replace("T", " ").rstrip("Z"),))) >= 1, timeout=20, msg="SIGHUP reload row")
    def ops():
        got = rows("action IN ('fence','unfence','reload') AND key_id='admin' AND at >= %s",
                   (since.replace("T", " ").rstrip("Z"),))
        return all(x in got for x in [("fence", "admin", "ok"), ("unfence", "admin", "ok"), ("reload", "admin", "ok")])
    wait_until(ops, timeout=20, msg="fence, unfence and reload rows by admin")
    # skipctl audit-log shows the same trail (through GET /v1/audit-events, admin)
    p = subprocess.run([os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl"), "audit-log", "--since", since, "--json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ev = [e for e in json.loads(p.stdout)["events"] if e["target"] == tid]
    assert [(e["action"], e["key_id"], e["result"]) for e in ev] == want_terminal
    assert code_ not in p.stdout   # the one-time code is never recorded


# ---------------------------------------------------------------- skipctl terminal

def test_skipctl_terminal_commands():
    binp = os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl")
    tid = uid("T")

    def ctl(*args, stdin=None, key=None):
        cmd = [binp, "terminal", *args] + (["--key", key] if key else [])
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    p = ctl("add", tid, "--merchant", "m2", "--store", "s9", key="backoffice")
    assert p.returncode == 0, p.stderr
    m = re.search(r"activation code: ([A-Z0-9]{12})", p.stdout)
    assert m, p.stdout
    p = ctl("activate", tid, stdin=m.group(1) + "\n", key="cashier-m2")   # the code on stdin, never argv
    assert p.returncode == 0 and "ACTIVE" in p.stdout, p.stderr
    p = ctl("block", tid, "--reason", "stolen at the front desk", key="backoffice")
    assert p.returncode == 0 and "BLOCKED" in p.stdout, p.stderr
    p = ctl("list", "--merchant", "m2", "--status", "BLOCKED", "--json", key="backoffice")
    assert p.returncode == 0, p.stderr
    t = [x for x in json.loads(p.stdout)["terminals"] if x["terminal_id"] == tid]
    assert t and t[0]["block_reason"] == "stolen at the front desk" and t[0]["store_id"] == "s9", t
    p = ctl("code", tid, key="backoffice")
    assert p.returncode == 1 and "ILLEGAL_TRANSITION" in p.stderr, (p.stdout, p.stderr)
    p = ctl("unblock", tid, key="backoffice")
    assert p.returncode == 0 and "ACTIVE" in p.stdout, p.stderr
    p = ctl("show", tid, "--json", key="backoffice")
    assert p.returncode == 0 and json.loads(p.stdout)["status"] == "ACTIVE"
