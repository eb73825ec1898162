"""Issue 26, the operator's keyboard: full-screen help from the bindings, ctrl+c
quits everywhere, every action in the palette, the picker's filter, j/k, a click
on a step's box, one warning glyph, and the theme remembered in config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer, Input, OptionList

from probes.core.events import StepMarked, StepState
from probes.core.model import Diagnosis, Finding, Severity
from probes.run.plans import SYMPTOMS
from tests.fake_engine import FakeNetwork
from tests.tui.helpers import RecordingSink, make_app, settle, until
from tui.prefs import Preferences, PrefsError, load_prefs, save_prefs
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.help import HelpScreen
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.widgets.findings import FindingsList
from tui.widgets.modals import NoteScreen
from tui.widgets.steps import StepsChecklist
from tui.widgets.verdict import VerdictBanner


async def test_question_mark_opens_full_screen_help_app_keys_first(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        body = help_screen.query_one("#help-body")
        assert body.region.width == 80  # the whole screen, not a side panel
        groups = help_screen.ordered_groups()
        assert groups[0][0] == "Everywhere"
        assert groups[1][0] == "Diagnosis (this screen)"
        everywhere = {b.key for b in groups[0][1]}
        assert {"q", "ctrl+c", "f1", "question_mark", "f2"} <= everywhere
        diagnosis = {b.id for b in groups[1][1]}
        # The keys the side panel missed, and the steps' own keys.
        assert {"diag.burst", "diag.note", "diag.back", "steps.no_help", "steps.copy"} <= diagnosis
        assert not any(b.id is None for _, keys in groups for b in keys)  # no widget internals
        await pilot.press("f1")  # F1 again closes
        await pilot.pause()
        assert isinstance(app.screen, DiagnosisScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiagnosisScreen)


@pytest.mark.parametrize("where", ["picker", "target", "diagnosis", "note", "help"])
async def test_ctrl_c_quits_from_every_screen(tmp_path: Path, where: str) -> None:
    target, symptom = (
        ("127.0.0.1:5432", "refused") if where in ("diagnosis", "note") else (None, None)
    )
    app = make_app(tmp_path, target, symptom)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        if where == "target":
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, TargetEntryScreen)
        elif where == "note":
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(app.screen, NoteScreen)
        elif where == "help":
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
        elif where == "picker":
            assert isinstance(app.focused, Input)  # a text field has focus
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert not app.is_running


async def test_palette_offers_every_diagnosis_action(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        "127.0.0.1:5432",
        "too-many-connections",
        live=True,
        probes=("dns", "route", "tcp", "ping", "trace", "connections"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        screen.query_one(FindingsList).focus()  # the steps' keys are offered from anywhere
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(screen)]
        for title in ("Note (n)", "Copy (c)", "Done (space)", "No help (x)", "Pause (p)"):
            assert title in titles
        for title in ("Burst (b)", "Back (esc)", "Retest (r)", "Help", "Quit", "Screenshot"):
            assert title in titles
        commands = {c.title: c for c in app.get_system_commands(screen)}
        app.call_later(commands["Pause (p)"].callback)  # as the palette runs it
        await until(lambda: screen._live is not None and screen._live.paused)
        await pilot.press("ctrl+c")


async def test_palette_screenshot_goes_to_the_export_directory(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_screenshot_here()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("Screenshot written" in n.message for n in app._notifications)
    shots = sorted(tmp_path.glob("*.svg"))  # noqa: ASYNC240 (the app has ended)
    assert len(shots) == 1 and "<svg" in shots[0].read_text()


async def test_footer_fits_80_columns_with_back_and_help(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        "127.0.0.1:5432",
        "too-many-connections",
        live=True,
        probes=("dns", "route", "tcp", "ping", "trace", "connections"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        footer = app.screen.query_one(Footer)
        await until(lambda: "p Pause" in [str(k.render()) for k in footer.children])
        keys = {str(k.render()): k.region for k in footer.children}
        assert "esc Back" in keys and "f1 Help" in keys and "p Pause" in keys
        assert all(region.right <= 80 for region in keys.values())
        await pilot.press("ctrl+c")


async def test_picker_filter_cleared_by_escape_and_on_return(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"timeout", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TargetEntryScreen)
        await pilot.press("escape")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SymptomPickerScreen)
        field = picker.query_one("#symptom-filter", Input)
        assert field.value == ""  # back here: a fresh filter, typing does not append
        await pilot.press(*"slow")
        await pilot.pause()
        assert field.value == "slow"
        await pilot.press("escape")
        await pilot.pause()
        assert field.value == ""
        assert picker.query_one("#symptoms", OptionList).highlighted == 0


async def test_picker_no_match_does_not_check_everything(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"zzqx", "enter")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SymptomPickerScreen)  # nothing chosen behind the person's back
        assert picker.no_match
        assert "No symptom matches 'zzqx'" in str(picker.query_one("#error-read").render())
        assert any("Nothing matches" in n.message for n in app._notifications)
        await pilot.press("down", "enter")  # an explicit pick still works
        await pilot.pause()
        assert isinstance(app.screen, TargetEntryScreen)


async def test_j_and_k_move_findings_and_steps(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        steps = app.screen.query_one(StepsChecklist)
        assert steps.has_focus and steps.highlighted == 0 and steps.option_count > 1
        await pilot.press("j")
        assert steps.highlighted == 1
        await pilot.press("k")
        assert steps.highlighted == 0
        findings = app.screen.query_one(FindingsList)
        two = tuple(Finding(f"tcp.x{i}", Severity.ERROR, "t", rank=i) for i in range(2))
        findings.show(Diagnosis(two, "tcp.x0"))
        findings.focus()
        await pilot.pause()
        await pilot.press("j")
        assert findings.highlighted == 1
        await pilot.press("k")
        assert findings.highlighted == 0


async def test_click_on_a_step_box_toggles_it(tmp_path: Path) -> None:
    sink = RecordingSink()
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", sink=sink)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        steps = app.screen.query_one(StepsChecklist)
        box = (steps.content_region.x - steps.region.x + 1, steps.content_region.y - steps.region.y)
        await pilot.click(StepsChecklist, offset=box)
        await pilot.pause()
        marks = [e for e in sink.events if isinstance(e, StepMarked)]
        assert [(m.step_index, m.state) for m in marks] == [(0, StepState.DONE)]
        assert steps.states[0] is StepState.DONE
        await pilot.click(StepsChecklist, offset=(box[0] + 20, box[1]))  # on the text: no tick
        await pilot.pause()
        assert len([e for e in sink.events if isinstance(e, StepMarked)]) == 1
        await pilot.click(StepsChecklist, offset=box)  # again: cleared
        await pilot.pause()
        assert steps.states[0] is StepState.TODO


async def test_a_warning_verdict_has_the_same_glyph_as_its_list_row(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        warning = Finding("tls.expiring_soon", Severity.WARNING, "expires in 3 days", (), (), 1)
        banner = app.screen.query_one(VerdictBanner)
        banner.show_verdict(Diagnosis((warning,), warning.id), True, 1, None)
        app.screen.query_one(FindingsList).show(Diagnosis((warning,), warning.id))
        await pilot.pause()
        assert str(banner.render()).startswith("▲ tls.expiring_soon")
        row = app.screen.query_one(FindingsList).get_option_at_index(0).prompt
        assert str(row).startswith("▲ ")


async def test_theme_is_remembered_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    app = make_app(tmp_path, "127.0.0.1:5432", "refused")
    app.prefs_path = path
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await app.workers.wait_for_complete()
    assert load_prefs(path).theme == "textual-light"
    again = make_app(tmp_path, "127.0.0.1:5432", "refused")
    again.prefs = load_prefs(path)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.theme == "textual-light"


def test_config_file_refuses_unknown_keys_naming_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('them = "textual-light"\n')
    with pytest.raises(PrefsError, match=r"config\.toml: unknown key 'them'; did you mean 'theme'"):
        load_prefs(path)
    path.write_text('theme = "purple"\n')
    with pytest.raises(PrefsError, match=r"config\.toml: theme = 'purple': use one of"):
        load_prefs(path)
    save_prefs(path, Preferences(theme="textual-light", export_format="html"))
    assert load_prefs(path) == Preferences(theme="textual-light", export_format="html")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_prefs(tmp_path / "missing.toml") == Preferences()


async def test_narrow_live_run_switches_to_findings_once_every_probe_answered(
    tmp_path: Path,
) -> None:
    """80x24: a live run never ends by itself (loopback-only keeps sampling); once
    every probe answered, the findings take the screen as after a run that ends."""
    network = FakeNetwork(live_rounds=400, live_interval_s=0.05)
    app = make_app(tmp_path, "127.0.0.1:5432", "refused", network=network, live=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        await until(lambda: not screen.has_class("-show-probes"))
        assert not screen.finished  # still live
        assert screen.query_one(FindingsList).display
        await pilot.press("ctrl+c")


async def test_target_line_keeps_the_symptom_whole_at_80_columns(tmp_path: Path) -> None:
    long_url = "http://127.0.0.1:5432/a/very/long/path/that/goes/on/and/on/health?x=1"
    app = make_app(tmp_path, long_url, "service-down")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        line = str(app.screen.query_one("#target-line").render())
        assert "Service" in line and "…" in line  # the target is cut, not the symptom
        label = next(s.label for s in SYMPTOMS if s.id == "service-down")
        assert label in line and len(line) <= 80


async def test_services_error_wraps_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "services.toml").write_text(
        '[services.vectors]\nurl = "https://qdrant.internal:6333"\nsymtom = "auth"\n'
    )
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(config))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        error = app.screen.query_one("#saved-error")
        assert error.size.height >= 2  # wrapped, not cut at the right edge
        assert "did you mean 'symptom'?" in str(error.render())
        assert error.region.right <= 80
