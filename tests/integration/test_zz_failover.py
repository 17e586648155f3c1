# Named test_zz_* so it runs last: it fails group 2 over (topology change) and, in 2 of 3
# full runs, left group-2 orders whose merchant-store version is ahead of the new
# primary (an open bug, see the session note); audits of later tests then failed.
"""Group failover (issue 16; docs/failover.md): `skipctl group failover`,
automatic failover by the daemons, refusals, former primaries and `rejoin`.

Every test starts and ends with group 2 as ./dev made it (g2 primary, g2r1 its
replica, failover.auto off): the `topology` fixture puts it back by using the
feature itself (fail over back to g2, rejoin g2r1).
"""

import os
import re
import subprocess
import threading
import time

import pytest

from skiputil import Client, create_body, dev, load_env, uid, wait_for

ENV = load_env()
G = 2
G_PRIMARY = ENV["SKIP_G2_PRIMARY"]                 # the server ./dev calls g2
G_REPLICA = ENV["SKIP_G2_REPLICAS"].split()[0]     # g2r1
NAMES = {G_PRIMARY: "g2", G_REPLICA: "g2r1"}
CONFIG = ENV["SKIP_CONFIG"]
SKIPCTL = os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl")
DAEMONS = ENV["SKIP_DAEMON_URLS"].split()


# ------------------------------------------------------------------ helpers

