#!/usr/bin/python3
"""Mirror benchmark (not a test): numbers for docs/mirror.md.

  relay   insert N outbox rows (valid order events, spread over the groups) straight
          into the group primaries in one transaction per group, then time
          (a) the drain of the outbox by skipstored's relay -> events/s published and
          (b) the arrival of every row in the merchant store -> events/s applied.
  lag     drive creates at a fixed rate R/s for D seconds through the daemon (keep-alive
          HTTP from T threads), then read commit->apply lag of those rows from the
          merchant store: TIMESTAMPDIFF(MICROSECOND, committed_at, applied_at).

Usage (cluster env from ./dev):
  SKIP_PORT_BASE=18000 devtools/mirror_bench.py relay 20000
  SKIP_PORT_BASE=18000 devtools/mirror_bench.py lag 2000 20 32
  SKIP_PORT_BASE=18000 devtools/mirror_bench.py pipe 2000 20
  SKIP_PORT_BASE=18000 devtools/mirror_bench.py churn 1000 20
  pipe    like lag, but outbox rows are inserted straight into the groups at RATE/s
          (no HTTP create path): the relay -> Kafka -> mirror lag at that event rate.
          Events are spread over 16 merchants (message key), i.e. over the topic's
          partitions, as real traffic is.
  churn   correctness under rebalances: like pipe, but every order gets versions
          1, 2, 3 (three events, ticks apart) while a second skipstore-mirror (same
          config and consumer group) is started, SIGTERMed and SIGKILLed over and over
          and the cluster's mirror is SIGKILLed and restarted once (each a
          rebalance). Then checks: every order exactly once, at version 3 with the
          amount of version 3, no version regression seen by a watcher. Exit 1 on a
          violation.
"""
import signal  # noqa: E402
import subprocess  # noqa: E402
import json
import os
import random
import string
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import pymysql  # noqa: E402
from skiputil import Client  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_env():
    base = int(os.environ.get("SKIP_PORT_BASE", "17000"))
    run = os.environ.get("SKIP_RUN_DIR") or os.path.join(REPO, ".run" if base == 17000 else ".run-%d" % base)
    env = {}
    for line in open(os.path.join(run, "env")):
        line = line.strip()
        if line.startswith("export "):  # `export KEY=VALUE` lines (spec §2)
            line = line[len("export "):].lstrip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v.strip('"')
    return env


def conn(hp, env, db):
    h, p = hp.rsplit(":", 1)
    return pymysql.connect(host=h, port=int(p), user=env["SKIP_DB_ADMIN_USER"], password=env["SKIP_DB_ADMIN_PASSWORD"],
                           database=db, autocommit=True)


def luhn_digit(s):
    total = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def order_no(t, node, seq, group):
    body = t.strftime("%Y%m%d%H%M%S") + "%03d%05d%02d" % (node, seq, group)
    return body + luhn_digit(body)


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]


def bench_relay(env, n):
    groups = [int(g) for g in env["SKIP_GROUPS"].split()]
    merchant = "bench_relay_" + "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    now = datetime.now(timezone.utc)
    node = 900 + random.randint(0, 98)
    per = {g: [] for g in groups}
    for i in range(n):
        g = groups[i % len(groups)]
        t = now - timedelta(seconds=i // 90000)
        no = order_no(t, node, i % 90000, g)
        o = {"order_no": no, "group": g, "merchant_id": merchant, "out_trade_no": "b%d" % i, "store_id": None,
             "terminal_id": None, "amount": 100 + i, "currency": "CNY", "channel": "wx", "subject": None,
             "attach": None, "status": "CREATED", "refunded_amount": 0, "channel_txn_id": None, "version": 1,
             "created_at": fmt(now), "updated_at": fmt(now), "expire_at": fmt(now + timedelta(minutes=5)),
             "paid_at": None, "closed_at": None}
        per[g].append((no, merchant, 1, json.dumps(o, separators=(",", ":")), now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]))
    cs = {g: conn(env["SKIP_G%d_PRIMARY" % g], env, env["SKIP_DB_NAME"]) for g in groups}
    mdb = conn(env["SKIP_MERCHANT_DB"], env, env["SKIP_MERCHANT_DB_NAME"])
    # insert with the relay racing: one transaction per group, committed together
    for g in groups:
        cur = cs[g].cursor()
        cur.execute("START TRANSACTION")
        cur.executemany("INSERT INTO outbox (order_no, merchant_id, version, payload, created_at) "
                        "VALUES (%s,%s,%s,%s,%s)", per[g])
    t0 = time.monotonic()
    for g in groups:
        cs[g].cursor().execute("COMMIT")
    drained = applied = None
    while applied is None and time.monotonic() - t0 < 300:
        if drained is None:
            left = 0
            for g in groups:
                c = cs[g].cursor()
                c.execute("SELECT COUNT(*) FROM outbox WHERE merchant_id=%s", (merchant,))
                left += c.fetchone()[0]
            if left == 0:
                drained = time.monotonic() - t0
        c = mdb.cursor()
        c.execute("SELECT COUNT(*) FROM merchant_orders WHERE merchant_id=%s", (merchant,))
        if c.fetchone()[0] >= n:
            applied = time.monotonic() - t0
        time.sleep(0.02)
    print(json.dumps({"bench": "relay", "events": n, "groups": len(groups),
                      "outbox_drained_s": round(drained, 3) if drained else None,
                      "relay_events_per_s": round(n / drained) if drained else None,
                      "all_applied_s": round(applied, 3) if applied else None,
                      "end_to_end_events_per_s": round(n / applied) if applied else None}))
    c = mdb.cursor()
    c.execute("DELETE FROM merchant_orders WHERE merchant_id=%s", (merchant,))


