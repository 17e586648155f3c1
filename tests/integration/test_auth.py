"""Spec §10 against the real cluster (two daemons sharing Redis): every error
code produced by the request that should produce it, the role x route table,
merchant scope (another merchant's order is 404, its listing and creates
403, and nothing of it changes), signed answers (a tampered one is
detected), auth off only when written, and a key file that is not 0600
stops the daemon."""
import json
import os
import subprocess
import time

import pytest

import skipsign
from skiputil import REPO, Client, Daemon, active_terminal, create_body, db, groups, load_env, uid

ENV = load_env()
URL = ENV["SKIP_URL"]
DAEMONS = ENV["SKIP_DAEMON_URLS"].split()


def raw(url, method, path, body=None, headers=None):
    """An unsigned request with exactly the headers given."""
    c = Client(url, key=False)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    try:
        return c.request(method, path, raw=data if data is not None else None, headers=headers or {})
    finally:
        c.close()


def signed(url, method, path, body=None, key="admin", ts=None, nonce=None, tamper=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
    hdr, n = skipsign.sign(method, path, data, key, ts=ts, n=nonce)
    if tamper:
        method, path, data = tamper(method, path, data)
    st, h, r = raw(url, method, path, data if data else None, {"Authorization": hdr})
    return st, h, r, n


def code(r):
    return r["error"]["code"]


def order(key="cashier-m1", merchant="m1", url=URL):
    """An order created by key; a cashier's names an ACTIVE terminal of the
    merchant (spec §11: terminals.enforce is on in ./dev)."""
    c = Client(url, key=key)
    extra = {}
    if skipsign.keys()[key]["role"] == "cashier":
        extra["terminal_id"] = active_terminal(URL, merchant)
    st, _, o = c.post("/v1/orders", create_body(merchant, expire_seconds=3600, **extra))
    c.close()
    assert st == 201, o
    return o


# ---- each error code from the request that produces it ----

def test_missing_header_is_unauthenticated():
    st, h, r = raw(URL, "GET", "/v1/groups")
    assert st == 401 and code(r) == "UNAUTHENTICATED", r
    assert "skip-signature" not in h   # no key: nothing to sign with


@pytest.mark.parametrize("value", [
    "Bearer abc",
    'SKIP-HMAC-SHA256 key="admin", ts="1"',
    'SKIP-HMAC-SHA256 key="admin", ts="1", nonce="short", sig="x"',
    'SKIP-HMAC-SHA256 key="admin" ts="1" nonce="abcdefghijklmnop" sig="x"',
])
def test_malformed_header_is_unauthenticated(value):
    st, _, r = raw(URL, "GET", "/v1/groups", headers={"Authorization": value})
    assert st == 401 and code(r) == "UNAUTHENTICATED", r


def test_unknown_key_is_unauthenticated():
    hdr, _ = skipsign.sign("GET", "/v1/groups", b"", "nobody", secret=b"x" * 32)
    st, _, r = raw(URL, "GET", "/v1/groups", headers={"Authorization": hdr})
    assert st == 401 and code(r) == "UNAUTHENTICATED", r


def test_expired_key_is_unauthenticated(tmp_path):
    """A key past not_after is unknown: on a daemon whose key file has one."""
    secret = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
    keys = tmp_path / "keys.yaml"
    with open(os.environ["SKIP_KEYS"]) as f:
        text = f.read()
    keys.write_text(text + '  - id: expired\n    secret: "%s"\n    role: admin\n    merchants: ["*"]\n'
                    '    not_after: "2020-01-01T00:00:00Z"\n' % secret)
    os.chmod(keys, 0o600)

    def tf(text):
        import re
        return re.sub(r'keys_file: "[^"]*"', 'keys_file: "%s"' % keys, text)
    with Daemon(ENV, port_offset=118, node_id=69, transform=tf) as d:
        import base64
        hdr, _ = skipsign.sign("GET", "/v1/groups", b"", "expired", secret=base64.b64decode(secret))
        st, _, r = raw(d.url, "GET", "/v1/groups", headers={"Authorization": hdr})
        assert st == 401 and code(r) == "UNAUTHENTICATED", r


@pytest.mark.parametrize("what", ["body", "path", "query", "method", "ts"])
def test_one_byte_changed_is_signature_invalid(what):
    o = order()
    path = "/v1/orders/%s/pay" % o["order_no"]
    body = {"channel_txn_id": uid("tx"), "paid_amount": o["amount"]}

    def tamper(m, p, d):
        if what == "body":
            return m, p, d.replace(b'"paid_amount"', b'"paid_amounT"')
        if what == "path":
            return m, p.replace("/pay", "/paY"), d
        if what == "query":
            return m, p + "?x=2", d
        return "PUT", p, d
    if what == "ts":
        # signed for one ts, sent with another (both within the window)
        ts = int(time.time())
        hdr, n = skipsign.sign("POST", path, json.dumps(body).encode(), "cashier-m1", ts=ts)
        hdr = hdr.replace('ts="%d"' % ts, 'ts="%d"' % (ts - 1))
        st, _, r = raw(URL, "POST", path, json.dumps(body).encode(), {"Authorization": hdr})
    else:
        st, _, r, _ = signed(URL, "POST", path, body, key="cashier-m1", tamper=tamper)
    assert st == 401 and code(r) == "SIGNATURE_INVALID", (what, r)
    # and the order did not change
    c = Client(URL, key="cashier-m1")
    assert c.get("/v1/orders/%s?consistency=strong" % o["order_no"])[2]["status"] == "CREATED"


def test_timestamp_301s_off_is_request_expired():
    for off in (301, -301):
        st, _, r, _ = signed(URL, "GET", "/v1/groups", key="admin", ts=int(time.time()) + off)
        assert st == 401 and code(r) == "REQUEST_EXPIRED", (off, r)
    st, _, r, _ = signed(URL, "GET", "/v1/groups", key="admin", ts=int(time.time()) - 250)
    assert st == 200, r


def test_nonce_reused_is_replayed_on_the_same_and_the_other_daemon():
    assert len(DAEMONS) >= 2, "needs two daemons (SKIP_DAEMONS=2)"
    n = skipsign.nonce()
    st, _, r, _ = signed(DAEMONS[0], "GET", "/v1/groups", nonce=n)
    assert st == 200, r
    st, _, r, _ = signed(DAEMONS[0], "GET", "/v1/groups", nonce=n)
    assert st == 401 and code(r) == "REPLAYED", r
    st, _, r, _ = signed(DAEMONS[1], "GET", "/v1/groups", nonce=n)
    assert st == 401 and code(r) == "REPLAYED", r
    # the same nonce with another key is another request
    st, _, r, _ = signed(DAEMONS[1], "GET", "/v1/groups", key="observer", nonce=n)
    assert st == 200, r


def test_create_replayed_is_refused_and_writes_nothing():
    """A create's nonce goes to Redis with its idempotency claim, in one
    script: the very same signed create sent again — to the same daemon, the
    other daemon, and with the claim released meanwhile (its out_trade_no
    used with another nonce first) — answers 401 REPLAYED, and the merchant
    has exactly one order for that out_trade_no; a create refused by the
    local checks (400) is replayed as REPLAYED too."""
    assert len(DAEMONS) >= 2, "needs two daemons (SKIP_DAEMONS=2)"
    body = create_body("m1", terminal_id=active_terminal(URL, "m1"))
    n = skipsign.nonce()
    st, _, r, _ = signed(DAEMONS[0], "POST", "/v1/orders", body, key="cashier-m1", nonce=n)
    assert st == 201, r
    for d in (DAEMONS[0], DAEMONS[1]):
        st, h, r2, _ = signed(d, "POST", "/v1/orders", body, key="cashier-m1", nonce=n)
        assert st == 401 and code(r2) == "REPLAYED", r2
        assert h.get("WWW-Authenticate", h.get("www-authenticate")) == "SKIP-HMAC-SHA256", h
    # a new nonce is a new request: the idempotent replay of the same order
    st, h, r3, _ = signed(DAEMONS[1], "POST", "/v1/orders", body, key="cashier-m1")
    assert st == 200 and r3["order_no"] == r["order_no"], r3
    stored = 0
    for g in groups(ENV):
        conn = db(ENV, g)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM orders WHERE merchant_id='m1' AND out_trade_no=%s",
                            (body["out_trade_no"],))
                stored += cur.fetchone()[0]
        finally:
            conn.close()
    assert stored == 1
    bad = dict(body, amount=-5, out_trade_no=uid("o"))
    n = skipsign.nonce()
    st, _, r, _ = signed(DAEMONS[0], "POST", "/v1/orders", bad, key="cashier-m1", nonce=n)
    assert st == 400 and code(r) == "INVALID_ARGUMENT", r
    st, _, r, _ = signed(DAEMONS[1], "POST", "/v1/orders", bad, key="cashier-m1", nonce=n)
    assert st == 401 and code(r) == "REPLAYED", r


