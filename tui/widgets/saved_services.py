"""The saved services (services.toml), listed above the symptoms: one key to check one.

Stands alone: choosing a service posts :class:`SavedServices.Chosen`; the screen that
holds the widget starts the diagnosis.  A file with errors shows its one-line,
line-numbered message instead of the list.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from probes.record.services import SavedService, ServicesError, load_services_file


class SavedServices(Widget):
    DEFAULT_CSS = """
    SavedServices {
        height: auto;
        max-height: 8;
        margin: 0 1;
    }
    SavedServices > #saved-heading {
        color: $text-muted;
    }
    SavedServices > OptionList {
        height: auto;
        max-height: 6;
        border: round $secondary 50%;
    }
    SavedServices > #saved-error {
        color: $error;
        width: 100%;  /* wraps: the file, the line and the "did you mean" stay readable */
    }
    """

    @dataclass
    class Chosen(Message):
        service: SavedService

    def __init__(self, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        try:
            saved = load_services_file()
            # A bad entry is left out and said (file:line); the good ones stay usable.
            self.services, self.error = saved.services, "\n".join(saved.errors)
        except ServicesError as exc:
            self.services, self.error = (), str(exc)
        self.display = bool(self.services or self.error)

    def compose(self) -> ComposeResult:
        if self.error:
            yield Label(self.error, id="saved-error", markup=False)
        if not self.services:
            return
        yield Label(
            "Saved services (services.toml) — tab here, enter to check:", id="saved-heading"
        )
        options = []
        for s in self.services:
            prompt = Text()
            prompt.append(f"@{s.name}", style="bold")
            prompt.append(f"  {s.check_url}", style="dim")
            if s.symptom:
                prompt.append(f"  ({s.symptom})", style="dim")
            options.append(Option(prompt, id=s.name))
        yield OptionList(*options, id="saved-list", markup=False)

    @on(OptionList.OptionSelected, "#saved-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = next((s for s in self.services if s.name == event.option.id), None)
        if chosen is not None:
            self.post_message(self.Chosen(chosen))
