"""The HTTP/1.1 + TLS edge (rpc/http.c) against daemons of its own:

- TLS (spec §10): plain HTTP to the TLS port fails; no client certificate and a
  certificate from another CA fail the handshake; the pinned CA's certificate works;
  TLS 1.1 is refused (a control server proves the client can speak it); a request
  over TLS gets the same answer as over plain; a 0644 key stops the daemon.
- HTTP/1.1 framing: keep-alive, Connection: close, HTTP/1.0, pipelining, HEAD,
  Expect: 100-continue, and the edge's own 400/431/501/505 (smuggling: duplicate
  Content-Length, CL + TE, obs-fold).
- 413 in the middle of a chunked upload that keeps sending, before it ends.
- Deadlines: slowloris (one byte a second) cut with 408 at the header deadline, body
  deadline 408, idle keep-alive closed; 1,000 half-open/slow connections do not stop a
  normal request from being answered within 1 s.
- A full worker queue: the handler is called with overloaded set (metrics), every
  request answered.

Certificates are made here with openssl in a temp dir (keys 0600)."""
import http.client
import json
import os
import re
import resource
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import skipsign
from skiputil import Client, Daemon, create_body, load_env

ENV = load_env()
BASE = int(ENV["SKIP_PORT_BASE"])
TLS_OFF, PLAIN_OFF, SHORT_OFF, BUSY_OFF = 115, 116, 117, 118


def setup_module():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))


# ------------------------------------------------------------------ certificates


def _openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def _ca(d, name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)


def _leaf(d, name, ca, usage):
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\nsubjectAltName=IP:127.0.0.1\n" % usage)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
             "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=d)


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="skip-edge-pki-")
    old = os.umask(0o077)  # keys (and everything else here) 0600
    try:
        _ca(d, "ca")          # the pinned CA: server and client certificates
        _ca(d, "rogue")       # another CA
        _leaf(d, "server", "ca", "serverAuth")
        _leaf(d, "client", "ca", "clientAuth")
        _leaf(d, "intruder", "rogue", "clientAuth")
    finally:
        os.umask(old)
    for k in ("ca", "rogue", "server", "client", "intruder"):
        assert os.stat(os.path.join(d, k + ".key")).st_mode & 0o077 == 0
    yield d
    shutil.rmtree(d, ignore_errors=True)


def client_ctx(pki, cert="client", version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(pki, cert + ".pem"), os.path.join(pki, cert + ".key"))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions: the server must refuse
    return ctx


def add_keys(text):
    return lambda conf: conf + text


# ------------------------------------------------------------------ daemons


@pytest.fixture(scope="module")
def tls_daemon(pki):
    """Plain on base+115 and HTTPS with pinned client CA on base+119."""
    port = BASE + 119
    extra = ('listen_tls: "127.0.0.1:%d"\ntls:\n  cert: %s/server.pem\n  key: %s/server.key\n'
             '  client_ca: %s/ca.pem\n' % (port, pki, pki, pki))
    d = Daemon(ENV, port_offset=TLS_OFF, node_id=70, name="edge-tls", transform=add_keys(extra))
    d.start()
    d.tls_port = port
    d.tls_url = "https://127.0.0.1:%d" % port
    yield d
    d.stop()


@pytest.fixture(scope="module")
def short():
    """Short deadlines for the timeout tests."""
    extra = "http:\n  header_timeout_ms: 2000\n  body_timeout_ms: 2000\n  idle_timeout_ms: 3000\n"
    d = Daemon(ENV, port_offset=SHORT_OFF, node_id=72, name="edge-short", transform=add_keys(extra))
    d.start()
    yield d
    d.stop()


def metric(url, name, ctx=None):
    st, _, text = Client(url, timeout=5, ssl_context=ctx).get("/metrics")
    assert st == 200
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, "%s not in /metrics" % name
    return int(m.group(1))


# ------------------------------------------------------------------ raw HTTP


