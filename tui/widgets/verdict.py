"""The verdict banner: running, the root cause, or green — and what changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from probes.core.model import Diagnosis, Finding
from tui.widgets.plain import SEVERITY_ICON, plain
from tui.widgets.quiet import update_quietly


class VerdictBanner(Static):
    def __init__(self) -> None:
        super().__init__(id="verdict", classes="-running", markup=False)

    def show_running(
        self, run_number: int, previous: str | None, progress: tuple[int, int] | None = None
    ) -> None:
        text = Text("⟳ probing…", style="bold")
        if progress is not None:
            text.append(f" {progress[0]} of {progress[1]} probes finished")
        if previous is not None:
            text.append(f"  (run {run_number}; last verdict {previous})")
        self._set("-running", text)

    def show_incomplete(
        self,
        verdict_text: str,
        detail: str,
        so_far: Finding | None = None,
        footnote: str = "",
    ) -> None:
        """A run cut short: never green, never a verdict."""
        text = Text(f"◐ {verdict_text}", style="bold")
        text.append(f": {detail}")
        if so_far is not None:
            text.append("\nSeen so far (not a verdict): ", style="italic")
            text.append(so_far.id)
        if footnote:
            text.append("\n")
            text.append(footnote, style="italic")
        self._set("-incomplete", text)

    def show_verdict(
        self,
        diagnosis: Diagnosis,
        finished: bool,
        run_number: int,
        previous: str | None,
        changes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
        footnote: str = "",
        progress: tuple[int, int] | None = None,
    ) -> None:
        verdict: Finding | None = next(
            (f for f in diagnosis.findings if f.id == diagnosis.verdict), None
        )
        unfinished = next((f for f in diagnosis.findings if f.id == "probe.incomplete"), None)
        if verdict is None and diagnosis.verdict == "incomplete" and unfinished is not None:
            text = Text("◐ incomplete", style="bold")  # a probe could not finish: say which
            text.append_text(plain(f": {unfinished.title}"))
            state = "-incomplete"
        elif verdict is None and diagnosis.verdict == "incomplete" and finished:
            text = Text("◐ incomplete", style="bold")
            text.append(": the run was cut short; the verdict so far is not an answer")
            state = "-incomplete"
        elif verdict is None:  # ok, or probes still to answer (live: a first result)
            text = Text("✔ ok", style="bold")
            answered = progress is not None and progress[0] >= progress[1]
            if finished:
                text.append(": no problem found")
                state = "-ok"
            elif diagnosis.verdict == "ok" and answered:  # live: every probe has answered
                text.append(": nothing wrong so far (live)")
                state = "-ok"
            else:  # nothing wrong yet is not "ok": say how far the run is
                text = Text("⟳ probing…", style="bold")
                text.append(" nothing wrong so far")
                state = "-running"
        else:
            # The same glyph as the findings list: ▲ for a warning, ✘ for an error.
            text = Text(f"{SEVERITY_ICON[verdict.severity]} {verdict.id}", style="bold")
            text.append(": ")
            text.append_text(plain(verdict.title))
            if not finished and (progress is None or progress[0] < progress[1]):
                text.append(" (still probing)", style="italic")
            state = "-error" if verdict.severity.value == "error" else "-warning"
        if not finished and progress is not None and progress[0] < progress[1]:
            text.append(f" · {progress[0]} of {progress[1]} probes finished")
        if finished and previous is not None:
            text.append("\n")
            if previous == diagnosis.verdict:
                text.append(f"Retest {run_number}: verdict unchanged ({previous})")
            else:
                text.append(
                    f"Retest {run_number}: verdict moved {previous} → {diagnosis.verdict}",
                    style="bold",
                )
            gone, new = changes
            if gone:
                text.append(f" · gone: {', '.join(gone)}")
            if new:
                text.append(f" · new: {', '.join(new)}")
        if footnote:
            text.append("\n")
            text.append(footnote, style="italic")
        self._set(state, text)

    def show_failed(self, error: BaseException) -> None:
        text = Text("! the run failed: ", style="bold")
        text.append_text(plain(error))
        text.append(" (press r to retest)")
        self._set("-warning", text)

    def _set(self, state: str, text: Text) -> None:
        for cls in ("-running", "-ok", "-error", "-warning", "-incomplete"):
            self.set_class(cls == state, cls)
        update_quietly(self, text)
