"""Screen 1: pick the symptom in the words people use — or paste the error.

Typing filters the symptoms; an error message (typed or pasted, a whole traceback
too) ranks them by what it says (:mod:`probes.triage`), with the matched words
highlighted, and names the target when the text does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from probes.core.target import Target
from probes.run.plans import SYMPTOMS, Symptom
from tui.host import NetmedicHost, host
from tui.widgets.error_input import ErrorInput, field_to_text
from tui.widgets.saved_services import SavedServices

if TYPE_CHECKING:  # the error reading loads when something is typed, not for the first frame
    from probes.triage.reading import Reading

MATCH_STYLE = "bold black on yellow"
LABEL_MATCH = 3  # typed words found in a symptom's own words
KEEP_WORDS = 3  # typed text with this many words and a clue is kept as the app's error


class SymptomPickerScreen(Screen[None]):
    HELP = """\
## What do you see?
Pick the symptom closest to what the client reports.  Type to filter, or
**paste the error** your app printed (a whole traceback is fine): the symptoms
it names come first, the matched words highlighted, and the target it names is
filled in next.  **up/down** move, **enter** chooses.  Not sure?  Pick the last
one: the evidence decides the verdict either way.
"""
    BINDINGS = [
        Binding("down", "move(1)", "Down", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Up", show=False, id="picker.up"),
        Binding("enter", "choose", "Choose", id="picker.choose", tooltip="Choose the symptom"),
        Binding("escape", "clear", "Clear", id="picker.clear", tooltip="Clear the filter"),
        # The field takes every printable key (q too), so ctrl+c quits here: show it.
        Binding(
            "ctrl+c", "app.quit", "Quit", id="picker.quit", tooltip="Quit netmedic", priority=True
        ),
    ]

    def __init__(self, target: Target | None = None) -> None:
        super().__init__(id="symptom-picker")
        self.target = target
        self.shown: list[Symptom] = list(SYMPTOMS)
        self.reading: Reading | None = None  # nothing typed yet
        self.no_match = False  # typed words that match no symptom: enter must not guess

    @property
    def netmedic(self) -> NetmedicHost:
        return host(self.app)

    def compose(self) -> ComposeResult:
        heading = "What goes wrong when you connect"
        if self.target is not None:
            heading += f" to {self.target.input}"
        yield Label(heading + "?", id="picker-heading", markup=False)
        field = ErrorInput(
            placeholder="Type to filter, or paste the error your app printed…",
            id="symptom-filter",
        )
        field.cursor_blink = self.netmedic.blink
        yield field
        if self.target is None:
            yield SavedServices(id="saved-services")
        yield Static("", id="error-read", markup=False)
        yield OptionList(*self._options(SYMPTOMS), id="symptoms", markup=False)
        yield Footer(compact=True)

    def _options(self, symptoms: list[Symptom] | tuple[Symptom, ...]) -> list[Option]:
        words = self._typed_words()
        out = []
        for s in symptoms:
            prompt = Text()
            prompt.append_text(_highlighted(s.label, words, "bold"))
            prompt.append("\n  ")
            prompt.append_text(_highlighted(s.description, words, "dim"))
            matched = self.reading.words(s.id) if self.reading is not None else []
            if matched:
                prompt.append("\n  matches: ", style="dim")
                for i, word in enumerate(matched[:4]):
                    prompt.append(", " if i else "", style="dim")
                    prompt.append(" ".join(word.split())[:40], style=MATCH_STYLE)
            out.append(Option(prompt, id=s.id))
        return out

    def _typed_words(self) -> list[str]:
        value = self.query_one("#symptom-filter", Input).value if self.is_mounted else ""
        return value.lower().split() if len(value) < 200 else []

    def on_mount(self) -> None:
        self.query_one("#symptoms", OptionList).highlighted = 0
        self.query_one("#symptom-filter", Input).focus()
        self.query_one("#error-read", Static).display = False

    def on_screen_resume(self) -> None:
        # Back here (esc esc): a fresh start, not the last filter with new keys appended.
        if self.is_mounted and self.query_one("#symptom-filter", Input).value:
            self.action_clear()

    def action_clear(self) -> None:
        field = self.query_one("#symptom-filter", ErrorInput)
        field.value = ""
        field.pasted = False
        field.focus()

    @property
    def error_text(self) -> str:
        """The field as the app's error text (lines restored)."""
        return field_to_text(self.query_one("#symptom-filter", Input).value)

    @on(Input.Changed, "#symptom-filter")
    def _filter(self, event: Input.Changed) -> None:
        from probes.triage.reading import read_error

        text = field_to_text(event.value)
        self.reading = read_error(text)
        words = event.value.lower().split()
        scores: dict[str, int] = {s.symptom: s.score for s in self.reading.ranked}
        for s in SYMPTOMS:
            if words and all(w in f"{s.id} {s.label} {s.description}".lower() for w in words):
                scores[s.id] = scores.get(s.id, 0) + LABEL_MATCH
        order = {s.id: i for i, s in enumerate(SYMPTOMS)}
        self.no_match = bool(text.strip()) and not scores
        if not text.strip() or self.no_match:
            self.shown = list(SYMPTOMS)
        else:
            ranked = sorted(scores, key=lambda sid: (-scores[sid], order[sid]))
            if "auto" not in ranked:
                ranked.append("auto")  # always something to choose
            self.shown = [SYMPTOMS[order[sid]] for sid in ranked]
        options = self.query_one("#symptoms", OptionList)
        options.clear_options()
        options.add_options(self._options(self.shown))
        # No match: nothing highlighted, so enter cannot silently "check everything".
        options.highlighted = None if self.no_match else 0
        self._show_reading()

    def _show_reading(self) -> None:
        """Under the field: the line the symptom comes from, and the target it names."""
        from probes.triage.naming import missing_reason, name_target

        read = self.query_one("#error-read", Static)
        if self.no_match:
            typed = " ".join(self.query_one("#symptom-filter", Input).value.split())[:40]
            read.update(
                Text(f"No symptom matches {typed!r}: pick one with up/down, or esc to clear.")
            )
            read.display = True
            return
        line = self.reading.line if self.reading is not None else ""
        if not line or not self._keeps_error():
            read.display = False
            return
        text = Text("your app said: ", style="bold")
        text.append_text(_spans_highlighted(line))
        if self.target is None:
            named = name_target(self.reading.text if self.reading is not None else "")
            target = named.target() if named is not None else None
            if target is not None and named is not None:
                text.append("\n→ target: ", style="bold")
                text.append(named.field_text)
            else:
                text.append(f"\n→ {missing_reason(named)}: you will type it next", style="italic")
        read.update(text)
        read.display = True

    def _keeps_error(self) -> bool:
        """Pasted text, or typed words enough to be a message, that names a symptom."""
        field = self.query_one("#symptom-filter", ErrorInput)
        if self.reading is None or not self.reading.ranked:
            return False
        return field.pasted or len(field.value.split()) >= KEEP_WORDS

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
            self._choose(event.option.id)

    def action_choose(self) -> None:
        options = self.query_one("#symptoms", OptionList)
        if options.highlighted is None or not self.shown:
            self.app.bell()
            if self.no_match:
                self.notify("Nothing matches: pick a symptom with up/down.", markup=False)
            return
        option = options.get_option_at_index(options.highlighted)
        if option.id:
            self._choose(option.id)

    @on(SavedServices.Chosen)
    def _saved_chosen(self, event: SavedServices.Chosen) -> None:
        """A saved service: exactly what ``check @name`` runs (its URL, headers from the
        environment, kind, expected status and usual symptom)."""
        import os

        from probes.record.services import ServicesError, service_check

        try:
            check = service_check(event.service, os.environ)
        except ServicesError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.netmedic.start_diagnosis(check.target, check.symptom, service=check)

    def _choose(self, symptom: str) -> None:
        error = self.error_text if self._keeps_error() else ""
        self.netmedic.symptom_chosen(symptom, self.target, error)


def _highlighted(text: str, words: list[str], style: str) -> Text:
    """*text* with every typed word that occurs in it highlighted."""
    out = Text(text, style=style)
    lowered = text.lower()
    for word in words:
        start = lowered.find(word)
        while word and start >= 0:
            out.stylize(MATCH_STYLE, start, start + len(word))
            start = lowered.find(word, start + len(word))
    return out


def _spans_highlighted(line: str) -> Text:
    """The error line with every clue it holds highlighted (plain text, no markup)."""
    from probes.triage.reading import read_error

    out = Text(line)
    for start, end in read_error(line).spans:
        out.stylize(MATCH_STYLE, start, end)
    return out
