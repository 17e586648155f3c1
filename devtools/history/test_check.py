"""Unit tests of the history checker (devtools/history/check.py): hand-made
histories, good and bad. A checker that cannot fail proves nothing, so each
anomaly it claims to find is planted here and must be reported — and the
honest variants next to it must not be.

    python3 -m pytest -q devtools/history/test_check.py
"""
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check  # noqa: E402

NO1 = "2026120207000000100000011"   # group 01
NO2 = "2026120207000000100001022"   # group 02
KEY1 = "m1|T1"


class H:
    """A tiny history builder: h.op(p, f, t0, t1, type, val=..., ...)."""

    def __init__(self):
        self.events = []

    def op(self, p, f, t0, t1, typ, key=KEY1, no=None, arg=None, val=None, err=None):
        self.events.append({"p": p, "type": "invoke", "f": f, "key": key, "no": no, "arg": arg or {}, "t": t0})
        self.events.append({"p": p, "type": typ, "f": f, "key": key, "no": no or (val or {}).get("order_no"),
                            "val": val, "err": err, "t": t1})
        self.events.sort(key=lambda e: e["t"])
        return self


def o(no=NO1, status="CREATED", version=1, refunded=0, **kw):
    v = {"order_no": no, "status": status, "version": version, "refunded_amount": refunded}
    v.update(kw)
    return v


def row(no=NO1, status="CREATED", version=1, refunded=0, group=None, key=KEY1):
    m, otn = key.split("|")
    return {"order_no": no, "group": group if group is not None else int(no[22:24]), "merchant_id": m,
            "out_trade_no": otn, "status": status, "version": version, "refunded_amount": refunded}


def mirror_of(rows):
    return [{"order_no": r["order_no"], "status": r["status"], "version": r["version"],
             "refunded_amount": r["refunded_amount"]} for r in rows]


def store(rows, refunds=(), mirror=None):
    return {"orders": rows, "refunds": list(refunds), "mirror": mirror_of(rows) if mirror is None else mirror}


def good():
    """create -> pay -> strong read -> refund 30 of 100, all acknowledged, store agrees."""
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 30, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "read", 40, 50, "ok", no=NO1, val=o(status="PAID", version=2, consistency="strong"))
    h.op(1, "refund", 60, 70, "ok", no=NO1, arg={"out_refund_no": "R1", "amount": 30},
         val=o(status="PAID", version=3, refunded=30, refund_no="2026120207000000100002011"))
    h.op(2, "read", 80, 90, "ok", no=NO1, val=o(status="PAID", version=3, refunded=30, consistency="strong"))
    s = store([row(status="PAID", version=3, refunded=30)],
              refunds=[{"group": 1, "order_no": NO1, "out_refund_no": "R1", "refund_no": "x", "amount": 30}])
    return h, s


def kinds(result):
    return set(result["anomaly_counts"])


def test_good_history_is_valid():
    h, s = good()
    r = check.check(h.events, s)
    assert r["valid"], r["anomalies"]
    assert r["ops"]["create"]["ok"] == 1 and r["ops"]["read"]["ok"] == 2 and r["ops"]["refund"]["ok"] == 1


def test_lost_write_pay_acknowledged_store_behind():
    h, s = good()
    s = store([row(status="CREATED", version=1)])
    r = check.check(h.events, s)
    assert "lost-write" in kinds(r), r["anomaly_counts"]
    assert not r["valid"]


def test_lost_refund_row():
    h, s = good()
    s["refunds"] = []
    r = check.check(h.events, s)
    assert "lost-write" in kinds(r)
    assert any("no refund row" in e["what"] for e in r["anomalies"]["lost-write"])


def test_duplicate_order_no_in_two_groups():
    h, s = good()
    dup = copy.deepcopy(s["orders"][0])
    dup["group"] = 2
    s["orders"].append(dup)
    r = check.check(h.events, s)
    assert "order-no-duplicated" in kinds(r)


def test_duplicate_out_trade_no_paid_twice():
    h, s = good()
    s["orders"].append(row(no=NO2, status="PAID", version=2))   # the same key, a second live order
    r = check.check(h.events, s)
    assert "out-trade-no-duplicated" in kinds(r)


def test_unacknowledged_created_orphan_is_not_a_duplicate():
    h, s = good()
    s["orders"].append(row(no=NO2, status="CREATED", version=1))   # spec §6 orphan, nobody got NO2
    s["mirror"] = mirror_of(s["orders"])
    r = check.check(h.events, s)
    assert r["valid"], r["anomalies"]
    assert r["orphans"] == 1


