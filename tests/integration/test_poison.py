"""The mirror's poison pills (issue 15; docs/mirror.md "Bad events").

Hostile events are produced straight to the topic with librdkafka (python3
confluent_kafka; works against the librdkafka mock broker and Apache Kafka
alike), each followed by good events on the same key (so the same
partition). For every case: the good events apply, the bad one is in
dead_letters byte-exact (payload, key, type header, length), and the
partition keeps moving — the mirror's committed offset reaches the end of
what was produced (consumer lag back to 0 for our messages).

Every message is signed like the relay signs it (header skip-hmac =
base64(HMAC-SHA256(event key, value)), the key from $RUN/secrets/event.key)
unless a test says otherwise, so each hostile case reaches the check it is
about; the trust cases (spec §10) send unsigned, forged and owner-moving
events.

Good events here are orders that exist in no group (a fresh merchant prefix,
node id 9xx): each test deletes its merchant_orders rows at the end, so a
later `skipctl audit` does not see them as mirror-only orders.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import re
import string
import time
from datetime import datetime, timedelta, timezone

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from conftest import run_dir  # noqa: E402


def _prefix():
    return "pp" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


def luhn(digits):
    s = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return str((10 - s % 10) % 10)


_seq = [random.randrange(0, 50000)]


def order_no(group=1):
    _seq[0] += 1
    b = "%s%03d%05d%02d" % (datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"), random.randrange(900, 1000),
                            _seq[0] % 100000, group)
    return b + luhn(b)


def ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def order(merchant, group=1, **kw):
    now = datetime.now(timezone.utc)
    o = {"order_no": order_no(group), "group": group, "merchant_id": merchant, "out_trade_no": "o" + str(_seq[0]),
         "store_id": None, "terminal_id": None, "amount": 100, "currency": "CNY", "channel": "wx",
         "subject": None, "attach": None, "status": "CREATED", "refunded_amount": 0, "channel_txn_id": None,
         "version": 1, "created_at": ts(now), "updated_at": ts(now), "expire_at": ts(now + timedelta(minutes=5)),
         "paid_at": None, "closed_at": None}
    o.update(kw)
    return o


def enc(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()


def consumer_group(env):
    try:
        m = re.search(r"^\s*consumer_group:\s*\"?([^\s\"#]+)", open(env["SKIP_CONFIG"]).read(), re.M)
        if m:
            return m.group(1)
    except OSError:
        pass
    return "skipstore-mirror"


def event_key():
    return (run_dir() / "secrets" / "event.key").read_bytes().rstrip(b"\r\n")


def event_mac(value, key=None):
    return base64.b64encode(hmac.new(key or event_key(), value, hashlib.sha256).digest())


class Topic:
    """Produce raw messages; read the mirror group's committed offsets."""

    def __init__(self, env):
        self.topic = env["SKIP_KAFKA_TOPIC"]
        self.group = consumer_group(env)
        self.p = confluent_kafka.Producer({"bootstrap.servers": env["SKIP_KAFKA"], "linger.ms": 5,
                                           "message.max.bytes": 1000000, "enable.idempotence": True})
        self.c = confluent_kafka.Consumer({"bootstrap.servers": env["SKIP_KAFKA"], "group.id": self.group,
                                           "enable.auto.commit": False})
        self.sent = []  # (partition, offset, key, value, headers)

    def send(self, key, value, typ=b"order", mac="sign"):
        """Queue one message (key/value bytes or None); flush() delivers.
        mac: "sign" (the cluster's event key), None (no skip-hmac header) or
        the header's bytes."""
        hdrs = [("type", typ)] if typ is not None else []
        if mac == "sign":
            mac = event_mac(value or b"")
        if mac is not None:
            hdrs.append(("skip-hmac", mac))
        hdrs = hdrs or None
        rec = {}

        # our own CreateTime, so we know the timestamp the mirror records
        # (a delivery report's timestamp differs by broker: the mock's is not it)
        now_ms = int(time.time() * 1000)

        def dr(err, msg):
            assert err is None, err
            rec["po"] = (msg.partition(), msg.offset(), now_ms)
        self.p.produce(self.topic, value=value, key=key, headers=hdrs, on_delivery=dr, timestamp=now_ms)
        self.sent.append((rec, key, value, typ))
        return rec

    def flush(self):
        assert self.p.flush(30) == 0, "messages not delivered"
        return [(r["po"][0], r["po"][1], k, v, t, r["po"][2]) for r, k, v, t in self.sent]

    def committed(self, partition):
        tp = confluent_kafka.TopicPartition(self.topic, partition)
        got = self.c.committed([tp], timeout=10)
        return got[0].offset

    def close(self):
        self.c.close()


