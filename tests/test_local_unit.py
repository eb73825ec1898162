"""Local evidence without a namespace: sock_diag against /proc on real loopback
sockets, the parsers (kernel log, /proc/net/tcp), limits and redaction."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from probes.core.context import SELF_NAME
from probes.host import sockdiag
from probes.host.local import Listener, collect_local
from probes.host.procinfo import map_owners, read_fd_limits, redact_cmdline
from probes.host.sockdiag import LISTEN, parse_proc_net
from probes.host.system import _count_reserved, parse_oom_records


@pytest.fixture
def unaccepted() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    """A listener with backlog 7 and two connections it never accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(7)
    clients = [socket.create_connection(server.getsockname()) for _ in range(2)]
    yield server, clients
    for s in (*clients, server):
        s.close()


def _find(socks: list[sockdiag.Sock], port: int) -> sockdiag.Sock:
    return next(s for s in socks if s[2] == LISTEN and s[4] == port)


def test_netlink_gives_queue_and_backlog(
    unaccepted: tuple[socket.socket, list[socket.socket]],
) -> None:
    server, _ = unaccepted
    port = server.getsockname()[1]
    socks, source = sockdiag.collect()
    assert source == "netlink"
    listener = _find(socks, port)
    assert (listener[7], listener[8]) == (2, 7)  # accept queue 2 of backlog 7
    assert listener[10] != 0  # inode
    # /proc has the same sockets but no backlog
    proc = list(sockdiag._proc_all(True, False))
    from_proc = _find(proc, port)
    assert from_proc[:8] == listener[:8]
    assert from_proc[8] == -1
    established = {s[4] for s in socks if s[2] == sockdiag.ESTABLISHED and s[6] == port}
    assert len(established) == 2


def test_collect_local_names_the_owner(
    unaccepted: tuple[socket.socket, list[socket.socket]],
) -> None:
    server, _ = unaccepted
    port = server.getsockname()[1]
    data = collect_local(("127.0.0.1",), port)
    assert data.target.local
    (listener,) = data.target.tcp_listeners
    assert (listener.queue, listener.backlog) == (2, 7)
    # A listener of netmedic's own (the demo's servers) is named as ours (issue 26: it
    # was skipped, and shown as "another PID namespace"); its client sockets are not.
    assert listener.pids == (os.getpid(),)
    assert listener.process == SELF_NAME
    assert data.process(os.getpid()) is not None
    assert data.process(os.getpid()).name == SELF_NAME  # type: ignore[union-attr]
    assert data.target.server is not None
    assert data.target.server.count("ESTABLISHED") == 2
    assert data.target.clients[0].count("ESTABLISHED") == 2


def test_owner_walk_finds_another_process() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, socket, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "print(os.fstat(s.fileno()).st_ino, flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        inode = int(child.stdout.readline())
        owners = map_owners([inode])
        assert owners.owners[inode] == [child.pid]
        assert owners.names[child.pid].startswith("python")
    finally:
        child.kill()
        child.wait()
        if child.stdout:
            child.stdout.close()


def test_listener_accepts() -> None:
    def make(address: str, family: int, v6only: bool = False) -> Listener:
        return Listener("tcp", family, address, 80, 0, 128, 0, (), v6only=v6only)

    assert make("0.0.0.0", 4).accepts("10.0.0.1")
    assert not make("0.0.0.0", 4).accepts("::1")
    assert make("127.0.0.1", 4).accepts("127.0.0.1")
    assert not make("127.0.0.1", 4).accepts("127.0.0.2")
    assert make("::", 6).accepts("10.0.0.1")  # dual stack
    assert not make("::", 6, v6only=True).accepts("10.0.0.1")
    assert make("::1", 6).accepts("::1") and not make("::1", 6).accepts("127.0.0.1")
    assert make("::", 6).accepts("::ffff:10.0.0.1")