def test_create_not_stored():
    h, s = good()
    s = store([])
    r = check.check(h.events, s)
    assert "create-not-stored" in kinds(r)


def test_idempotent_retry_answered_another_order():
    h = H()
    h.op(1, "create", 0, 10, "info", err="transport: timeout")
    h.op(9, "create", 20, 30, "ok", val=o(no=NO1))
    h.op(9, "create", 40, 50, "ok", val=o(no=NO2))
    s = store([row(no=NO1), row(no=NO2)])
    r = check.check(h.events, s)
    assert "idempotency" in kinds(r)


def test_stale_strong_read():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 30, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "read", 40, 50, "ok", no=NO1, val=o(status="CREATED", version=1, consistency="strong"))
    s = store([row(status="PAID", version=2)])
    r = check.check(h.events, s)
    assert "stale-read" in kinds(r)
    ex = r["anomalies"]["stale-read"][0]
    assert ex["got"] == 1 and ex["acknowledged_before"] == 2


def test_concurrent_read_may_see_old_version():
    """A read overlapping the pay may see either version: linearizable, no anomaly."""
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 60, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "read", 30, 40, "ok", no=NO1, val=o(status="CREATED", version=1, consistency="strong"))
    s = store([row(status="PAID", version=2)])
    r = check.check(h.events, s)
    assert r["valid"], r["anomalies"]


def test_stale_replica_read_is_counted_not_an_anomaly():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 30, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "read", 40, 50, "ok", no=NO1, val=o(status="CREATED", version=1, consistency="default"))
    s = store([row(status="PAID", version=2)])
    r = check.check(h.events, s)
    assert r["valid"], r["anomalies"]
    assert r["stale_replica_reads"] == 1


def test_refused_close_that_happened_anyway():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(2, "close", 20, 30, "fail", no=NO1, err="409 ILLEGAL_TRANSITION")
    s = store([row(status="CLOSED", version=2)])
    r = check.check(h.events, s)
    assert "failed-write-applied" in kinds(r)


def test_unknown_outcome_close_may_have_happened():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(2, "close", 20, 30, "info", no=NO1, err="transport: timeout")
    s = store([row(status="CLOSED", version=2)])
    r = check.check(h.events, s)
    assert r["valid"], r["anomalies"]


def test_refused_refund_stored_anyway():
    h, s = good()
    h.op(3, "refund", 100, 110, "fail", no=NO1, arg={"out_refund_no": "R2", "amount": 90},
         err="409 REFUND_EXCEEDS_PAID")
    s["refunds"].append({"group": 1, "order_no": NO1, "out_refund_no": "R2", "refund_no": "y", "amount": 90})
    r = check.check(h.events, s)
    assert "failed-write-applied" in kinds(r)


def test_illegal_transition_paid_then_closed():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 30, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "read", 40, 50, "ok", no=NO1, val=o(status="CLOSED", version=3, consistency="strong"))
    s = store([row(status="CLOSED", version=3)])
    r = check.check(h.events, s)
    assert "illegal-transition" in kinds(r)
    assert "lost-write" in kinds(r)   # the acknowledged pay is gone too


def test_version_conflict():
    h = H()
    h.op(1, "create", 0, 10, "ok", val=o())
    h.op(1, "pay", 20, 30, "ok", no=NO1, val=o(status="PAID", version=2))
    h.op(2, "close", 21, 31, "ok", no=NO1, val=o(status="CLOSED", version=2))
    s = store([row(status="PAID", version=2)])
    r = check.check(h.events, s)
    assert "version-conflict" in kinds(r)


def test_mirror_missing_and_mismatch():
    h, s = good()
    s["mirror"] = []
    assert "mirror-missing" in kinds(check.check(h.events, s))
    h, s = good()
    s["mirror"][0]["version"] = 2
    assert "mirror-mismatch" in kinds(check.check(h.events, s))


def test_open_op_at_the_end_counts_as_info():
    h, s = good()
    h.events.append({"p": 5, "type": "invoke", "f": "close", "key": KEY1, "no": NO1, "arg": {}, "t": 200})
    r = check.check(h.events, s)
    assert r["ops"]["close"]["info"] == 1
    assert r["valid"], r["anomalies"]