@pytest.fixture
def topic(env):
    t = Topic(env)
    yield t
    t.close()


@pytest.fixture
def cleanup(merchant_db):
    prefixes = []
    yield prefixes.append
    mdb = merchant_db()
    with mdb.cursor() as cur:
        for p in prefixes:
            cur.execute("DELETE FROM merchant_orders WHERE merchant_id LIKE %s", (p + "%",))


def wait_moved_past(topic, wait_until, last, timeout=60):
    """The mirror committed past every message we produced (lag 0 for ours)."""
    need = {}
    for part, off, *_ in last:
        need[part] = max(need.get(part, -1), off + 1)

    def done():
        return all(topic.committed(p) >= o for p, o in need.items())
    wait_until(done, timeout=timeout, interval=0.25, msg="mirror committed offsets past %r" % need)


def dead_rows(mdb, topic, sent):
    """dead_letters rows of these messages (by coordinates and timestamp: a
    restarted in-memory dev broker numbers offsets from 0 again)."""
    out = {}
    with mdb.cursor() as cur:
        for part, off, _k, _v, _t, kts in sent:
            cur.execute("SELECT msg_key, type_header, payload, payload_len, truncated, reason FROM dead_letters "
                        "WHERE topic=%s AND kpartition=%s AND koffset=%s AND ktimestamp=%s",
                        (topic.topic, part, off, kts))
            rows = cur.fetchall()
            if rows:
                assert len(rows) == 1, "%d dead letters for %d/%d" % (len(rows), part, off)
                out[(part, off)] = rows[0]
    return out


def mirror_versions(mdb, nos):
    with mdb.cursor() as cur:
        cur.execute("SELECT order_no, version FROM merchant_orders WHERE order_no IN (%s)" %
                    ",".join(["%s"] * len(nos)), list(nos))
        return dict(cur.fetchall())


def check_case(topic, mdb, wait_until, sent, bad_idx, good_orders):
    """Every message in bad_idx is a byte-exact dead letter; every good order applied."""
    wait_moved_past(topic, wait_until, sent)
    rows = dead_rows(mdb, topic, [sent[i] for i in bad_idx])
    for i in bad_idx:
        part, off, key, value, typ, _ = sent[i]
        assert (part, off) in rows, "message %d (%r...) not dead-lettered" % (i, (value or b"")[:60])
        k, t, payload, plen, trunc, reason = rows[(part, off)]
        assert bytes(payload) == value if value is not None else payload is None, "payload of %d differs" % i
        assert (bytes(k) if k is not None else None) == key
        assert (bytes(t) if t is not None else None) == typ
        assert plen == (len(value) if value is not None else None) and trunc == 0, (plen, trunc)
        assert reason, "no reason"
    got = mirror_versions(mdb, [o["order_no"] for o in good_orders]) if good_orders else {}
    assert got == {o["order_no"]: o["version"] for o in good_orders}, "good events not applied"
    return rows


CASES = [
    # name, builder(merchant) -> (key, value, type)
    ("overlong_utf8", lambda m: (m.encode(), enc(order(m)).replace(b'"subject":null', b'"subject":"a\xc0\xafb"'),
                                 b"order")),
    ("c0_80", lambda m: (m.encode(), enc(order(m)).replace(b'"out_trade_no":"', b'"out_trade_no":"\xc0\x80'),
                         b"order")),
    ("lone_surrogate_bytes", lambda m: (m.encode(), enc(order(m)).replace(b'"subject":null',
                                                                         b'"subject":"\xed\xa0\x80"'), b"order")),
    ("lone_surrogate_escape", lambda m: (m.encode(), enc(order(m)).replace(b'"subject":null',
                                                                          b'"subject":"\\ud800"'), b"order")),
    ("f5_lead", lambda m: (m.encode(), enc(order(m)).replace(b'"attach":null', b'"attach":"\xf5\x80\x80\x80"'),
                           b"order")),
    ("invalid_json", lambda m: (m.encode(), b'{"order_no": "2026', b"order")),
    ("not_utf8_at_all", lambda m: (m.encode(), bytes(range(256)), b"order")),
    ("empty_value", lambda m: (m.encode(), b"", b"order")),
    ("wrong_type_amount", lambda m: (m.encode(), enc(order(m, amount="100")), b"order")),
    ("wrong_type_header", lambda m: (m.encode(), enc(order(m)), b"refund\xff")),
    ("unknown_field", lambda m: (m.encode(), enc(dict(order(m), surprise=1)), b"order")),
    ("group_not_the_stamped_one", lambda m: (m.encode(), enc(dict(order(m, group=2), group=3)), b"order")),
    ("key_of_another_merchant", lambda m: (b"someone_else", enc(order(m)), b"order")),
    ("binary_key", lambda m: (b"\xc0\x80\x00\xff", enc(order(m)), b"order")),
    ("no_key_no_header_bad", lambda m: (None, b"\x00\x01\x02", None)),
]