def test_parse_proc_net_tcp6_mapped_and_listener() -> None:
    text = (
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 4242 1\n"
        "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 08 00000000:00000000 00:00000000 00000000  1000        0 4343 1\n"
    )
    listener, conn = list(parse_proc_net(text, "tcp", 6))
    assert listener[:9] == ("tcp", 6, LISTEN, "::", 8080, "::", 0, 3, -1)
    assert conn[1:7] == (4, sockdiag.CLOSE_WAIT, "127.0.0.1", 8080, "127.0.0.1", 54321)
    assert (conn[9], conn[10]) == (1000, 4343)


def test_parse_oom_records() -> None:
    records = [
        "6,423,4390507972,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
        "mems_allowed=0,oom_memcg=/system.slice/redis-server.service,"
        "task_memcg=/system.slice/redis-server.service,task=redis-server,pid=812,uid=109\n",
        "3,424,4390507996,-;Memory cgroup out of memory: Killed process 812 (redis-server) "
        "total-vm:49544kB, anon-rss:39680kB, file-rss:6680kB, shmem-rss:0kB, UID:109 "
        "pgtables:132kB oom_score_adj:0\n SUBSYSTEM=x\n",
        "3,500,4400000000,-;Out of memory: Killed process 99 (java) total-vm:1kB, "
        "anon-rss:2048kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n",
        "6,501,4400000001,-;unrelated: skill issue\n",
    ]
    kills = parse_oom_records(records, now_monotonic=4500.0)
    assert [k.name for k in kills] == ["java", "redis-server"]  # newest first
    redis = kills[1]
    assert (redis.pid, redis.uid, redis.anon_rss_kb) == (812, 109, 39680)
    assert redis.cgroup_limit and not kills[0].cgroup_limit
    assert redis.unit == "redis-server.service"
    assert 109 < redis.age_s < 110


def test_fd_limits_and_reserved_ports() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expect = tuple(0 if v == resource.RLIM_INFINITY else v for v in (soft, hard))
    assert read_fd_limits(os.getpid()) == expect
    assert read_fd_limits(2**22 + 12345) == (-1, -1)
    assert _count_reserved("8080,40000-40009,70000", 32768, 60999) == 10


def test_redact_cmdline() -> None:
    line = "app --db-password=hunter2 --token abc postgres://u:pw@db/x --port 5"
    out = redact_cmdline(line)
    assert "hunter2" not in out and "abc" not in out and "pw@" not in out
    # Every argument after a secret option is hidden; later option names stay.
    assert out.startswith("app --db-password=*** --token *** ***") and "--port ***" in out


def test_proc_fallback_when_netlink_is_unavailable(
    unaccepted: tuple[socket.socket, list[socket.socket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_netlink(tcp: bool, udp: bool) -> Iterator[sockdiag.Sock]:
        raise sockdiag.DiagUnavailable(1, "netlink sock_diag: Operation not permitted")

    monkeypatch.setattr(sockdiag, "_netlink_all", no_netlink)
    server, _ = unaccepted
    port = server.getsockname()[1]
    data = collect_local(("127.0.0.1",), port)
    assert data.source == "proc"
    (listener,) = data.target.tcp_listeners
    assert (listener.queue, listener.backlog) == (2, -1)  # queue known, backlog not


def test_backlog_rule_needs_a_known_backlog(
    unaccepted: tuple[socket.socket, list[socket.socket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from probes.core.model import ProbeResult, Status
    from probes.core.target import parse_target
    from probes.diagnosis import diagnose

    server, _ = unaccepted
    port = server.getsockname()[1]
    target = parse_target(f"127.0.0.1:{port}")
    data = collect_local(("127.0.0.1",), port)
    result = ProbeResult("local", Status.OK, 0.0, "", data)
    assert "tcp.backlog_full" not in [f.id for f in diagnose(target, {"local": result}).findings]
    server.listen(2)  # the same queue of 2 against a backlog of 2 is full
    data = collect_local(("127.0.0.1",), port)
    diagnosis = diagnose(target, {"local": ProbeResult("local", Status.OK, 0.0, "", data)})
    assert diagnosis.verdict == "tcp.backlog_full"
    assert "accept queue 2/2" in diagnosis.findings[0].title