def bench_lag(env, rate, dur, threads):
    merchant = "bench_lag_" + "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    url = env["SKIP_URL"]
    total = int(rate * dur)
    sent = [0]
    lock = threading.Lock()
    errors = [0]
    lat = []
    t_start = time.monotonic() + 0.2

    def worker():
        c = Client(url, timeout=10)
        while True:
            with lock:
                i = sent[0]
                if i >= total:
                    return
                sent[0] += 1
            due = t_start + i / rate  # open-loop schedule
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            t = time.monotonic()
            st, _, j = c.request("POST", "/v1/orders", {"merchant_id": merchant, "out_trade_no": "l%d" % i,
                                                         "amount": 100, "channel": "wx"})
            lat.append(time.monotonic() - t)
            if st != 201:
                errors[0] += 1
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t_start
    time.sleep(3)
    mdb = conn(env["SKIP_MERCHANT_DB"], env, env["SKIP_MERCHANT_DB_NAME"])
    c = mdb.cursor()
    c.execute("SELECT TIMESTAMPDIFF(MICROSECOND, committed_at, applied_at) FROM merchant_orders WHERE merchant_id LIKE %s",
              (merchant + "%",))
    lags = [r[0] / 1000.0 for r in c.fetchall()]
    print(json.dumps({"bench": "lag", "target_rate": rate, "achieved_rate": round((total - errors[0]) / elapsed),
                      "creates": total, "errors": errors[0], "mirrored": len(lags),
                      "create_p50_ms": round(pct(lat, 0.5) * 1000, 1), "create_p99_ms": round(pct(lat, 0.99) * 1000, 1),
                      "lag_p50_ms": round(pct(lags, 0.5), 1) if lags else None,
                      "lag_p99_ms": round(pct(lags, 0.99), 1) if lags else None,
                      "lag_max_ms": round(max(lags), 1) if lags else None}))
    c.execute("DELETE FROM merchant_orders WHERE merchant_id=%s", (merchant,))