# ---- roles x routes ----

ROUTES = [
    # (name, method, path template, body, allowed roles)
    ("create", "POST", "/v1/orders", "create", {"cashier", "admin"}),
    ("get", "GET", "/v1/orders/{no}", None, {"cashier", "backoffice", "admin"}),
    ("pay", "POST", "/v1/orders/{no}/pay", "pay", {"cashier", "admin"}),
    ("refund_list", "GET", "/v1/orders/{no}/refunds", None, {"cashier", "backoffice", "admin"}),
    ("close", "POST", "/v1/orders/{no}/close", {}, {"cashier", "backoffice", "admin"}),
    ("merchant_orders", "GET", "/v1/merchants/m1/orders", None, {"backoffice", "admin"}),
    ("groups", "GET", "/v1/groups", None, {"admin", "observer"}),
    ("unfence", "POST", "/v1/groups/1/unfence", None, {"admin"}),
    ("reload", "POST", "/v1/admin/reload", None, {"admin"}),
    # §11
    ("terminal_register", "POST", "/v1/terminals", "register", {"backoffice", "admin"}),
    ("terminal_get", "GET", "/v1/terminals/{tid}", None, {"cashier", "backoffice", "admin"}),
    ("merchant_terminals", "GET", "/v1/merchants/m1/terminals", None, {"backoffice", "admin"}),
    ("audit_events", "GET", "/v1/audit-events?limit=1", None, {"admin"}),
]
ROLE_KEYS = {"cashier": "cashier", "backoffice": "backoffice", "admin": "admin", "observer": "observer"}


