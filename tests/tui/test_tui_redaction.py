"""Canary for the TUI: secrets in the target, the environment, a request header and
probe data never reach the screen, the journal or an exported report."""

from __future__ import annotations

from pathlib import Path

import pytest

import probes.diagnosis.engine as engine
from probes.core.target import parse_target
from probes.record.session import load_session
from tests.test_redaction_canary import (
    CANARIES,
    ENV,
    QUERY_SIG,
    QUERY_TOKEN,
    URL_PASS,
    _leaky_http,
    _leaky_rule,
)
from tests.tui.helpers import disk_journals, settle
from tui.app import NetmedicApp
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.target_entry import TargetEntryScreen

HEADER_SECRET = "CanaryHeader52"


async def test_no_secret_reaches_the_screen_journal_or_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ENV, "API_AUTH": f"Bearer {HEADER_SECRET}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(engine, "RULES", (*engine.RULES, _leaky_rule))
    sessions = tmp_path / "sessions"
    url = f"http://admin:{URL_PASS}@127.0.0.1:9/health?token={QUERY_TOKEN}&sig={QUERY_SIG}"
    app = NetmedicApp(
        None,
        None,
        probe_overrides={"http": _leaky_http},
        plans={"auth": ("http",)},
        clock=lambda: 0.0,
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=True,
        journal_factory=disk_journals(sessions),
    )
    outputs: dict[str, str] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(TargetEntryScreen("auth", []))
        await pilot.pause()
        app.screen.query_one("#target").value = url  # type: ignore[attr-defined]
        app.screen.query_one("#header").value = "Authorization: $API_AUTH"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert screen.session.config.headers == (("Authorization", f"Bearer {HEADER_SECRET}"),)
        assert "http.unauthorized" in {f.id for f in screen.diagnosis.findings}
        outputs["screen"] = app.export_screenshot()
        for fmt in ("md", "html", "json"):
            screen.action_export(fmt)
            await settle(pilot)
            outputs[fmt] = screen.last_export.read_text()
            assert "http.unauthorized" in outputs[fmt]
    saved = load_session(None, sessions)
    outputs["journal"] = saved.path.read_text()
    assert parse_target(url).password == URL_PASS  # the canary was really in the target
    for label, text in outputs.items():
        for canary in (*CANARIES, HEADER_SECRET):
            assert canary not in text, f"{canary} leaked into the {label}"
