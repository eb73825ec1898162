"""The connection sampler's panel and the burst key, against a real TCP server on
loopback, live rounds on a fake clock; and the paged sparklines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.binding import Binding

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.model import to_jsonable
from probes.core.redact import Redactor
from probes.core.target import parse_target
from probes.proto.burst import DEFAULT_BURST
from probes.proto.sampler import SamplerData, probe_connections
from probes.record.revive import revive
from probes.run.plans import SYMPTOM_IDS
from tests.live_fakes import SteppingClock
from tests.tui.helpers import until
from tui.app import NetmedicApp
from tui.args import LivePace
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.panels.connections import ConnectionsPanel
from tui.widgets.panels.spark import page


def test_page_fills_left_to_right_then_starts_over() -> None:
    assert page([1, 2, 3], 3, 5) == [1, 2, 3]  # first page filling
    ring = list(range(1, 61))  # 60 kept, 60 taken
    assert page(ring, 60, 10) == list(range(51, 61))  # page full
    assert page([*ring[1:], 61], 61, 10) == [61]  # a fresh page: one sample
    assert page([*ring[2:], 61, 62], 62, 10) == [61, 62]  # one cell more, nothing shifts


@pytest.mark.asyncio
async def test_connections_panel_and_burst_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rounds come as fast as the test steps the clock: repaint each one.
    monkeypatch.setattr(DiagnosisScreen, "LIVE_REPAINT_S", 0.0)
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    clock = SteppingClock()
    app = NetmedicApp(
        parse_target(f"127.0.0.1:{port}"),
        "intermittent",
        config=ProbeConfig(timeout=2.0),
        live_pace=LivePace(window=20),
        plans={s: ("connections",) for s in SYMPTOM_IDS},
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=True,
        pace_clock=clock,
    )
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, DiagnosisScreen)
            panel = screen._panels["connections"]
            assert isinstance(panel, ConnectionsPanel)

            def sent() -> int:
                data = panel.result.data if panel.result is not None else None
                return data.sent if isinstance(data, SamplerData) else 0

            for n in range(1, 6):
                await until(lambda: clock.sleepers > 0)
                clock.advance(1.0)
                await until(lambda n=n: sent() >= n)  # type: ignore[misc]
            await pilot.pause(0.3)
            lines = [strip.text for strip in panel._strips]
            text = "\n".join(lines)
            assert "100% ok" in text and "failures: none" in text
            assert "connect" in text and "p95" in text and "first byte" in text
            # The key is offered, with its id and tooltip, in the footer.
            binding = next(b for b in screen.BINDINGS if getattr(b, "id", "") == "diag.burst")
            assert isinstance(binding, Binding) and binding.key == "b" and binding.tooltip
            assert screen.check_action("burst", ()) is True

            # b asks the live run for a burst: a panel of its own, a result like any other.
            await pilot.press("b")
            await until(lambda: "burst" in screen._panels)
            burst_panel = screen._panels["burst"]
            await until(lambda: burst_panel.result is not None and burst_panel.result.final)
            await pilot.pause(0.3)
            text = "\n".join(strip.text for strip in burst_panel._strips)
            assert f"{DEFAULT_BURST}/{DEFAULT_BURST} held at once" in text
            assert "no limit reached" in text
            assert (
                burst_panel.tooltip == f"added: asked for: {DEFAULT_BURST} connections at once (b)"
            )
    finally:
        server.close()
        for writer in held:
            writer.close()


@pytest.mark.asyncio
async def test_sampler_data_survives_the_journal() -> None:
    """What a resumed session draws in the panel: the real sampler's data, as JSON."""
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ctx = ProbeContext(
            parse_target(f"127.0.0.1:{port}"),
            ProbeConfig(timeout=1.0, sample_interval=0.05, sample_duration=0.3),
        )
        results = [r async for r in probe_connections(ctx)]
    finally:
        server.close()
    data = results[-1].data
    assert isinstance(data, SamplerData) and data.sent
    stored = json.loads(json.dumps(Redactor().json(to_jsonable(data))))
    back = revive(SamplerData, stored)
    assert to_jsonable(back) == to_jsonable(data)
