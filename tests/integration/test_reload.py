"""Reload as one swap (issue 12): every kind of config key either takes effect
on SIGHUP / POST /v1/admin/reload, or — the explicit restart list — is refused
with a log line naming the key while the old config stays in force.

Each test runs its own daemon (skiputil.Daemon) on its own config file, edits
the file, reloads, and observes the effect through the API."""
import re
import signal
import time

import pytest

from skiputil import Client, Daemon, create_body, load_env, wait_for

ENV = load_env()
BASE = int(ENV["SKIP_PORT_BASE"])
DEAD_PORT = BASE + 99   # nothing listens there


def edit(d, pattern, repl, count=1):
    text = open(d.config).read()
    new, n = re.subn(pattern, repl, text, count=count, flags=re.M)
    assert n == count, "pattern %r not in %s" % (pattern, d.config)
    with open(d.config, "w") as f:
        f.write(new)
    return text


def reload_api(cl):
    return cl.post("/v1/admin/reload")


def log_of(d):
    with open(d.log) as f:
        return f.read()


@pytest.mark.parametrize("key,pattern,repl", [
    ("node_id", r"^node_id: \d+", "node_id: 199"),
    ("listen", r'^listen: "127\.0\.0\.1:(\d+)"', 'listen: "127.0.0.1:%d"' % (BASE + 118)),
    ("request.max_body_bytes", r"max_body_bytes: \d+", "max_body_bytes: 32768"),
])
def test_restart_keys_are_refused_by_name(key, pattern, repl):
    with Daemon(ENV, port_offset=110, node_id=61) as d:
        cl = Client(d.url)
        old = edit(d, pattern, repl)
        # the new file also changes a reloadable key: nothing of it may apply
        with open(d.config) as f:
            text = f.read()
        with open(d.config, "w") as f:
            f.write(text.replace("threshold: 5", "threshold: 7"))
        st, _, r = reload_api(cl)
        assert st == 400 and r["error"]["field"] == "config", r
        assert key in r["error"]["message"], r
        assert re.search(r"event=reload_refused key=%s " % re.escape(key), log_of(d))
        st, _, gs = cl.get("/v1/groups")
        assert st == 200 and gs["node_id"] == 61
        assert {g["threshold"] for g in gs["groups"]} == {5}, "a refused reload applied a key"
        # SIGHUP the same: refused, still serving
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert d.proc.poll() is None
        assert cl.post("/v1/orders", create_body(merchant="m_rl"))[0] == 201
        with open(d.config, "w") as f:
            f.write(old)


def test_selector_and_log_level_apply():
    with Daemon(ENV, port_offset=111, node_id=62) as d:
        cl = Client(d.url)
        edit(d, r"threshold: \d+", "threshold: 9")
        edit(d, r"window_s: \d+", "window_s: 17")
        edit(d, r"^log_level: \w+", "log_level: debug")
        st, _, r = reload_api(cl)
        assert st == 200 and r["reloaded"], r
        st, _, gs = cl.get("/v1/groups")
        assert {g["threshold"] for g in gs["groups"]} == {9}
        assert {g["window_s"] for g in gs["groups"]} == {17}
        # the new level is in force for the reload's own debug line, which
        # also says every pool was kept (no db.* key changed)
        m = re.search(r"level=debug event=reload_runtime pools_shared=(\d+) pools_new=(\d+)", log_of(d))
        assert m, "no debug line after log_level: debug"
        assert int(m.group(1)) > 0 and int(m.group(2)) == 0, m.group(0)


def test_db_credentials_apply_to_pools_and_prober():
    """A wrong db.password after a reload: new pools and a new prober connection
    use it (the groups stop being writable); the right one again: back."""
    with Daemon(ENV, port_offset=112, node_id=63) as d:
        cl = Client(d.url)
        assert cl.post("/v1/orders", create_body(merchant="m_rl"))[0] == 201
        # db.password_file (the generated config's) -> a wrong inline password
        good = edit(d, r'^  password_file: "([^"]*)"', '  password: "wrong-password"')
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: cl.get("/readyz")[0] == 503, 10), "groups still writable with a wrong password"
        st, _, r = cl.post("/v1/orders", create_body(merchant="m_rl"))
        assert st == 503 and r["error"]["code"] == "NO_WRITABLE_GROUP", r
        with open(d.config, "w") as f:
            f.write(good)
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: cl.get("/readyz")[0] == 200, 10)
        st, _, r = cl.post("/v1/orders", create_body(merchant="m_rl"))
        assert st == 201, r


def test_redis_address_applies():
    with Daemon(ENV, port_offset=113, node_id=64) as d:
        cl = Client(d.url)
        assert cl.get("/v1/groups")[2]["counters"] == "shared"
        good = edit(d, r'^  addr: "127\.0\.0\.1:%d"' % (BASE + 1), '  addr: "127.0.0.1:%d"' % DEAD_PORT)
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: cl.get("/v1/groups")[2]["counters"] == "local", 10)
        # payments go on without Redis
        assert cl.post("/v1/orders", create_body(merchant="m_rl"))[0] == 201
        with open(d.config, "w") as f:
            f.write(good)
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: cl.get("/v1/groups")[2]["counters"] == "shared", 10)


