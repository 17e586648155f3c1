"""The ./dev cluster itself: replication, faults, grants, env file, Kafka.

Each test names the property of the dev contract (spec §2) it checks.
"""

import time
import uuid

import pymysql
import pytest

import skiputil
from conftest import status, wait_until
from skiputil import broker_name, kafka_partitions
from skiputil import kcat as kcat_cluster

SCRATCH_DB = "skipstore_devtest"   # admin-only scratch schema; replicates like any other
ENV_KEYS = [
    "SKIP_URL", "SKIP_PORT_BASE", "SKIP_RUN_DIR", "SKIP_GROUPS", "SKIP_DB_NAME",
    "SKIP_DB_USER", "SKIP_DB_PASSWORD", "SKIP_DB_ADMIN_USER", "SKIP_DB_ADMIN_PASSWORD",
    "SKIP_MERCHANT_DB", "SKIP_MERCHANT_DB_NAME", "SKIP_REDIS", "SKIP_KAFKA",
    "SKIP_KAFKA_TOPIC", "SKIP_CONFIG", "SKIP_BUILD_DIR", "SKIP_KEYS", "SKIP_DAEMON_URLS",
    "SKIP_LB_SOCKET",
    "SKIP_KAFKA_BROKERS", "SKIP_KAFKA_MODE", "SKIP_KAFKA_TLS", "SKIP_KAFKA_CLIENT_CONF",
]


def groups(env):
    return [int(g) for g in env["SKIP_GROUPS"].split()]


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def one(conn, sql, args=None):
    rows = query(conn, sql, args)
    return rows[0] if rows else None


def slave_status(conn):
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SHOW SLAVE STATUS")
        return cur.fetchone()


