"""The TUI side of issue 25: the target screen's "other hosts" field (remembered per
target) and the server and vantage panels, at 80x24 and 120x40 (Pilot, fake engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult, Status
from probes.remote import ssh
from probes.remote.document import read_server
from probes.remote.vantage import (
    PathHop,
    VantageAttempt,
    VantagePath,
    VantagesData,
    VantageView,
)
from probes.run.plans import ProbeFn
from tests.fake_engine import ADDRESS, FakeNetwork
from tests.tui.helpers import make_app, settle
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.widgets.panels import make_panel
from tui.widgets.panels.base import ProbePanel

PATH_HOPS = (PathHop(1, "10.3.0.1", 0.3), PathHop(2, "10.1.0.1", 0.9), PathHop(3, ADDRESS, 1.4))
SERVER_DOC = {
    "netmedic_collector": 1,
    "hostname": "db1",
    "uid": 0,
    "python": "3.11.2",
    "addresses": ["127.0.0.1", ADDRESS],
    "sockets": [
        {"family": 4, "state": "LISTEN", "laddr": "127.0.0.1", "lport": 5432, "inode": 77},
        {
            "family": 4,
            "state": "ESTABLISHED",
            "laddr": "127.0.0.1",
            "lport": 5432,
            "raddr": "127.0.0.1",
            "rport": 40000,
        },
    ],
    "owners": {"77": [812]},
    "processes": [
        {"pid": 812, "name": "postgres", "argv": ["/usr/lib/postgresql/15/bin/postgres"]}
    ],
    "unit_states": [
        {
            "unit": "postgresql@15-main.service",
            "systemd": True,
            "properties": {"ActiveState": "active"},
            "log": ["ready to accept connections"],
        },
    ],
}


class RemoteFake(FakeNetwork):
    def overrides(self) -> dict[str, ProbeFn]:
        return {**super().overrides(), "server": self.server, "vantages": self.vantages}

    async def server(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        assert ctx.config.server == "db1"  # what the field said reached the run
        data = read_server("db1", SERVER_DOC, [ADDRESS], ctx.target.port)
        yield ProbeResult("server", Status.OK, 0.2, "db1: 127.0.0.1:5432", data)

    async def vantages(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        views = (
            *tuple(
                VantageView(
                    name,
                    name,
                    ssh.OK,
                    addresses=(ADDRESS,),
                    tcp=(VantageAttempt(ADDRESS, "refused"),),
                    paths=(VantagePath(ADDRESS, "reached", "", 3, PATH_HOPS),),
                )
                for name, _dest in ctx.config.vantages
            ),
            VantageView(
                "old-box", "old-box", ssh.HOST_KEY_UNKNOWN, "Host key verification failed."
            ),
        )
        data = VantagesData(views, len(views), 10, 20.0)
        yield ProbeResult("vantages", Status.OK, 0.3, "2/3 vantages checked the target", data)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_other_hosts_field_runs_the_remote_probes_and_shows_their_panels(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path, network=RemoteFake())
    async with app.run_test(size=size) as pilot:
        await pilot.press(*"refused", "enter")
        assert isinstance(app.screen, TargetEntryScreen)
        assert not app.screen.query_one("#other-hosts").display  # until asked for
        app.screen.query_one("#target", Input).value = "db.internal:5432"
        await pilot.press("ctrl+o")
        assert app.screen.query_one("#other-hosts").display
        assert app.screen.focused is app.screen.query_one("#remote", Input)
        await pilot.press(*"--server db1 --from bastion,app2", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DiagnosisScreen)
        screen = app.screen
        assert screen.diagnosis.verdict == "local.loopback_only"
        for name, words in (
            ("server", ("postgres[812]", "127.0.0.1:5432", "postgresql@15-main.service")),
            ("vantages", ("bastion", "app2", "old-box", "1 not reached", "path", "3 hops")),
        ):
            panel = screen.query_one(f"#panel-{name}", ProbePanel)
            assert panel.result is not None
            console = Console(width=size[0] - 4, record=True, color_system=None)
            console.print(panel.render_data(panel.result))
            text = console.export_text()
            assert all(w in text for w in words), text
            assert all(len(line) <= size[0] - 4 for line in text.splitlines())


async def test_the_field_is_remembered_per_target(tmp_path: Path) -> None:
    first = make_app(tmp_path, network=RemoteFake())
    async with first.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"refused", "enter")
        first.screen.query_one("#target", Input).value = "db.internal:5432"
        await pilot.press("ctrl+o", *"--server db1", "enter")
        await settle(pilot)
        assert isinstance(first.screen, DiagnosisScreen)
    again = make_app(tmp_path, network=RemoteFake())
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"refused", "enter")
        field = again.screen.query_one("#target", Input)
        field.value = "other.internal:80"
        await pilot.pause()
        assert not again.screen.query_one("#other-hosts").display
        field.value = "db.internal:5432"
        await pilot.pause()
        assert again.screen.query_one("#other-hosts").display
        assert again.screen.query_one("#remote", Input).value == "--server db1"


async def test_a_bad_field_is_one_line_under_the_target(tmp_path: Path) -> None:
    app = make_app(tmp_path, network=RemoteFake())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"refused", "enter")
        app.screen.query_one("#target", Input).value = "db.internal:5432"
        await pilot.press("ctrl+o", *"--server=-oProxyCommand=x", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetEntryScreen)
        error = str(app.screen.query_one("#target-error").render())
        assert "other hosts:" in error and "may not start with '-'" in error


def test_panels_render_untrusted_text_plain() -> None:
    doc = {
        **SERVER_DOC,
        "processes": [{"pid": 812, "name": "pg\x1b[2J[red]x[/red]"}],
        "unit_states": [{"unit": "pg.service", "log": ["boom \x1b]0;title\x07[b]y[/b]"]}],
    }
    data = read_server("db1", doc, [ADDRESS], 5432)
    console = Console(width=76, record=True, color_system=None)
    console.print(make_panel("server").render_data(ProbeResult("server", Status.OK, 0.1, "", data)))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "[red]x[/red]" in text and "[b]y[/b]" in text  # shown as text, not markup
