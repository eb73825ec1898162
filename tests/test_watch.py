"""`netmedic watch` against loopback servers: resets, 503s, a closed port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.core.model import ProbeResult, Status
from probes.path.pathstats import window_stats
from probes.path.ping import PingData, PingHost, PingSample
from probes.record.session import load_session
from tests.probe_helpers import icmp_unavailable_reason
from tests.servers.base import Handler, server_thread
from tests.servers.httpserver import every_other_reset, status_by_count
from tui.report import render
from tui.watch import SoFar, crossed, tick

# These servers alternate per connection; without ICMP, ping falls back to TCP connects
# to the same port, which take every other connection and skew the sampler's rates.
needs_icmp = pytest.mark.skipif(
    icmp_unavailable_reason() is not None,
    reason=f"ping would connect to the port: {icmp_unavailable_reason()}",
)


@pytest.fixture
def resetting_server() -> Iterator[int]:
    """Every other connection is reset, the others get HTTP 200."""
    with server_thread() as servers:
        yield servers.serve(every_other_reset())


@needs_icmp
def test_watch_json_lines_carry_the_reset_rate(resetting_server: int, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "watch",
            "--json",
            "--interval",
            "0.2",
            "--count",
            "20",
            "--",
            f"http://127.0.0.1:{resetting_server}/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    ticks = [d for d in lines if "interval" in d and "connections" in d]
    assert len(ticks) == 20 and "summary" in lines[-1]
    last = ticks[-1]["connections"]
    assert last["sent"] >= 10
    assert 35 <= last["rates"].get("reset", 0) <= 65
    assert any(f["id"] == "tcp.reset_after_connect" for t in ticks for f in t["findings_raised"])
    journals = list((tmp_path / "state").rglob("*.jsonl"))
    assert journals and b'"type":"finding"' in journals[0].read_bytes()
    # Ending a watch is the live run's normal end: finished (stopped), not cut short.
    saved = load_session(None, tmp_path / "state" / "netmedic" / "sessions")
    assert saved.runs[-1].finished and saved.runs[-1].stopped
    assert "live, stopped after" in render(saved, "md")  # the report tells it so
    assert saved.runs[-1].verdict == "tcp.reset_after_connect"


def test_watch_exits_1_when_a_threshold_is_crossed(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "watch",
            "--interval",
            "0.2",
            "--count",
            "30",
            "--max-rtt",
            "0.000001",
            "--",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "CROSSED rtt" in out.stdout
    assert "watched 127.0.0.1" in out.stdout.splitlines()[-1]


@pytest.fixture
def flaky_503_server() -> Iterator[int]:
    """Every other request gets 503 Service Unavailable, the others 200."""
    with server_thread() as servers:
        yield servers.serve(status_by_count(lambda n: 503 if n % 2 == 0 else 200))


def _watch_json(target: str, tmp_path: Path, count: int = 20) -> list[dict[str, Any]]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "watch", "--json", "--interval", "0.2",
         "--count", str(count), "--", target],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def _raised(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for d in lines for f in d.get("findings_raised", ())}


@needs_icmp
def test_watch_raises_the_503s_the_sampler_sees(flaky_503_server: int, tmp_path: Path) -> None:
    lines = _watch_json(f"http://127.0.0.1:{flaky_503_server}/", tmp_path)
    ticks = [d for d in lines if "interval" in d]
    assert 35 <= ticks[-1]["connections"]["rates"].get("status 503", 0) <= 65
    assert "http.unavailable" in _raised(lines)
    assert ticks[-1]["verdict"] == "http.unavailable"


def test_watch_on_a_closed_port_raises_refused_not_unexplained(tmp_path: Path) -> None:
    """watch's plan has no tcp probe: the sampler's own refusals explain it."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    lines = _watch_json(f"127.0.0.1:{port}", tmp_path, count=12)
    raised = _raised(lines)
    assert "tcp.refused" in raised and "probe.unexplained" not in raised
    assert [d for d in lines if "interval" in d][-1]["verdict"] == "tcp.refused"


