"""Kafka over TLS + SASL (spec §12; issue 14), against a cluster started with
SKIP_KAFKA_TLS=1: the brokers' client (and inter-broker) listeners are SASL_SSL only,
with a certificate from ./dev's dev CA and SASL/PLAIN users; skipstored's relay and
skipstore-mirror reach them with nothing but the kafka.producer / kafka.consumer
pass-through settings in the config. Marker kafka_tls (.ci/run's Kafka pass);
conftest.py skips these on a plaintext cluster.
"""
import os
import re
import socket
import ssl
import tempfile
import time

import pytest

from skiputil import Client, create_body, kcat

pytestmark = pytest.mark.kafka_tls


def brokers(env):
    return [hp.rsplit(":", 1) for hp in env["SKIP_KAFKA"].split(",")]


def test_brokers_speak_tls_with_a_dev_ca_certificate(env):
    ca = env["SKIP_KAFKA_CA"]
    assert oct(os.stat(ca).st_mode & 0o777) == "0o600"
    ctx = ssl.create_default_context(cafile=ca)
    for host, port in brokers(env):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                assert t.version() in ("TLSv1.2", "TLSv1.3"), t.version()
                assert ("IP Address", "127.0.0.1") in t.getpeercert()["subjectAltName"]
        # a client that trusts only the system roots refuses the dev certificate
        with socket.create_connection((host, int(port)), timeout=5) as s:
            with pytest.raises(ssl.SSLCertVerificationError):
                ssl.create_default_context().wrap_socket(s, server_hostname=host)


def test_plaintext_and_a_wrong_password_are_refused(env):
    # plaintext: no metadata from any broker
    p = kcat({"SKIP_KAFKA": env["SKIP_KAFKA"]}, "-L", "-m", "5", timeout=30)
    assert p.returncode != 0 and " brokers:" not in p.stdout, (p.stdout, p.stderr)
    # the right TLS settings with a wrong SASL password: authentication fails
    good = open(env["SKIP_KAFKA_CLIENT_CONF"]).read()
    assert re.search(r"^sasl\.password=.+$", good, re.M)
    bad = re.sub(r"^sasl\.password=.*$", "sasl.password=not-the-password", good, flags=re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".properties") as f:
        os.chmod(f.name, 0o600)
        f.write(bad)
        f.flush()
        p = kcat(dict(env, SKIP_KAFKA_CLIENT_CONF=f.name), "-L", "-m", "5", timeout=30)
    assert p.returncode != 0, p.stdout
    assert "Authentication failed" in p.stderr or "SASL authentication error" in p.stderr, p.stderr[-2000:]
    # the cluster's own client settings work
    p = kcat(env, "-L", "-m", "10", "-t", env["SKIP_KAFKA_TOPIC"], timeout=30)
    assert p.returncode == 0 and 'topic "%s" with 4 partitions' % env["SKIP_KAFKA_TOPIC"] in p.stdout, p.stderr


def test_relay_and_mirror_are_configured_only_through_the_pass_through(env):
    text = open(env["SKIP_CONFIG"]).read()
    kafka = text[text.index("\nkafka:\n"):]
    kafka = kafka[:re.search(r"\n\S", kafka[1:]).start() + 1]
    for section in ("producer", "consumer"):
        block = re.search(r"\n  %s:\n((?:    .*\n)+)" % section, kafka)
        assert block, kafka
        props = dict(line.strip().split(": ", 1) for line in block.group(1).splitlines())
        assert props["security.protocol"] == "SASL_SSL"
        assert props["sasl.mechanism"] == "PLAIN"
        assert props["ssl.ca.location"].strip('"') == env["SKIP_KAFKA_CA"]
    assert oct(os.stat(env["SKIP_CONFIG"]).st_mode & 0o777) == "0o600"


def test_order_change_reaches_the_merchant_store_over_tls(env, merchant_db, wait_until):
    """Create + pay through the daemon: the relay publishes over SASL_SSL, the mirror
    consumes over SASL_SSL, the merchant store shows version 2, PAID."""
    c = Client(env["SKIP_URL"], timeout=15)
    st, _, o = c.post("/v1/orders", create_body("mtls_" + str(int(time.time()))))
    assert st == 201, o
    st, _, p = c.post("/v1/orders/%s/pay" % o["order_no"], {"channel_txn_id": "tx" + o["order_no"],
                                                              "paid_amount": o["amount"]})
    assert st == 200 and p["version"] == 2, p
    mdb = merchant_db()

    def mirrored():
        with mdb.cursor() as cur:
            cur.execute("SELECT version, status FROM merchant_orders WHERE order_no=%s", (o["order_no"],))
            return cur.fetchone() == (2, "PAID")
    wait_until(mirrored, timeout=60, interval=0.25, msg="order %s v2 PAID in the merchant store" % o["order_no"])
