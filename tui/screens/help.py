"""Full-screen help (F1, ``?``): every key, generated from the bindings.

The app's own keys come first, then the screen the help was opened from (with
its parts: panels, steps), then the other screens.  Nothing here is written by
hand twice: a binding's key, description and tooltip are the help.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Static


@dataclass(frozen=True)
class KeyGroup:
    """One heading of the help: whose keys, and the bindings it owns."""

    title: str
    owners: tuple[type[DOMNode], ...]


def screen_groups() -> tuple[KeyGroup, ...]:
    """The screens and the parts of them that own keys, in the order a person meets them."""
    from tui.screens.demo_picker import DemoPickerScreen
    from tui.screens.diagnosis import DiagnosisScreen
    from tui.screens.symptom_picker import SymptomPickerScreen
    from tui.screens.target_entry import TargetEntryScreen
    from tui.widgets.panels.base import ProbePanel
    from tui.widgets.steps import StepsChecklist

    return (
        KeyGroup("Symptom picker", (SymptomPickerScreen,)),
        KeyGroup("Target entry", (TargetEntryScreen,)),
        KeyGroup("Diagnosis", (DiagnosisScreen, StepsChecklist, ProbePanel)),
        KeyGroup("Demo picker", (DemoPickerScreen,)),
    )


def _bindings(owner: type[DOMNode]) -> list[Binding]:
    out: list[Binding] = []
    for item in owner.BINDINGS:
        out.extend(_as_bindings(item))
    return out


def _as_bindings(item: BindingType) -> Iterable[Binding]:
    if isinstance(item, Binding):
        return [item]
    return Binding.make_bindings([item])


class HelpScreen(Screen[None]):
    """Every key of netmedic on one scrollable page; esc, q, F1 or ? closes it."""

    BINDINGS = [
        Binding("escape,q,f1,question_mark", "close", "Close", id="help.close"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help.up"),
    ]

    def __init__(
        self,
        app_bindings: Sequence[BindingType],
        opened_from: type[DOMNode] | None = None,
        groups: Sequence[KeyGroup] | None = None,
    ) -> None:
        super().__init__(id="help")
        self.app_bindings = [b for item in app_bindings for b in _as_bindings(item)]
        self.opened_from = opened_from
        self._groups = tuple(groups) if groups is not None else None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(self._page(), id="help-keys", markup=False)
        yield Footer(compact=True)

    def ordered_groups(self) -> list[tuple[str, list[Binding]]]:
        """(heading, bindings): the app first, then the screen help was opened from."""
        groups = list(self._groups if self._groups is not None else screen_groups())
        current = [g for g in groups if self.opened_from in g.owners[:1]]
        rest = [g for g in groups if g not in current]
        out = [("Everywhere", self.app_bindings)]
        for group in (*current, *rest):
            title = group.title + (" (this screen)" if group in current else "")
            out.append((title, [b for owner in group.owners for b in _bindings(owner)]))
        return out

    def _page(self) -> Group:
        parts: list[RenderableType] = [
            Text.assemble(("netmedic keys", "bold"), ("   esc, q, F1 or ? closes", "dim"))
        ]
        for title, bindings in self.ordered_groups():
            keys = Table.grid(padding=(0, 2))
            keys.add_column(width=12, no_wrap=True)
            keys.add_column(overflow="fold")
            seen: set[tuple[str, str]] = set()
            for binding in bindings:
                row = (self._keys(binding), binding.tooltip or binding.description)
                if row[1] and row not in seen:  # one row per key and meaning
                    seen.add(row)
                    keys.add_row(Text(row[0], style="bold"), Text(row[1]))
            parts += [Text(""), Text(title, style="bold underline"), keys]
        return Group(*parts)

    def _keys(self, binding: Binding) -> str:
        keys = binding.key.split(",")
        return " / ".join(self.app.get_key_display(Binding(k.strip(), "")) for k in keys)

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)