def _max_clients(limit: int) -> Handler:
    """Holds up to *limit* clients; the next ones are told so, as Redis does."""
    held: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(held) >= limit:
            writer.write(b"-ERR max number of clients reached\r\n")
            await writer.drain()
            return
        held.add(writer)
        try:
            while await reader.read(1024):
                pass
        finally:
            held.discard(writer)

    return handle


def test_watch_connections_bursts_and_says_where_the_service_refuses(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    with server_thread() as servers:
        port = servers.serve(_max_clients(4))
        out = subprocess.run(
            [sys.executable, "-m", "tui.cli", "watch", "--connections", "20", "--count", "3",
             "--interval", "0.3", "--", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    told = [line for line in lines if "BURST" in line]
    assert len(told) == 1, out.stdout  # on the interval it arrived in, once
    assert " of 20 connections opened and held at once" in told[0]
    assert "service error → the service's client limit" in told[0]
    assert lines[-1].endswith("verdict service.too_many_connections"), lines[-1]


def test_a_watch_killed_after_its_verdict_is_listed_stopped_not_incomplete(
    closed_port: int, tmp_path: Path
) -> None:
    """An SSH drop (here SIGKILL) after the live run reached its verdict: the session
    says the verdict and when it stopped; it is not listed incomplete."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", "--interval", "0.2", "--",
         f"127.0.0.1:{closed_port}"],
        stdout=subprocess.PIPE, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen = []
        for line in iter(proc.stdout.readline, b""):
            seen.append(line.decode())
            if "RAISED tcp.refused" in seen[-1] or len(seen) > 100:
                break
        proc.stdout.readline()  # one more interval: its diagnosis is journaled
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert any("RAISED tcp.refused" in line for line in seen), seen[-3:]
    listed = subprocess.run(
        [sys.executable, "-m", "tui.cli", "sessions"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    row = listed.stdout.splitlines()[-1]
    assert "tcp.refused (stopped " in row and "the session dropped" in row, row
    assert "incomplete" not in row
    saved = load_session(None, tmp_path / "state" / "netmedic" / "sessions")
    assert saved.runs[-1].complete and saved.runs[-1].verdict == "tcp.refused"
    assert "run 1 live: tcp.refused (stopped" in render(saved, "md")


def _ping_result(outcomes: list[float | None], window: int) -> ProbeResult:
    samples = tuple(PingSample(i, "reply" if r else "timeout", r) for i, r in enumerate(outcomes))
    host = PingHost("10.0.0.9", 4, "raw-icmp", window_stats(outcomes), samples)
    data = PingData("raw-icmp", True, "", 1.0, 84, (host,), window)
    return ProbeResult("ping", Status.OK, 1.0, "", data, final=False)


def test_each_interval_reports_its_own_pings_with_the_totals_beside() -> None:
    so_far = SoFar()
    first = tick(1, 1.0, {"ping": _ping_result([0.001] * 5, 4)}, [], [], "ok", so_far)
    assert first.pings == {"sent": 5, "lost": 0} and first.loss_pct == 0
    outcomes: list[float | None] = [0.001] * 5
    outcomes += [None, 0.003, None]
    second = tick(2, 2.0, {"ping": _ping_result(outcomes, 4)}, [], [], "ok", so_far)
    assert second.pings == {"sent": 3, "lost": 2} and second.loss_pct == 66.67
    assert second.totals["sent"] == 8 and second.totals["lost"] == 2
    assert second.totals["loss_pct"] == 25.0 and second.totals["window_loss_pct"] == 50.0
    assert second.rtt_ms["avg"] == 3.0  # this interval's one answer, not the run's average
    # Columns are padded to fixed widths (issue 26): the figures, not the spaces, are the point.
    assert re.search(r"loss +66.67% \(2/3\), total +25% \(2/8\), window +50%", second.line())
    assert crossed(second, 40, None) == ["loss 50% over the last 4 pings > 40%"]
    assert crossed(second, 50, None) == []
