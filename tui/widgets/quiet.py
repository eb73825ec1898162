"""Updating a Static without repainting the screen when nothing moved.

``Static.update`` asks for a new layout by default, and a new layout makes Textual
repaint the whole screen (about 15 KB at 120x40).  A live run changes a number in
the status line, the verdict banner or the evidence every second: when the text is
the same, nothing is done; when it still wraps to as many lines, only the widget
repaints.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def update_quietly(widget: Static, text: Text, keep_height: bool = False) -> None:
    """Show *text* in *widget*; relayout only when its height may change.  With
    *keep_height* a shorter text is padded to the height shown (a live finding's
    evidence gaining and losing a line each round must not relayout each round)."""
    before: Text | None = getattr(widget, "_quiet_text", None)
    if before is not None and before == text:
        return
    width = widget.content_size.width
    old_height = _height(widget, before, width) if before is not None and width > 0 else -1
    new_height = _height(widget, text, width) if width > 0 else -1
    if keep_height and 0 < new_height < old_height:
        text = text.copy()
        text.append("\n" * (old_height - new_height))
        new_height = old_height
    same_height = old_height > 0 and old_height == new_height
    widget._quiet_text = text  # type: ignore[attr-defined]
    widget.update(text, layout=not same_height)


def _height(widget: Static, text: Text, width: int) -> int:
    if text.no_wrap:
        return max(1, len(text.plain.split("\n")))
    return max(1, len(text.wrap(widget.app.console, width)))