def conn(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP/1.1 responses (Content-Length framed, as the edge sends) off a socket."""

    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        hdr, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = hdr.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            h[k.strip().lower()] = v.strip()
        n = 0 if head or status == 100 else int(h.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, h, body

    def closed(self):
        """True when the server closes the connection (after what is buffered)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return True
        except OSError:
            return True


def error_code(body):
    return json.loads(body)["error"]["code"]


def auth(method, target, body=b""):
    """An Authorization header line for a raw request (spec §10)."""
    value, _ = skipsign.sign(method, target, body, skipsign.pick())
    return b"Authorization: " + value.encode() + b"\r\n"


# ------------------------------------------------------------------ TLS


def handshake_and_request(port, ctx):
    """The bytes of an answer to GET /healthz over TLS, or the exception that stopped it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        ss = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        ss.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return ss.recv(4096)
    except (ssl.SSLError, OSError) as e:
        return e
    finally:
        s.close()


def test_pinned_client_certificate_works_and_answers_like_plain(tls_daemon, pki):
    ctx = client_ctx(pki)
    tls = Client(tls_daemon.tls_url, ssl_context=ctx)
    plain = Client(tls_daemon.url)
    st, _, order = tls.post("/v1/orders", create_body("m_edge"))
    assert st == 201, order
    path = "/v1/orders/%s?consistency=strong" % order["order_no"]
    a, b = tls.get(path), plain.get(path)
    assert a[0] == b[0] == 200
    assert a[2] == b[2]
    assert a[1]["content-type"] == b[1]["content-type"]
    # the same keep-alive TLS connection serves several requests
    for _ in range(3):
        assert tls.get("/healthz")[0] == 200
    assert metric(tls_daemon.url, 'skipstore_http_connections{listener="tls"}') >= 1
    tls.close()
    plain.close()


def test_plain_http_to_the_tls_port_fails(tls_daemon):
    s = conn(tls_daemon.tls_port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    assert not data.startswith(b"HTTP/"), data


def test_no_client_certificate_fails_the_handshake(tls_daemon, pki):
    before = metric(tls_daemon.url, "skipstore_http_tls_handshake_failures_total")
    r = handshake_and_request(tls_daemon.tls_port, client_ctx(pki, cert=None))
    assert not (isinstance(r, bytes) and r.startswith(b"HTTP/")), r
    assert metric(tls_daemon.url, "skipstore_http_tls_handshake_failures_total") == before + 1


def test_client_certificate_of_another_ca_fails_the_handshake(tls_daemon, pki):
    before = metric(tls_daemon.url, "skipstore_http_tls_handshake_failures_total")
    r = handshake_and_request(tls_daemon.tls_port, client_ctx(pki, cert="intruder"))
    assert not (isinstance(r, bytes) and r.startswith(b"HTTP/")), r
    assert metric(tls_daemon.url, "skipstore_http_tls_handshake_failures_total") == before + 1
    # and the pinned one works on the same listener
    r = handshake_and_request(tls_daemon.tls_port, client_ctx(pki))
    assert isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200"), r


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused_and_1_2_accepted(tls_daemon, pki):
    # control: this client really speaks TLS 1.1 (to a server that allows it)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    sctx.minimum_version = sctx.maximum_version = ssl.TLSVersion.TLSv1_1
    sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    got = {}

    def serve():
        c, _ = lsock.accept()
        try:
            with sctx.wrap_socket(c, server_side=True) as tc:
                got["version"] = tc.version()
                tc.sendall(b"ok")
        except OSError as e:
            got["error"] = e

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ctx11 = client_ctx(pki, version=ssl.TLSVersion.TLSv1_1)
    with socket.create_connection(lsock.getsockname(), timeout=10) as s:
        with ctx11.wrap_socket(s, server_hostname="127.0.0.1") as tc:
            assert tc.version() == "TLSv1.1"
            assert tc.recv(2) == b"ok"
    t.join(10)
    lsock.close()
    assert got.get("version") == "TLSv1.1", got

    r = handshake_and_request(tls_daemon.tls_port, ctx11)
    assert isinstance(r, Exception), r
    r = handshake_and_request(tls_daemon.tls_port, client_ctx(pki, version=ssl.TLSVersion.TLSv1_2))
    assert isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200"), r


def test_key_readable_by_others_stops_the_daemon(pki):
    d = tempfile.mkdtemp(prefix="skip-edge-key-")
    try:
        key = os.path.join(d, "server.key")
        shutil.copy(os.path.join(pki, "server.key"), key)
        os.chmod(key, 0o644)
        extra = ('listen_tls: "127.0.0.1:%d"\ntls:\n  cert: %s/server.pem\n  key: %s\n' % (BASE + 119, pki, key))
        dm = Daemon(ENV, port_offset=PLAIN_OFF, node_id=71, name="edge-badkey", transform=add_keys(extra))
        dm.start(wait=False)
        assert dm.proc.wait(30) != 0
        dm.stop()
        log = open(dm.log, errors="replace").read()
        assert "tls.key" in log and "mode 0644 lets group or others read the private key" in log, log[-2000:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_tls_only_daemon_without_plain_listener(pki):
    port = BASE + 116
    extra = ('listen_tls: "127.0.0.1:%d"\ntls:\n  cert: %s/server.pem\n  key: %s/server.key\n' % (port, pki, pki))

    def tls_only(conf):
        return re.sub(r'^listen: .*$', 'listen: ""', conf, count=1, flags=re.M) + extra

    dm = Daemon(ENV, port_offset=PLAIN_OFF, node_id=71, name="edge-tlsonly", transform=tls_only)
    dm.url = "https://127.0.0.1:%d" % port
    dm.ssl_context = client_ctx(pki, cert=None)  # no client CA configured: no certificate needed
    with dm:
        assert Client(dm.url, ssl_context=dm.ssl_context).get("/healthz")[0] == 200


# ------------------------------------------------------------------ HTTP/1.1


def test_keep_alive_pipelining_and_head(short):
    s = conn(short.port)
    rd = Reader(s)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body = rd.response()
    assert st == 200 and json.loads(body) == {"status": "ok"}
    assert "connection" not in h
    # HEAD: the head of the answer with its Content-Length, and no body: the next
    # bytes are the next response
    st, h, body = rd.response(head=True)
    assert int(h["content-length"]) > 0
    st, h, body = rd.response()
    assert st in (200, 503) and "status" in json.loads(body)
    st, h, body = rd.response()
    assert st == 401 and error_code(body) == "UNAUTHENTICATED"  # unsigned: the handler's answer
    # still open: one more
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert rd.response()[0] == 200
    s.close()


def test_connection_close_and_http_1_0(short):
    s = conn(short.port)
    rd = Reader(s)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, h, _ = rd.response()
    assert st == 200 and h["connection"] == "close"
    assert rd.closed()
    s.close()

    s = conn(short.port)
    rd = Reader(s)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    st, h, _ = rd.response()
    assert st == 200 and h["connection"] == "close"
    assert rd.closed()
    s.close()

    s = conn(short.port)
    rd = Reader(s)
    for _ in range(2):
        s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        st, h, _ = rd.response()
        assert st == 200 and h["connection"] == "keep-alive"
    s.close()


def test_expect_100_continue(short):
    s = conn(short.port)
    rd = Reader(s)
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    st, _, _ = rd.response()
    assert st == 100
    s.sendall(b"{}")
    st, h, body = rd.response()
    assert st == 405 and error_code(body) == "METHOD_NOT_ALLOWED"  # the handler's answer
    # announced too large: 413 at once, no 100, closed
    s = conn(short.port)
    rd = Reader(s)
    s.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n" +
              auth("POST", "/v1/orders") + b"\r\n")
    st, h, body = rd.response()
    assert st == 413 and error_code(body) == "PAYLOAD_TOO_LARGE"
    assert h["connection"] == "close"
    assert rd.closed()
    s.close()


BAD = [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),                   # obs-fold
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),                                        # two spaces
    (b"GET /healthz\r\n\r\n", 400),                                                             # HTTP/0.9
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),                                                    # no Host
    (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),   # bad chunk size
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n", 431),
]


@pytest.mark.parametrize("req,status", BAD, ids=[
    "obs-fold", "duplicate-content-length", "cl-and-te", "two-spaces", "http-0.9", "no-host", "space-before-colon",
    "nul-in-value", "bad-chunk-size", "http-2.0", "gzip-chunked", "header-over-16k"])
def test_the_edge_refuses_bad_requests_and_closes(short, req, status):
    before = metric(short.url, "skipstore_http_bad_requests_total")
    s = conn(short.port)
    rd = Reader(s)
    s.sendall(req)
    st, h, body = rd.response()
    assert st == status, body
    assert h["connection"] == "close" and "error" in json.loads(body)
    assert rd.closed()
    s.close()
    assert metric(short.url, "skipstore_http_bad_requests_total") == before + 1


def test_chunked_upload_gets_413_while_still_sending(short):
    """A chunked body that keeps coming: the 413 arrives before the client is done
    (it would send 16 MiB; the limit is 64 KiB) and the connection is closed."""
    s = conn(short.port, timeout=30)
    s.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n" + auth("POST", "/v1/orders") + b"\r\n")
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    total, limit = 0, 16 * 1024 * 1024
    s.setblocking(False)
    got = b""
    while total < limit:
        r, w, _ = select.select([s], [s], [], 10)
        assert r or w, "neither readable nor writable for 10 s"
        if r:
            data = s.recv(65536)
            if data:
                got += data
                if b"\r\n\r\n" in got:
                    break
            else:
                break
        if w:
            try:
                total += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                break
    sent_when_answered = total
    print("413 after %d bytes of chunked body sent" % sent_when_answered)
    s.setblocking(True)
    s.settimeout(10)
    rd = Reader(s)
    rd.buf = got
    st, h, body = rd.response()
    assert st == 413 and error_code(body) == "PAYLOAD_TOO_LARGE"
    assert h["connection"] == "close"
    assert sent_when_answered < limit, "the 413 came only after the whole upload"
    assert rd.closed()
    s.close()


def test_pipelined_requests_are_answered_in_order_one_at_a_time(short):
    s = conn(short.port)
    rd = Reader(s)
    body = json.dumps(create_body("m_edge")).encode()
    post = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    chunked = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    s.sendall(post + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + chunked + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert rd.response()[0] == 405
    assert rd.response()[0] == 200
    assert rd.response()[0] == 405
    assert rd.response()[0] == 401
    s.close()


# ------------------------------------------------------------------ deadlines


def test_slowloris_is_cut_at_the_header_deadline(short):
    """One byte a second: 408 and closed at the header deadline (2 s), long before the
    client would have finished its 200-byte header block."""
    before = metric(short.url, "skipstore_http_timeouts_total")
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 160 + b"\r\n\r\n"
    s = conn(short.port, timeout=30)
    sent = 0
    answer = b""
    while sent < len(req):
        try:
            s.sendall(req[sent:sent + 1])
        except OSError:
            break
        sent += 1
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            answer = s.recv(4096)
            break
    assert sent < len(req), "the whole slow header block was accepted"
    rd = Reader(s)
    rd.buf = answer
    st, h, body = rd.response()
    assert st == 408 and error_code(body) == "REQUEST_TIMEOUT" and h["connection"] == "close"
    assert rd.closed()
    s.close()
    assert metric(short.url, "skipstore_http_timeouts_total") >= before + 1


def test_body_deadline_answers_408(short):
    s = conn(short.port, timeout=30)
    rd = Reader(s)
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    st, h, body = rd.response()  # waits for the server (2 s body deadline)
    assert st == 408 and error_code(body) == "REQUEST_TIMEOUT"
    assert rd.closed()
    s.close()


def test_idle_keep_alive_connection_is_closed(short):
    s = conn(short.port, timeout=60)
    rd = Reader(s)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert rd.response()[0] == 200
    # nothing more sent: the server closes it after idle_timeout_ms (3 s) without an answer
    assert rd.closed() and rd.buf == b""
    s.close()


def test_a_thousand_slow_connections_do_not_stop_a_normal_request(tls_daemon):
    """1,000 connections (half silent, half stuck in a header block) open; normal
    requests on new connections are each answered within 1 s."""
    slow = []
    try:
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", tls_daemon.port), timeout=10)
            if i % 2:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        c = Client(tls_daemon.url, timeout=10)
        plain = 'skipstore_http_connections{listener="plain"}'
        for _ in range(50):  # accepting a thousand connections takes the daemon a moment
            if metric(tls_daemon.url, plain) >= 1000:
                break
            time.sleep(0.1)
        assert metric(tls_daemon.url, plain) >= 1000
        for _ in range(5):
            c = Client(tls_daemon.url, timeout=1.0)  # a new connection each time
            st, _, body = c.request("GET", "/healthz", retry=False)
            assert st == 200
            c.close()
        st, _, order = Client(tls_daemon.url, timeout=5).post("/v1/orders", create_body("m_edge"))
        assert st == 201, order
        # the slow ones are still there (not cut to make room)
        assert metric(tls_daemon.url, plain) >= 1000
    finally:
        for s in slow:
            s.close()


# ------------------------------------------------------------------ overload


@pytest.fixture(scope="module")
def burst(dev):
    """One worker, a queue of 4: eight slow requests at once (reads of a group-1 order
    while g1's replica is stopped: each waits for the replica's read timeout)."""
    extra = "http:\n  workers: 1\n"
    d = Daemon(ENV, port_offset=BUSY_OFF, node_id=73, name="edge-busy", transform=add_keys(extra))
    d.start()
    try:
        c = Client(d.url)
        order = None
        for _ in range(60):
            st, _, o = c.post("/v1/orders", create_body("m_edge"))
            assert st == 201, o
            if o["group"] == 1:
                order = o
                break
        assert order, "no create landed in group 1"
        before = metric(d.url, "skipstore_http_overloaded_total")
        dev("fault", "g1r1", "stop")
        results = [None] * 8
        try:
            def one(i):
                try:
                    results[i] = Client(d.url, timeout=30).request(
                        "GET", "/v1/orders/" + order["order_no"], retry=False)
                except Exception as e:  # an unanswered request is a result too
                    results[i] = e

            ths = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in ths:
                t.start()
                time.sleep(0.02)
            for t in ths:
                t.join(60)
        finally:
            dev("fault", "g1r1", "cont")
        yield results, metric(d.url, "skipstore_http_overloaded_total") - before
    finally:
        d.stop()


def test_full_queue_calls_the_handler_overloaded_and_answers_everything(burst):
    results, overloaded = burst
    print("statuses %s, overloaded %d" % ([r[0] for r in results], overloaded))
    assert all(isinstance(r, tuple) for r in results), results
    assert overloaded >= 1


def test_overloaded_requests_get_503_overloaded(burst):
    results, overloaded = burst
    codes = [r[2]["error"]["code"] for r in results if r[0] == 503]
    assert codes.count("OVERLOADED") == overloaded


def test_connections_over_max_connections_are_closed_at_once():
    """max_connections 16: of 20 connections, at most 16 are served; the others are
    accepted and closed without an answer, and counted."""
    extra = "http:\n  max_connections: 16\n"
    d = Daemon(ENV, port_offset=PLAIN_OFF, node_id=71, name="edge-max", transform=add_keys(extra))
    with d:
        socks = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(20)]
        answered = closed = 0
        try:
            for s in socks:
                try:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    Reader(s).response()
                    answered += 1
                except (EOFError, OSError):
                    closed += 1
        finally:
            for s in socks:
                s.close()
        assert answered >= 1 and closed >= 4 and answered <= 16, (answered, closed)
        for _ in range(50):  # room again once the closes are seen
            try:
                refused = metric(d.url, "skipstore_http_refused_total")
                break
            except (OSError, AssertionError):
                time.sleep(0.1)
        assert refused >= closed


# ------------------------------------------------------------------ the client library over TLS

def test_client_library_speaks_https_with_pinned_ca_and_client_cert(tls_daemon, pki):
    """client/httpc.c (here through skipctl) over https://: works with the
    pinned CA and a client certificate it signed, keeps signing and verifying
    (spec §10); refuses a server its CA did not sign, and the daemon refuses it
    without a client certificate."""
    binp = os.path.join(ENV["SKIP_BUILD_DIR"], "skipctl")

    def status(ca, cert):
        e = dict(os.environ, SKIP_URL=tls_daemon.tls_url, SKIP_KEYS=ENV["SKIP_KEYS"],
                 SKIP_CA=os.path.join(pki, ca + ".pem"),
                 SKIP_CLIENT_CERT=os.path.join(pki, cert + ".pem") if cert else "",
                 SKIP_CLIENT_KEY=os.path.join(pki, cert + ".key") if cert else "")
        return subprocess.run([binp, "status", "--json"], env=e, capture_output=True, text=True, timeout=30)
    p = status("ca", "client")
    assert p.returncode == 0, p.stderr
    assert "groups" in json.loads(p.stdout) or p.stdout.strip().startswith("{"), p.stdout[:200]
    p = status("rogue", "client")            # the server's certificate is not from this CA
    assert p.returncode != 0 and "tls" in (p.stderr + p.stdout), (p.returncode, p.stderr)
    p = status("ca", None)                    # mTLS: no client certificate
    assert p.returncode != 0, p.stdout[:200]
    p = status("ca", "intruder")              # a client certificate of another CA
    assert p.returncode != 0, p.stdout[:200]
