"""Snapshots of every screen at 80x24 and 120x40 (fixed clock, no cursor blink).

Update baselines with ``pytest tests/tui/test_snapshots.py --snapshot-update``
after checking the new SVGs by eye.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from probes.record.session import load_session
from tests.fake_engine import FakeNetwork
from tests.tui.helpers import disk_journals, make_app, settle
from tests.tui.test_resume import first_session

LONG_HOST = "payments-api-primary-read-replica.eu-west-1.internal.platform.corp.example.com:5432"
SnapCompare = Any


async def _settle(pilot: Pilot[Any]) -> None:
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_symptom_picker(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size)


def test_symptom_picker_filtered(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), press=[*"cert"], terminal_size=(80, 24))


def test_target_entry_error(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), press=["enter", *"db:99999"], terminal_size=(80, 24))


def test_target_entry_cors_with_recent(snap_compare: SnapCompare, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "recent.json").write_text('["db.internal:5432", "https://api.example.com/health"]')

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press(*"cors", "enter")
        pilot.app.screen.query_one("#target", Input).value = "https://api.example.com/v1"
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), run_before=before, terminal_size=(120, 40))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_diagnosis_refused(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=_settle, terminal_size=size)


def test_diagnosis_probes_view_narrow(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("v")

    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=before, terminal_size=(80, 24))


def test_diagnosis_long_hostname_nxdomain(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(tmp_path, LONG_HOST, "dns", network=FakeNetwork(nxdomain=True))
    assert snap_compare(app, run_before=_settle, terminal_size=(80, 24))


def test_diagnosis_long_hostname_wide_unprivileged(
    snap_compare: SnapCompare, tmp_path: Path
) -> None:
    app = make_app(tmp_path, LONG_HOST, "dns", network=FakeNetwork(nxdomain=True), privileged=False)
    assert snap_compare(app, run_before=_settle, terminal_size=(120, 40))


def test_diagnosis_after_green_retest(snap_compare: SnapCompare, tmp_path: Path) -> None:
    network = FakeNetwork()

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("space")
        network.listening = True
        await pilot.press("r")
        await settle(pilot)

    app = make_app(tmp_path, "127.0.0.1:5432", "refused", network=network)
    assert snap_compare(app, run_before=before, terminal_size=(120, 40))


def test_diagnosis_ping_and_trace_panels(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", live=True)
    assert snap_compare(app, run_before=_settle, terminal_size=(120, 40))


def test_diagnosis_tls_and_http_panels(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        "https://api.example.com/health",
        "tls",
        network=FakeNetwork(listening=True),
        probes=("tls", "http"),
    )
    assert snap_compare(app, run_before=_settle, terminal_size=(120, 40))


def test_diagnosis_local_sockets_panel(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(tmp_path, "db.internal:5432", "too-many-connections", probes=("local",))
    assert snap_compare(app, run_before=_settle, terminal_size=(120, 40))


def test_copy_fallback_modal(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("c")

    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=before, terminal_size=(80, 24))


def test_help_and_light_theme(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f2", "f1")

    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=before, terminal_size=(120, 40))


def test_help_at_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """F1 at 80 columns: the help text wraps whole; the key table scrolls."""

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f1")

    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=before, terminal_size=(80, 24))


def test_resumed_after_a_cut_retest(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The link dropped during a retest: incomplete, marks and notes there at once."""
    from probes.record.session import load_session
    from tests.test_cli_incomplete import cut_retest_journal
    from tests.tui.helpers import disk_journals

    sessions = tmp_path / "sessions"
    sessions.mkdir(mode=0o700)
    cut_retest_journal(sessions)
    saved = load_session(None, sessions)
    app = make_app(tmp_path, journal_factory=disk_journals(sessions), resume=saved)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, run_before=before, terminal_size=(80, 24))


def test_diagnosis_engine_failure(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from probes.run.runner import Run

    async def broken(self: Run) -> Any:
        raise RuntimeError("engine exploded")
        yield  # pragma: no cover

    monkeypatch.setattr(Run, "events", broken)
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    assert snap_compare(app, run_before=_settle, terminal_size=(80, 24))


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_resumed_session(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    sessions = tmp_path / "sessions"
    asyncio.run(first_session(tmp_path, sessions))
    app = make_app(
        tmp_path, journal_factory=disk_journals(sessions), resume=load_session(None, sessions)
    )
    assert snap_compare(app, run_before=_settle, terminal_size=size)