def semi_sync_clients(conn):
    return int(one(conn, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")[1])


def write_scratch(conn, value):
    query(conn, "CREATE DATABASE IF NOT EXISTS %s" % SCRATCH_DB)
    query(conn, "CREATE TABLE IF NOT EXISTS %s.kv (k VARCHAR(64) PRIMARY KEY, v VARCHAR(255))"
          % SCRATCH_DB)
    query(conn, "INSERT INTO %s.kv (k, v) VALUES (%%s, %%s)" % SCRATCH_DB, (value, value))


def read_scratch(conn, value):
    try:
        return one(conn, "SELECT v FROM %s.kv WHERE k=%%s" % SCRATCH_DB, (value,))
    except pymysql.err.ProgrammingError:  # database/table not replicated yet
        return None


def kafka_brokers(env):
    """[(broker id, "host:port", ./dev component name)] of the cluster."""
    return [(i + 1, hp, broker_name(env, i + 1)) for i, hp in enumerate(env["SKIP_KAFKA"].split(","))]


# ------------------------------------------------------------------ cluster shape


def test_status_lists_every_component_up(env):
    st = status()
    expected = []
    for g in groups(env):
        expected.append("g%d" % g)
        expected += ["g%dr%d" % (g, m + 1) for m in range(len(env["SKIP_G%d_REPLICAS" % g].split()))]
    expected += ["merchantdb", "redis", "lb"] + [name for _, _, name in kafka_brokers(env)]
    for name in expected:
        assert name in st, name
        assert st[name][2] == "up", (name, st[name])
        assert st[name][0], name
    base = int(env["SKIP_PORT_BASE"])
    assert st["lb"][1] == "127.0.0.1:%d" % base
    ndaemons = len(env["SKIP_DAEMON_URLS"].split())
    for n in range(1, ndaemons + 1):
        assert st["daemon%d" % n][1] == "127.0.0.1:%d" % (base + 130 + n)
    for name in ["daemon%d" % n for n in range(1, ndaemons + 1)] + ["mirror"]:
        assert st[name][2] in ("up", "absent"), (name, st[name])


def test_primaries_have_semi_sync_with_a_replica_attached(env, db):
    for g in groups(env):
        c = db(g)
        assert one(c, "SELECT @@global.rpl_semi_sync_master_enabled")[0] == 1
        assert one(c, "SELECT @@global.rpl_semi_sync_master_timeout")[0] <= 500
        assert one(c, "SELECT @@global.read_only")[0] == 0
        assert one(c, "SELECT @@global.gtid_strict_mode")[0] == 1
        wait_until(lambda: semi_sync_clients(c) >= 1, timeout=10,
                   msg="g%d Rpl_semi_sync_master_clients >= 1" % g)


def test_replicas_replicate_with_gtid_and_are_read_only(env, db):
    for g in groups(env):
        for m in range(1, len(env["SKIP_G%d_REPLICAS" % g].split()) + 1):
            c = db(g, "replica", replica=m)
            s = wait_until(lambda: (lambda s: s if s and s["Slave_IO_Running"] == "Yes" else None)(
                slave_status(c)), timeout=10, msg="g%dr%d IO thread" % (g, m))
            assert s["Slave_SQL_Running"] == "Yes", s
            assert s["Using_Gtid"] == "Slave_Pos", s
            assert s["Master_Port"] == int(env["SKIP_G%d_PRIMARY" % g].rsplit(":", 1)[1])
            assert one(c, "SELECT @@global.read_only")[0] == 1
            assert one(c, "SELECT COUNT(*) FROM skipstore.heartbeat")[0] >= 1  # schema replicated


def test_row_written_on_primary_appears_on_replica(env, db):
    for g in groups(env):
        key = "repl-%d-%s" % (g, uuid.uuid4().hex[:12])
        write_scratch(db(g), key)
        r = db(g, "replica")
        assert wait_until(lambda: read_scratch(r, key), timeout=10, msg="row on g%d replica" % g)


def test_app_user_has_only_dml_grants(env, db, merchant_db):
    for c in (db(1, user="app"), db(1, "replica", user="app"), merchant_db(user="app")):
        grants = " ".join(r[0] for r in query(c, "SHOW GRANTS")).upper()
        assert "SUPER" not in grants, grants
        assert "READ_ONLY ADMIN" not in grants, grants
        assert "ALL PRIVILEGES" not in grants, grants
        assert "GRANT SELECT, INSERT, UPDATE, DELETE ON `SKIPSTORE`.*" in grants, grants
        with pytest.raises(pymysql.err.OperationalError):
            query(c, "SET GLOBAL read_only=0")


def test_no_anonymous_users(env, db):
    for g in groups(env):
        assert one(db(g), "SELECT COUNT(*) FROM mysql.user WHERE User=''")[0] == 0


def test_merchant_store_schema(env, merchant_db):
    c = merchant_db(user="app")
    assert one(c, "SELECT COUNT(*) FROM merchant_orders")[0] >= 0
    assert one(c, "SELECT MAX(version) FROM schema_version")[0] >= 1


# ------------------------------------------------------------------ faults


def test_fault_readonly_blocks_app_writes_and_writable_restores(env, db, dev):
    heartbeat = "UPDATE heartbeat SET ts=NOW(3) WHERE id=1"
    dev("fault", "g2", "readonly")
    c = db(2, user="app")
    with pytest.raises(pymysql.err.OperationalError) as ei:
        query(c, heartbeat)
    assert ei.value.args[0] == 1290, ei.value
    st = status()
    assert st["g2"][2] == "up"  # read-only is not "down"
    dev("fault", "g2", "writable")
    query(c, heartbeat)  # no error


def test_fault_kill_then_start_keeps_data_and_replication(env, db, dev):
    key = "kill-%s" % uuid.uuid4().hex[:12]
    write_scratch(db(1), key)  # semi-sync: acknowledged by the replica too
    pid_before = status()["g1"][0]
    dev("fault", "g1", "kill")
    st = status()
    assert st["g1"][2] == "down", st["g1"]
    assert st["g1"][0] is None
    with pytest.raises(pymysql.err.OperationalError):
        db(1)
    dev("fault", "g1", "start")
    st = status()
    assert st["g1"][2] == "up"
    assert st["g1"][0] != pid_before
    c = db(1)
    assert read_scratch(c, key) == (key,)
    # the replica reconnects by itself and semi-sync is back on
    wait_until(lambda: semi_sync_clients(c) >= 1, timeout=15, msg="g1 semi-sync client back")
    key2 = "after-%s" % uuid.uuid4().hex[:12]
    write_scratch(c, key2)
    r = db(1, "replica")
    wait_until(lambda: read_scratch(r, key2), timeout=10, msg="replication after restart")


def test_fault_kill_start_replica(env, db, dev):
    dev("fault", "g3r1", "kill")
    assert status()["g3r1"][2] == "down"
    # the primary still commits: semi-sync degrades to async after its short timeout
    p = db(3)
    t0 = time.monotonic()
    key = "norepl-%s" % uuid.uuid4().hex[:12]
    write_scratch(p, key)
    assert time.monotonic() - t0 < 2.0
    dev("fault", "g3r1", "start")
    assert status()["g3r1"][2] == "up"
    r = db(3, "replica")
    wait_until(lambda: read_scratch(r, key), timeout=15, msg="replica catches up")


def test_fault_stop_shows_stopped_and_cont_resumes(env, db, dev):
    dev("fault", "g2r1", "stop")
    assert status()["g2r1"][2] == "stopped"
    dev("fault", "g2r1", "cont")
    assert status()["g2r1"][2] == "up"
    one(db(2, "replica"), "SELECT 1")


def test_fault_redis_kill_start(env, dev):
    dev("fault", "redis", "kill")
    assert status()["redis"][2] == "down"
    dev("fault", "redis", "start")
    assert skiputil.redis_client(env).ping()


def test_fault_rejects_bad_target_and_action(dev):
    for args in (("g42", "kill"), ("g1", "explode"), ("redis", "readonly"), ("g1",)):
        p = dev("fault", *args, check=False)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.strip()


# ------------------------------------------------------------------ env file, idempotent up


def test_env_file_has_every_key(env):
    for k in ENV_KEYS:
        assert k in env, k
    base = int(env["SKIP_PORT_BASE"])
    assert env["SKIP_URL"] == "http://127.0.0.1:%d" % base   # HAProxy
    urls = env["SKIP_DAEMON_URLS"].split()
    assert len(urls) >= 1
    assert urls == ["http://127.0.0.1:%d" % (base + 130 + n) for n in range(1, len(urls) + 1)]
    assert env["SKIP_REDIS"] == "127.0.0.1:%d" % (base + 1)
    nb = int(env["SKIP_KAFKA_BROKERS"])
    assert nb in (1, 3)
    assert env["SKIP_KAFKA"] == ",".join("127.0.0.1:%d" % (base + 1 + i) for i in range(1, nb + 1))
    assert env["SKIP_MERCHANT_DB"] == "127.0.0.1:%d" % (base + 5)
    assert env["SKIP_DB_NAME"] == "skipstore"
    assert env["SKIP_MERCHANT_DB_NAME"] == "skipstore_merchant"
    assert env["SKIP_KAFKA_TOPIC"] == "skipstore.orders"
    for g in groups(env):
        assert env["SKIP_G%d_PRIMARY" % g] == "127.0.0.1:%d" % (base + 10 * g)
        reps = env["SKIP_G%d_REPLICAS" % g].split()
        assert reps and reps[0] == "127.0.0.1:%d" % (base + 10 * g + 1)


def test_up_again_is_harmless(dev):
    before = {n: s[0] for n, s in status().items()}
    p = dev("up", "--no-build")
    assert p.stdout.strip().splitlines()[-1] == "ready"
    after = {n: s[0] for n, s in status().items()}
    assert after == before


def test_config_is_generated_from_ports(env):
    # one file for every ./dev daemon; node_id and listen in it are daemon1's (each
    # daemon gets its own on the command line)
    text = open(env["SKIP_CONFIG"]).read()
    assert 'listen: "127.0.0.1:%d"' % (int(env["SKIP_PORT_BASE"]) + 131) in text
    assert "node_id: 1\n" in text
    for g in groups(env):
        assert 'primary: "%s"' % env["SKIP_G%d_PRIMARY" % g] in text
    assert 'brokers: "%s"' % env["SKIP_KAFKA"] in text


# ------------------------------------------------------------------ kafka


def test_kafka_answers_metadata(env):
    """Every broker of SKIP_KAFKA is in the metadata, the topic has the 4 partitions the
    mirror expects, each replicated on every broker and led by one."""
    p = kcat_cluster(env, "-L", "-m", "10", "-t", env["SKIP_KAFKA_TOPIC"])
    assert p.returncode == 0, p.stderr
    for i, hp, _ in kafka_brokers(env):
        assert "broker %d at %s" % (i, hp) in p.stdout, p.stdout
    assert 'topic "%s" with 4 partitions' % env["SKIP_KAFKA_TOPIC"] in p.stdout
    if env["SKIP_KAFKA_MODE"] == "apache":
        parts = kafka_partitions(env)
        n = len(kafka_brokers(env))
        assert len(parts) == 4 and all(len(m["replicas"]) == n and m["leader"] > 0 for m in parts.values()), parts


def test_kafka_produce_consume_round_trip(env):
    # A scratch topic (auto-created, shaped like the real one): junk on skipstore.orders
    # would reach the mirror's dead-letter table.
    topic = "skipstore.devtest"
    msg = "hello-%s" % uuid.uuid4().hex
    p = kcat_cluster(env, "-P", "-t", topic, "-p", "0", "-k", "k", stdin=msg + "\n")
    assert p.returncode == 0, p.stderr
    p = kcat_cluster(env, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%k %s\n")
    assert p.returncode == 0, p.stderr
    assert "k " + msg in p.stdout.splitlines()


def test_kafka_consumer_group_commits_offsets(env):
    topic = "skipstore.devtest.cg"
    group = "devtest-%s" % uuid.uuid4().hex[:8]
    consume = ["-G", group, "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000", "-e", "-f", "%s\n",
               topic]
    first, second = "first-%s" % uuid.uuid4().hex, "second-%s" % uuid.uuid4().hex
    assert kcat_cluster(env, "-P", "-t", topic, "-p", "0", stdin=first + "\n").returncode == 0
    p = kcat_cluster(env, *consume, timeout=40)
    assert first in p.stdout.split(), (p.stdout, p.stderr[-2000:])
    assert kcat_cluster(env, "-P", "-t", topic, "-p", "0", stdin=second + "\n").returncode == 0
    p = kcat_cluster(env, *consume, timeout=40)
    got = p.stdout.split()
    assert second in got and first not in got, (p.stdout, p.stderr[-2000:])


def test_kafka_stop_cont(env, dev):
    name = broker_name(env, 1)
    dev("fault", "kafka", "stop")  # "kafka" is broker 1 whatever the cluster's size
    assert status()[name][2] == "stopped"
    dev("fault", "kafka", "cont")
    assert status()[name][2] == "up"


def test_kafka_kill_start_keeps_its_data(env, dev):
    """Apache Kafka keeps its log on disk: a message acknowledged before a SIGKILL is
    there after `./dev fault kafka start` (the in-memory mock lost everything)."""
    if env["SKIP_KAFKA_MODE"] != "apache":
        pytest.skip("SKIP_KAFKA_MODE=%s: the mock broker keeps its data in memory" % env["SKIP_KAFKA_MODE"])
    topic = "skipstore.devtest.durable"
    msg = "durable-%s" % uuid.uuid4().hex
    p = kcat_cluster(env, "-P", "-t", topic, "-p", "0", "-X", "acks=all", stdin=msg + "\n")
    assert p.returncode == 0, p.stderr
    name = broker_name(env, 1)
    pid = status()[name][0]
    dev("fault", name, "kill")
    assert status()[name][2] == "down"
    dev("fault", name, "start")
    st = status()[name]
    assert st[2] == "up" and st[0] != pid, st
    p = kcat_cluster(env, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n", timeout=60)
    assert p.returncode == 0, p.stderr
    assert msg in p.stdout.split()


def test_fault_rejects_a_broker_the_cluster_does_not_have(env, dev):
    n = len(kafka_brokers(env))
    p = dev("fault", "kafka%d" % (n + 1) if n < 3 else "kafka4", "kill", check=False)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.strip()
