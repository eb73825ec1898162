"""A live run on a local target keeps the sockets panel current: connections opened
after the first look show up without a retest (a real listener on loopback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.host.local import LocalData
from probes.run.plans import SYMPTOM_IDS
from tests.live_fakes import SteppingClock
from tests.tui.helpers import until
from tui.app import NetmedicApp
from tui.screens.diagnosis import DiagnosisScreen


@pytest.mark.asyncio
async def test_sockets_panel_refreshes_in_a_live_run(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients: list[asyncio.StreamWriter] = []
    clock = SteppingClock()
    app = NetmedicApp(
        parse_target(f"127.0.0.1:{port}"),
        "too-many-connections",
        config=ProbeConfig(timeout=10.0),  # a process walk on a busy test machine
        plans={s: ("local", "connections") for s in SYMPTOM_IDS},
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=True,
        pace_clock=clock,
    )
    try:
        async with app.run_test(size=(120, 40)):
            screen = app.screen
            assert isinstance(screen, DiagnosisScreen)
            panel = screen._panels["local"]

            def server_total() -> int:
                data = panel.result.data if panel.result is not None else None
                if not isinstance(data, LocalData) or data.target.server is None:
                    return -1
                return data.target.server.total

            def looked() -> bool:
                return panel.result is not None and isinstance(panel.result.data, LocalData)

            # The first look walks every process: give a busy machine time (not a speed test).
            # It may see no server-side socket on the port yet (server None): the sampler's
            # first connection races it, so count from what it saw, 0 or more.
            await until(looked, tries=3000)
            before = max(server_total(), 0)
            for _ in range(5):
                clients.append((await asyncio.open_connection("127.0.0.1", port))[1])
            clock.advance(ProbeConfig().local_interval)  # the run looks again
            await until(lambda: server_total() >= before + 5, tries=3000)
            assert not screen.finished
    finally:
        for writer in (*clients, *held):
            writer.close()
        server.close()
