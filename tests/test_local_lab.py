"""Issue 5, end to end: `netmedic check --json` inside a namespace where real
sockets play each local fault (loopback-only listener, full accept queue,
exhausted file descriptors, CLOSE_WAIT pile-up, SYN flood, ephemeral ports,
a port held by the wrong process), as root and as an unprivileged user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

ADDR = "10.9.0.1"  # this namespace's "external" address (on a veth)
OTHER = "10.9.0.5"  # a second local address (SYN-flood sources)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@dataclass
class Box:
    lab: Lab
    ns: str

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return self.lab.python(self.ns, "tests.lab.localserver", *args)

    def check(self, target: str, symptom: str = "refused", *, as_nobody: bool = False) -> Doc:
        prefix = NOBODY if as_nobody else []
        done = self.lab.run(
            self.ns,
            [
                *prefix,
                sys.executable,
                "-m",
                "tui.cli",
                "check",
                "--json",
                "--timeout",
                "1",
                "--symptom",
                symptom,
                target,
            ],
        )
        assert done.returncode in (0, 1), done.stderr
        doc = Doc(json.loads(done.stdout))
        assert doc.raw["schema"] == "netmedic.check/1"
        return doc


@dataclass
class Doc:
    raw: dict[str, Any]

    @property
    def verdict(self) -> str:
        return str(self.raw["verdict"])

    @property
    def ids(self) -> list[str]:
        return [f["id"] for f in self.raw["findings"]]

    def finding(self, fid: str) -> dict[str, Any]:
        for f in self.raw["findings"]:
            if f["id"] == fid:
                return dict(f)
        raise AssertionError(f"no {fid} in {self.ids}")

    def text(self, fid: str) -> str:
        f = self.finding(fid)
        return "\n".join([f["title"], *f["evidence"]])

    def commands(self, fid: str) -> list[str]:
        return [s["command"] for s in self.finding(fid)["next_steps"] if s["command"]]

    @property
    def local(self) -> dict[str, Any]:
        probe = next(p for p in self.raw["probes"] if p["probe"] == "local")
        assert probe["status"] == "ok", probe
        return dict(probe["data"])


@pytest.fixture
def box(lab: Lab) -> Iterator[Box]:
    ns = lab.add_host("box")
    lab.ns(ns, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    lab.ns(ns, "ip", "addr", "add", f"{ADDR}/24", "dev", "d0")
    lab.ns(ns, "ip", "addr", "add", f"{OTHER}/24", "dev", "d0")
    lab.ns(ns, "ip", "link", "set", "d1", "up")
    lab.ns(ns, "ip", "link", "set", "d0", "up")
    yield Box(lab, ns)


def test_loopback_only_listener(box: Box) -> None:
    server = box.start("--comm", "postgres", "hold", "127.0.0.1:5432")
    doc = box.check(f"{ADDR}:5432")
    assert doc.verdict == "local.loopback_only"
    assert "tcp.refused" in doc.ids  # corroborates, ranked below
    assert doc.ids.index("local.loopback_only") < doc.ids.index("tcp.refused")
    text = doc.text("local.loopback_only")
    assert "127.0.0.1:5432" in text
    assert f"postgres (pid {server.pid}" in text or "postgres (pid " in text
    assert "10.9.0.1" in text
    steps = " ".join(s["text"] for s in doc.finding("local.loopback_only")["next_steps"])
    assert "listen_addresses" in steps
    assert "ss -tlnp 'sport = :5432'" in doc.commands("local.loopback_only")
    view = doc.local["target"]
    assert view["local"] is True
    assert view["not_accepted_on"] == [ADDR]
    listener = view["listeners"][0]
    assert listener["address"] == "127.0.0.1" and listener["backlog"] == 128
    assert listener["process"] == "postgres"


def test_not_listening_points_at_what_is_near(box: Box) -> None:
    box.start("--comm", "redis-server", "hold", "127.0.0.1:6380")
    doc = box.check(f"{ADDR}:6379")
    assert doc.verdict == "local.not_listening"
    assert doc.ids.index("local.not_listening") < doc.ids.index("tcp.refused")
    text = doc.text("local.not_listening")
    assert "no TCP socket listens on port 6379" in text
    # the service that usually owns 6379 runs, on the port next door
    assert "redis-server (pid " in text and "listens on TCP 6380" in text
    assert "nearby: TCP 127.0.0.1:6380 ← redis-server" in text
    assert "ss -tlnp" in doc.commands("local.not_listening")


def test_listener_on_the_other_family(box: Box) -> None:
    box.start("hold", "[::1]:7000")
    doc = box.check("127.0.0.1:7000")
    assert doc.verdict == "local.bound_elsewhere"
    text = doc.text("local.bound_elsewhere")
    assert "[::1]:7000" in text
    assert "IPv6 only" in text and "IPv4" in text


def test_dnat_forwarded_port_is_not_reported_missing(box: Box) -> None:
    box.lab.nft(
        box.ns,
        "table ip nmfwd {\n chain output {\n  type nat hook output priority -100;\n"
        f"  ip daddr {ADDR} tcp dport 8888 dnat to {ADDR}:7700\n }}\n}}\n",
    )
    box.start("hold", f"{ADDR}:7700")
    doc = box.check(f"{ADDR}:8888")
    assert doc.verdict == "ok"
    assert "local.not_listening" not in doc.ids
    f = doc.finding("local.forwarded")
    assert f["severity"] == "info"
    assert "nft list ruleset | grep -n 'dport 8888'" in doc.commands("local.forwarded")


def test_full_accept_queue(box: Box) -> None:
    box.start("noaccept", f"{ADDR}:7100", "0", "3")
    doc = box.check(f"{ADDR}:7100", "too-many-connections")
    assert doc.verdict == "tcp.backlog_full"
    f = doc.finding("tcp.backlog_full")
    assert f["severity"] == "error"
    assert "accept queue 1/0" in f["title"]
    assert "SYNs are dropped while the queue is full" in doc.text("tcp.backlog_full")
    listener = doc.local["target"]["listeners"][0]
    assert (listener["queue"], listener["backlog"]) == (1, 0)
    assert doc.local["counters"]["ListenOverflows"] >= 1


def test_fd_limit_reached(box: Box) -> None:
    server = box.start("fdfill", f"{ADDR}:7200", "64")
    doc = box.check(f"{ADDR}:7200", "too-many-connections")
    assert doc.verdict == "local.fd_exhausted"
    f = doc.finding("local.fd_exhausted")
    assert f["severity"] == "error"
    assert f"(pid {server.pid}) has 64 of 64 open files" in f["title"]
    assert f"grep 'open files' /proc/{server.pid}/limits" in doc.commands("local.fd_exhausted")
    proc = next(p for p in doc.local["processes"] if p["pid"] == server.pid)
    assert (proc["open_files"], proc["fd_limit"]) == (64, 64)


def test_close_wait_pile_up(box: Box) -> None:
    server = box.start("closewait", f"{ADDR}:7300", "20")
    doc = box.check(f"{ADDR}:7300", "too-many-connections")
    assert doc.verdict == "local.close_wait"
    f = doc.finding("local.close_wait")
    assert f["title"].startswith("20 connections on port 7300 are stuck in CLOSE_WAIT")
    assert f"20 CLOSE_WAIT held by python (pid {server.pid})" in f["evidence"] or any(
        f"(pid {server.pid})" in e and e.startswith("20 CLOSE_WAIT") for e in f["evidence"]
    )
    server_load = doc.local["target"]["server"]
    states = {s["state"]: s["count"] for s in server_load["states"]}
    assert states["CLOSE_WAIT"] == 20
    assert "ss -tanp state close-wait '( sport = :7300 )'" in doc.commands("local.close_wait")


def test_syn_flood(box: Box) -> None:
    # The flood's SYN-ACKs never reach its clients, so they never ACK.
    box.lab.nft(
        box.ns,
        "table inet flood {\n chain input {\n  type filter hook input priority 0;\n"
        f"  ip daddr {OTHER} tcp sport 7400 tcp flags & (syn|ack) == syn|ack drop\n }}\n}}\n",
    )
    box.start("synflood", f"{ADDR}:7400", "16", "40", OTHER)
    doc = box.check(f"{ADDR}:7400", "too-many-connections")
    assert "local.syn_flood" in doc.ids
    text = doc.text("local.syn_flood")
    states = {s["state"]: s["count"] for s in doc.local["target"]["server"]["states"]}
    assert states["SYN_RECV"] >= 16
    assert f"{states['SYN_RECV']} half-open connections (SYN_RECV) on port 7400" in text
    assert f"top peers on the port: {OTHER}" in text
    assert "SyncookiesSent" in text


def test_ephemeral_ports_nearly_used_up(box: Box) -> None:
    box.lab.ns(box.ns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40049")
    box.start("clients", f"{ADDR}:7500", "45")
    doc = box.check(f"{ADDR}:7500", "too-many-connections")
    assert "local.ephemeral_exhausted" in doc.ids
    f = doc.finding("local.ephemeral_exhausted")
    used = doc.local["target"]["ephemeral"][0]["used"]
    assert 45 <= used <= 47  # the probe's own test connection may be counted
    assert f"{used} of 50 local ports from {ADDR} to {ADDR}:7500" in f["title"]
    assert "ephemeral range 40000-40049" in "\n".join(f["evidence"])


def test_port_held_by_unexpected_process(box: Box) -> None:
    holder = box.start("hold", f"{ADDR}:6379")
    doc = box.check(f"{ADDR}:6379")
    f = doc.finding("local.port_conflict")
    assert f["severity"] == "warning"
    assert f"held by python (pid {holder.pid}), not by redis" in f["title"]
    # With redis-server running but unable to bind, it is the cause.
    box.start("--comm", "redis-server", "idle")
    doc = box.check(f"{ADDR}:6379")
    assert doc.verdict == "local.port_conflict"
    assert "redis-server (pid " in doc.text("local.port_conflict")
    assert "cannot bind" in doc.text("local.port_conflict")


def test_unprivileged_run_says_to_use_sudo(box: Box) -> None:
    box.start("--comm", "postgres", "hold", "127.0.0.1:5432")
    doc = box.check(f"{ADDR}:5432", as_nobody=True)
    assert doc.local["privileged"] is False
    assert doc.local["owners_hidden"] is True
    assert doc.verdict == "local.loopback_only"
    text = doc.text("local.loopback_only")
    assert "run with sudo to see which process owns port 5432" in text
    assert "uid 0" in text
    assert "pid" not in text
    assert "sudo ss -tlnp 'sport = :5432'" in doc.commands("local.loopback_only")


def test_remote_target_client_side_close_wait(box: Box) -> None:
    """The target is elsewhere; this host's own client sockets are the problem."""
    far = box.lab.add_host("far")
    box.lab.link(box.ns, "e0", ["10.8.0.1/24"], far, "e0", ["10.8.0.2/24"])
    box.lab.python(far, "tests.lab.localserver", "hangup", "10.8.0.2:7600")
    client = box.start("--nofile", "16", "connect", "10.8.0.2:7600", "12")
    time.sleep(0.2)  # let the server's FINs arrive
    doc = box.check("10.8.0.2:7600", "too-many-connections")
    view = doc.local["target"]
    assert view["local"] is False
    assert "local.not_listening" not in doc.ids
    states = {s["state"]: s["count"] for s in view["clients"][0]["states"]}
    assert states["CLOSE_WAIT"] == 12
    f = doc.finding("local.close_wait")
    assert f["title"].startswith("12 connections to 10.8.0.2:7600 are stuck in CLOSE_WAIT")
    assert f"(pid {client.pid})" in f["title"]
    assert view["ephemeral"][0]["source"] == "10.8.0.1"
    assert view["ephemeral"][0]["used"] >= 12
    # ...and that client is at its own open-files limit
    fd = doc.finding("local.fd_exhausted")
    assert f"(pid {client.pid}) has 15 of 16 open files" in fd["title"]
    assert "is connected to 10.8.0.2:7600" in "\n".join(fd["evidence"])


