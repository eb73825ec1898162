"""Keys at 80x24: ``n`` works wherever focus is, typed note text never runs as a
key, ``q`` quits outside text fields, ``z`` zooms, and no key does nothing silently."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from probes.core.events import NoteAdded, RetestStarted
from tests.tui.helpers import RecordingSink, make_app, settle
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.evidence import EvidenceView
from tui.widgets.findings import FindingsList
from tui.widgets.modals import NoteScreen


async def test_note_from_findings_focus_takes_the_typed_text(tmp_path: Path) -> None:
    sink = RecordingSink()
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", sink=sink)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        screen.query_one(FindingsList).focus()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        assert isinstance(app.focused, Input)
        await pilot.press(*"retest ez", "enter")  # r, e, z, space: hotkeys elsewhere
        await pilot.pause()
        assert app.screen is screen
        notes = [e for e in sink.events if isinstance(e, NoteAdded)]
        assert [n.text for n in notes] == ["retest ez"]
        assert not [e for e in sink.events if isinstance(e, RetestStarted)]
        assert screen.session.run_number == 1
        assert "retest ez" in str(screen.query_one("#evidence").render())


async def test_q_quits_outside_text_fields(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("q")  # into the note field, not a quit
        await pilot.pause()
        assert app.is_running and isinstance(app.focused, Input)
        assert app.focused.value == "q"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_zoom_shows_the_whole_evidence_and_escape_returns(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        view = screen.query_one(EvidenceView)
        view.focus()
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is view
        await pilot.press("escape")  # leaves the zoom, not the screen
        await pilot.pause()
        assert screen.maximized is None and app.screen is screen


async def test_keys_with_nothing_to_act_on_say_so(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        screen.query_one(FindingsList).clear_options()
        screen.query_one(FindingsList).findings = ()
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, NoteScreen)
        assert any("No finding" in str(n.message) for n in app._notifications)
