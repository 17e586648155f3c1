"""Issue 15 (proofs): a short `skipctl soak` and a short history run under faults,
each asserting its own verdict; plus the history checker's unit tests
(devtools/history/test_check.py: hand-made bad histories must be caught), run
here so the suite runs them too.

The long runs and their numbers are in docs/soak.md and docs/history.md."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "devtools" / "history"))

from test_check import *  # noqa: E402,F401,F403  (the checker's unit tests, no cluster needed)


def child_env(env):
    e = dict(os.environ)
    e.update(env)   # the cluster's env file: SKIP_URL, SKIP_RUN_DIR, keys, passwords
    return e


@pytest.mark.slow
def test_short_soak_passes(env, db, tmp_path, restore_cluster):
    """90 s of create/read/pay/refund at 30/s with a group primary killed, a group
    partitioned and Redis restarted (one every 20 s, held 6 s): no failed create,
    the audit clean but for orphans, no daemon restarted, resources flat; every
    acknowledged create stored exactly once in the group its number names."""
    exe = Path(env["SKIP_BUILD_DIR"]) / "skipctl"
    if not exe.exists():
        pytest.skip("skipctl is not built")
    out = tmp_path / "soak"
    cmd = [str(exe), "soak", "--duration", "90s", "--rate", "30", "--fault-every", "20s", "--fault-for", "6s",
           "--faults", "kill,partition,redis", "--baseline-at", "8s", "--median-window", "10s", "--sample-every", "2s",
           # 90 s on a cluster that may be fresh is warm-up dominated (allocator
           # arenas, caches: +10-40 % RSS in the first minutes); flat resources are
           # the 30-minute soak's verdict (docs/soak.md). Here: a leak of the size
           # that matters in 90 s (threads or fds, or RSS doubling) still fails.
           "--tolerance", "100",
           "--out", str(out), "--dev", str(REPO / "dev")]
    p = subprocess.run(cmd, cwd=REPO, env=child_env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=240)
    assert p.returncode == 0, "soak rc %d\nstdout:\n%s\nstderr (tail):\n%s" % (p.returncode, p.stdout, p.stderr[-3000:])
    assert "verdict: PASS" in p.stdout
    rep = json.loads((out / "report.json").read_text())
    v = rep["verdict"]
    assert v["pass"] and v["failed_creates"] == 0 and v["audit"]["problems_besides_orphans"] == 0, v
    assert [f["label"].split()[0] for f in rep["faults"]] == ["kill", "partition", "redis"], rep["faults"]
    assert all(f["inject_ok"] and f["recover_ok"] for f in rep["faults"])
    assert rep["kinds"]["create"]["failed"] == 0 and rep["kinds"]["create"]["ok"] > 500
    for k in ("read", "pay", "refund"):
        assert rep["kinds"][k]["ok"] > 0, rep["kinds"]
    daemons = [x for x in v["processes"] if x["name"].startswith("daemon")]
    assert daemons and all(x["judged"] and x["ok"] for x in daemons), v["processes"]
    assert len(rep["samples"]) >= 40
    assert all(s["processes"]["daemon1"]["rss_kb"] > 0 for s in rep["samples"])
    svg = (out / "report.svg").read_text()
    assert svg.rstrip().endswith("</svg>") and "Open file descriptors per process" in svg
    assert svg.count('class="fault-window"') == 3 * 7   # three faults on seven panels
    # every acknowledged create exactly once, in the group its number names
    acked = (out / "orders.txt").read_text().split()
    assert len(acked) == len(set(acked)) == rep["kinds"]["create"]["ok"]
    where = {}
    for g in [int(x) for x in env["SKIP_GROUPS"].split()]:
        c = db(g, user="admin", database=env["SKIP_DB_NAME"])
        with c.cursor() as cur:
            cur.execute("SELECT order_no FROM orders WHERE out_trade_no LIKE %s", (rep["run_id"] + "-%",))
            for (no,) in cur.fetchall():
                where.setdefault(no, []).append(g)
    bad = [(no, where.get(no)) for no in acked if where.get(no) != [int(no[22:24])]]
    assert not bad, bad[:5]


@pytest.mark.slow
def test_short_history_is_valid(env, tmp_path, restore_cluster):
    """60 s of 6 concurrent clients (create, pay, close, refund, strong and replica
    reads on shared orders) with a primary killed, daemon1 killed and a primary
    partitioned: the recorded history checks valid — every acknowledged create
    stored once in its group and in the merchant store, per-order states legal
    and linearizable, nothing acknowledged lost, nothing refused applied."""
    out = tmp_path / "hist"
    cmd = [sys.executable, str(REPO / "devtools" / "history" / "run.py"), "--duration", "60", "--clients", "6",
           "--faults", "kill,daemon,partition", "--fault-every", "10", "--fault-for", "6", "--out", str(out)]
    p = subprocess.run(cmd, cwd=REPO, env=child_env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=240)
    assert p.returncode == 0, "history rc %d\nstdout:\n%s\nstderr (tail):\n%s" % (p.returncode, p.stdout,
                                                                                   p.stderr[-3000:])
    s = json.loads((out / "summary.json").read_text())
    assert s["valid"], s["anomalies"]
    assert s["ops"]["create"]["ok"] > 50 and s["ops"]["pay"]["ok"] > 0 and s["ops"]["refund"]["ok"] > 0, s["ops"]
    assert s["ops"]["read"]["ok"] > 0 and s["ops"]["close"]["ok"] + s["ops"]["close"]["fail"] > 0
    assert s["run"]["faults"] and all(f["ok"] for f in s["run"]["faults"]), s["run"]["faults"]
    assert s["run"]["mirror_behind_at_snapshot"] == 0
    assert "VALID" in p.stdout
