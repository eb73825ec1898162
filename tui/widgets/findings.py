"""The findings list: verdict first, then the rest by rank."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from probes.core.model import Diagnosis, Finding
from tui.widgets.plain import SEVERITY_ICON, SEVERITY_STYLE, plain


class FindingsList(OptionList):
    HELP = """\
## Findings
What the evidence says, the likely root cause (the verdict) first.
Move with **up/down**; the selected finding's evidence and next steps are shown
below it.
"""
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="findings.down"),
        Binding("k", "cursor_up", "Up", show=False, id="findings.up"),
    ]

    def __init__(self) -> None:
        super().__init__(id="findings", markup=False)
        self.findings: tuple[Finding, ...] = ()
        self.partial = False  # from a run that did not finish: not a verdict
        self._shown_partial = False
        # A live run's findings that came and went: "path.loss cleared at 12:03:04".
        self.cleared: tuple[str, ...] = ()
        self._shown_cleared: tuple[str, ...] = ()
        self._verdict = ""
        self.border_title = "Findings"

    def show(self, diagnosis: Diagnosis) -> None:
        title = "Findings so far (partial)" if self.partial else "Findings"
        if self.border_title != title:  # setting it repaints the whole list
            self.border_title = title
        ordered = sorted(diagnosis.findings, key=lambda f: (f.id != diagnosis.verdict, f.rank))
        # A live run re-diagnoses every second: numbers in the evidence move, the
        # list does not.  Repaint only when a line of it would change.
        key = [(f.id, f.severity, f.title, f.id == diagnosis.verdict) for f in ordered]
        same = key == self._key(self.findings) and self._shown_cleared == self.cleared
        if same and self._shown_partial == self.partial:
            self.findings = tuple(ordered)
            return
        if self._same_rows(ordered, diagnosis.verdict) and self._shown_partial == self.partial:
            # Only titles moved (a loss figure): new prompts in place.  Rebuilding
            # the options would relayout, and a relayout repaints the whole screen.
            self.findings = tuple(ordered)
            for i, f in enumerate(ordered):
                self.replace_option_prompt_at_index(
                    i, self._prompt(f, f.id == diagnosis.verdict, self.partial)
                )
            return
        self._shown_partial = self.partial
        self._shown_cleared = self.cleared
        self._verdict = diagnosis.verdict
        # Follow the verdict while the person is on it; keep their own pick otherwise.
        current = self.highlighted_finding
        on_top = current is None or current.id == self.findings[0].id
        keep = None if on_top else current
        self.findings = tuple(ordered)
        self.clear_options()
        self.add_options(
            Option(self._prompt(f, f.id == diagnosis.verdict, self.partial), id=f"f{i}")
            for i, f in enumerate(ordered)
        )
        self.add_options(
            Option(plain(f"✓ {line}", "dim"), id=f"c{i}", disabled=True)
            for i, line in enumerate(self.cleared)
        )
        index = next((i for i, f in enumerate(ordered) if keep and f.id == keep.id), 0)
        if ordered:
            self.highlighted = index

    def _same_rows(self, ordered: list[Finding], verdict: str) -> bool:
        """The same findings in the same order, verdict and cleared lines."""
        rows = [(f.id, f.severity) for f in ordered]
        return (
            rows == [(f.id, f.severity) for f in self.findings]
            and self._shown_cleared == self.cleared
            and verdict == self._verdict
            and self.option_count == len(ordered) + len(self.cleared)
        )

    def _key(self, findings: tuple[Finding, ...]) -> list[tuple[object, ...]]:
        verdict = self._verdict
        return [(f.id, f.severity, f.title, f.id == verdict) for f in findings]

    def highlight_id(self, finding_id: str) -> None:
        """Move the highlight to *finding_id*, if it is listed."""
        index = next((i for i, f in enumerate(self.findings) if f.id == finding_id), None)
        if index is not None:
            self.highlighted = index

    @property
    def highlighted_finding(self) -> Finding | None:
        if self.highlighted is None or self.highlighted >= len(self.findings):
            return None
        return self.findings[self.highlighted]

    @staticmethod
    def _prompt(finding: Finding, verdict: bool, partial: bool = False) -> Text:
        text = Text()
        text.append(f"{SEVERITY_ICON[finding.severity]} ", style=SEVERITY_STYLE[finding.severity])
        text.append(finding.id, style="bold" if verdict else "")
        if verdict:
            text.append(" (so far)" if partial else " (verdict)", style="italic")
        text.append(" ")
        text.append_text(plain(finding.title, "dim"))
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text