def bench_pipe(env, rate, dur):
    """Outbox rows inserted straight into the groups at a steady rate (every 10 ms, one
    small multi-row INSERT per group), each stamped updated_at = its insert time:
    measures relay -> Kafka -> mirror lag at that event rate without the HTTP create
    path (which saturates first on a small box)."""
    groups = [int(g) for g in env["SKIP_GROUPS"].split()]
    merchant = "bench_pipe_" + "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    merchants = ["%s_%02d" % (merchant, i) for i in range(16)]
    node = 900 + random.randint(0, 98)
    per_tick = rate / 100.0 / len(groups)
    total = [0]
    lock = threading.Lock()
    seqs = {g: 0 for g in groups}

    def worker(g):
        c = conn(env["SKIP_G%d_PRIMARY" % g], env, env["SKIP_DB_NAME"])
        cur = c.cursor()
        t0 = time.monotonic()
        sent = 0
        tick = 0
        while time.monotonic() - t0 < dur:
            tick += 1
            # catch up to the schedule (a slow commit means a bigger next insert)
            k = int((time.monotonic() - t0) * per_tick * 100) - sent
            sent += max(k, 0)
            if k > 0:
                now = datetime.now(timezone.utc)
                vals = []
                for _ in range(k):
                    seqs[g] += 1
                    no = order_no(now, node, seqs[g] % 100000, g)
                    mer = merchants[seqs[g] % len(merchants)]
                    o = {"order_no": no, "group": g, "merchant_id": mer, "out_trade_no": "p%d_%d" % (g, seqs[g]),
                         "store_id": None, "terminal_id": None, "amount": 100, "currency": "CNY", "channel": "wx",
                         "subject": None, "attach": None, "status": "CREATED", "refunded_amount": 0,
                         "channel_txn_id": None, "version": 1, "created_at": fmt(now), "updated_at": fmt(now),
                         "expire_at": fmt(now + timedelta(minutes=5)), "paid_at": None, "closed_at": None}
                    vals.append((no, mer, 1, json.dumps(o, separators=(",", ":")),
                                 now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]))
                cur.executemany("INSERT INTO outbox (order_no, merchant_id, version, payload, created_at) "
                                "VALUES (%s,%s,%s,%s,%s)", vals)
                with lock:
                    total[0] += k
            d = t0 + tick * 0.01 - time.monotonic()
            if d > 0:
                time.sleep(d)
    ts = [threading.Thread(target=worker, args=(g,)) for g in groups]
    t_start = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t_start
    time.sleep(3)
    mdb = conn(env["SKIP_MERCHANT_DB"], env, env["SKIP_MERCHANT_DB_NAME"])
    c = mdb.cursor()
    c.execute("SELECT TIMESTAMPDIFF(MICROSECOND, committed_at, applied_at) FROM merchant_orders WHERE merchant_id LIKE %s",
              (merchant + "%",))
    lags = [r[0] / 1000.0 for r in c.fetchall()]
    print(json.dumps({"bench": "pipe", "target_rate": rate, "achieved_rate": round(total[0] / elapsed),
                      "events": total[0], "mirrored": len(lags),
                      "lag_p50_ms": round(pct(lags, 0.5), 1) if lags else None,
                      "lag_p99_ms": round(pct(lags, 0.99), 1) if lags else None,
                      "lag_max_ms": round(max(lags), 1) if lags else None}))
    c.execute("DELETE FROM merchant_orders WHERE merchant_id LIKE %s", (merchant + "%",))


