"""What a live screen writes to the terminal: the changed cells only (tui.tight),
probe panels that cut lines at the changed span and hold their height while live."""

from __future__ import annotations

import re

import pytest
from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._compositor import ChopsUpdate
from textual.app import App, ComposeResult
from textual.strip import Strip

from probes.core.model import ProbeResult, Status
from tui.tight import TightChopsUpdate
from tui.widgets.panels.base import ProbePanel

CONSOLE = Console(color_system="truecolor", force_terminal=True, legacy_windows=False)
TOKEN = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[[0-9;]*m|\n|(.)", re.S)


def _paint(screen: list[list[str]], output: str) -> None:
    """A tiny terminal: cursor moves and characters (styles ignored)."""
    row = col = 0
    for move_row, move_col, char in TOKEN.findall(output):
        if move_row:
            row, col = int(move_row) - 1, int(move_col) - 1
        elif char:
            screen[row][col] = char
            col += 1


def _strip(*parts: tuple[str, str]) -> Strip:
    return Strip([Segment(text, Style.parse(style) if style else None) for text, style in parts])


def _update(cls: type[ChopsUpdate], spans: list[tuple[int, int, int]]) -> str:
    # One line, two widgets side by side: a bordered panel (0..30) and a list (30..40).
    # "│ 3 10.10.2.2   12  8.1 ▇": the figures at 14..18 and 18..23.
    panel = _strip(
        ("│", "blue"), (" 3 10.10.2.2 ", "white"), ("  12", "bold red"), ("  8.1 ▇", "white")
    )
    pad = Segment(" " * (30 - panel.cell_length), Style.parse("white"))
    panel = Strip.join([panel, Strip([pad])])
    side = _strip(("findings  ", "green"))
    return cls([{0: panel, 30: side}], spans, [[30, 40]]).render_segments(CONSOLE)


def test_tight_update_writes_the_changed_span_only() -> None:
    spans = [(0, 18, 23)]  # "  8.1" moved
    textual, tight = _update(ChopsUpdate, spans), _update(TightChopsUpdate, spans)
    before = [list("x" * 40)]
    after_textual, after_tight = [list(r) for r in before], [list(r) for r in before]
    _paint(after_textual, textual)
    _paint(after_tight, tight)
    # Textual writes from the panel's left edge; the tight update only the span.
    assert "".join(after_textual[0][:23]) == "│ 3 10.10.2.2   12  8.1"
    assert "".join(after_tight[0]) == "x" * 18 + "  8.1" + "x" * 17
    assert tight.startswith("\x1b[1;19H") and len(tight) < len(textual) / 2


def test_tight_update_spans_two_widgets_and_merges_same_style_segments() -> None:
    tight = _update(TightChopsUpdate, [(0, 14, 35)])
    screen = [list("x" * 40)]
    _paint(screen, tight)
    assert "".join(screen[0]) == "x" * 14 + "  12  8.1 ▇" + " " * 5 + "findi" + "x" * 5
    # Three escape sequences: bold red, the rest of the panel with its padding (two
    # segments of one style, merged), the list.
    assert tight.count("\x1b[0m") == 3


def test_tight_update_writes_lines_with_wide_characters_as_textual_does() -> None:
    wide = _strip(("│ 東京 host ", ""), ("9.9", "bold"))
    spans = [(0, 10, 13)]
    chops, ends = [{0: wide}], [[wide.cell_length]]
    tight = TightChopsUpdate(chops, spans, ends).render_segments(CONSOLE)
    assert tight == ChopsUpdate(chops, spans, ends).render_segments(CONSOLE)


class LinesPanel(ProbePanel):
    def render_data(self, result: ProbeResult) -> RenderableType | None:
        return Text("\n".join(result.data))


class PanelApp(App[None]):
    CSS = "LinesPanel { height: auto; }"

    def compose(self) -> ComposeResult:
        yield LinesPanel("lines", "Lines")


def _result(*lines: str, final: bool = False) -> ProbeResult:
    return ProbeResult("lines", Status.OK, 1.0, "summary", tuple(lines), final=final)


@pytest.mark.asyncio
async def test_live_panel_holds_its_height_and_cuts_lines_at_the_change() -> None:
    app = PanelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(LinesPanel)
        panel.show_result(_result("hop 1  0%  1.0", "hop 2 10%  2.0", "rate-limited: hop 2"))
        await pilot.pause()
        height = panel.size.height
        # A live round without the rate-limited line: no relayout, a blank line instead.
        panel.show_result(_result("hop 1  0%  1.0", "hop 2 12%  2.0"))
        await pilot.pause()
        assert panel.size.height == height
        assert panel._strips[3].text.strip() == ""
        # The changed figure starts a segment: Textual writes from there, not from
        # the panel's edge.
        starts, x = set(), 0
        for segment in panel._strips[2]:
            starts.add(x)
            x += segment.cell_length
        assert "hop 2 12%  2.0".index("12") + 1 in starts  # "10" -> "12"
        # The final result may shrink the panel.
        panel.show_result(_result("hop 1  0%  1.0", "hop 2 12%  2.0", final=True))
        await pilot.pause()
        assert panel.size.height == height - 1
