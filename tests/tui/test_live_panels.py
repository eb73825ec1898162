"""The live diagnosis screen: many 1 Hz rounds on a fake clock through the real ping
and trace probes (a scripted path behind them): rolling stats, pause/resume, and a
finding raised then cleared with "cleared at"."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from probes.core.context import ProbeConfig
from probes.core.model import Finding
from probes.core.target import parse_target
from probes.path.ping import PingData
from probes.path.trace import TraceData
from probes.run.plans import SYMPTOM_IDS
from tests.live_fakes import FakePath, SteppingClock, install
from tests.tui.helpers import until
from tui.app import NetmedicApp
from tui.args import LivePace
from tui.screens import diagnosis as diagnosis_screen
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.findings import FindingsList


def live_app(tmp_path: Path, clock: SteppingClock) -> NetmedicApp:
    """The live screen on ping and trace through the fake path, paced by *clock*."""
    return NetmedicApp(
        parse_target("192.0.2.10:443"),
        "intermittent",
        config=ProbeConfig(timeout=2.0, trace_max_ttl=8),
        live_pace=LivePace(window=20),
        plans={s: ("ping", "trace") for s in SYMPTOM_IDS},
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=True,
        pace_clock=clock,
    )


@pytest.mark.asyncio
async def test_live_panels_pause_and_finding_raised_then_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = FakePath(hops=4, ecmp_hop=2)
    install(monkeypatch, path)
    # Rounds come as fast as the test steps the clock: repaint each one.
    monkeypatch.setattr(DiagnosisScreen, "LIVE_REPAINT_S", 0.0)
    clock = SteppingClock()
    app = live_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)

        def rounds() -> int:
            result = screen._panels["ping"].result
            data = result.data if result else None
            return data.hosts[0].stats.sent if isinstance(data, PingData) else 0

        async def step(n: int) -> None:
            for _ in range(n):
                target = rounds() + 1
                clock.advance(1.0)
                await until(lambda t=target: rounds() >= t)  # type: ignore[misc]

        await until(lambda: clock.sleepers > 0)
        await step(25)
        await pilot.pause(0.3)
        status = str(screen.query_one("#live-status").render())
        assert "● live" in status and "trace: 4/4 hops answering" in status
        trace = screen._panels["trace"].result
        assert trace is not None and isinstance(trace.data, TraceData)
        assert len(trace.data.hops[1].responders) == 2  # ECMP shown
        assert not trace.final  # still running after 25 rounds

        path.loss_from = 3
        await step(25)
        await until(lambda: "path.loss" in [f.id for f in screen.diagnosis.findings])

        path.loss_from = 0
        await step(25)
        findings = screen.query_one(FindingsList)
        await until(lambda: any("path.loss cleared at" in c for c in findings.cleared))
        assert "path.loss" not in [f.id for f in screen.diagnosis.findings]

        # p pauses: time passes, no round is sent; p again resumes.
        await pilot.press("p")
        await pilot.pause(0.3)
        assert "paused" in str(screen.query_one("#live-status").render())
        sent = path.sent
        for _ in range(5):
            clock.advance(1.0)
            await pilot.pause(0.05)
        assert path.sent == sent
        await pilot.press("p")
        await step(2)
        assert path.sent > sent


@pytest.mark.asyncio
async def test_live_evidence_repaints_every_few_seconds_not_every_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = FakePath(hops=4, loss_from=3)
    install(monkeypatch, path)
    monkeypatch.setattr(DiagnosisScreen, "LIVE_REPAINT_S", 0.0)
    monkeypatch.setattr(diagnosis_screen, "EVIDENCE_EVERY_S", 1e9)  # never, until said
    clock = SteppingClock()
    app = live_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        evidence = screen.query_one("#evidence", Static)

        def shown() -> str:
            text = getattr(evidence, "_quiet_text", None)
            return text.plain if text is not None else ""

        def loss() -> Finding | None:
            return next((f for f in screen.diagnosis.findings if f.id == "path.loss"), None)

        await until(lambda: clock.sleepers > 0)
        for _ in range(40):
            clock.advance(1.0)
            await pilot.pause(0.02)
            if loss() is not None:
                break
        await until(lambda: "over the last" in shown())
        first = loss()
        assert first is not None and "%" not in first.title  # the figure is in the evidence
        painted = shown()
        for _ in range(5):  # the window moves: the figures in the evidence do
            clock.advance(1.0)
            await pilot.pause(0.05)
        latest = loss()
        assert latest is not None and latest.evidence != first.evidence
        assert shown() == painted  # a live finding's evidence waits for its period
        monkeypatch.setattr(diagnosis_screen, "EVIDENCE_EVERY_S", 0.0)
        await until(lambda: shown() != painted)  # the repaint timer shows the latest

        def shows_the_latest() -> bool:
            current = loss()  # a re-diagnosis may still land after the repaint: wait for it
            return current is not None and shown().startswith("• " + current.evidence[0])

        await until(shows_the_latest)
