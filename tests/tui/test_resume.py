"""A TUI session is journaled as it happens and ``--resume`` picks it up again."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.core.events import StepState
from probes.record.journal import JournalError
from probes.record.session import load_session
from tests.fake_engine import FakeNetwork
from tests.tui.helpers import disk_journals, make_app, settle
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.panels.base import ProbePanel
from tui.widgets.steps import StepsChecklist
from tui.widgets.verdict import VerdictBanner


async def first_session(tmp_path: Path, sessions: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", journal_factory=disk_journals(sessions))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert screen.diagnosis.verdict == "tcp.refused"
        await pilot.press("space")  # step 1 of tcp.refused: done
        await pilot.press("n", *"db was down", "enter")
        await pilot.pause()


async def test_the_tui_journals_its_session(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    await first_session(tmp_path, sessions)
    saved = load_session(None, sessions)
    assert saved.ended  # quitting closes the journal cleanly
    assert saved.header["plan"] == ["dns", "route", "tcp"]
    assert saved.latest is not None and saved.latest.finished
    assert set(saved.latest.results) == {"dns", "route", "tcp"}
    assert saved.verdict == "tcp.refused"
    assert saved.step_states == {("tcp.refused", 0): StepState.DONE}
    assert [(n.finding_id, n.text) for n in saved.notes] == [("tcp.refused", "db was down")]


async def test_resume_restores_evidence_checklist_and_notes_then_retests(
    tmp_path: Path,
) -> None:
    sessions = tmp_path / "sessions"
    await first_session(tmp_path, sessions)
    network = FakeNetwork(listening=False)
    app = make_app(
        tmp_path,
        network=network,
        journal_factory=disk_journals(sessions),
        resume=load_session(None, sessions),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert network.calls == []  # nothing re-probed until asked
        tcp = screen.query_one("#panel-tcp", ProbePanel)
        assert tcp.result is not None and "refused" in tcp.result.summary
        assert screen.diagnosis.verdict == "tcp.refused"
        banner = str(screen.query_one(VerdictBanner).render())
        assert "tcp.refused" in banner and "Resumed: press r to retest" in banner
        steps = screen.query_one(StepsChecklist)
        assert steps.finding is not None and steps.finding.id == "tcp.refused"
        assert screen.session.step_state("tcp.refused", 0) is StepState.DONE
        assert "db was down" in str(screen.query_one("#evidence").render())
        assert screen.session.run_number == 1

        network.listening = True
        await pilot.press("r")
        await settle(pilot)
        assert screen.session.run_number == 2
        assert screen.diagnosis.verdict == "ok"
        assert "moved tcp.refused → ok" in str(screen.query_one(VerdictBanner).render())

    saved = load_session(None, sessions)
    assert len(list(sessions.iterdir())) == 1  # the same session, continued
    assert saved.resumed == 1 and saved.ended
    assert [(r.number, r.verdict) for r in saved.runs] == [(1, "tcp.refused"), (2, "ok")]
    assert saved.step_states == {("tcp.refused", 0): StepState.DONE}


async def test_unwritable_state_dir_keeps_the_session_in_memory(tmp_path: Path) -> None:
    def refuse(*args: object) -> object:
        raise JournalError("cannot create a session journal in /nowhere: Permission denied")

    app = make_app(tmp_path, "127.0.0.1:5432", "refused", journal_factory=refuse)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("kept in memory only" in m for m in messages)
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert "tcp.refused" in screen.last_export.read_text()  # export still works


def test_exit_line_names_the_saved_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from probes.core.target import parse_target
    from probes.record.journal_writer import JournalWriter
    from tests.data.make_session import SESSION_ID
    from tui.app import _say_where_sessions_are

    factory = disk_journals(tmp_path)
    writer = JournalWriter(lambda: factory(parse_target("127.0.0.1:9"), "refused", ("tcp",), None))
    writer.close()
    _say_where_sessions_are([writer])
    err = capsys.readouterr().err
    assert err == (
        f"netmedic: session {SESSION_ID} saved: 'netmedic report' exports it, "
        "'netmedic --resume' reopens it\n"
    )


async def test_resume_after_a_retest_cut_short_is_incomplete_with_marks_and_notes(
    tmp_path: Path,
) -> None:
    from tests.test_cli_incomplete import cut_retest_journal
    from tui.widgets.findings import FindingsList

    sessions = tmp_path / "sessions"
    sessions.mkdir(mode=0o700)
    cut_retest_journal(sessions)
    app = make_app(
        tmp_path,
        network=FakeNetwork(),
        journal_factory=disk_journals(sessions),
        resume=load_session(None, sessions),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        banner = screen.query_one(VerdictBanner)
        text = str(banner.render())
        assert "incomplete (1 of 3 probes finished)" in text
        assert "ok" not in text.split() and banner.has_class("-incomplete")
        # Marks and notes made before the drop are there at once, before any retest.
        findings = screen.query_one(FindingsList)
        assert [f.id for f in findings.findings] == ["http.timeout"]
        assert screen.session.step_state("http.timeout", 0) is StepState.DONE
        assert "restarted the app server" in str(screen.query_one("#evidence").render())
        http = screen.query_one("#panel-http", ProbePanel)
        assert http.has_class("-cut") and not http.has_class("-ok")
        assert "cut short" in str(http.border_title)
        tcp = screen.query_one("#panel-tcp", ProbePanel)
        assert "did not finish" in str(tcp.border_title)
        assert screen.session.history and screen.session.history[-1].verdict == "http.timeout"
