"""The TUI follows the evidence too: a probe the evidence asks for gets a panel.

Real probes against a real server on loopback: a bare host:port (no scheme) whose
server answers in HTTP. The 'refused' runbook has no HTTP probe; the TCP banner asks
for it, the screen mounts its panel, and the verdict is the server's 401.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from probes.core.target import parse_target
from probes.run.runner import FollowUp
from tests.tui.helpers import RecordingSink
from tui.app import NetmedicApp
from tui.widgets.findings import FindingsList


@pytest.fixture
async def http_401() -> AsyncIterator[int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(
                b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="t"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_a_follow_up_probe_gets_its_panel(tmp_path: Path, http_401: int) -> None:
    sink = RecordingSink()
    app = NetmedicApp(
        parse_target(f"127.0.0.1:{http_401}"),
        "refused",
        sink=sink,
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert not screen.query("#panel-http")  # not in the 'refused' runbook
        await app.workers.wait_for_complete()
        await pilot.pause()
        follow_ups = [e.step for e in sink.events if isinstance(e, FollowUp)]
        assert [s.probe for s in follow_ups] == ["http"]
        assert "HTTP" in follow_ups[0].reason
        panel = screen.query_one("#panel-http")
        assert "HTTP" in str(panel.tooltip)
        finding = screen.query_one(FindingsList).highlighted_finding
        assert finding is not None and finding.id == "http.unauthorized"
