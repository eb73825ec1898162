"""RSS of the live diagnosis screen after 1 h of 1 Hz rounds vs after 1 min.

    python -m tests.bench.rss_live [ROUNDS]

The real ping and trace probes send through a scripted 4-hop path with loss
(tests/live_fakes.py) and a stepping clock paces the rounds, so an hour of rounds
takes minutes.  Prints both figures; the target is flat within 5 MB.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.path.ping import PingData
from probes.run.plans import SYMPTOM_IDS
from tests.live_fakes import FakePath, SteppingClock, install
from tui.app import NetmedicApp


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(100_000):
        if check():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError("the live round did not arrive")


async def _run(rounds: int, tmp: Path) -> tuple[int, int]:
    clock = SteppingClock()
    app = NetmedicApp(
        parse_target("192.0.2.10:443"),
        "intermittent",
        config=ProbeConfig(timeout=2.0, trace_max_ttl=8),
        plans={s: ("ping", "trace") for s in SYMPTOM_IDS},
        recent_path=tmp / "recent.json",
        export_dir=tmp,
        blink=False,
        privileged=True,
        pace_clock=clock,
    )
    at_minute = 0
    async with app.run_test(size=(120, 40)) as pilot:
        panels = app.screen._panels  # type: ignore[attr-defined]

        def sent() -> int:
            result = panels["ping"].result
            data = result.data if result else None
            return data.hosts[0].stats.sent if isinstance(data, PingData) else 0

        for n in range(1, rounds + 1):
            await _until(lambda: clock.sleepers > 0)
            clock.advance(1.0)
            await _until(lambda n=n: sent() >= n)  # type: ignore[misc]
            if n == 60:
                await pilot.pause(0.3)
                at_minute = _rss_kb()
        await pilot.pause(0.3)
        return at_minute, _rss_kb()


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3600
    patch = pytest.MonkeyPatch()
    try:
        install(patch, FakePath(hops=4, loss_from=3))
        with tempfile.TemporaryDirectory() as tmp:
            minute, end = asyncio.run(_run(rounds, Path(tmp)))
    finally:
        patch.undo()
    print(
        f"RSS after 60 rounds: {minute / 1024:.1f} MB; after {rounds} rounds: {end / 1024:.1f} MB;"
        f" growth {(end - minute) / 1024:+.1f} MB (target: within 5 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
