"""The ``netmedic demo`` picker: snapshots with fixed cases, and a Pilot run that
diagnoses a real broken service on loopback and comes back to the picker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from probes.core.context import ProbeConfig
from probes.run.runner import RunFinished
from tests.tui.helpers import RecordingSink, settle
from tui import cli
from tui.app import NetmedicApp
from tui.demo.addresses import SECOND_LOOPBACK
from tui.demo.cases import DemoCase
from tui.demo.servers import DemoLab
from tui.screens.demo_picker import DemoPickerScreen

SnapCompare = Any

# What a DemoLab starts, with fixed ports so the snapshots do not move.
FIXED_CASES = (
    DemoCase("refused", "Nothing listens on the port (the service is down)",
             "127.0.0.1:40001", "refused", "local.not_listening"),
    DemoCase("loopback-only", "Bound to 127.0.0.1 only; clients use this host's 10.9.7.1",
             "10.9.7.1:40002", "refused", "local.loopback_only"),
    DemoCase("tls-expired", "HTTPS with an expired self-signed certificate",
             "https://127.0.0.1:40003/", "tls", "tls.expired"),
    DemoCase("tls-wrong-name", "HTTPS certificate made out for another name",
             "https://127.0.0.1:40004/", "tls", "tls.hostname_mismatch"),
    DemoCase("http-503", "HTTP 503 Service Unavailable with Retry-After",
             "http://127.0.0.1:40005/health", "service-down", "http.unavailable"),
    DemoCase("slow-first-byte", "Fast network, 3.5 s before the first byte",
             "http://127.0.0.1:40006/report", "slow", "http.slow_response"),
    DemoCase("reset", "Accepts the connection, then resets it",
             "127.0.0.1:40007", "intermittent", "tcp.reset_after_connect"),
    DemoCase("ws-no-upgrade", "WebSocket endpoint that answers 200, never 101",
             "ws://127.0.0.1:40008/chat", "websocket", "ws.upgrade_rejected"),
    DemoCase("cors-no-origin", "CORS preflight without Access-Control-Allow-Origin",
             "http://127.0.0.1:40009/api/items", "cors", "cors.preflight_rejected",
             origin="https://app.netmedic.invalid"),
    DemoCase("wrong-protocol", "An http:// URL whose port speaks SSH",
             "http://127.0.0.1:40010/", "auto", "http.not_http"),
)  # fmt: skip


def demo_app(
    tmp: Path, cases: tuple[DemoCase, ...], ca_file: str = "", **kwargs: Any
) -> NetmedicApp:
    return NetmedicApp(
        config=ProbeConfig(ca_file=ca_file or None),
        demo=cases,
        clock=lambda: 0.0,
        recent_path=tmp / "state" / "recent.json",
        export_dir=tmp,
        blink=False,
        privileged=True,
        **kwargs,
    )


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_demo_picker(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(demo_app(tmp_path, FIXED_CASES), terminal_size=size)


def test_demo_picker_detail_follows_the_highlight(
    snap_compare: SnapCompare, tmp_path: Path
) -> None:
    assert snap_compare(demo_app(tmp_path, FIXED_CASES), press=["down"] * 8, terminal_size=(80, 24))


async def test_pick_a_broken_service_diagnoses_it_and_comes_back(tmp_path: Path) -> None:
    sink = RecordingSink()
    with DemoLab(other_address=SECOND_LOOPBACK) as demo:
        index = [c.id for c in demo.cases].index("http-503")
        app = demo_app(tmp_path, demo.cases, demo.ca_file, sink=sink)
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, DemoPickerScreen)
            assert app.screen.query_one("#demo-cases", OptionList).has_focus
            await pilot.press(*["down"] * index)
            detail = str(app.screen.query_one("#demo-detail").render())
            assert "should find http.unavailable" in detail
            await pilot.press("enter")
            await settle(pilot)
            assert type(app.screen).__name__ == "DiagnosisScreen"
            finished = [e for e in sink.events if isinstance(e, RunFinished)]
            assert finished and finished[-1].diagnosis.verdict == "http.unavailable"
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DemoPickerScreen)
            await pilot.press("q")
        assert app.return_code == 0


def test_demo_command_stops_the_servers_when_the_app_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[DemoLab] = []

    def fake_run_demo(lab: DemoLab) -> int:
        seen.append(lab)
        assert lab.cases and Path(lab.ca_file).exists()
        return 0

    monkeypatch.setattr("tui.app.run_demo", fake_run_demo)
    monkeypatch.setattr("tui.demo.servers.other_local_address", lambda: SECOND_LOOPBACK)
    assert cli.main(["demo"]) == 0
    (lab,) = seen
    assert not Path(lab.ca_file).exists()
    assert lab.cases and lab._loop is None