@pytest.mark.parametrize("role", sorted(ROLE_KEYS))
@pytest.mark.parametrize("route", ROUTES, ids=[r[0] for r in ROUTES])
def test_role_by_route(role, route):
    name, method, tmpl, body, allowed = route
    o = order(key="admin")
    path = tmpl.format(no=o["order_no"], tid=active_terminal(URL, "m1"))
    if body == "register":
        body = {"terminal_id": uid("T"), "merchant_id": "m1"}
    elif body == "create":
        body = create_body("m1", terminal_id=active_terminal(URL, "m1"))
    elif body == "pay":
        body = {"channel_txn_id": uid("tx"), "paid_amount": o["amount"]}
    c = Client(URL, key=ROLE_KEYS[role])
    st, _, r = c.request(method, path, body)
    c.close()
    if role in allowed:
        assert st in (200, 201), (role, name, st, r)
    else:
        assert st == 403 and code(r) == "FORBIDDEN", (role, name, st, r)


def test_refund_roles():
    # the cashier refunds under §11's rule: today's order, from the terminal that took it
    tid = active_terminal(URL, "m1")
    o = order(key="cashier-m1")
    adm = Client(URL, key="admin")
    assert adm.post("/v1/orders/%s/pay" % o["order_no"], {"channel_txn_id": uid("tx"),
                                                          "paid_amount": o["amount"]})[0] == 200
    for role, ok in (("cashier", True), ("backoffice", True), ("admin", True), ("observer", False)):
        c = Client(URL, key=role)
        st, _, r = c.post("/v1/orders/%s/refunds" % o["order_no"], {"out_refund_no": uid("r"), "amount": 1,
                                                                    "terminal_id": tid})
        assert (st == 201) == ok and (ok or code(r) == "FORBIDDEN"), (role, st, r)


# ---- merchant scope ----

def test_other_merchants_orders_are_invisible_and_unchanged():
    o2 = order(key="cashier-m2", merchant="m2")
    no = o2["order_no"]
    c1 = Client(URL, key="cashier-m1")
    for method, path, body in [("GET", "/v1/orders/%s" % no, None),
                               ("GET", "/v1/orders/%s?consistency=strong" % no, None),
                               ("GET", "/v1/orders/%s/refunds" % no, None),
                               ("POST", "/v1/orders/%s/pay" % no, {"channel_txn_id": "x", "paid_amount": o2["amount"]}),
                               ("POST", "/v1/orders/%s/close" % no, {}),
                               ("POST", "/v1/orders/%s/refunds" % no, {"out_refund_no": "r1", "amount": 1})]:
        st, _, r = c1.request(method, path, body)
        assert st == 404 and code(r) == "NOT_FOUND", (method, path, r)
    st, _, r = c1.post("/v1/orders", create_body("m2"))
    assert st == 403 and code(r) == "FORBIDDEN", r
    b1 = Client(URL, key="cashier-m1")
    st, _, r = b1.get("/v1/merchants/m2/orders")
    assert st == 403, r
    # nothing of m2 changed
    c2 = Client(URL, key="cashier-m2")
    st, _, now = c2.get("/v1/orders/%s?consistency=strong" % no)
    assert st == 200 and now["status"] == "CREATED" and now["version"] == 1, now
    # the same out_trade_no under m1 is m1's own order, not a duplicate naming m2's
    t1 = active_terminal(URL, "m1")
    st, _, mine = c1.post("/v1/orders", create_body("m1", out_trade_no=o2["out_trade_no"], amount=o2["amount"],
                                                    terminal_id=t1))
    assert st == 201 and mine["order_no"] != no, mine
    st, _, dup = c1.post("/v1/orders", create_body("m1", out_trade_no=o2["out_trade_no"], amount=o2["amount"] + 1,
                                                   terminal_id=t1))
    assert st == 409 and dup["error"]["order_no"] == mine["order_no"], dup


