"""Readiness notification for systemd (Type=notify, issue 14; spec §12).

The tests play the service manager: they bind the unix datagram socket that
$NOTIFY_SOCKET names (abstract '@name' and a filesystem path are both used),
start a real skipstored / skipstore-mirror with it, and read what arrives.

  skipstored: READY=1 only once every group has a first probe result — a
  group whose primary is hung (SIGSTOP) must have a *failed* probe recorded
  before READY=1; RELOADING=1 then READY=1 around SIGHUP (also when the new
  file is bad: the old config stays and STATUS says so); STOPPING=1 on SIGTERM.
  skipstore-mirror: no READY=1 while the merchant store is unreachable; READY=1
  once it answers and the consumer group has assigned; STOPPING=1 on SIGTERM.
"""
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import run_dir, wait_until


class Notify:
    """A service manager's notify socket: collects datagrams."""

    def __init__(self, path=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:  # abstract namespace: '@' in the variable, NUL on the wire
            name = "skipstore-test-%s" % uuid.uuid4().hex[:12]
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.sock.bind(str(path))
            self.env = str(path)
        self.got = []

    def drain(self):
        """Everything that has arrived, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                self.got.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        return self.got

    def wait_for(self, prefix, timeout, proc=None, since=0):
        """Index of the first message (at or after `since`) starting with prefix."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(since, len(self.got)):
                if self.got[i].startswith(prefix):
                    return i
            if proc is not None and proc.poll() is not None:
                raise AssertionError("process exited (%s) before %r; got %r" % (proc.returncode, prefix, self.got))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r within %.0f s; got %r" % (prefix, timeout, self.got))
            self.sock.settimeout(min(left, 0.5))
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()


def fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


def test_daemon_ready_only_after_every_group_has_a_probe_result(env, dev, api, extra_daemon, monkeypatch):
    # group 2's primary hangs: its first probe can only end by timing out, so a
    # READY=1 sent before the probes finished would find no result for it
    n = Notify()
    monkeypatch.setenv("NOTIFY_SOCKET", n.env)
    dev("fault", "g2", "stop")
    try:
        d = extra_daemon(index=17, wait=False)
        i = n.wait_for("READY=1", timeout=30, proc=d)
        # right after READY=1 every group has a result, and group 2's failed
        r = api("GET", "/v1/groups", base=d.url, timeout=5)
        assert r.status == 200, r
        probes = {g["id"]: g["last_probe"] for g in r.json["groups"]}
        assert set(probes) == {int(g) for g in env["SKIP_GROUPS"].split()}
        missing = [gid for gid, p in probes.items() if not p or not p.get("at")]
        assert not missing, "READY=1 sent before groups %s were probed: %r" % (missing, probes)
        assert probes[2]["ok"] is False, probes[2]
        assert "serving" in fields(n.got[i]).get("STATUS", ""), n.got[i]
        # nothing before READY=1 claimed readiness
        assert not any(m.startswith("READY=1") for m in n.got[:i]), n.got
    finally:
        dev("fault", "g2", "cont")
        n.close()


def test_daemon_reload_and_stop_notifications(extra_daemon, monkeypatch, tmp_path):
    n = Notify(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", n.env)
    try:
        d = extra_daemon(index=18, wait=False)
        i = n.wait_for("READY=1", timeout=30, proc=d)

        # a good reload: RELOADING=1 (with the monotonic time systemd >= 253 wants), READY=1
        d.send_signal(signal.SIGHUP)
        j = n.wait_for("RELOADING=1", timeout=15, proc=d, since=i + 1)
        assert int(fields(n.got[j])["MONOTONIC_USEC"]) > 0, n.got[j]
        k = n.wait_for("READY=1", timeout=15, proc=d, since=j + 1)
        assert fields(n.got[k])["STATUS"] == "serving; reloaded", n.got[k]

        # a bad file: the reload ends (READY=1) and STATUS names the error
        good = Path(d.config).read_text()
        Path(d.config).write_text(good + "no_such_key: 1\n")
        d.send_signal(signal.SIGHUP)
        j = n.wait_for("RELOADING=1", timeout=15, proc=d, since=k + 1)
        k = n.wait_for("READY=1", timeout=15, proc=d, since=j + 1)
        status = fields(n.got[k])["STATUS"]
        assert status.startswith("serving; reload FAILED, old config kept:"), status
        assert "no_such_key" in status, status
        Path(d.config).write_text(good)

        d.send_signal(signal.SIGTERM)
        n.wait_for("STOPPING=1", timeout=15, since=k + 1)
        assert d.wait(timeout=30) == 0
    finally:
        n.close()


@pytest.fixture
def mirror_proc(env):
    procs = []

    def _start(notify_env):
        binary = Path(env["SKIP_BUILD_DIR"]) / "skipstore-mirror"
        if not binary.exists():
            pytest.skip("skipstore-mirror is not built")
        rd = run_dir() / "extra"
        rd.mkdir(parents=True, exist_ok=True)
        log = rd / "mirror-notify.log"
        log.write_bytes(b"")
        e = dict(os.environ, NOTIFY_SOCKET=notify_env)
        with open(log, "ab") as lf:
            p = subprocess.Popen([str(binary), "--config", env["SKIP_CONFIG"]], env=e, stdin=subprocess.DEVNULL,
                                 stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        p.log = log
        procs.append(p)
        return p

    yield _start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def test_mirror_ready_needs_the_merchant_store_and_an_assignment(dev, mirror_proc, tmp_path):
    n = Notify(tmp_path / "notify")
    try:
        dev("fault", "merchantdb", "stop")
        try:
            m = mirror_proc(n.env)
            # it tried the merchant store and failed: not ready, and says why
            wait_until(lambda: "event=mirror_not_ready reason=merchant_db_unreachable" in m.log.read_text(),
                       timeout=30, msg="the mirror's failed merchant-store check in %s" % m.log)
            assert m.poll() is None, m.log.read_text()
            assert not any(x.startswith("READY=1") for x in n.drain()), n.got
            assert any("merchant store unreachable" in fields(x).get("STATUS", "") for x in n.got), n.got
        finally:
            dev("fault", "merchantdb", "cont")
        i = n.wait_for("READY=1", timeout=90, proc=m)
        log = m.log.read_text()
        assert "event=mirror_assigned" in log, log
        assert "consuming" in fields(n.got[i]).get("STATUS", ""), n.got[i]

        m.send_signal(signal.SIGTERM)
        n.wait_for("STOPPING=1", timeout=15, since=i + 1)
        assert m.wait(timeout=60) == 0, m.log.read_text()
    finally:
        n.close()


def test_mirror_ignores_sighup(env, mirror_proc, tmp_path):
    # the unit has no ExecReload; a stray HUP (kill -HUP, systemctl kill) must
    # not end the mirror the way SIGHUP's default action would
    n = Notify(tmp_path / "notify")
    try:
        m = mirror_proc(n.env)
        i = n.wait_for("READY=1", timeout=90, proc=m)
        m.send_signal(signal.SIGHUP)
        m.send_signal(signal.SIGTERM)
        n.wait_for("STOPPING=1", timeout=15, since=i + 1)
        assert m.wait(timeout=60) == 0, m.log.read_text()
    finally:
        n.close()
