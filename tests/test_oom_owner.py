"""An OOM kill next to a dead service is the verdict when the killed process is the
one an earlier check saw serving the port (the journal keeps its pid, name and unit),
whatever its name; an unrelated kill stays info.

The kernel log is injected through ``read_oom`` (the seam in probes/host/local.py,
as in test_oom_verdict.py); the server, its death, the sockets and journals are real.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.host import local
from probes.host.system import OomReport, parse_oom_records
from tests.truth_helpers import check, expect, finding

SERVER = (
    "import socket, time\n"
    "s = socket.create_server(('127.0.0.1', 0))\n"
    "print(s.getsockname()[1], flush=True)\n"
    "time.sleep(120)\n"
)


def _report(name: str = "", pid: int = 0, age_s: float = 0.0) -> OomReport:
    records = []
    if name:
        usec = int((time.monotonic() - age_s) * 1e6)
        records = [
            f"6,11,{usec},-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
            f"mems_allowed=0,global_oom,task_memcg=/user.slice,task={name},pid={pid},uid=0\n",
            f"3,12,{usec},-;Out of memory: Killed process {pid} ({name}) total-vm:900000kB, "
            "anon-rss:610000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1320kB "
            "oom_score_adj:0\n",
        ]
    return OomReport(True, "test", parse_oom_records(records, time.monotonic()), len(records))


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[OomReport]:
    reports = [_report()]
    monkeypatch.setattr(local, "read_oom", lambda: reports[-1])
    return reports


@pytest.fixture
def served_then_killed(
    log: list[OomReport], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, int, str]]:
    """A server checked once while it served (journaled), then SIGKILLed: (port, pid, comm)."""
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        comm = Path(f"/proc/{server.pid}/comm").read_text().strip()
        code, doc = check(capsys, monkeypatch, f"127.0.0.1:{port}")
        assert doc["verdict"] == "ok" and code == 0
        server.kill()
        server.wait()
        yield port, server.pid, comm
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_kill_of_the_earlier_owner_is_the_verdict(
    served_then_killed: tuple[int, int, str],
    log: list[OomReport],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, pid, comm = served_then_killed
    log.append(_report(comm, pid, 90))
    code, doc = check(capsys, monkeypatch, f"127.0.0.1:{port}", "--symptom", "service-down")
    f = expect(code, doc, "system.oom_killed", "error", 1, port=port)
    assert f"pid {pid}" in f["title"]
    assert any("an earlier check saw" in line for line in f["evidence"])


def test_an_unrelated_kill_stays_info(
    served_then_killed: tuple[int, int, str],
    log: list[OomReport],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, pid, _comm = served_then_killed
    log.append(_report("stress-ng-vm", pid + 100_000, 90))
    code, doc = check(capsys, monkeypatch, f"127.0.0.1:{port}", "--symptom", "service-down")
    assert doc["verdict"] != "system.oom_killed" and code == 1
    assert finding(doc, "system.oom_killed")["severity"] == "info"
