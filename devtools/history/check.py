#!/usr/bin/env python3
"""devtools/history/check.py — the history checker (Jepsen-style) for skipstore.

A history is a JSON-lines file of operations as the clients saw them
(devtools/history/run.py writes one): every operation is an `invoke` line and
then, from the same process, one completion line:

    {"p": 3, "type": "invoke", "f": "pay", "key": "h1-3-17", "no": "2026...", "arg": {...}, "t": 1234}
    {"p": 3, "type": "ok"|"fail"|"info", "f": "pay", ..., "val": {...}, "err": "409 ORDER_CLOSED", "t": 1240}

  f      create | read | pay | close | refund
  type   ok: the answer was a signed 2xx; fail: a signed 4xx (the change
         definitely did not happen); info: anything else — timeout, transport
         error, 5xx, 401 REPLAYED — the outcome is unknown and the checker
         treats the change as "may or may not have happened".
  key    the order's merchant_id|out_trade_no; no: its order number once known
  val    ok: {"order_no","status","version","refunded_amount"} (+ "refund_no",
         "read_from", "consistency")
  t      monotonic nanoseconds (one clock for every process of the run)

and a store snapshot, taken after the run settled: the rows of the run in
every group database and in the merchant store:

    {"orders":  [{"group","order_no","merchant_id","out_trade_no","status","version","refunded_amount"}],
     "refunds": [{"group","order_no","out_refund_no","refund_no","amount"}],
     "mirror":  [{"order_no","status","version","refunded_amount"}]}

What it checks (anomaly names as in the report):

  create-not-stored       an acknowledged create whose order number is in no group
  order-no-duplicated     an order number in two groups, or in a group its number
                          does not name
  out-trade-no-duplicated the same merchant_id|out_trade_no stored twice where the
                          second row is not a harmless orphan (spec §6: a CREATED or
                          CLOSED row whose number nobody was ever given)
  idempotency             two acknowledged creates of one key with different order
                          numbers; two acknowledged refunds of one out_refund_no
                          with different refund numbers
  mirror-missing / mirror-mismatch
                          an acknowledged order absent from the merchant store, or
                          there at another version / status than in its group
  version-conflict        two observations of one order at the same version with a
                          different status or refunded amount
  illegal-transition      observed states of one order, in version order, that the
                          order state machine cannot produce (CREATED -> PAID ->
                          REFUNDED, CREATED -> CLOSED; refunded amount only grows)
  stale-read              a read that must be linearizable (consistency=strong, or any
                          write's answer) returned a version older than one an
                          operation acknowledged before this one was invoked
  lost-write              an acknowledged pay / close / refund that the final store
                          does not reflect (order behind the acknowledged version,
                          not PAID/REFUNDED after an acknowledged pay, not CLOSED
                          after an acknowledged close, a refund row missing, refunded
                          amount below the acknowledged refunds)
  failed-write-applied    a change answered with a definite failure (4xx) and never
                          attempted otherwise (no ok/info op of the same kind on the
                          order) that shows up anyway: PAID without a pay, CLOSED
                          without a close, a refund row for a refused out_refund_no

Replica reads (the default GET, "replica first") may be stale by design (spec
§4); they are counted (stale_replica_reads), not reported as anomalies.

Usage: check.py HISTORY.jsonl STORE.json [--json OUT]; exit 0 valid, 1 anomalies.
"""
import argparse
import json
import sys
from collections import Counter, defaultdict

FUNCS = ("create", "read", "pay", "close", "refund")
RANK = {"CREATED": 0, "PAID": 1, "REFUNDED": 2, "CLOSED": 3}
MAX_EXAMPLES = 5


def legal_step(a, b):
    """May an order observed in state a (status, refunded) later be observed in state b?"""
    sa, ra = a
    sb, rb = b
    if rb < ra:
        return False
    if sa == "CREATED":
        return sb in RANK
    if sa == "PAID":
        return sb in ("PAID", "REFUNDED")
    if sa == "REFUNDED":
        return sb == "REFUNDED" and rb == ra
    if sa == "CLOSED":
        return sb == "CLOSED" and rb == ra == 0
    return False


