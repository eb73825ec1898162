"""``netmedic demo``: pick one of the broken services running on loopback."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from probes.core.target import parse_target
from tui.demo.cases import DemoCase
from tui.host import NetmedicHost, host

ID_WIDTH = 16


class DemoPickerScreen(Screen[None]):
    HELP = """\
## Broken services
Each line is a real server on this machine's loopback with one fault.
**up/down** to move, **enter** to diagnose it with the normal probes;
**escape** on the diagnosis comes back here.  **q** quits and stops them all.
`netmedic demo --check` checks every one against its expected verdict.
"""
    BINDINGS = [
        Binding("down,j", "move(1)", "Down", show=False, id="demo.down"),
        Binding("up,k", "move(-1)", "Up", show=False, id="demo.up"),
        # priority: the list's own enter would hide this one from the footer
        Binding(
            "enter",
            "choose",
            "Diagnose",
            id="demo.choose",
            tooltip="Diagnose this service",
            priority=True,
        ),
    ]

    def __init__(self, cases: Sequence[DemoCase]) -> None:
        super().__init__(id="demo-picker")
        self.cases = tuple(cases)

    @property
    def netmedic(self) -> NetmedicHost:
        return host(self.app)

    def compose(self) -> ComposeResult:
        yield Label(
            "Broken services running on this machine (loopback): pick one to diagnose",
            id="demo-heading",
        )
        yield OptionList(*(self._option(c) for c in self.cases), id="demo-cases", markup=False)
        yield Static("", id="demo-detail", markup=False)
        yield Footer(compact=True)

    @staticmethod
    def _option(case: DemoCase) -> Option:
        prompt = Text(no_wrap=True, overflow="ellipsis")
        prompt.append(f"{case.id:<{ID_WIDTH}}", style="bold")
        prompt.append(case.title)
        return Option(prompt, id=case.id)

    def on_mount(self) -> None:
        options = self.query_one("#demo-cases", OptionList)
        options.highlighted = 0
        options.focus()
        self._show(0)

    @on(OptionList.OptionHighlighted, "#demo-cases")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def _show(self, index: int) -> None:
        if not 0 <= index < len(self.cases):
            return
        case = self.cases[index]
        detail = Text()
        detail.append("target ", style="dim")
        detail.append(case.target)
        detail.append("  symptom ", style="dim")
        detail.append(case.symptom)
        detail.append("\nshould find ", style="dim")
        detail.append(case.expected, style="bold")
        if case.origin:
            detail.append("  origin ", style="dim")
            detail.append(case.origin)
        self.query_one("#demo-detail", Static).update(detail)

    def action_move(self, delta: int) -> None:
        options = self.query_one("#demo-cases", OptionList)
        if delta > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    @on(OptionList.OptionSelected, "#demo-cases")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._start(event.option_index)

    def action_choose(self) -> None:
        highlighted = self.query_one("#demo-cases", OptionList).highlighted
        if highlighted is None:
            self.app.bell()
            return
        self._start(highlighted)

    def _start(self, index: int) -> None:
        case = self.cases[index]
        self.netmedic.start_diagnosis(parse_target(case.target), case.symptom, origin=case.origin)
