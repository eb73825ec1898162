"""The whole flow with the fake engine, asserting on state and messages."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from probes.core.events import NoteAdded, RetestStarted, StepMarked, StepState
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, Run, RunFinished
from tests.fake_engine import FakeNetwork
from tests.tui.helpers import RecordingSink, make_app, settle
from tui.messages import ProbeResultArrived, RunCompleted
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.widgets.modals import CopyScreen, NoteScreen
from tui.widgets.panels.base import ProbePanel
from tui.widgets.steps import StepsChecklist
from tui.widgets.verdict import VerdictBanner


async def test_pick_enter_diagnose_mark_retest_export(tmp_path: Path) -> None:
    network = FakeNetwork()
    sink = RecordingSink()
    app = make_app(tmp_path, network=network, sink=sink)
    messages: list[object] = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        assert isinstance(app.screen, SymptomPickerScreen)
        await pilot.press(*"refused", "enter")
        assert isinstance(app.screen, TargetEntryScreen)

        await pilot.press(*"db:99999")
        error = app.screen.query_one("#target-error", Static)
        assert error.has_class("-error")
        assert "outside 1..65535" in str(error.render())
        await pilot.press("enter")  # refused: stays on the screen
        assert isinstance(app.screen, TargetEntryScreen)

        app.screen.query_one("#target", Input).value = "db.internal:5432"
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, DiagnosisScreen)
        await settle(pilot)
        screen = app.screen

        # Panels filled, verdict named.
        for name in ("dns", "route", "tcp"):
            panel = screen.query_one(f"#panel-{name}", ProbePanel)
            assert panel.result is not None and panel.result.final
        assert screen.diagnosis.verdict == "tcp.refused"
        assert screen.query_one(VerdictBanner).has_class("-error")
        assert any(isinstance(m, ProbeResultArrived) for m in messages)
        assert any(isinstance(m, RunCompleted) for m in messages)

        # The verdict finding is selected; walk its steps.
        steps = screen.query_one(StepsChecklist)
        assert steps.finding is not None and steps.finding.id == "tcp.refused"
        steps.focus()
        await pilot.press("space")
        assert screen.session.step_state("tcp.refused", 0) is StepState.DONE
        await pilot.press("down", "x")
        assert screen.session.step_state("tcp.refused", 1) is StepState.DID_NOT_HELP

        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"restarted it", "enter")
        assert isinstance(app.screen, DiagnosisScreen)
        assert screen.session.notes[-1].text == "restarted it"

        await pilot.press("up", "c")
        assert isinstance(app.screen, CopyScreen)
        assert app.clipboard == "ss -tlnp 'sport = :5432'"
        assert app.screen.query_one(Input).value == app.clipboard
        await pilot.press("escape")
        assert isinstance(app.screen, DiagnosisScreen)

        # Fix the problem, retest: the loop ends green.
        network.listening = True
        await pilot.press("r")
        await settle(pilot)
        assert screen.diagnosis.verdict == "ok"
        assert screen.session.previous_verdict == "tcp.refused"
        banner = str(screen.query_one(VerdictBanner).render())
        assert "moved tcp.refused → ok" in banner
        assert "gone: tcp.refused" in banner and "new: tcp.open" in banner
        assert screen.query_one(VerdictBanner).has_class("-ok")

        await pilot.press("e")
        await settle(pilot)
        exported = screen.last_export
        assert exported.parent == tmp_path and exported.suffix == ".md"
        assert stat.S_IMODE(exported.stat().st_mode) == 0o600
        report = exported.read_text()
        assert "**Verdict: ok**" in report
        assert "Before** (run 1): verdict `tcp.refused`" in report
        assert "| done |" in report and "| did not help |" in report
        assert "restarted it" in report

    kinds = [type(e) for e in sink.events]
    assert ProbeUpdate in kinds and DiagnosisUpdate in kinds and RunFinished in kinds
    assert StepMarked in kinds and NoteAdded in kinds
    assert RetestStarted(2) in sink.events
    assert json.loads((tmp_path / "state" / "recent.json").read_text()) == ["db.internal:5432"]


async def test_target_and_symptom_go_straight_to_diagnosis(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        assert app.screen.has_class("-narrow")
        assert app.screen.diagnosis.verdict == "tcp.refused"
        await pilot.press("escape")  # back to the picker; the run is gone with the screen
        assert isinstance(app.screen, SymptomPickerScreen)
        assert not [w for w in app.workers if w.group == "probes" and w.is_running]


async def test_target_only_opens_picker_then_diagnosis(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432")
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, SymptomPickerScreen)
        await pilot.press(*"not sure", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        assert app.screen.session.symptom == "auto"


async def test_remote_text_is_plain(tmp_path: Path) -> None:
    network = FakeNetwork(listening=True)
    app = make_app(tmp_path, "127.0.0.1:22", "refused", network=network)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        svg = app.export_screenshot()
        # The banner's markup is shown literally and the escape is neutralised.
        assert "[b]x[/b]" in svg.replace("&#160;", " ")
        assert "\x1b" not in svg


async def test_retest_while_running_replaces_the_run(tmp_path: Path) -> None:
    network = FakeNetwork(live_rounds=50, live_interval_s=0.05)
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", network=network, live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("r")  # a key is handled while every probe runs
        assert isinstance(app.screen, DiagnosisScreen) and app.screen.session.run_number == 2
        await pilot.press("escape")
        await pilot.pause()
        assert not [w for w in app.workers if w.is_running and w.group == "probes"]


async def test_palette_offers_retest_and_export(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Retest (r)" in titles  # the palette's entries come from the bindings now
        assert {"Export as markdown", "Export as html", "Export as json"} <= set(titles)


async def test_engine_failure_takes_the_one_error_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Run) -> AsyncIterator[object]:
        raise RuntimeError("engine exploded")
        yield  # pragma: no cover

    monkeypatch.setattr(Run, "events", broken)
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notes = list(app._notifications)
        assert any(n.severity == "error" and "engine exploded" in n.message for n in notes)
        assert isinstance(app.screen, DiagnosisScreen)  # still usable: retest is one key away


def test_no_color_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_app(tmp_path).no_color


async def test_header_field_takes_an_env_var_and_never_echoes_a_pasted_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "Bearer s3cr3t-from-env")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"401", "enter")
        assert isinstance(app.screen, TargetEntryScreen)
        app.screen.query_one("#target", Input).value = "https://api.example.com/v1"
        app.screen.query_one("#header", Input).value = "Authorization: Bearer pasted-s3cr3t"
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, TargetEntryScreen)  # refused: not an env var
        error = str(app.screen.query_one("#target-error", Static).render())
        assert "must name an environment variable" in error and "s3cr3t" not in error
        app.screen.query_one("#header", Input).value = "Authorization: $API_TOKEN"
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        headers = app.screen.session.config.headers
        assert headers == (("Authorization", "Bearer s3cr3t-from-env"),)
