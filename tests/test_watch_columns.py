"""``netmedic watch`` (issue 26): columns that stay put from line to line, and a
Ctrl-C summary that carries the connection outcomes it watched (the reset rate)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe_helpers import icmp_unavailable_reason
from tests.servers.base import server_thread
from tests.servers.httpserver import every_other_reset
from tui.watch import Tick, _keep_order

REPO = Path(__file__).resolve().parents[1]


def _tick(n: int, loss: float, rates: dict[str, float], sent: int) -> Tick:
    tick = Tick(n, float(n), loss_pct=loss)
    tick.rtt_ms = {"min": 0.1, "avg": 12.5, "max": 130.0}
    tick.connections = {"sent": sent, "rates": rates}
    return tick


def test_columns_stay_put_when_an_outcome_overtakes_another() -> None:
    kinds: list[str] = []
    lines = []
    for n, loss, rates, sent in (
        (1, 0.0, {"ok": 100.0}, 1),
        (9, 12.5, {"ok": 60.0, "reset": 40.0}, 10),
        (10, 100.0, {"reset": 55.0, "ok": 45.0}, 11),  # the sampler reports by count
    ):
        tick = _tick(n, loss, rates, sent)
        _keep_order(tick, kinds)
        lines.append(tick.line())
    assert kinds == ["ok", "reset"]
    assert lines[2].index("ok ") < lines[2].index("reset ")  # first-seen order kept
    for column in ("loss", "rtt", "conn", "ok "):
        assert len({line.index(column) for line in lines}) == 1, (column, lines)


@pytest.fixture
def resetting_server() -> Iterator[int]:
    with server_thread() as servers:
        yield servers.serve(every_other_reset())


@pytest.mark.skipif(
    icmp_unavailable_reason() is not None,
    reason=f"ping would connect to the port and take every other reset: {icmp_unavailable_reason()}",
)
def test_ctrl_c_summary_carries_the_reset_rate(resetting_server: int, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
    args = ["watch", "--interval", "0.2", "--", f"http://127.0.0.1:{resetting_server}/"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "reset" in line and "ok" in line:  # both outcomes seen: Ctrl-C now
                break
        proc.send_signal(signal.SIGINT)
        rest, _err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    last = rest.strip().splitlines()[-1]
    assert last.startswith(f"watched 127.0.0.1:{resetting_server} for ")
    assert re.search(r"; connections (reset|ok) [\d.]+%, (reset|ok) [\d.]+%;", last), last
