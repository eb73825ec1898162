"""The probe panel base class and the generic panel for any probe result."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from probes.core.model import ProbeResult, Status, to_jsonable
from probes.record.revive import ReviveError, revive
from tui.widgets.plain import STATUS_ICON, STATUS_STYLE, kv_text, ms, plain

MAX_ITEMS = 8  # list items a generic panel shows before "… N more"


def compact(value: Any) -> Any:
    """A JSON-able value without empty fields, with short lists and readable keys."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = compact(item)
            if item is None or item == "" or item == [] or item == {}:
                continue
            out[str(key).replace("_", " ")] = item
        return out
    if isinstance(value, list) and value and all(_pair(item) for item in value):
        fields = dict(value[:MAX_ITEMS])  # (name, value) pairs read best as fields
        if len(value) > MAX_ITEMS:
            fields["…"] = f"{len(value) - MAX_ITEMS} more"
        return compact(fields)
    if isinstance(value, list):
        items = [compact(item) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more")
        return items
    return value


def _pair(item: Any) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and not isinstance(item[1], (list, dict))
    )


def _cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(ch, seg.style) for seg in strip for ch in seg.text]


def _changed_span(before: Strip, after: Strip) -> tuple[int, int] | None:
    """The [start, end) columns where two rendered lines differ, or None.  One span a
    line: Textual writes every span of a line from the start of the widget's part of
    it, so two spans on one line cost more than one that covers both."""
    if list(before) == list(after):
        return None
    a, b = _cells(before), _cells(after)
    if len(a) != len(b) or len(a) != after.cell_length:  # wide characters: whole line
        return 0, max(after.cell_length, 1)
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if not diff:
        return None
    return diff[0], diff[-1] + 1


class ProbePanel(Widget, can_focus=True):
    """One probe's live panel.  Subclasses override :meth:`render_data`.

    The panel renders its content to lines itself and, when a result arrives,
    repaints only the lines that changed (Textual's line API): a live trace that
    changes a few numbers per round writes a few cells, not the whole panel.
    """

    HELP = """\
## Probe panel
Shows what one probe found, updated live while it runs.
The border says the probe's status and how long it took.

- **enter** folds the panel to its one-line summary (or unfolds it).
"""
    BINDINGS = [
        Binding("enter", "toggle_fold", "Fold", id="panel.fold", tooltip="Fold or unfold"),
    ]

    DATA: ClassVar[type | None] = None  # the probe's data class, when the panel has one

    def __init__(self, probe: str, title: str) -> None:
        super().__init__(id=panel_id(probe), classes="probe-panel -pending")
        self.probe = probe
        self.title = title
        self.result: ProbeResult | None = None
        self._body: RenderableType = Text("waiting…")
        self._strips: list[Strip] = []
        self._strip_width = -1
        self._title_key = ""
        self.border_title = Text(f"{title} · waiting")

    # ---- line API: render once per change, repaint changed lines only -------------
    def update(self, renderable: RenderableType, keep_height: bool = False) -> None:
        """Show *renderable*, repainting only the cells that changed.  With
        *keep_height* (a live result) the panel does not shrink: a line that comes and
        goes each round (a rate-limited hop) would relayout, and repaint, the column."""
        self._body = renderable
        width = self.content_size.width
        if width <= 0:
            self._strip_width = -1
            self.refresh(layout=True)
            return
        old = self._strips
        new = self._render_strips(width)
        if keep_height and len(new) < len(old):
            new += [Strip.blank(width)] * (len(old) - len(new))
        self._strips, self._strip_width = new, width
        if len(new) != len(old):
            self.refresh(layout=True)
            return
        for y, (before, after) in enumerate(zip(old, new, strict=True)):
            span = _changed_span(before, after)
            if span is not None:
                # Textual writes a changed span from the start of the segment it falls
                # in: cut the line there, so only the changed cells are written.
                new[y] = Strip.join(after.divide([span[0], span[1], width]))
                self.refresh(Region(span[0], y, span[1] - span[0], 1))

    def _render_strips(self, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update_width(width)
        lines = console.render_lines(self._body, options, pad=True)
        return [Strip(list(Segment.simplify(line)), width) for line in lines]

    def _ensure(self, width: int) -> None:
        if width != self._strip_width and width > 0:
            self._strips = self._render_strips(width)
            self._strip_width = width

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._ensure(width)
        return max(1, len(self._strips))

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        self._ensure(width)
        if 0 <= y < len(self._strips):
            return self._strips[y].apply_style(self.rich_style)
        return Strip.blank(width, self.rich_style)

    def typed(self, result: ProbeResult) -> ProbeResult:
        """A result read back from a journal carries plain JSON: rebuild the data
        class this panel draws, or keep the JSON (shown as plain fields)."""
        if self.DATA is None or not isinstance(result.data, dict):
            return result
        try:
            return dataclasses.replace(result, data=revive(self.DATA, result.data))
        except ReviveError:
            return result

    def show_result(self, result: ProbeResult, cut_short: bool = False) -> None:
        """Draw *result*.  A partial result is not a status yet: it is drawn as
        "running" (or "cut short" for a run that ended before the probe did),
        never with the green of a finished one."""
        result = self.typed(result)
        self.result = result
        final = result.final
        for status in Status:
            self.set_class(final and result.status is status, f"-{status.value}")
        self.remove_class("-pending")
        self.set_class(not final and not cut_short, "-live")
        self.set_class(not final and cut_short, "-cut")
        # A live result keeps a stable title: retitling repaints the whole panel.
        if final:
            icon, style = STATUS_ICON[result.status], STATUS_STYLE[result.status]
            state = f"{result.status.value} · {ms(result.duration_s)}"
        elif cut_short:
            icon, style, state = "◐", "bold", "cut short: partial"
        else:
            icon, style, state = "⟳", "bold", "running"
        key = f"{state}|{result.status.value}"
        if key != self._title_key:
            title = Text(f"{self.title} ")
            title.append(icon, style=style)
            title.append(f" {state}")
            self.border_title = title
            self._title_key = key
        self.update(self._render_all(result), keep_height=not final and not cut_short)

    def show_not_finished(self) -> None:
        """The run ended before this probe reported anything."""
        self.remove_class("-pending")
        self.add_class("-cut")
        self.border_title = Text(f"{self.title} · did not finish")
        self._title_key = "cut"
        self.update(Text("no result: the run was cut short before this probe answered"))

    def _render_all(self, result: ProbeResult) -> RenderableType:
        summary = plain(result.summary, STATUS_STYLE[result.status] if result.final else "")
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
        data = compact(to_jsonable(result.data))
        text = kv_text(data)
        text.rstrip()
        return text

    def action_toggle_fold(self) -> None:
        self.toggle_class("-folded")
        if self.result is not None:
            self.update(self._render_all(self.result))


class GenericPanel(ProbePanel):
    """Any probe without a dedicated panel: status, summary, key/value data."""


def panel_id(probe: str) -> str:
    """``panel-tcp``: a widget id for any probe name, even a forged one from a resumed
    journal (``"1 x"``), which Textual would refuse as an id (BadIdentifier)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", probe)
    if safe == probe:
        return f"panel-{probe}"
    return f"panel-{safe}-{hashlib.sha256(probe.encode()).hexdigest()[:8]}"