def _memory_cgroup() -> Path | None:
    """A writable memory cgroup of this process (v2 or v1), or None."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
            if (base / "memory.max").exists() or "memory" in (
                base / "cgroup.subtree_control"
            ).read_text():
                return base
        if "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (base / "memory.limit_in_bytes").exists():
                return base
    return None


@pytest.fixture
def oom_cgroup() -> Iterator[tuple[Path, str]]:
    base = _memory_cgroup()
    if base is None:
        pytest.skip("no writable memory cgroup to provoke an OOM kill in")
    group = base / f"nmoom{os.getpid()}"
    group.mkdir()
    limit = "memory.max" if (group / "memory.max").exists() else "memory.limit_in_bytes"
    try:
        (group / limit).write_text(str(32 << 20))
        yield group, limit
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def test_service_oom_killed(box: Box, oom_cgroup: tuple[Path, str]) -> None:
    group, _limit = oom_cgroup
    victim = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ctypes, os, sys\n"
            "ctypes.CDLL(None).prctl(15, b'memcached', 0, 0, 0)\n"
            "open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
            "print(os.getpid(), flush=True)\n"
            "hog = []\n"
            "while True:\n"
            "    hog.append(bytearray(8 << 20))\n",
            str(group),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert victim.returncode == -9, victim.stderr
    pid = int(victim.stdout.split()[0])
    doc = box.check("127.0.0.1:11211", "service-down")
    assert doc.verdict == "system.oom_killed"
    f = doc.finding("system.oom_killed")
    assert f["severity"] == "error"
    assert f"the kernel OOM-killed memcached (pid {pid})" in f["title"]
    text = "\n".join(f["evidence"])
    assert "its memory cgroup limit ran out" in text
    assert "nothing listens on port 11211 now" in text
    assert group.name in text  # the cgroup named by the kernel's oom-kill line
    kill = next(k for k in doc.local["oom"]["kills"] if k["pid"] == pid)
    assert kill["age_s"] < 60
    # not_listening is still reported, ranked below the cause
    assert doc.ids.index("system.oom_killed") < doc.ids.index("local.not_listening")
