"""Screen 1: pick the symptom in the words people use; type to filter."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from probes.core.target import Target
from probes.run.plans import SYMPTOMS, Symptom
from tui.host import NetmedicHost, host
from tui.widgets.saved_services import SavedServices


class SymptomPickerScreen(Screen[None]):
    HELP = """\
## What do you see?
Pick the symptom closest to what the client reports.  Type to filter, **up/down**
to move, **enter** to choose.  Not sure?  Pick the last one: the evidence
decides the verdict either way.
"""
    BINDINGS = [
        Binding("down", "move(1)", "Down", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Up", show=False, id="picker.up"),
        Binding("enter", "choose", "Choose", id="picker.choose", tooltip="Choose the symptom"),
    ]

    def __init__(self, target: Target | None = None) -> None:
        super().__init__(id="symptom-picker")
        self.target = target
        self.shown: list[Symptom] = list(SYMPTOMS)

    @property
    def netmedic(self) -> NetmedicHost:
        return host(self.app)

    def compose(self) -> ComposeResult:
        heading = "What goes wrong when you connect"
        if self.target is not None:
            heading += f" to {self.target.input}"
        yield Label(heading + "?", id="picker-heading", markup=False)
        field = Input(placeholder="Type to filter symptoms…", id="symptom-filter")
        field.cursor_blink = self.netmedic.blink
        yield field
        if self.target is None:
            yield SavedServices(id="saved-services")
        yield OptionList(*self._options(SYMPTOMS), id="symptoms", markup=False)
        yield Footer(compact=True)

    @staticmethod
    def _options(symptoms: list[Symptom] | tuple[Symptom, ...]) -> list[Option]:
        out = []
        for s in symptoms:
            prompt = Text()
            prompt.append(s.label, style="bold")
            prompt.append(f"\n  {s.description}", style="dim")
            out.append(Option(prompt, id=s.id))
        return out

    def on_mount(self) -> None:
        self.query_one("#symptoms", OptionList).highlighted = 0
        self.query_one("#symptom-filter", Input).focus()

    @on(Input.Changed, "#symptom-filter")
    def _filter(self, event: Input.Changed) -> None:
        words = event.value.lower().split()
        self.shown = [
            s
            for s in SYMPTOMS
            if all(w in f"{s.id} {s.label} {s.description}".lower() for w in words)
        ]
        options = self.query_one("#symptoms", OptionList)
        options.clear_options()
        options.add_options(self._options(self.shown))
        if self.shown:
            options.highlighted = 0

    def action_move(self, delta: int) -> None:
        options = self.query_one("#symptoms", OptionList)
        if delta > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    @on(Input.Submitted, "#symptom-filter")
    def _submitted(self) -> None:
        self.action_choose()

    @on(OptionList.OptionSelected, "#symptoms")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.netmedic.symptom_chosen(event.option.id, self.target)

    def action_choose(self) -> None:
        options = self.query_one("#symptoms", OptionList)
        if options.highlighted is None or not self.shown:
            self.app.bell()
            return
        option = options.get_option_at_index(options.highlighted)
        if option.id:
            self.netmedic.symptom_chosen(option.id, self.target)

    @on(SavedServices.Chosen)
    def _saved_chosen(self, event: SavedServices.Chosen) -> None:
        """A saved service: its URL, headers (from the environment) and usual symptom."""
        import os

        from probes.core.options import OptionError, parse_header_option
        from probes.core.target import TargetError, parse_target

        service = event.service
        try:
            target = parse_target(service.check_url)
            headers = tuple(
                parse_header_option(h, os.environ, f"@{service.name}")
                for h in service.header_options()
            )
        except (OptionError, TargetError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.netmedic.start_diagnosis(target, service.symptom or "auto", headers=headers)