def pair(history):
    """Completed operations: dicts with invoke/complete times, type, f, key, no, arg, val, err.
    An invoke without a completion (the run ended) counts as info."""
    open_by_p = {}
    ops = []
    for e in history:
        p = e["p"]
        if e["type"] == "invoke":
            if p in open_by_p:   # a process never has two ops open: treat the old one as info
                o = open_by_p.pop(p)
                o.update(type="info", err="no completion", complete=float("inf"))
                ops.append(o)
            open_by_p[p] = {"p": p, "f": e["f"], "key": e.get("key"), "no": e.get("no"), "arg": e.get("arg") or {},
                            "invoke": e["t"]}
        else:
            o = open_by_p.pop(p, None)
            if o is None:
                continue
            o.update(type=e["type"], val=e.get("val"), err=e.get("err"), complete=e["t"])
            if not o.get("no") and isinstance(o.get("val"), dict):
                o["no"] = o["val"].get("order_no")
            ops.append(o)
    for o in open_by_p.values():
        o.update(type="info", err="no completion", complete=float("inf"))
        ops.append(o)
    ops.sort(key=lambda o: o["invoke"])
    return ops


class Report:
    def __init__(self):
        self.anomalies = defaultdict(list)
        self.counts = Counter()

    def add(self, kind, **example):
        self.counts[kind] += 1
        if len(self.anomalies[kind]) < MAX_EXAMPLES:
            self.anomalies[kind].append(example)


def group_of(order_no):
    return int(order_no[22:24]) if order_no and len(order_no) == 25 else None


