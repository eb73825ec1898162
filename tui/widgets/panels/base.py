"""The probe panel base class and the generic panel for any probe result."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from probes.model import ProbeResult, Status, to_jsonable
from tui.widgets.plain import STATUS_ICON, STATUS_STYLE, kv_text, ms, plain


class ProbePanel(Static, can_focus=True):
    """One probe's live panel.  Subclasses override :meth:`render_data`."""

    HELP = """\
## Probe panel
Shows what one probe found, updated live while it runs.
The border says the probe's status and how long it took.

- **enter** folds the panel to its one-line summary (or unfolds it).
"""
    BINDINGS = [
        Binding("enter", "toggle_fold", "Fold", id="panel.fold", tooltip="Fold or unfold"),
    ]

    def __init__(self, probe: str, title: str) -> None:
        super().__init__(id=f"panel-{probe}", classes="probe-panel -pending", markup=False)
        self.probe = probe
        self.title = title
        self.result: ProbeResult | None = None
        self.border_title = Text(f"{title} · waiting")

    def show_result(self, result: ProbeResult) -> None:
        self.result = result
        for status in Status:
            self.set_class(result.status is status, f"-{status.value}")
        self.remove_class("-pending")
        self.set_class(not result.final, "-live")
        state = result.status.value if result.final else "running"
        title = Text(f"{self.title} ")
        title.append(STATUS_ICON[result.status], style=STATUS_STYLE[result.status])
        title.append(f" {state} · {ms(result.duration_s)}")
        self.border_title = title
        self.update(self._render_all(result))

    def _render_all(self, result: ProbeResult) -> RenderableType:
        summary = plain(result.summary, STATUS_STYLE[result.status])
        if self.has_class("-folded"):
            return summary
        parts: list[RenderableType] = [summary]
        if result.error is not None and result.status is not Status.OK:
            err = Text("  ")
            err.append(result.error.errno_name, style="bold")
            err.append_text(plain(f": {result.error.explanation}"))
            if result.error.answered_by:
                err.append_text(plain(f" (from {result.error.answered_by})"))
            parts.append(err)
        body = self.render_data(result) if result.data is not None else None
        if body is not None:
            parts.append(body)
        return Group(*parts)

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = to_jsonable(result.data)
        text = kv_text(data)
        text.rstrip()
        return text

    def action_toggle_fold(self) -> None:
        self.toggle_class("-folded")
        if self.result is not None:
            self.update(self._render_all(self.result))


class GenericPanel(ProbePanel):
    """Any probe without a dedicated panel: status, summary, key/value data."""
