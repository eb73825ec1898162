"""`netmedic TARGET --server DEST`: the TUI entry takes the remote options of `check`,
shows them in the target screen's "other hosts" field and starts the run with them
(Pilot, the fake engine and the remote fakes of the existing remote TUI tests)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.model import ProbeResult, Status
from probes.remote.document import read_server
from probes.run.plans import ProbeFn
from tests.fake_engine import ADDRESS, FakeNetwork
from tests.tui.helpers import launched, make_app, settle
from tests.tui.test_remote_tui import SERVER_DOC
from tui.remote import RemoteChoice
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen


class ServerSeen(FakeNetwork):
    """The server probe answers for whichever DEST the run was given, and keeps the
    configs it was run with."""

    def __init__(self) -> None:
        super().__init__()
        self.configs: list[ProbeConfig] = []

    def overrides(self) -> dict[str, ProbeFn]:
        return {**super().overrides(), "server": self.server}

    async def server(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.configs.append(ctx.config)
        dest = ctx.config.server
        data = read_server(dest, SERVER_DOC, [ADDRESS], ctx.target.port)
        yield ProbeResult("server", Status.OK, 0.2, f"{dest}: 127.0.0.1:5432", data)


async def test_target_and_server_show_in_the_field_and_start_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = launched(monkeypatch, "db.internal:5432", "--server", "user@host")
    remote = given["remote"]
    assert isinstance(remote, RemoteChoice) and remote.server == "user@host"
    network = ServerSeen()
    app = make_app(tmp_path, given["target"].input, given["symptom"], network, remote=remote)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, SymptomPickerScreen)
        await pilot.press(*"refused", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TargetEntryScreen)  # shown before anything runs
        assert screen.query_one("#target", Input).value == "db.internal:5432"
        assert screen.query_one("#other-hosts").display
        assert screen.query_one("#remote", Input).value == "--server user@host"
        assert "from the command line" in str(screen.query_one("#target-given").render())
        assert not network.configs
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        assert [c.server for c in network.configs] == ["user@host"]
        assert app.screen.diagnosis.verdict == "local.loopback_only"
    remembered = json.loads((tmp_path / "state" / "recent_remote.json").read_text())
    assert remembered == {"db.internal:5432": "--server user@host"}


async def test_the_command_lines_field_wins_over_the_remembered_one(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "recent_remote.json").write_text(json.dumps({"db.internal:5432": "--server old"}))
    remote = RemoteChoice("new", field="--server new")
    network = ServerSeen()
    app = make_app(tmp_path, network=network, remote=remote)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"refused", "enter")
        screen = app.screen
        assert isinstance(screen, TargetEntryScreen)
        assert screen.query_one("#target", Input).value == ""  # no target given: typed
        assert "type the target" in str(screen.query_one("#target-given").render())
        screen.query_one("#target", Input).value = "db.internal:5432"
        await pilot.pause()
        assert screen.query_one("#remote", Input).value == "--server new"
        await pilot.press("enter")
        await settle(pilot)
        assert [c.server for c in network.configs] == ["new"]


async def test_with_a_symptom_too_the_run_starts_at_once_with_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = launched(
        monkeypatch, "db.internal:5432", "--symptom", "refused", "--server", "db1",
        "--remote-timeout", "7",
    )  # fmt: skip
    assert given["remote"].field == "--server db1 --remote-timeout 7"
    network = ServerSeen()
    app = make_app(tmp_path, "db.internal:5432", "refused", network=network, remote=given["remote"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        (config,) = network.configs
        assert (config.server, config.remote_timeout) == ("db1", 7.0)
    remembered = json.loads((tmp_path / "state" / "recent_remote.json").read_text())
    assert remembered == {"db.internal:5432": "--server db1 --remote-timeout 7"}
