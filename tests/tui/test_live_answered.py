"""A live probe that answered is answered: the banner's progress moves with it, and the
live verdict is the diagnosis of the evidence so far (issue 22)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.run.plans import SYMPTOM_IDS
from tests.live_fakes import SteppingClock
from tests.tui.helpers import until
from tui.app import NetmedicApp
from tui.args import LivePace
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.verdict import VerdictBanner


@pytest.mark.asyncio
async def test_the_sampler_answers_at_its_first_connection(tmp_path: Path) -> None:
    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = SteppingClock()  # no second round unless the test steps it
    app = NetmedicApp(
        parse_target(f"127.0.0.1:{port}"),
        "intermittent",
        config=ProbeConfig(timeout=2.0),
        live_pace=LivePace(window=20),
        plans={s: ("dns", "connections") for s in SYMPTOM_IDS},
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
            banner = screen.query_one(VerdictBanner)
            await until(lambda: "connections" in screen._answered and "dns" in screen._answered)
            await pilot.pause(0.2)
            text = str(banner.render())
            assert "probes finished" not in text and "probing" not in text, text
            assert banner.has_class("-ok"), text  # one round, nothing wrong: the verdict so far
    finally:
        server.close()
        await server.wait_closed()
