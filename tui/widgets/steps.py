"""The guided-steps checklist for the selected finding."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from probes.core.events import StepState
from probes.core.model import Finding, NextStep
from tui.widgets.plain import plain

MARK = {
    StepState.TODO: ("[ ]", ""),
    StepState.DONE: ("[✔]", "green"),
    StepState.DID_NOT_HELP: ("[✘]", "yellow"),
}


class StepsChecklist(OptionList):
    HELP = """\
## Next steps
The selected finding's steps, as a checklist.

- **space** (or a click on its box) done (again: clear), **x** didn't help
- **c** copies its command (OSC 52, works over SSH)
- **n** notes the finding, **z** zooms
"""
    BINDINGS = [
        Binding("space", "mark('done')", "Done", id="steps.done", tooltip="Mark the step done"),
        Binding(
            "x",
            "mark('did_not_help')",
            "No help",
            id="steps.no_help",
            tooltip="Mark: did not help",
            show=False,  # 80 columns: in the F1 help, not the footer
        ),
        Binding("c", "copy", "Copy", id="steps.copy", tooltip="Copy the step's command"),
        Binding("j", "cursor_down", "Down", show=False, id="steps.down"),
        Binding("k", "cursor_up", "Up", show=False, id="steps.up"),
    ]

    class Marked(Message):
        def __init__(self, checklist: StepsChecklist, index: int, state: StepState) -> None:
            super().__init__()
            self.checklist = checklist
            self.index = index
            self.state = state

        @property
        def control(self) -> StepsChecklist:
            return self.checklist

    class CopyRequested(Message):
        def __init__(self, checklist: StepsChecklist, command: str) -> None:
            super().__init__()
            self.checklist = checklist
            self.command = command

        @property
        def control(self) -> StepsChecklist:
            return self.checklist

    def __init__(self) -> None:
        super().__init__(id="steps", markup=False)
        self.finding: Finding | None = None
        self.states: list[StepState] = []
        # The steps are a resumed journal's, not derived now: a journal is a file
        # anyone could have edited, so its commands are labelled and copied as such.
        self.recorded = False
        self.border_title = "Next steps"

    def show(self, finding: Finding | None, states: list[StepState]) -> None:
        same = self.finding is not None and finding is not None and finding.id == self.finding.id
        if same and finding.next_steps == self.finding.next_steps and states == self.states:  # type: ignore[union-attr]
            return  # a live re-diagnosis with the same steps: rebuilding would repaint
        keep = self.highlighted if same else None
        self.finding = finding
        self.states = states
        self.clear_options()
        if finding is None:
            return
        self.add_options(
            Option(self._prompt(i, step, states[i]), id=f"s{i}")
            for i, step in enumerate(finding.next_steps)
        )
        if finding.next_steps:
            self.highlighted = keep if keep is not None else 0
        else:
            self.add_option(
                Option(Text("Nothing to do for this finding.", style="dim"), disabled=True)
            )

    def set_state(self, index: int, state: StepState) -> None:
        if self.finding is None:
            return
        self.states[index] = state
        self.replace_option_prompt_at_index(
            index, self._prompt(index, self.finding.next_steps[index], state)
        )

    def _prompt(self, index: int, step: NextStep, state: StepState) -> RenderableType:
        """The box, the number, then text and command hanging under the text: a long
        command wraps under itself, never back to the first column."""
        mark, style = MARK[state]
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        body = plain(step.text, "strike dim" if state is StepState.DONE else "")
        if step.command:
            body.append("\n$ ", style="dim")
            body.append_text(plain(step.command, "cyan"))
            if self.recorded:
                body.append("  (read from the journal)", style="dim italic")
        grid.add_row(Text.assemble((mark, style), f" {index + 1}."), body)
        return grid

    async def _on_click(self, event: events.Click) -> None:
        """A click selects the step; a click on its box also ticks it (as space)."""
        offset = event.get_content_offset(self)
        on_option = event.style.meta.get("option") is not None
        await super()._on_click(event)
        if on_option and offset is not None and offset.x < len(MARK[StepState.TODO][0]):
            self.action_mark("done")

    def _current(self) -> tuple[int, NextStep] | None:
        if self.finding is None or self.highlighted is None:
            return None
        if self.highlighted >= len(self.finding.next_steps):
            return None
        return self.highlighted, self.finding.next_steps[self.highlighted]

    def action_mark(self, state: str) -> None:
        current = self._current()
        if current is None:
            self.notify("No step to mark: pick a finding with next steps first.", markup=False)
            return
        self.post_message(self.Marked(self, current[0], StepState(state)))

    def action_copy(self) -> None:
        current = self._current()
        if current is None:
            self.notify("No step selected to copy a command from.", markup=False)
            return
        if current[1].command:
            if self.recorded:
                self.notify(
                    "This command was read from the session journal, not derived by netmedic "
                    "now: read it before you run it (r retests and derives it again).",
                    severity="warning",
                    markup=False,
                )
            self.post_message(self.CopyRequested(self, current[1].command))
        else:
            self.notify("This step has no command to copy.", severity="warning")