def skipctl(*args, timeout=120):
    e = dict(os.environ)
    e.update(ENV)
    p = subprocess.run([SKIPCTL, *map(str, args)], env=e, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p


def sql(hostport, q, fetch=True):
    import pymysql
    h, p = hostport.rsplit(":", 1)
    c = pymysql.connect(host=h, port=int(p), user=ENV["SKIP_DB_ADMIN_USER"], password=ENV["SKIP_DB_ADMIN_PASSWORD"],
                        database="skipstore", autocommit=True, connect_timeout=3, read_timeout=10)
    try:
        with c.cursor() as cur:
            cur.execute(q)
            return cur.fetchall() if fetch else None
    finally:
        c.close()


def group_cfg():
    """Group 2 as the config file says: {primary, replicas, former}."""
    text = open(CONFIG).read()
    block = re.search(r"^  - id: %d\n((?:    .*\n?)*)" % G, text[text.index("\ngroups:"):], re.M).group(1)
    def lst(key):
        m = re.search(r"^    %s: \[(.*)\]" % key, block, re.M)
        return re.findall(r'"([^"]+)"', m.group(1)) if m else []
    return {"primary": re.search(r'^    primary: "([^"]+)"', block, re.M).group(1),
            "replicas": lst("replicas"), "former": lst("former_primaries")}


def reload_all():
    for u in DAEMONS:
        st, _, r = Client(u).post("/v1/admin/reload", {})
        assert st == 200 and r.get("reloaded") is True, (u, st, r)


def set_auto(on, after_s=30):
    text = open(CONFIG).read()
    text = re.sub(r"(?m)^  auto: \S+", "  auto: %s" % ("true" if on else "false"), text, count=1)
    text = re.sub(r"(?m)^  after_s: \d+", "  after_s: %d" % after_s, text, count=1)
    tmp = CONFIG + ".test.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, CONFIG)
    reload_all()


def history():
    st, _, r = Client(ENV["SKIP_URL"]).get("/v1/groups")
    assert st == 200, r
    g = next(x for x in r["groups"] if x["id"] == G)
    return g


def failovers():
    """The failover history /v1/groups shows for group 2 (newest first, 20 at most)."""
    return [(x["at"], x["old_primary"], x["new_primary"], x["mode"]) for x in history()["failovers"] or []]


def new_failovers(before):
    return [x for x in failovers() if x not in before]


def server_up(addr):
    try:
        sql(addr, "SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False


def rebuild_replica(old, primary):
    """Test hygiene only (the runbook's "rebuild it from a copy of the primary"):
    a former primary that rejoin refused (it died holding an unacknowledged data
    transaction) is reloaded from a dump of the primary and made its replica."""
    e = dict(os.environ, MYSQL_PWD=ENV["SKIP_DB_ADMIN_PASSWORD"])
    ph, pp = primary.rsplit(":", 1)
    oh, op = old.rsplit(":", 1)
    dump = subprocess.run(["mariadb-dump", "--no-defaults", "--skip-ssl", "--protocol=tcp", "-h", ph, "-P", pp,
                           "-u", ENV["SKIP_DB_ADMIN_USER"], "--single-transaction", "--gtid", "--master-data=2",
                           "--databases", "skipstore"], env=e, capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0, dump.stderr
    pos = re.search(r"SET GLOBAL gtid_slave_pos='([^']*)'", dump.stdout).group(1)
    for q in ("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=1"):
        sql(old, q, fetch=False)
    load = subprocess.run(["mariadb", "--no-defaults", "--skip-ssl", "--protocol=tcp", "-h", oh, "-P", op,
                           "-u", ENV["SKIP_DB_ADMIN_USER"], "--init-command=SET sql_log_bin=0"],
                          input="SET sql_log_bin=0; DROP DATABASE IF EXISTS skipstore;\n" + dump.stdout,
                          env=e, capture_output=True, text=True, timeout=300)
    assert load.returncode == 0, load.stderr
    h, p = primary.rsplit(":", 1)
    # semi-sync on the primary before the replica connects (what `rejoin` does:
    # a dump thread started while it is off stays asynchronous)
    sql(primary, "SET GLOBAL rpl_semi_sync_master_enabled=1", fetch=False)
    for q in ("RESET MASTER", "SET GLOBAL gtid_slave_pos='%s'" % pos,
              "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='%s', MASTER_PASSWORD='%s', "
              "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1"
              % (h, p, ENV["SKIP_DB_REPL_USER"], ENV["SKIP_DB_REPL_PASSWORD"]), "START SLAVE"):
        sql(old, q, fetch=False)
    text = open(CONFIG).read()
    text = text.replace('    former_primaries: ["%s"]\n' % old, "")
    text = text.replace('    replicas: []\n    weight', '    replicas: ["%s"]\n    weight' % old, 1)
    with open(CONFIG + ".test.tmp", "w") as f:
        f.write(text)
    os.chmod(CONFIG + ".test.tmp", 0o600)
    os.replace(CONFIG + ".test.tmp", CONFIG)
    reload_all()


def restore_topology():
    """g2 primary, g2r1 replicating from it, auto off."""
    set_auto(False)
    cfg = group_cfg()
    for a in (G_PRIMARY, G_REPLICA):
        if not server_up(a):
            dev("fault", NAMES[a], "start", timeout=240)
    if cfg["primary"] != G_PRIMARY:
        if G_PRIMARY in cfg["former"]:
            p = skipctl("group", "rejoin", G, G_PRIMARY)
            if p.returncode != 0:
                assert "refused" in p.stderr, p.stderr
                rebuild_replica(G_PRIMARY, cfg["primary"])
        # fail over back to g2: the current primary must die for that, once
        # the probers have seen it acknowledged by g2 (the failover's proof)
        cur = cfg["primary"]

        def semi():
            st = dict(sql(cur, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'"))
            return (st["Rpl_semi_sync_master_status"] == "ON" and int(st["Rpl_semi_sync_master_clients"]) >= 1,
                    int(st["Rpl_semi_sync_master_yes_tx"]))
        assert wait_for(lambda: semi()[0], 15), "semi-sync not ON on %s after rejoin" % cur
        acked = semi()[1]
        # a few acknowledged heartbeats since (the probers' quiet points)
        assert wait_for(lambda: semi()[0] and semi()[1] >= acked + 4, 15), "no acknowledged commits on %s" % cur
        dev("fault", NAMES[cfg["primary"]], "kill")
        p = skipctl("group", "failover", G, "--to", G_PRIMARY)
        assert p.returncode == 0, p.stdout + p.stderr
        dev("fault", NAMES[cfg["primary"]], "start", timeout=240)
        cfg = group_cfg()
    for a in cfg["former"]:
        if not server_up(a):
            dev("fault", NAMES[a], "start", timeout=240)
        p = skipctl("group", "rejoin", G, a)
        if p.returncode != 0:
            assert "refused" in p.stderr, p.stderr
            rebuild_replica(a, group_cfg()["primary"])
    sql(G_REPLICA, "START SLAVE", fetch=False)
    sql(G_PRIMARY, "SET GLOBAL read_only=0", fetch=False)
    assert sql(G_PRIMARY, "SELECT @@global.rpl_semi_sync_master_enabled")[0][0] == 1
    cfg = group_cfg()
    assert cfg == {"primary": G_PRIMARY, "replicas": [G_REPLICA], "former": []}, cfg


@pytest.fixture(autouse=True)
def topology():
    restore_topology()
    yield
    restore_topology()


def orders_in_group(c, n, merchant):
    out = []
    while len(out) < n:
        st, _, r = c.post("/v1/orders", create_body(merchant=merchant, amount=100000))
        assert st == 201, r
        if r["group"] == G:
            out.append(r)
    return out


# ------------------------------------------------------------------ load

class Load:
    """Creates (any group) and pays + refunds of existing group-2 orders, on
    their own threads; every answer is recorded with its monotonic time."""

    def __init__(self, orders, merchant):
        self.orders = orders          # CREATED orders of group 2 to pay, then refund
        self.merchant = merchant
        self.stop_ev = threading.Event()
        self.creates = []             # (t, status, body)
        self.updates = []             # (t, kind, order_no, status, headers, body, request)
        self.lock = threading.Lock()

    def _creates(self):
        c = Client(ENV["SKIP_URL"])
        while not self.stop_ev.is_set():
            b = create_body(merchant=self.merchant)
            try:
                st, _, r = c.post("/v1/orders", b)
            except Exception as exc:  # noqa: BLE001
                st, r = -1, repr(exc)
            with self.lock:
                self.creates.append((time.monotonic(), st, r, b))
            time.sleep(0.01)

    def _updates(self, part):
        c = Client(ENV["SKIP_URL"])
        todo = list(part)
        i = 0
        while not self.stop_ev.is_set() and todo:
            o = todo[i % len(todo)]
            i += 1
            if o.get("_paid"):
                # 1-fen refunds, each with its own out_refund_no (the same one
                # again after an error: refunds are idempotent by it), so the
                # load never runs out before the failover is over
                kind = "refund"
                req = {"out_refund_no": o.setdefault("_rf", uid("rf")), "amount": 1}
                path = "/v1/orders/%s/refunds" % o["order_no"]
            else:
                kind = "pay"
                req = {"channel_txn_id": o.setdefault("_txn", uid("tx")), "paid_amount": o["amount"]}
                path = "/v1/orders/%s/pay" % o["order_no"]
            try:
                st, h, r = c.post(path, req)
            except Exception as exc:  # noqa: BLE001
                st, h, r = -1, {}, repr(exc)
            with self.lock:
                self.updates.append((time.monotonic(), kind, o["order_no"], st, h, r, req))
            if st in (200, 201):
                if kind == "refund":
                    o.pop("_rf", None)
                    if r["order"]["status"] == "REFUNDED":
                        todo.remove(o)
                else:
                    o["_paid"] = True
            time.sleep(0.02)

    def start(self):
        half = len(self.orders) // 2
        self.threads = [threading.Thread(target=self._creates, daemon=True),
                        threading.Thread(target=self._updates, args=(self.orders[:half],), daemon=True),
                        threading.Thread(target=self._updates, args=(self.orders[half:],), daemon=True)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)


# ------------------------------------------------------------------ tests

def test_auto_failover_under_load_loses_nothing():
    """SIGKILL of g2's primary under creates + pays + refunds with failover.auto
    (after_s 5): creates never fail; g2's updates answer 503 GROUP_UNAVAILABLE
    with Retry-After until the promotion and succeed after it, the first one
    <= 10 s after the kill; every acknowledged write is on the new primary and
    in the merchant store; the restarted old primary stays read-only and
    `rejoin` makes it a replica that catches up."""
    c = Client(ENV["SKIP_URL"])
    merchant = uid("mfo")
    orders = orders_in_group(c, 40, merchant)
    before = failovers()
    set_auto(True, after_s=5)
    load = Load(orders, merchant)
    load.start()
    try:
        time.sleep(2.0)
        # measured from just before `./dev fault g2 kill` (it returns once the
        # process is gone): the figure is an upper bound
        t_kill = time.monotonic()
        dev("fault", "g2", "kill")

        def first_ok_after_kill():
            # the first success after the first 503 (a success just after the kill
            # can be a request the old primary committed before it)
            with load.lock:
                t503 = next((u[0] for u in load.updates if u[0] > t_kill and u[3] == 503), None)
                if t503 is None:
                    return None
                return next((u[0] for u in load.updates if u[0] > t503 and u[3] in (200, 201)), None)
        t_ok = wait_for(first_ok_after_kill, 40)
        assert t_ok is not None, "no successful update after the kill"
        time.sleep(3.0)
    finally:
        load.stop()
    took = t_ok - t_kill
    print("\nfailover: kill -> first successful update of group 2: %.2f s" % took)

    # creates never fail
    bad_creates = [(st, r) for _, st, r, _ in load.creates if st not in (200, 201)]
    assert bad_creates == [], bad_creates[:5]
    # updates: 2xx, or 503 GROUP_UNAVAILABLE with Retry-After (only between kill and promotion)
    unavailable = [u for u in load.updates if u[3] == 503]
    assert unavailable, "no update saw the dead group"
    for t, kind, no, st, h, r, _ in load.updates:
        if st in (200, 201):
            continue
        assert st == 503 and isinstance(r, dict) and r["error"]["code"] == "GROUP_UNAVAILABLE", (kind, no, st, r)
        assert "retry-after" in h, h
        # (the daemons reload one after the other: allow one second)
        assert t_kill <= t <= t_ok + 1.0, "a 503 %.2f s after the first success" % (t - t_ok)
    assert took <= 10.0, "first successful update %.2f s after the kill" % took

    g = history()
    assert g["primary"] == G_REPLICA and G_PRIMARY in g["former_primaries"], g
    new = new_failovers(before)
    assert len(new) == 1 and new[0][3] == "auto", new
    cfg = group_cfg()
    assert cfg["primary"] == G_REPLICA and cfg["former"] == [G_PRIMARY]
    # the dead primary's failures are forgotten: the group takes new orders again at once
    assert wait_for(lambda: history()["state"] == "ACTIVE", 3), history()

    # every acknowledged create, pay and refund on the new primary
    acked_g2 = [r for _, st, r, _ in load.creates if st in (200, 201) and r["group"] == G]
    nos = [r["order_no"] for r in acked_g2]
    have = set()
    for i in range(0, len(nos), 200):
        chunk = nos[i:i + 200]
        if chunk:
            have |= {row[0] for row in sql(G_REPLICA, "SELECT order_no FROM orders WHERE order_no IN (%s)"
                                           % ",".join("'%s'" % n for n in chunk))}
    assert set(nos) <= have, set(nos) - have
    paid = {u[2]: u[5]["version"] for u in load.updates if u[1] == "pay" and u[3] in (200, 201)}
    refunds = {(u[2], u[6]["out_refund_no"]) for u in load.updates if u[1] == "refund" and u[3] in (200, 201)}
    assert paid and refunds, (len(paid), len(refunds))
    rows = dict(sql(G_REPLICA, "SELECT order_no, version FROM orders WHERE order_no IN (%s)"
                    % ",".join("'%s'" % n for n in paid)))
    assert all(rows[n] >= v for n, v in paid.items()), "an acknowledged pay is missing on the new primary"
    rf = {(a, b) for a, b in sql(G_REPLICA, "SELECT order_no, out_refund_no FROM refunds WHERE order_no IN (%s)"
                                 % ",".join("'%s'" % n for n in {x[0] for x in refunds}))}
    assert refunds <= rf, refunds - rf
    print("acknowledged: %d creates (%d in group 2), %d pays, %d refunds; %d answers 503" % (
        sum(1 for x in load.creates if x[1] in (200, 201)), len(acked_g2), len(paid), len(refunds),
        len(unavailable)))

    # ... and in the merchant store (the mirror), at least at the acknowledged version
    want = dict(paid)
    for r in acked_g2:
        want.setdefault(r["order_no"], r["version"])
    for u in load.updates:
        if u[1] == "refund" and u[3] in (200, 201):
            want[u[2]] = max(want.get(u[2], 0), u[5]["order"]["version"])
    import pymysql
    h, p = ENV["SKIP_MERCHANT_DB"].rsplit(":", 1)

    def mirrored():
        m = pymysql.connect(host=h, port=int(p), user=ENV["SKIP_DB_ADMIN_USER"],
                            password=ENV["SKIP_DB_ADMIN_PASSWORD"], database=ENV["SKIP_MERCHANT_DB_NAME"],
                            autocommit=True, connect_timeout=3)
        try:
            with m.cursor() as cur:
                cur.execute("SELECT order_no, version FROM merchant_orders WHERE merchant_id=%s", (merchant,))
                got = dict(cur.fetchall())
        finally:
            m.close()
        missing = [n for n, v in want.items() if got.get(n, 0) < v]
        return not missing or (mirrored.last.__setitem__(0, missing) and False)
    mirrored.last = [None]
    assert wait_for(mirrored, 60, 0.5), "not in the merchant store: %s" % (mirrored.last[0] or [])[:5]
    # nothing in the merchant store that the new primary lacks: no change that
    # reached Kafka from the old primary was lost by the promotion
    m = pymysql.connect(host=h, port=int(p), user=ENV["SKIP_DB_ADMIN_USER"], password=ENV["SKIP_DB_ADMIN_PASSWORD"],
                        database=ENV["SKIP_MERCHANT_DB_NAME"], autocommit=True, connect_timeout=3)
    try:
        with m.cursor() as cur:
            cur.execute("SELECT order_no, version FROM merchant_orders WHERE merchant_id=%s", (merchant,))
            mirror = {n: v for n, v in cur.fetchall() if n[22:24] == "%02d" % G}
    finally:
        m.close()
    primary = dict(sql(G_REPLICA, "SELECT order_no, version FROM orders WHERE order_no IN (%s)"
                       % ",".join("'%s'" % n for n in mirror)))
    ahead = {n: (v, primary.get(n)) for n, v in mirror.items() if v > primary.get(n, 0)}
    assert not ahead, "merchant store ahead of the new primary (mirror, primary): %s" % list(ahead.items())[:5]
    # the new primary has no replica until rejoin: semi-sync off, on again after it
    assert sql(G_REPLICA, "SELECT @@global.rpl_semi_sync_master_enabled")[0][0] == 0

    # the old primary comes back read-only and nobody routes to it
    dev("fault", "g2", "start", timeout=240)
    assert sql(G_PRIMARY, "SELECT @@global.read_only")[0][0] == 1
    st, _, r = c.post("/v1/orders/%s/close" % orders_in_group(c, 1, merchant)[0]["order_no"], {})
    assert st == 200, r
    # rejoin: a replica of the new primary that catches up. If the old primary
    # died holding a data transaction the new primary lacks (a commit in flight,
    # never acknowledged: every acknowledged write was checked above), rejoin
    # must refuse and list it; the test then rebuilds it from the primary.
    p = skipctl("group", "rejoin", G, G_PRIMARY)
    print(p.stdout + p.stderr)
    if p.returncode != 0:
        assert "refused" in p.stderr and "lacks: 0-" in p.stderr and "they write skipstore." in p.stderr, p.stderr
        rebuild_replica(G_PRIMARY, G_REPLICA)
    new_pos = sql(G_REPLICA, "SELECT @@global.gtid_binlog_pos")[0][0]

    def caught_up():
        s = sql(G_PRIMARY, "SHOW SLAVE STATUS")
        pos = sql(G_PRIMARY, "SELECT @@global.gtid_slave_pos")[0][0]
        have = {int(x.split("-")[0]): int(x.split("-")[2]) for x in pos.split(",") if x}
        return s and all(have.get(int(x.split("-")[0]), -1) >= int(x.split("-")[2])
                         for x in new_pos.split(",") if x)
    assert wait_for(caught_up, 30), "rejoined old primary did not catch up"
    assert sql(G_REPLICA, "SELECT @@global.rpl_semi_sync_master_enabled")[0][0] == 1
    assert sql(G_PRIMARY, "SELECT @@global.read_only")[0][0] == 1
    assert group_cfg() == {"primary": G_REPLICA, "replicas": [G_PRIMARY], "former": []}


def test_refuses_replica_with_stopped_sql_thread():
    """A replica whose SQL thread was stopped before the kill holds less than it
    received: no promotion, and the message says why."""
    c = Client(ENV["SKIP_URL"])
    sql(G_REPLICA, "STOP SLAVE SQL_THREAD", fetch=False)
    orders_in_group(c, 5, uid("mst"))     # received by g2r1, not applied
    dev("fault", "g2", "kill")
    p = skipctl("group", "failover", G)
    print(p.stderr)
    assert p.returncode == 1
    assert "SQL_STOPPED" in p.stderr and G_REPLICA in p.stderr, p.stderr
    assert group_cfg()["primary"] == G_PRIMARY
    assert sql(G_REPLICA, "SELECT @@global.read_only")[0][0] == 1
    p = skipctl("group", "failover", G, "--dry-run", "--json")
    assert p.returncode == 1 and '"ok":false' in p.stdout.replace(" ", ""), p.stdout
    dev("fault", "g2", "start", timeout=240)


def test_racing_failovers_promote_once():
    """Both ./dev daemons in automatic mode plus two operators at once: exactly
    one promotion; the others find the lock held or the group already failed over."""
    before = failovers()
    set_auto(True, after_s=2)
    dev("fault", "g2", "kill")
    procs = [subprocess.Popen([SKIPCTL, "group", "failover", str(G), "--auto", "--expect-primary", G_PRIMARY,
                               "--json"], env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    codes = [p.returncode for p in procs]
    print(codes, outs)
    assert all(rc in (0, 1, 3) for rc in codes), outs
    assert wait_for(lambda: group_cfg()["primary"] == G_REPLICA, 20)
    time.sleep(4)   # the daemons' own attempts (after_s 2) come and go
    new = new_failovers(before)
    assert len(new) == 1, new
    promoted = [o for o, _ in outs if '"new_primary"' in o and '"noop"' not in o]
    assert len(promoted) <= 1, outs


def test_readonly_primary_is_not_failed_over():
    """A primary that answers read-only (a restart, maintenance) is not dead."""
    before = failovers()
    set_auto(True, after_s=2)
    dev("fault", "g2", "readonly")
    try:
        time.sleep(6)
        assert group_cfg()["primary"] == G_PRIMARY
        assert new_failovers(before) == []
        p = skipctl("group", "failover", G, "--dry-run")
        assert p.returncode == 1 and "PRIMARY_READONLY" in p.stderr, p.stderr
    finally:
        dev("fault", "g2", "writable")