# ---- signed answers ----

def test_every_answer_to_a_signed_request_is_signed():
    # Client verifies every answer's Skip-Signature (skipsign.check_response)
    c = Client(URL, key="admin")
    for method, path, want in [("GET", "/v1/groups", 200), ("GET", "/v1/orders/123", 400),
                               ("GET", "/v1/nope", 404), ("DELETE", "/v1/groups", 405)]:
        st, h, r = c.request(method, path)
        assert st == want and "skip-signature" in h, (path, st, r)
    c.close()
    # byte-exact check through a raw connection
    import http.client
    hdr, n = skipsign.sign("GET", "/v1/groups", b"", "admin")
    u = URL.split("//")[1]
    conn = http.client.HTTPConnection(u.split(":")[0], int(u.split(":")[1]), timeout=10)
    conn.request("GET", "/v1/groups", headers={"Authorization": hdr})
    resp = conn.getresponse()
    body = resp.read()
    sig = resp.getheader("Skip-Signature")
    assert skipsign.response_sig_ok("admin", resp.status, n, body, sig)
    # a tampered answer (one byte of body, or another status) does not verify
    assert not skipsign.response_sig_ok("admin", resp.status, n, body.replace(b"1", b"2", 1), sig)
    assert not skipsign.response_sig_ok("admin", 201, n, body, sig)
    assert not skipsign.response_sig_ok("admin", resp.status, skipsign.nonce(), body, sig)
    conn.close()


def test_errors_are_signed_too():
    import http.client
    for method, path, body, want in [("GET", "/v1/orders/12", None, 400),
                                     ("POST", "/v1/orders", b"{bad json", 400),
                                     ("GET", "/v1/merchants/m2/orders", None, 403)]:
        key = "cashier-m1" if want == 403 else "admin"
        hdr, n = skipsign.sign(method, path, body or b"", key)
        u = URL.split("//")[1]
        conn = http.client.HTTPConnection(u.split(":")[0], int(u.split(":")[1]), timeout=10)
        conn.request(method, path, body=body, headers={"Authorization": hdr})
        resp = conn.getresponse()
        rb = resp.read()
        assert resp.status in (want, 403), (path, resp.status, rb)
        assert skipsign.response_sig_ok(key, resp.status, n, rb, resp.getheader("Skip-Signature")), (path, rb)
        conn.close()


