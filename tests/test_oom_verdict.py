"""OOM kills: the cause when they fit what stopped listening, context otherwise.

Kernel-log records are injected through ``read_oom``'s parser (the seam in
probes/host/system.py); the sockets, processes and TCP connects are real.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.model import Severity
from probes.host import local
from probes.host.system import OomReport, parse_oom_records
from tests.probe_helpers import finding, run


def kernel_log(name: str, pid: int, age_s: float, memcg: str = "/system.slice/x.service") -> None:
    usec = int((time.monotonic() - age_s) * 1e6)
    records = [
        f"4,10,{usec},-;memory: usage 65536kB, limit 65536kB, failcnt 12\n",
        f"6,11,{usec},-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
        f"mems_allowed=0,oom_memcg={memcg},task_memcg={memcg},task={name},pid={pid},uid=0\n",
        f"3,12,{usec},-;Memory cgroup out of memory: Killed process {pid} ({name}) "
        "total-vm:90000kB, anon-rss:61000kB, file-rss:0kB, shmem-rss:0kB, UID:0 "
        "pgtables:132kB oom_score_adj:0\n",
    ]
    report = OomReport(True, "test", parse_oom_records(records, time.monotonic()), 1)
    _INJECTED.append(report)


_INJECTED: list[OomReport] = []


@pytest.fixture(autouse=True)
def injected_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _INJECTED.clear()
    monkeypatch.setattr(local, "read_oom", lambda: _INJECTED[-1])
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_recent_kill_of_the_service_is_the_verdict() -> None:
    # memcached's port, nothing listening, memcached killed 20 s ago at its limit.
    kernel_log("memcached", 4242, 20, "/system.slice/memcached.service")
    _run, diagnosis = run("127.0.0.1:11211", ("tcp", "local"), symptom="service-down")
    assert diagnosis.verdict == "system.oom_killed"
    oom = finding(diagnosis, "system.oom_killed")
    assert oom.severity.value == "error"
    assert "memcached (pid 4242) 20 s ago at its 64 MiB cgroup limit" in oom.title
    text = "\n".join(oom.evidence)
    assert "exit code 137" in text and "nothing listens on port 11211 now" in text
    assert finding(diagnosis, "local.not_listening").rank > oom.rank


def test_old_or_unrelated_kill_with_nothing_listening_is_context() -> None:
    kernel_log("memcached", 4242, 5 * 3600)
    _run, diagnosis = run("127.0.0.1:11211", ("tcp", "local"))
    assert diagnosis.verdict == "local.not_listening"
    assert finding(diagnosis, "system.oom_killed").severity.value == "info"


def test_unrelated_kill_while_the_server_answers_is_not_the_verdict() -> None:
    # A python server answers on the port; another python (another pid) was
    # OOM-killed 76 s ago.
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        name = Path(f"/proc/{server.pid}/comm").read_text().strip()
        kernel_log(name, 999_999, 76)
        _run, diagnosis = run(f"127.0.0.1:{port}", ("tcp", "local"))
    finally:
        server.kill()
        server.wait()
    oom = finding(diagnosis, "system.oom_killed")
    assert oom.severity.value == "info"
    assert "explains nothing" in oom.title
    assert diagnosis.verdict == "ok"


SERVER = (
    "import socket, time\n"
    "s = socket.create_server(('127.0.0.1', 0))\n"
    "print(s.getsockname()[1], flush=True)\n"
    "time.sleep(60)\n"
)


def test_another_process_killed_while_the_server_answers_is_not_shown() -> None:
    """Issue 26: an unrelated OOM kill on a busy host must not appear in every run."""
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        kernel_log("chromium", 999_998, 30)
        _run, diagnosis = run(f"127.0.0.1:{port}", ("tcp", "local"))
    finally:
        server.kill()
        server.wait()
    assert "system.oom_killed" not in [f.id for f in diagnosis.findings]
    assert diagnosis.verdict == "ok"


def test_another_process_killed_when_the_service_is_known_is_not_shown() -> None:
    # memcached's port is down; a browser was killed: it is not memcached.
    kernel_log("chromium", 999_998, 30)
    _run, diagnosis = run("127.0.0.1:11211", ("tcp", "local"), symptom="refused")
    assert "system.oom_killed" not in [f.id for f in diagnosis.findings]
    assert diagnosis.verdict == "local.not_listening"


def test_another_process_killed_is_context_when_the_service_keeps_dying() -> None:
    # The person says the service keeps dying: a host killing processes for memory is
    # context (issue 24: an unrelated kill stays info), never the verdict.
    kernel_log("chromium", 999_998, 30)
    _run, diagnosis = run("127.0.0.1:11211", ("tcp", "local"), symptom="service-down")
    oom = [f for f in diagnosis.findings if f.id == "system.oom_killed"]
    assert [f.severity for f in oom] == [Severity.INFO]
    assert "none of them is the service's" in oom[0].title
    assert diagnosis.verdict == "local.not_listening"
