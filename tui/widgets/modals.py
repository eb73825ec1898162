"""Small modal screens: the copy fallback and the note editor."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class CopyScreen(ModalScreen[None]):
    """Shows a command selected in an input, for terminals without OSC 52."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="copy.close")]

    def __init__(self, command: str, blink: bool = True) -> None:
        super().__init__(classes="modal")
        self.command = command
        self.blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Copy command"
            yield Label(
                "Sent to the clipboard (OSC 52). If your terminal ignores that, "
                "select the command below and copy it by hand.",
                markup=False,
            )
            field = Input(self.command, id="copy-command", select_on_focus=True)
            field.cursor_blink = self.blink
            yield field
            yield Label("enter / esc: close", classes="hint", markup=False)

    def on_input_submitted(self) -> None:
        self.dismiss()


class NoteScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="note.cancel")]

    def __init__(self, about: str, blink: bool = True) -> None:
        super().__init__(classes="modal")
        self.about = about
        self.blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Add a note"
            yield Label(f"About: {self.about}", markup=False)
            field = Input(placeholder="What did you try or see?", id="note-text", max_length=500)
            field.cursor_blink = self.blink
            yield field
            yield Label("enter: save · esc: cancel", classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
