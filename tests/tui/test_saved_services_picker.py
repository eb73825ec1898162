"""The picker lists saved services first; choosing one starts its diagnosis."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList

from tests.tui.helpers import make_app, settle
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.widgets.saved_services import SavedServices

SERVICES = """\
[services.vectors]
url = "http://vectors.internal:6333"
headers = { "api-key" = "$QDRANT_API_KEY" }
symptom = "auth"
"""


async def test_saved_service_is_listed_first_and_checks_with_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "services.toml").write_text(SERVICES)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("QDRANT_API_KEY", "k-from-env")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, SymptomPickerScreen)
        saved = app.screen.query_one(SavedServices)
        assert saved.display and [s.name for s in saved.services] == ["vectors"]
        listing = app.screen.query_one("#saved-list", OptionList)
        listing.focus()
        listing.highlighted = 0
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        session = app.screen.session
        assert session.target.input == "http://vectors.internal:6333/healthz"
        assert session.symptom == "auth"
        assert session.config.headers == (("api-key", "k-from-env"),)


async def test_a_broken_file_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "services.toml").write_text(SERVICES.replace("symptom", "symtom"))
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(config))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)):
        saved = app.screen.query_one(SavedServices)
        assert saved.display and "services.toml:4:" in saved.error


async def test_no_file_no_section(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)):
        assert not app.screen.query_one(SavedServices).display