def test_merchant_db_address_applies():
    with Daemon(ENV, port_offset=114, node_id=65) as d:
        cl = Client(d.url)
        m = "m_rlm"
        assert cl.post("/v1/orders", create_body(merchant=m))[0] == 201
        assert wait_for(lambda: cl.get("/v1/merchants/%s/orders" % m)[2].get("source") == "mirror", 10)
        good = edit(d, r'^  addr: "127\.0\.0\.1:%d"' % (BASE + 5), '  addr: "127.0.0.1:%d"' % DEAD_PORT)
        assert reload_api(cl)[0] == 200
        st, _, j = cl.get("/v1/merchants/%s/orders" % m)
        assert st == 200 and j["source"] == "groups" and j.get("fallback_reason"), j
        with open(d.config, "w") as f:
            f.write(good)
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: cl.get("/v1/merchants/%s/orders" % m)[2].get("source") == "mirror", 10)


def test_kafka_settings_apply_to_the_relay():
    with Daemon(ENV, port_offset=115, node_id=66) as d:
        cl = Client(d.url)
        edit(d, r"relay_batch: \d+", "relay_batch: 50")
        assert reload_api(cl)[0] == 200
        assert wait_for(lambda: "event=relay_kafka_settings_changed" in log_of(d), 10), \
            "the relay kept its old producer after kafka.* changed"


def test_keys_file_reloads():
    """A key added to the key file works after a reload; a removed one is
    unknown at once; a key file made group-readable is refused (old keys stay)."""
    import os
    import shutil
    import skipsign
    src = os.environ["SKIP_KEYS"]
    with Daemon(ENV, port_offset=116, node_id=67) as d:
        keys = os.path.join(ENV["SKIP_RUN_DIR"], "secrets", "keys-reload.yaml")
        shutil.copy(src, keys)
        os.chmod(keys, 0o600)
        edit(d, r'keys_file: "[^"]*"', 'keys_file: "%s"' % keys)
        cl = Client(d.url)
        assert reload_api(cl)[0] == 200
        secret = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
        with open(keys, "a") as f:
            f.write("  - id: late\n    secret: \"%s\"\n    role: observer\n    merchants: [\"*\"]\n" % secret)
        obs = Client(d.url, key=False)
        hdr, _ = skipsign.sign("GET", "/v1/groups", b"", "late", secret=__import__("base64").b64decode(secret))
        assert obs.get("/v1/groups", headers={"Authorization": hdr})[0] == 401
        assert reload_api(cl)[0] == 200
        hdr, _ = skipsign.sign("GET", "/v1/groups", b"", "late", secret=__import__("base64").b64decode(secret))
        assert obs.get("/v1/groups", headers={"Authorization": hdr})[0] == 200
        os.chmod(keys, 0o644)
        st, _, r = reload_api(cl)
        assert st == 400 and "chmod 600" in r["error"]["message"], r
        os.chmod(keys, 0o600)


def test_key_rotation_two_live_keys_per_caller():
    """Rotation (spec §10): a second key for the same caller works next to the
    old one; a third live key makes the reload fail as a whole (nothing of the
    file applied, both keys still work, the third is unknown); removing the old
    key then leaves only the new one."""
    import base64
    import os
    import shutil
    import skipsign
    src = os.environ["SKIP_KEYS"]
    with Daemon(ENV, port_offset=117, node_id=68) as d:
        keys = os.path.join(ENV["SKIP_RUN_DIR"], "secrets", "keys-rotate.yaml")
        shutil.copy(src, keys)
        os.chmod(keys, 0o600)
        base = open(keys).read()
        edit(d, r'keys_file: "[^"]*"', 'keys_file: "%s"' % keys)
        cl = Client(d.url)
        assert reload_api(cl)[0] == 200
        old_secret = base64.b64decode(re.search(
            r'- id: cashier-m1\n\s+secret: "?([A-Za-z0-9+/=]+)"?', base).group(1))
        new_secret = base64.b64encode(b"n" * 32).decode()
        third_secret = base64.b64encode(b"t" * 32).decode()

        def entry(kid, secret):
            return ("  - id: %s\n    caller: cashier-m1\n    secret: \"%s\"\n"
                    "    role: cashier\n    merchants: [m1]\n" % (kid, secret))

        def status(kid, secret):
            # a read of an order that does not exist: 404 once the key is accepted
            path = "/v1/orders/20261202000000001000000101"
            hdr, _ = skipsign.sign("GET", path, b"", kid, secret=secret)
            return Client(d.url, key=False).get(path, headers={"Authorization": hdr})[0]

        assert status("cashier-m1", old_secret) in (400, 404)
        assert status("cm1-new", base64.b64decode(new_secret)) == 401

        with open(keys, "w") as f:
            f.write(base + entry("cm1-new", new_secret))
        assert reload_api(cl)[0] == 200
        assert status("cashier-m1", old_secret) in (400, 404)
        assert status("cm1-new", base64.b64decode(new_secret)) in (400, 404)

        with open(keys, "w") as f:
            f.write(base + entry("cm1-new", new_secret) + entry("cm1-third", third_secret))
        st, _, r = reload_api(cl)
        assert st == 400 and "at most two" in r["error"]["message"], r
        assert status("cashier-m1", old_secret) in (400, 404)
        assert status("cm1-new", base64.b64decode(new_secret)) in (400, 404)
        assert status("cm1-third", base64.b64decode(third_secret)) == 401

        without_old = re.sub(r"  - id: cashier-m1\n(?:    .*\n)+", "", base)
        assert "id: cashier-m1\n" not in without_old
        with open(keys, "w") as f:
            f.write(without_old + entry("cm1-new", new_secret))
        assert reload_api(cl)[0] == 200
        assert status("cashier-m1", old_secret) == 401
        assert status("cm1-new", base64.b64decode(new_secret)) in (400, 404)