def check(history, store):
    """Check a history against a store snapshot. Returns the summary dict."""
    ops = pair(history)
    rep = Report()
    summary_ops = Counter((o["f"], o["type"]) for o in ops)

    rows_by_no = defaultdict(list)
    rows_by_key = defaultdict(list)
    for r in store.get("orders", []):
        rows_by_no[r["order_no"]].append(r)
        rows_by_key["%s|%s" % (r["merchant_id"], r["out_trade_no"])].append(r)
    refunds = {(r["order_no"], r["out_refund_no"]): r for r in store.get("refunds", [])}
    mirror = {r["order_no"]: r for r in store.get("mirror", [])}

    # ---- creates: stored exactly once, idempotent
    acked_no_by_key = defaultdict(set)
    given = set()   # every order number a client was given (any ok answer naming it)
    for o in ops:
        if o["type"] == "ok" and isinstance(o.get("val"), dict) and o["val"].get("order_no"):
            given.add(o["val"]["order_no"])
        if o["f"] == "create" and o["type"] == "ok":
            acked_no_by_key[o["key"]].add(o["val"]["order_no"])
    for key, nos in acked_no_by_key.items():
        if len(nos) > 1:
            rep.add("idempotency", key=key, order_nos=sorted(nos), what="creates of one key answered different orders")
        for no in nos:
            rows = rows_by_no.get(no, [])
            if not rows:
                rep.add("create-not-stored", key=key, order_no=no)
            elif len(rows) > 1 or rows[0]["group"] != group_of(no):
                rep.add("order-no-duplicated", key=key, order_no=no, groups=[r["group"] for r in rows])
            if rows and no not in mirror:
                rep.add("mirror-missing", key=key, order_no=no)
            elif rows and len(rows) == 1:
                m, g = mirror[no], rows[0]
                if (m["version"], m["status"]) != (g["version"], g["status"]):
                    rep.add("mirror-mismatch", order_no=no, group={"version": g["version"], "status": g["status"]},
                            mirror={"version": m["version"], "status": m["status"]})
        rows = rows_by_key.get(key, [])
        if len(rows) > 1:
            extra = [r for r in rows if r["order_no"] not in nos]
            harmful = [r for r in extra if r["order_no"] in given or r["status"] not in ("CREATED", "CLOSED")]
            if harmful or len(rows) - len(extra) > 1:
                rep.add("out-trade-no-duplicated", key=key, rows=[{k: r[k] for k in ("order_no", "group", "status")}
                                                                 for r in rows])
    orphans = sum(1 for key, rows in rows_by_key.items() for r in rows
                  if r["order_no"] not in given and key in acked_no_by_key)

    # refunds: one refund number per out_refund_no
    refund_nos = defaultdict(set)
    for o in ops:
        if o["f"] == "refund" and o["type"] == "ok" and o["val"].get("refund_no"):
            refund_nos[(o["no"], o["arg"].get("out_refund_no"))].add(o["val"]["refund_no"])
    for k, nos in refund_nos.items():
        if len(nos) > 1:
            rep.add("idempotency", order_no=k[0], out_refund_no=k[1], refund_nos=sorted(nos),
                    what="refunds of one out_refund_no answered different refunds")

    # ---- per order: observations, state machine, real-time order
    by_no = defaultdict(list)
    for o in ops:
        if o.get("no"):
            by_no[o["no"]].append(o)
    stale_replica = 0
    for no, oos in by_no.items():
        obs = [o for o in oos if o["type"] == "ok" and isinstance(o.get("val"), dict) and "version" in o["val"]]
        at_version = {}
        for o in obs:
            v = o["val"]
            st = (v["status"], v.get("refunded_amount", 0))
            prev = at_version.get(v["version"])
            if prev is not None and prev[0] != st:
                rep.add("version-conflict", order_no=no, version=v["version"], states=[prev[0], st],
                        ops=[prev[1], "%s p%d" % (o["f"], o["p"])])
            elif prev is None:
                at_version[v["version"]] = (st, "%s p%d" % (o["f"], o["p"]))
        row = rows_by_no.get(no, [None])[0]
        if row is not None:
            st = (row["status"], row["refunded_amount"])
            prev = at_version.get(row["version"])
            if prev is not None and prev[0] != st:
                rep.add("version-conflict", order_no=no, version=row["version"], states=[prev[0], st],
                        ops=[prev[1], "store"])
            elif prev is None:
                at_version[row["version"]] = (st, "store")
        vs = sorted(at_version)
        for a, b in zip(vs, vs[1:]):
            if not legal_step(at_version[a][0], at_version[b][0]):
                rep.add("illegal-transition", order_no=no, frm={"version": a, "state": at_version[a][0]},
                        to={"version": b, "state": at_version[b][0]})

        # real time: a version any op saw, completed before this op was invoked,
        # was committed by then; a linearizable answer may not be older
        for o in obs:
            floor, by = 0, None
            for w in obs:
                if w["complete"] < o["invoke"] and w["val"]["version"] > floor:
                    floor, by = w["val"]["version"], w
            if o["val"]["version"] < floor:
                if o["f"] == "read" and o["val"].get("consistency") != "strong":
                    stale_replica += 1
                else:
                    rep.add("stale-read", order_no=no, op="%s p%d" % (o["f"], o["p"]), got=o["val"]["version"],
                            acknowledged_before=floor, by="%s p%d" % (by["f"], by["p"]))

        # lost writes against the final row
        if row is None:
            continue
        max_acked = max([o["val"]["version"] for o in obs if o["f"] != "read"] + [0])
        if row["version"] < max_acked:
            rep.add("lost-write", order_no=no, what="store at version %d, %d was acknowledged"
                    % (row["version"], max_acked))
        fs = {f: [o for o in oos if o["f"] == f] for f in FUNCS}
        if any(o["type"] == "ok" for o in fs["pay"]) and row["status"] not in ("PAID", "REFUNDED"):
            rep.add("lost-write", order_no=no, what="pay acknowledged, store says %s" % row["status"])
        if any(o["type"] == "ok" for o in fs["close"]) and row["status"] != "CLOSED":
            rep.add("lost-write", order_no=no, what="close acknowledged, store says %s" % row["status"])
        acked_refunds = {}
        for o in fs["refund"]:
            if o["type"] == "ok":
                acked_refunds[o["arg"].get("out_refund_no")] = o["arg"].get("amount", 0)
        for orn in acked_refunds:
            if (no, orn) not in refunds:
                rep.add("lost-write", order_no=no, what="refund %s acknowledged, no refund row" % orn)
        if sum(acked_refunds.values()) > row["refunded_amount"]:
            rep.add("lost-write", order_no=no, what="refunds of %d acknowledged, refunded_amount %d"
                    % (sum(acked_refunds.values()), row["refunded_amount"]))

        # definite failures that show up anyway
        def tried(f):
            return any(o["type"] in ("ok", "info") for o in fs[f])
        seen_status = {s for (s, _r), _ in at_version.values()}
        if fs["pay"] and not tried("pay") and seen_status & {"PAID", "REFUNDED"}:
            rep.add("failed-write-applied", order_no=no, what="every pay refused (%s), yet PAID"
                    % fs["pay"][0].get("err"))
        if fs["close"] and not tried("close") and "CLOSED" in seen_status:
            rep.add("failed-write-applied", order_no=no, what="every close refused (%s), yet CLOSED"
                    % fs["close"][0].get("err"))
        refused = defaultdict(list)
        for o in fs["refund"]:
            refused[o["arg"].get("out_refund_no")].append(o)
        for orn, attempts in refused.items():
            if all(a["type"] == "fail" for a in attempts) and (no, orn) in refunds:
                rep.add("failed-write-applied", order_no=no, what="refund %s refused (%s), yet stored"
                        % (orn, attempts[0].get("err")))

    ops_table = {f: {t: summary_ops.get((f, t), 0) for t in ("ok", "fail", "info")} for f in FUNCS}
    errors = Counter((o["f"], o.get("err")) for o in ops if o["type"] != "ok")
    return {
        "valid": not rep.counts,
        "ops": ops_table,
        "op_count": len(ops),
        "orders_created": sum(len(v) for v in acked_no_by_key.values()),
        "orders_in_store": len(rows_by_no),
        "orphans": orphans,
        "stale_replica_reads": stale_replica,
        "errors": {"%s %s" % k: n for k, n in errors.most_common(12)},
        "anomaly_counts": dict(rep.counts),
        "anomalies": dict(rep.anomalies),
    }


