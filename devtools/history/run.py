#!/usr/bin/python3
"""devtools/history/run.py — record a history of concurrent clients against the
./dev cluster while faults are injected, then check it (check.py).

    source .run/env     # or SKIP_RUN_DIR=...; the cluster must be up
    python3 devtools/history/run.py --duration 300 --clients 8 --out /tmp/hist1

Clients (threads, each its own keep-alive connection through SKIP_URL, every
request signed with the admin key and every answer's signature verified):
create (25 %), pay (20 %), close (8 %), refund (17 %), strong read (20 %) and
replica read (10 %), on a shared pool of the run's recent orders (refunds
mostly on orders some client saw PAID), so pays, closes and refunds of one
order race each other across clients. A create
whose outcome is unknown is retried with the same body (idempotency), up to 5
times; so is a refund (same out_refund_no). After an unknown outcome a
client continues as a new process id (Jepsen's rule: the old operation may
still be in flight). Orders expire after a day, so the expiry sweeper never
closes one during a run.

The nemesis thread rotates through --faults every --fault-every seconds, each
held --fault-for seconds: daemon (daemon1 kill + start), kill / stop /
partition (a group primary, the groups in turn: kill+start, stop+cont,
partition+heal), redis (kill + start).

At the end it waits for the outbox to drain and the merchant store to catch
up, snapshots the run's rows (groups and merchant store), and checks.
Writes OUT/history.jsonl, OUT/store.json, OUT/summary.json, OUT/summary.txt.
Exit 0 when the history is valid, 1 when the checker found anomalies, 2 when
the run itself failed.
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import check  # noqa: E402
import skipsign  # noqa: E402
import skiputil  # noqa: E402

MIX = [("create", 25), ("pay", 20), ("close", 8), ("refund", 17), ("read_strong", 20), ("read", 10)]


class History:
    def __init__(self, path):
        self.f = open(path, "w")
        self.mu = threading.Lock()
        self.t0 = time.monotonic_ns()

    def log(self, **e):
        e["t"] = time.monotonic_ns() - self.t0
        with self.mu:
            self.f.write(json.dumps(e, separators=(",", ":")) + "\n")

    def close(self):
        self.f.close()


class Conn:
    """One keep-alive connection; never retries on its own (a retry is a new op in the history)."""

    def __init__(self, url, timeout):
        import urllib.parse
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.c = None
        self.kid = skipsign.pick(None)

    def call(self, method, path, body=None):
        """(status, parsed body) or raises OSError/HTTPException/SignatureError."""
        data = json.dumps(body).encode() if body is not None else None
        auth, n = skipsign.sign(method, path, data, self.kid)
        h = {"Content-Type": "application/json", "Authorization": auth}
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.c.request(method, path, body=data, headers=h)
            r = self.c.getresponse()
            text = r.read()
        except Exception:
            self.close()
            raise
        skipsign.check_response(self.kid, r.status, n, text, r.getheader("Skip-Signature"))
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, None

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def order_val(o, **extra):
    v = {"order_no": o.get("order_no"), "status": o.get("status"), "version": o.get("version"),
         "refunded_amount": o.get("refunded_amount", 0)}
    v.update(extra)
    return v


def classify(status, body):
    """ok / fail / info and an error code, for one signed answer."""
    code = (body or {}).get("error", {}).get("code", "-") if isinstance(body, dict) else "-"
    if 200 <= status < 300:
        return "ok", None
    if status == 401 and code == "REPLAYED":
        return "info", "401 REPLAYED"     # the balancer delivered it twice: outcome unknown
    if 400 <= status < 500:
        return "fail", "%d %s" % (status, code)
    return "info", "%d %s" % (status, code)


class Runner:
    def __init__(self, a):
        self.a = a
        self.url = os.environ["SKIP_URL"]
        self.run_id = "h%x" % (int(time.time()) & 0xffffff)
        os.makedirs(a.out, exist_ok=True)
        self.hist = History(os.path.join(a.out, "history.jsonl"))
        self.mu = threading.Lock()
        self.orders = []          # (no, amount) of acknowledged creates
        self.paid = []            # (no, amount) some client saw PAID (refund targets)
        self.stop = threading.Event()
        self.next_p = a.clients
        self.faults = []

    def new_p(self):
        with self.mu:
            self.next_p += 1
            return self.next_p

    def op(self, conn, p, f, method, path, body, key=None, no=None, arg=None, render=None):
        """Run one operation and log invoke + completion. Returns (type, parsed body)."""
        self.hist.log(p=p, type="invoke", f=f, key=key, no=no, arg=arg or {})
        try:
            status, parsed = conn.call(method, path, body)
            typ, err = classify(status, parsed)
        except skipsign.SignatureError as e:
            typ, err, parsed = "info", "bad signature: %s" % e, None
        except (OSError, http.client.HTTPException) as e:
            typ, err, parsed = "info", "transport: %s" % (type(e).__name__), None
        val = render(parsed) if typ == "ok" and render else None
        if typ == "ok" and val is None:
            typ, err = "info", "unparsable answer"
        self.hist.log(p=p, type=typ, f=f, key=key, no=no or (val or {}).get("order_no"), val=val, err=err)
        return typ, parsed

    def pick(self, rnd, paid=False):
        with self.mu:
            pool = self.paid if paid and self.paid and rnd.random() < 0.8 else self.orders
            if not pool:
                return None
            recent = pool[-40:]
            return rnd.choice(recent if rnd.random() < 0.8 else pool)

    def client(self, idx):
        rnd = random.Random(idx * 7919 + int(time.time()))
        conn = Conn(self.url, self.a.timeout)
        p = idx
        n = 0
        fs, ws = zip(*MIX)
        deadline = time.monotonic() + self.a.duration
        while time.monotonic() < deadline:
            f = rnd.choices(fs, ws)[0]
            target = self.pick(rnd, paid=f == "refund")
            if target is None:
                f = "create"
            n += 1
            if f == "create":
                merchant = "hist%d" % (idx % 4)
                otn = "%s-%d-%d" % (self.run_id, idx, n)
                amount = 100 + rnd.randrange(900)
                body = {"merchant_id": merchant, "out_trade_no": otn, "amount": amount, "channel": "hist",
                        "expire_seconds": 86400}
                for attempt in range(6):
                    typ, parsed = self.op(conn, p, "create", "POST", "/v1/orders", body, key="%s|%s" % (merchant, otn),
                                          arg={"amount": amount, "attempt": attempt}, render=order_val)
                    if typ == "info":
                        p = self.new_p()
                        time.sleep(0.2)
                        continue
                    if typ == "ok":
                        with self.mu:
                            self.orders.append((parsed["order_no"], amount))
                    break
                continue
            no, amount = target
            if f == "pay":
                typ, parsed = self.op(conn, p, "pay", "POST", "/v1/orders/%s/pay" % no,
                                      {"channel_txn_id": "txn-" + no, "paid_amount": amount}, no=no, render=order_val)
                if typ == "ok" and parsed.get("status") == "PAID":
                    with self.mu:
                        self.paid.append(target)
            elif f == "close":
                typ, _ = self.op(conn, p, "close", "POST", "/v1/orders/%s/close" % no, None, no=no, render=order_val)
            elif f == "refund":
                orn = "%s-r%d-%d" % (self.run_id, idx, n)
                ramount = 1 + rnd.randrange(40)
                for attempt in range(4):
                    typ, _ = self.op(conn, p, "refund", "POST", "/v1/orders/%s/refunds" % no,
                                     {"out_refund_no": orn, "amount": ramount}, no=no,
                                     arg={"out_refund_no": orn, "amount": ramount, "attempt": attempt},
                                     render=lambda b: order_val(b["order"], refund_no=b["refund"]["refund_no"]))
                    if typ != "info":
                        break
                    p = self.new_p()
                    time.sleep(0.2)
            else:
                strong = f == "read_strong"
                path = "/v1/orders/%s%s" % (no, "?consistency=strong" if strong else "")
                typ, _ = self.op(conn, p, "read", "GET", path, None, no=no, arg={"strong": strong},
                                 render=lambda b: order_val(b, read_from=b.get("read_from"),
                                                            consistency="strong" if strong else "default"))
            if typ == "info":
                p = self.new_p()
        conn.close()

    # ---------------------------------------------------------------- nemesis

    def dev(self, target, action):
        t0 = time.monotonic()
        r = subprocess.run([self.a.dev, "fault", target, action], cwd=REPO, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        self.hist.log(p="nemesis", type="nemesis", f="%s %s" % (target, action), ok=r.returncode == 0)
        if r.returncode != 0:
            print("history: ./dev fault %s %s failed: %s" % (target, action, r.stderr.strip()[-300:]), file=sys.stderr)
        return r.returncode == 0, time.monotonic() - t0

    def nemesis(self):
        kinds = [k for k in self.a.faults.split(",") if k]
        groups = os.environ.get("SKIP_GROUPS", "1 2 3").split()
        k = gi = 0
        while not self.stop.wait(self.a.fault_every):
            kind = kinds[k % len(kinds)]
            k += 1
            if kind == "daemon":
                target, inj, rec = "daemon1", "kill", "start"
            elif kind == "redis":
                target, inj, rec = "redis", "kill", "start"
            else:
                target = "g" + groups[gi % len(groups)]
                gi += 1
                inj, rec = kind, {"kill": "start", "stop": "cont", "partition": "heal"}[kind]
            print("history: fault %s %s" % (target, inj), file=sys.stderr)
            ok1, _ = self.dev(target, inj)
            self.stop.wait(self.a.fault_for)
            ok2, _ = self.dev(target, rec)   # always recovered, even when stopping
            self.faults.append({"target": target, "inject": inj, "recover": rec, "ok": ok1 and ok2})

    # ---------------------------------------------------------------- snapshot

    def groups_outbox(self):
        c = Conn(self.url, 5)
        try:
            st, b = c.call("GET", "/v1/groups")
            return sum(g.get("outbox_pending", 0) for g in b["groups"]) if st == 200 else None
        except Exception:
            return None
        finally:
            c.close()

    def snapshot(self):
        env = skiputil.load_env()
        like = self.run_id + "-%"
        store = {"orders": [], "refunds": [], "mirror": []}
        for g in [int(x) for x in env["SKIP_GROUPS"].split()]:
            c = skiputil.db(env, g)
            with c.cursor() as cur:
                cur.execute("SELECT order_no, merchant_id, out_trade_no, status, version, refunded_amount FROM orders "
                            "WHERE out_trade_no LIKE %s", (like,))
                for r in cur.fetchall():
                    store["orders"].append(dict(zip(("order_no", "merchant_id", "out_trade_no", "status", "version",
                                                     "refunded_amount"), r), group=g))
                cur.execute("SELECT order_no, out_refund_no, refund_no, amount FROM refunds WHERE out_refund_no LIKE %s",
                            (like,))
                for r in cur.fetchall():
                    store["refunds"].append(dict(zip(("order_no", "out_refund_no", "refund_no", "amount"), r), group=g))
            c.close()
        host, port = env["SKIP_MERCHANT_DB"].rsplit(":", 1)
        import pymysql
        tls = skiputil.db_tls_args(env) if skiputil.backend_tls(env) else {}
        c = pymysql.connect(host=host, port=int(port), user=env["SKIP_DB_ADMIN_USER"],
                            password=env["SKIP_DB_ADMIN_PASSWORD"], database=env["SKIP_MERCHANT_DB_NAME"],
                            autocommit=True, connect_timeout=3, read_timeout=30, **tls)
        with c.cursor() as cur:
            cur.execute("SELECT order_no, status, version, refunded_amount FROM merchant_orders WHERE out_trade_no LIKE %s",
                        (like,))
            for r in cur.fetchall():
                store["mirror"].append(dict(zip(("order_no", "status", "version", "refunded_amount"), r)))
        c.close()
        return store

    def settle_and_snapshot(self):
        """Wait (<= --settle s) for the outbox to drain and the merchant store to match the groups."""
        deadline = time.monotonic() + self.a.settle
        while True:
            pending = self.groups_outbox()
            store = self.snapshot()
            mirror = {m["order_no"]: m["version"] for m in store["mirror"]}
            behind = sum(1 for o in store["orders"] if mirror.get(o["order_no"]) != o["version"])
            if (pending == 0 and behind == 0) or time.monotonic() > deadline:
                return store, pending, behind
            time.sleep(2)

    def run(self):
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(self.a.clients)]
        nem = threading.Thread(target=self.nemesis) if self.a.faults else None
        for t in threads:
            t.start()
        if nem:
            nem.start()
        for t in threads:
            t.join()
        self.stop.set()
        if nem:
            nem.join()
        self.hist.close()
        store, pending, behind = self.settle_and_snapshot()
        with open(os.path.join(self.a.out, "store.json"), "w") as f:
            json.dump(store, f)
        s = check.check(check.load_history(os.path.join(self.a.out, "history.jsonl")), store)
        s["run"] = {"run_id": self.run_id, "duration_s": self.a.duration, "clients": self.a.clients,
                    "faults": self.faults, "outbox_pending_at_snapshot": pending, "mirror_behind_at_snapshot": behind}
        with open(os.path.join(self.a.out, "summary.json"), "w") as f:
            json.dump(s, f, indent=1, sort_keys=True)
        text = check.render(s) + "\nfaults: %s" % ", ".join(
            "%s %s/%s%s" % (x["target"], x["inject"], x["recover"], "" if x["ok"] else " (FAILED)") for x in self.faults)
        with open(os.path.join(self.a.out, "summary.txt"), "w") as f:
            f.write(text + "\n")
        print(text)
        return 0 if s["valid"] else 1


def main():
    ap = argparse.ArgumentParser(description="record and check a skipstore history under faults")
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--faults", default="daemon,kill,stop,partition,redis",
                    help="rotation, comma-separated: daemon, kill, stop, partition, redis ('' = none)")
    ap.add_argument("--fault-every", type=float, default=20, help="seconds between faults")
    ap.add_argument("--fault-for", type=float, default=10, help="seconds each fault is held")
    ap.add_argument("--timeout", type=float, default=5, help="per request (s); past it the outcome is unknown")
    ap.add_argument("--settle", type=float, default=90, help="max seconds to wait for outbox and mirror")
    ap.add_argument("--dev", default=os.path.join(REPO, "dev"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if "SKIP_URL" not in os.environ:
        print("history: source the cluster's env file first (SKIP_URL unset)", file=sys.stderr)
        return 2
    return Runner(a).run()


if __name__ == "__main__":
    sys.exit(main())
