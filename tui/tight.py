"""Partial screen updates that write the changed cells, not whole widget lines.

Textual (8.2) writes each changed span of a line from the left edge of the widget
that owns that part of the line, to the span's end, one escape sequence per segment:
a number that moves at column 40 of a trace row rewrites the row's border, hop and
host too, with a full colour sequence for every table cell (about 600 bytes for
a few changed cells).  Over a slow SSH link that is most of what a live screen
costs.  This compositor writes only the span that changed (as curses does), with
neighbouring segments of the same style merged into one escape sequence.

A line with double-width characters is written as Textual does: cutting at a
column inside such a character would overwrite half of it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.control import Control
from rich.segment import Segment
from textual._compositor import ChopsUpdate, Compositor
from textual.screen import Screen
from textual.strip import Strip


def _narrow(strip: Strip) -> bool:
    """True when every character of *strip* is one cell wide."""
    return strip.cell_length == sum(len(text) for text, _, _ in strip)


class TightChopsUpdate(ChopsUpdate):
    def render_segments(self, console: Console) -> str:
        sequences: list[str] = []
        append = sequences.append
        move_to = Control.move_to
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            for end, (x, strip) in zip(self.chop_ends[y], self.chops[y].items(), strict=False):
                if strip is None or x > x2 or end <= x1:
                    continue
                left = max(x, x1) if _narrow(strip) else x
                part = strip.crop(left - x, min(end, x2) - x)
                if not part.cell_length:
                    continue
                append(move_to(left, y).segment.text)
                append(Strip(Segment.simplify(part), part.cell_length).render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)


class TightCompositor(Compositor):
    def render_partial_update(self) -> ChopsUpdate | None:
        update = super().render_partial_update()
        if update is None:
            return None
        return TightChopsUpdate(update.chops, update.spans, update.chop_ends)


def tighten(screen: Screen[Any]) -> None:
    """Give *screen* (before it is mounted) the compositor that writes changed cells only."""
    screen._compositor = TightCompositor()
