"""Live runs in the engine: rolling windows, pause, findings raised then cleared."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from probes.core.context import ProbeConfig, Resolution
from probes.core.events import DiagnosisUpdate, FindingChanged, ProbeUpdate
from probes.core.live import LiveControl
from probes.core.target import Target, parse_target
from probes.path.ping import PingData
from probes.path.trace import TraceData
from probes.run.runner import Run
from tests.live_fakes import FakePath, SteppingClock, install

LIVE = ProbeConfig(
    timeout=2.0,
    ping_interval=1.0,
    ping_duration=0,
    trace_interval=1.0,
    trace_duration=0,
    trace_max_ttl=8,
    live_window=20,
)


async def _resolve(target: Target, timeout: float) -> Resolution:
    return Resolution(("192.0.2.10",), 0.0)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _rounds(clock: SteppingClock, n: int) -> None:
    for _ in range(n):
        clock.advance(1.0)
        await asyncio.sleep(0.11)  # snapshots are published at most every 0.1 s


@pytest.mark.asyncio
async def test_live_run_raises_and_clears_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    path = FakePath(hops=4, ecmp_hop=2)
    install(monkeypatch, path)
    clock = SteppingClock()
    live = LiveControl(clock)
    recorded: list[object] = []
    run = Run(
        parse_target("192.0.2.10:443"),
        "intermittent",
        LIVE,
        plan=("ping", "trace"),
        system_resolver=_resolve,
        live=live,
        on_event=recorded.append,
    )
    seen: list[object] = []

    async def drive() -> None:
        async for event in run.events():
            seen.append(event)

    task = asyncio.create_task(drive())
    try:
        await _rounds(clock, 25)  # a clean first window
        ping = run.results["ping"].data
        assert isinstance(ping, PingData) and ping.answered
        assert ping.hosts[0].stats.loss_pct == 0
        trace = run.results["trace"].data
        assert isinstance(trace, TraceData)
        assert len(trace.hops[0].recent) <= LIVE.live_window  # bounded
        assert len(trace.hops[1].responders) == 2  # ECMP at hop 2
        assert run.diagnosis.verdict != "incomplete"
        assert not [e for e in seen if isinstance(e, FindingChanged)]

        path.loss_from = 3  # loss appears at hop 3 and carries on
        await _rounds(clock, 25)
        raised = [e for e in seen if isinstance(e, FindingChanged) and e.change == "raised"]
        assert "path.loss" in [e.finding_id for e in raised]
        loss = next(e for e in raised if e.finding_id == "path.loss")
        assert loss.window == LIVE.live_window and loss.at_s >= 0
        assert "hop 3" in loss.title and any("hop 3" in line for line in loss.evidence)

        path.loss_from = 0  # cleared: the window moves past the loss
        await _rounds(clock, LIVE.live_window + 5)
        cleared = [e for e in seen if isinstance(e, FindingChanged) and e.change == "cleared"]
        assert "path.loss" in [e.finding_id for e in cleared]
        episode = next(e for e in run.timeline.episodes if e.finding_id == "path.loss")
        assert episode.cleared_at_s is not None and episode.cleared_at_s >= episode.raised_at_s
        assert "path.loss" not in [f.id for f in run.diagnosis.findings]

        # Pause: no new rounds however much time passes; resume: rounds again.
        live.pause()
        await _rounds(clock, 2)
        before = path.sent
        await _rounds(clock, 10)
        assert path.sent == before
        live.resume()
        await _rounds(clock, 3)
        assert path.sent > before
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # The journal got the changes, not the packets.
    updates = [e for e in seen if isinstance(e, ProbeUpdate)]
    journaled = [e for e in recorded if isinstance(e, ProbeUpdate)]
    assert len(journaled) < len(updates) / 4
    assert any(isinstance(e, FindingChanged) for e in recorded)
    shown = [e for e in seen if isinstance(e, DiagnosisUpdate)]
    kept = [e for e in recorded if isinstance(e, DiagnosisUpdate)]
    assert len(kept) <= len(shown)


def test_windowed_stats_are_bounded() -> None:
    from probes.path.pathstats import window_stats

    stats = window_stats([0.01, None, 0.02, None])
    assert stats.sent == 4 and stats.received == 2 and stats.loss_pct == 50.0
    assert dataclasses.replace(stats).avg_s == pytest.approx(0.015)