@pytest.mark.parametrize("name,build", CASES, ids=[c[0] for c in CASES])
def test_hostile_event_is_dead_lettered_byte_exact_and_partition_moves_on(env, merchant_db, topic, wait_until,
                                                                         cleanup, name, build):
    m = _prefix()
    cleanup(m)
    mdb = merchant_db()
    before = order(m)
    after = [order(m) for _ in range(3)]
    key, value, typ = build(m)
    topic.send(m.encode(), enc(before))
    topic.send(key, value, typ)
    for o in after:
        topic.send(m.encode(), enc(o))
    sent = topic.flush()
    check_case(topic, mdb, wait_until, sent, [1], [before] + after)


def test_huge_event_is_dead_lettered_whole(env, merchant_db, topic, wait_until, cleanup):
    """A ~900 KB event (valid JSON, subject far over 128 bytes, bytes of every
    value in it): dead-lettered byte-exact, the partition moves on."""
    m = _prefix()
    cleanup(m)
    mdb = merchant_db()
    filler = ("\u00e9\u4e2d\U0001f600x" * 90000)[:360000]
    huge = enc(order(m, subject=filler))
    assert 850_000 < len(huge) < 1_000_000, len(huge)
    good = [order(m) for _ in range(3)]
    topic.send(m.encode(), huge)
    for o in good:
        topic.send(m.encode(), enc(o))
    sent = topic.flush()
    check_case(topic, mdb, wait_until, sent, [0], good)


def test_one_rejected_row_among_good_ones_is_isolated(env, merchant_db, topic, wait_until, cleanup):
    """A batch of good events with two the decoder accepts but MariaDB refuses
    (version > INT UNSIGNED): bisecting the batch dead-letters exactly those
    two, every good event applies, in order (a later version of an order in
    the same batch wins)."""
    m = _prefix()
    cleanup(m)
    mdb = merchant_db()
    good = [order(m) for _ in range(60)]
    v2 = dict(good[10], version=2, status="CLOSED", closed_at=good[10]["updated_at"])
    bad = [order(m, version=2 ** 40), order(m, version=2 ** 33)]
    msgs = good[:20] + [bad[0]] + good[20:40] + [v2, bad[1]] + good[40:]
    for o in msgs:
        topic.send(m.encode(), enc(o))
    sent = topic.flush()
    assert len({p for p, *_ in sent}) == 1, "one key, one partition"
    bad_idx = [i for i, o in enumerate(msgs) if o["version"] >= 2 ** 32]
    expect = [o for o in good if o["order_no"] != v2["order_no"]] + [v2]
    rows = check_case(topic, mdb, wait_until, sent, bad_idx, expect)
    for r in rows.values():
        assert "merchant store rejected the row" in r[5] and "1264" in r[5], r[5]
    log = (run_dir() / "log" / "mirror.log").read_text(errors="replace")
    for i in bad_idx:
        assert re.search(r"event=mirror_dead_letter .*offset=%d reason=rejected_by_store" % sent[i][1], log), i


def test_over_large_batch_goes_in_several_round_trips(env, dev, merchant_db, topic, wait_until, cleanup):
    """With max_allowed_packet cut to 256 KiB on the merchant store, a batch of
    dead letters and good events far larger than one packet is applied in
    several round trips of one transaction, and an event larger than a packet
    is dead-lettered truncated (real length kept): nothing stalls."""
    m = _prefix()
    cleanup(m)
    admin = merchant_db()
    with admin.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        old = cur.fetchone()[0]
        cur.execute("SET GLOBAL max_allowed_packet=262144")
    try:
        dev("fault", "mirror", "kill")   # reconnects with the small packet
        dev("fault", "mirror", "start")
        good = [order(m) for _ in range(100)]
        bad = [b'{"x":"' + bytes([0x80 + (i % 64)]) * 6000 + b'"}' for i in range(100)]
        huge = b"\xc0" * 400_000
        msgs = []
        for i in range(100):
            msgs.append(("good", good[i]))
            msgs.append(("bad", bad[i]))
        msgs.insert(101, ("huge", huge))
        for kind, v in msgs:
            topic.send(m.encode(), enc(v) if kind == "good" else v)
        sent = topic.flush()
        wait_moved_past(topic, wait_until, sent, timeout=90)
        mdb = merchant_db()
        bad_idx = [i for i, (k, _) in enumerate(msgs) if k == "bad"]
        check_case(topic, mdb, wait_until, sent, bad_idx, good)
        hi = [i for i, (k, _) in enumerate(msgs) if k == "huge"][0]
        row = dead_rows(mdb, topic, [sent[hi]])[(sent[hi][0], sent[hi][1])]
        payload, plen, trunc = bytes(row[2]), row[3], row[4]
        assert plen == len(huge) and trunc == 1 and 0 < len(payload) < len(huge) and huge.startswith(payload)
    finally:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL max_allowed_packet=%s", (old,))
        dev("fault", "mirror", "kill")
        dev("fault", "mirror", "start")