def bench_churn(env, rate, dur):
    """Versions 1..3 per order at RATE events/s for DUR s while mirrors join, leave
    and die (rebalances); then verify the merchant store exactly."""
    groups = [int(g) for g in env["SKIP_GROUPS"].split()]
    merchant = "bench_churn_" + "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    merchants = ["%s_%02d" % (merchant, i) for i in range(16)]
    node = 900 + random.randint(0, 98)
    per_tick = rate / 100.0 / len(groups) / 3  # new orders per tick per group (3 events each)
    created = {g: [] for g in groups}
    stop = threading.Event()

    def event(g, no, mer, v, now, created_at):
        o = {"order_no": no, "group": g, "merchant_id": mer, "out_trade_no": "c" + no, "store_id": None,
             "terminal_id": None, "amount": 100 * v, "currency": "CNY", "channel": "wx", "subject": None,
             "attach": None, "status": "CREATED", "refunded_amount": 0, "channel_txn_id": None, "version": v,
             "created_at": created_at, "updated_at": fmt(now), "expire_at": fmt(now + timedelta(minutes=5)),
             "paid_at": None, "closed_at": None}
        return (no, mer, v, json.dumps(o, separators=(",", ":")), now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])

    def worker(g):
        c = conn(env["SKIP_G%d_PRIMARY" % g], env, env["SKIP_DB_NAME"])
        cur = c.cursor()
        t0 = time.monotonic()
        sent = seq = tick = 0
        live = []  # [order_no, merchant, next_version, created_at]
        while time.monotonic() - t0 < dur or live:
            tick += 1
            now = datetime.now(timezone.utc)
            vals = []
            for o in live:  # next version of the orders in flight
                vals.append(event(g, o[0], o[1], o[2], now, o[3]))
                o[2] += 1
            live = [o for o in live if o[2] <= 3]
            if time.monotonic() - t0 < dur:
                k = int((time.monotonic() - t0) * per_tick * 100) - sent
                for _ in range(max(k, 0)):
                    seq += 1
                    no = order_no(now, node, seq % 100000, g)
                    mer = merchants[seq % len(merchants)]
                    vals.append(event(g, no, mer, 1, now, fmt(now)))
                    live.append([no, mer, 2, fmt(now)])
                    created[g].append(no)
                sent += max(k, 0)
            if vals:
                cur.executemany("INSERT INTO outbox (order_no, merchant_id, version, payload, created_at) "
                                "VALUES (%s,%s,%s,%s,%s)", vals)
            d = t0 + tick * 0.01 - time.monotonic()
            if d > 0:
                time.sleep(d)

    regress = []

    def watch():
        c = conn(env["SKIP_MERCHANT_DB"], env, env["SKIP_MERCHANT_DB_NAME"])
        seen = {}
        while not stop.is_set():
            cur = c.cursor()
            cur.execute("SELECT order_no, version FROM merchant_orders WHERE merchant_id LIKE %s", (merchant + "%",))
            for no, v in cur.fetchall():
                if v < seen.get(no, 0):
                    regress.append((no, seen[no], v))
                seen[no] = max(v, seen.get(no, 0))
            time.sleep(0.1)

    binary = os.path.join(env["SKIP_BUILD_DIR"], "skipstore-mirror")
    log = open(os.path.join(env["SKIP_RUN_DIR"], "log", "mirror-churn.log"), "a")
    rebalances = [0]

    def churner():
        # a second mirror in the same consumer group: start, let it take partitions,
        # then SIGTERM (graceful leave) or SIGKILL (session timeout) it
        i = 0
        while not stop.is_set():
            pr = subprocess.Popen([binary, "--config", env["SKIP_CONFIG"]], stdout=log, stderr=log)
            time.sleep(random.uniform(2, 5))
            pr.send_signal(signal.SIGKILL if i % 2 else signal.SIGTERM)
            pr.wait()
            rebalances[0] += 2
            i += 1
            if i == 2:  # and once the cluster's own mirror
                subprocess.call([os.path.join(REPO, "dev"), "fault", "mirror", "kill"], stdout=log, stderr=log)
                time.sleep(1)
                subprocess.call([os.path.join(REPO, "dev"), "fault", "mirror", "start"], stdout=log, stderr=log)
                rebalances[0] += 2
            time.sleep(random.uniform(1, 3))

    ws = [threading.Thread(target=worker, args=(g,)) for g in groups]
    aux = [threading.Thread(target=watch), threading.Thread(target=churner)]
    for t in ws + aux:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in aux:
        t.join()
    n = sum(len(v) for v in created.values())
    mdb = conn(env["SKIP_MERCHANT_DB"], env, env["SKIP_MERCHANT_DB_NAME"])
    t0 = time.monotonic()
    while True:
        c = mdb.cursor()
        c.execute("SELECT COUNT(*), COUNT(DISTINCT order_no), SUM(version=3 AND amount=300) FROM merchant_orders "
                  "WHERE merchant_id LIKE %s", (merchant + "%",))
        rows, distinct, final = c.fetchone()
        final = int(final or 0)
        if final == n or time.monotonic() - t0 > 120:
            break
        time.sleep(0.5)
    ok = rows == distinct == final == n and not regress
    print(json.dumps({"bench": "churn", "orders": n, "events": 3 * n, "rows": rows, "distinct": distinct,
                      "at_version_3": final, "version_regressions": len(regress), "rebalances_caused": rebalances[0],
                      "caught_up_after_s": round(time.monotonic() - t0, 1), "ok": ok}))
    c = mdb.cursor()
    c.execute("DELETE FROM merchant_orders WHERE merchant_id LIKE %s", (merchant + "%",))
    sys.exit(0 if ok else 1)


def main():
    env = load_env()
    if len(sys.argv) >= 2 and sys.argv[1] == "relay":
        bench_relay(env, int(sys.argv[2]) if len(sys.argv) > 2 else 20000)
    elif len(sys.argv) >= 2 and sys.argv[1] == "pipe":
        bench_pipe(env, float(sys.argv[2]) if len(sys.argv) > 2 else 2000, float(sys.argv[3]) if len(sys.argv) > 3 else 20)
    elif len(sys.argv) >= 2 and sys.argv[1] == "churn":
        bench_churn(env, float(sys.argv[2]) if len(sys.argv) > 2 else 1000, float(sys.argv[3]) if len(sys.argv) > 3 else 20)
    elif len(sys.argv) >= 2 and sys.argv[1] == "lag":
        bench_lag(env, float(sys.argv[2]) if len(sys.argv) > 2 else 500,
                  float(sys.argv[3]) if len(sys.argv) > 3 else 20, int(sys.argv[4]) if len(sys.argv) > 4 else 32)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