def render(s):
    lines = ["history: %d ops, %d orders created (%d rows in the store, %d orphans), %s"
             % (s["op_count"], s["orders_created"], s["orders_in_store"], s["orphans"],
                "VALID" if s["valid"] else "INVALID")]
    lines.append("%-8s %8s %8s %8s" % ("op", "ok", "fail", "info"))
    for f, t in s["ops"].items():
        lines.append("%-8s %8d %8d %8d" % (f, t["ok"], t["fail"], t["info"]))
    if s["errors"]:
        lines.append("not ok: " + ", ".join("%s: %d" % kv for kv in s["errors"].items()))
    lines.append("stale replica reads (allowed, spec §4): %d" % s["stale_replica_reads"])
    if s["valid"]:
        lines.append("anomalies: none")
    for kind, n in sorted(s["anomaly_counts"].items()):
        lines.append("anomaly %s: %d, e.g. %s" % (kind, n, json.dumps(s["anomalies"][kind][0], sort_keys=True)))
    return "\n".join(lines)


def load_history(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description="check a skipstore history against a store snapshot")
    ap.add_argument("history")
    ap.add_argument("store")
    ap.add_argument("--json", help="write the summary as JSON here")
    a = ap.parse_args(argv)
    with open(a.store) as f:
        store = json.load(f)
    s = check(load_history(a.history), store)
    print(render(s))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1, sort_keys=True)
    return 0 if s["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