def test_redelivered_batch_writes_each_dead_letter_once(env, dev, merchant_db, topic, wait_until, cleanup):
    """Offsets are committed after the merchant-store commit, so a crash in
    between re-delivers. Simulated: with the mirror down, the group's offset
    is rewound over a batch with bad events; the restarted mirror applies it
    again — no second dead letter, the good rows unchanged (version guard)."""
    m = _prefix()
    cleanup(m)
    mdb = merchant_db()
    good = [order(m) for _ in range(5)]
    msgs = [enc(good[0]), b"{broken", enc(good[1]), b"\xc0\x80", enc(good[2]), enc(good[3]), enc(good[4])]
    for v in msgs:
        topic.send(m.encode(), v)
    sent = topic.flush()
    check_case(topic, mdb, wait_until, sent, [1, 3], good)
    part, first = sent[0][0], sent[0][1]
    with mdb.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM dead_letters")
        total0 = cur.fetchone()[0]
    assert len(dead_rows(mdb, topic, [sent[1], sent[3]])) == 2
    dev("fault", "mirror", "kill")
    try:
        # join the group in the mirror's place (works with every broker; a
        # commit from outside the group is refused by the mock broker), take
        # the partition once the dead member's session expired, rewind it
        c = confluent_kafka.Consumer({"bootstrap.servers": env["SKIP_KAFKA"], "group.id": topic.group,
                                      "enable.auto.commit": False, "session.timeout.ms": 6000})
        try:
            c.subscribe([topic.topic])

            def have_partition():
                c.poll(0.5)
                return any(tp.partition == part for tp in c.assignment())
            wait_until(have_partition, timeout=60, interval=0.1, msg="our consumer assigned partition %d" % part)
            c.commit(offsets=[confluent_kafka.TopicPartition(topic.topic, part, first)], asynchronous=False)
            assert topic.committed(part) == first
        finally:
            c.close()  # leaves the group without committing anything else
    finally:
        dev("fault", "mirror", "start")
    wait_moved_past(topic, wait_until, sent, timeout=90)
    with mdb.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM dead_letters")
        assert cur.fetchone()[0] == total0, "a re-delivered message was dead-lettered twice"
    check_case(topic, mdb, wait_until, sent, [1, 3], good)


# ---------------------------------------------------------------- trust (spec §10)

def mirror_row(mdb, no):
    with mdb.cursor() as cur:
        cur.execute("SELECT merchant_id, group_id, version, amount, status FROM merchant_orders WHERE order_no=%s",
                    (no,))
        return cur.fetchone()


def test_unsigned_and_forged_events_are_dead_lettered_and_change_nothing(env, merchant_db, topic, wait_until,
                                                                         cleanup):
    """An order is applied (v1, signed). Then newer versions of it arrive with
    no skip-hmac header, with a MAC made with another key, with a garbage
    header, and with a correct MAC of different bytes (amount raised after
    signing); and a new order with no MAC at all. Each is a dead letter with a
    bad_hmac reason, the stored row stays v1 (amount 100) and the new order
    never appears; the signed v5 after them is applied (the partition moved on)."""
    m = _prefix()
    cleanup(m)
    mdb = merchant_db()
    v1 = order(m)
    topic.send(m.encode(), enc(v1))
    first = topic.flush()
    wait_moved_past(topic, wait_until, first)
    assert mirror_row(mdb, v1["order_no"]) == (m, 1, 1, 100, "CREATED")

    def v(n, **kw):
        return dict(v1, version=n, amount=999_999, status="PAID", paid_at=v1["updated_at"], **kw)
    signed_v3 = enc(v(3))
    tampered = signed_v3.replace(b'"amount":999999', b'"amount":999998')
    new_order = order(m)
    topic.send(m.encode(), enc(v(2)), mac=None)                                          # 1 unsigned
    topic.send(m.encode(), enc(v(3)), mac=event_mac(enc(v(3)), key=b"x" * 48))          # 2 other key
    topic.send(m.encode(), enc(v(4)), mac=b"not-a-mac")                                  # 3 malformed
    topic.send(m.encode(), tampered, mac=event_mac(signed_v3))                           # 4 bytes changed
    topic.send(m.encode(), enc(new_order), mac=None)                                     # 5 new, unsigned
    good = dict(v1, version=5, subject="v5")
    topic.send(m.encode(), enc(good))                                                    # 6 signed
    sent = topic.flush()
    sent = sent[len(first):]
    rows = check_case(topic, mdb, wait_until, sent, [0, 1, 2, 3, 4], [good])
    for i in range(5):
        reason = rows[(sent[i][0], sent[i][1])][5]
        assert reason.startswith("bad_hmac: "), (i, reason)
    assert "no skip-hmac header" in rows[(sent[0][0], sent[0][1])][5]
    assert "does not verify" in rows[(sent[1][0], sent[1][1])][5]
    assert "not base64" in rows[(sent[2][0], sent[2][1])][5]
    assert "does not verify" in rows[(sent[3][0], sent[3][1])][5]
    assert mirror_row(mdb, v1["order_no"]) == (m, 1, 5, 100, "CREATED"), "a bad-HMAC event changed the row"
    assert mirror_row(mdb, new_order["order_no"]) is None, "an unsigned new order was applied"