def test_c_client_detects_a_tampered_answer():
    """skipctl (client/httpc.c) refuses an answer whose signature does not
    verify: pointed at a tiny proxy that flips one byte of every body."""
    import socket
    import threading
    upstream = URL.split("//")[1]
    uh, up = upstream.split(":")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def pipe(a, b, flip):
        try:
            buf = b""
            while not stop.is_set():
                d = a.recv(65536)
                if not d:
                    break
                if flip:
                    buf += d
                    if b"\r\n\r\n" in buf:
                        head, _, body = buf.partition(b"\r\n\r\n")
                        body = body.replace(b"ACTIVE", b"FENCED", 1) if b"ACTIVE" in body else body
                        b.sendall(head + b"\r\n\r\n" + body)
                        buf = b""
                else:
                    b.sendall(d)
        except OSError:
            pass
        finally:
            a.close()
            b.close()

    def serve():
        while not stop.is_set():
            try:
                cl, _ = srv.accept()
            except OSError:
                return
            s = socket.create_connection((uh, int(up)))
            threading.Thread(target=pipe, args=(cl, s, False), daemon=True).start()
            threading.Thread(target=pipe, args=(s, cl, True), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    try:
        binp = os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl")
        e = dict(os.environ, SKIP_URL="http://127.0.0.1:%d" % port)
        p = subprocess.run([binp, "status", "--json"], env=e, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "signature" in (p.stderr + p.stdout), (p.returncode, p.stdout, p.stderr)
        # skipctl call: no answer printed, exit 3
        p = subprocess.run([binp, "call", "--key", "observer", "GET", "/v1/groups"], env=e,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 3 and p.stdout == "" and "Skip-Signature" in p.stderr, (p.returncode, p.stdout, p.stderr)
        e["SKIP_URL"] = URL
        p = subprocess.run([binp, "call", "--key", "observer", "GET", "/v1/groups"], env=e,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and "ACTIVE" in p.stdout, (p.returncode, p.stdout, p.stderr)
        p = subprocess.run([binp, "status", "--json"], env=e, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
    finally:
        stop.set()
        srv.close()


def test_skipctl_call_signs_and_verifies():
    """spec §10: `skipctl call METHOD PATH [BODY]` sends one signed request and
    prints the verified answer; the exit status says what happened."""
    binp = os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl")

    def call(*args, stdin=None):
        return subprocess.run([binp, "call"] + list(args), input=stdin, capture_output=True, text=True, timeout=30)
    body = {"merchant_id": "m1", "out_trade_no": uid("call"), "amount": 1999, "channel": "wxpay"}
    p = call("-i", "POST", "/v1/orders", json.dumps(body))
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.startswith("HTTP 201\n"), p.stdout
    o = json.loads(p.stdout.split("\n", 1)[1])
    assert o["out_trade_no"] == body["out_trade_no"] and o["status"] == "CREATED"
    # the body from standard input: the same create again is a replay (200), same number
    p = call("-i", "POST", "/v1/orders", "-", stdin=json.dumps(body))
    assert p.returncode == 0 and p.stdout.startswith("HTTP 200\n"), (p.stdout, p.stderr)
    assert json.loads(p.stdout.split("\n", 1)[1])["order_no"] == o["order_no"]
    # another merchant's cashier: 404, exit 1, the error body printed
    p = call("--key", "cashier-m2", "GET", "/v1/orders/" + o["order_no"])
    assert p.returncode == 1 and json.loads(p.stdout)["error"]["code"] == "NOT_FOUND", (p.stdout, p.stderr)
    # a role outside the route: 403
    p = call("--key", "observer", "GET", "/v1/orders/" + o["order_no"])
    assert p.returncode == 1 and json.loads(p.stdout)["error"]["code"] == "FORBIDDEN", p.stdout
    # usage errors and unknown keys: exit 2, nothing sent
    assert call("--key", "no-such-key", "GET", "/v1/groups").returncode == 2
    assert call("get", "/v1/groups").returncode == 2
    assert call("GET").returncode == 2
    # nothing listening: exit 3
    p = call("--url", "http://127.0.0.1:1", "GET", "/v1/groups")
    assert p.returncode == 3 and p.stdout == "", (p.stdout, p.stderr)


# ---- auth off, key file mode ----

def test_auth_off_only_when_written_and_visible():
    def off(text):
        return text.replace("mode: on", 'mode: "off"', 1)
    with Daemon(ENV, port_offset=119, node_id=70, transform=off) as d:
        st, _, r = raw(d.url, "GET", "/v1/groups")
        assert st == 200 and r["auth"] == "off", r
        st, _, r = raw(d.url, "GET", "/readyz")
        assert r["auth"] == "off"
        with open(d.log) as f:
            assert "event=auth_off" in f.read()
    # the dev config (auth on) says so too
    c = Client(URL)
    assert c.get("/v1/groups")[2]["auth"] == "on"
    assert raw(URL, "GET", "/readyz")[2]["auth"] == "on"


def test_key_file_mode_0644_stops_the_daemon(tmp_path):
    keys = tmp_path / "keys.yaml"
    with open(os.environ["SKIP_KEYS"]) as f:
        keys.write_text(f.read())
    os.chmod(keys, 0o644)

    def tf(text):
        import re
        return re.sub(r'keys_file: "[^"]*"', 'keys_file: "%s"' % keys, text)
    d = Daemon(ENV, port_offset=119, node_id=71, transform=tf)
    d.start(wait=False)
    try:
        rc = d.proc.wait(15)
    finally:
        d.stop()
    assert rc != 0
    with open(d.log) as f:
        log = f.read()
    assert "0644" in log and "chmod 600" in log, log[-500:]