def test_event_cannot_move_an_order_to_another_merchant(env, merchant_db, topic, wait_until, cleanup):
    """A correctly signed event claiming a much higher version of a stored
    order but another merchant (and its key, so another partition may serve
    it) is a dead letter with a `moved` reason; the row keeps its merchant and
    version, and the owner's next version still applies."""
    m, other = _prefix(), _prefix()
    cleanup(m)
    cleanup(other)
    mdb = merchant_db()
    v1 = order(m)
    topic.send(m.encode(), enc(v1))
    first = topic.flush()
    wait_moved_past(topic, wait_until, first)
    assert mirror_row(mdb, v1["order_no"]) == (m, 1, 1, 100, "CREATED")
    topic.send(other.encode(), enc(dict(v1, merchant_id=other, version=1000, amount=5)))
    sent = topic.flush()[len(first):]
    rows = check_case(topic, mdb, wait_until, sent, [0], [])
    reason = rows[(sent[0][0], sent[0][1])][5]
    assert reason.startswith("moved: order %s belongs to merchant %s group 1" % (v1["order_no"], m)), reason
    assert mirror_row(mdb, v1["order_no"]) == (m, 1, 1, 100, "CREATED"), "the order moved"
    v2 = dict(v1, version=2, subject="v2")
    topic.send(m.encode(), enc(v2))
    sent = topic.flush()[len(first) + 1:]
    check_case(topic, mdb, wait_until, sent, [], [v2])
    assert mirror_row(mdb, v1["order_no"])[0] == m


def test_strict_utf8_is_a_subset_of_mariadb_utf8mb4(merchant_db):
    """What common/utf8.c accepts, a utf8mb4 column takes in strict mode, and
    each invalid class it rejects MariaDB rejects too (bytes sent as the old
    mirror sent text). The one difference: MariaDB stores encoded surrogates,
    which we reject (they are not UTF-8; stricter is safe)."""
    mdb = merchant_db()
    ok = [b"", b"a", b"\x00", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
          b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf0\x9f\x92\xa9", b"\xf4\x8f\xbf\xbf"]
    bad = [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf7\xbf\xbf\xbf", b"\xff", b"\x80", b"\xe4\xb8", b"a\xc3"]
    with mdb.cursor() as cur:
        cur.execute("SET SESSION sql_mode='STRICT_ALL_TABLES'")
        cur.execute("CREATE TEMPORARY TABLE u8 (s VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL)")
        for b in ok:
            cur.execute("INSERT INTO u8 VALUES (_utf8mb4 X'%s')" % b.hex() if b else "INSERT INTO u8 VALUES ('')")
            cur.execute("INSERT INTO u8 VALUES (CONVERT(%s USING utf8mb4))", (b,))
        for b in bad:
            for sql, args in (("INSERT INTO u8 VALUES (_utf8mb4 X'%s')" % b.hex(), None),
                              ("INSERT INTO u8 VALUES (CONVERT(%s USING utf8mb4))", (b,))):
                with pytest.raises(Exception) as ei:
                    cur.execute(sql, args)
                assert re.search(r"\b(1300|1366)\b", str(ei.value)), (b, ei.value)
        cur.execute("INSERT INTO u8 VALUES (_utf8mb4 X'eda080')")  # surrogate U+D800: MariaDB takes it
