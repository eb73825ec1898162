"""The selected finding's whole evidence and notes: focusable and scrollable, so
nothing is cut off on a small terminal (``z`` zooms it to the whole screen)."""

from __future__ import annotations

from textual.containers import VerticalScroll


class EvidenceView(VerticalScroll, can_focus=True):
    ALLOW_MAXIMIZE = True  # scroll containers opt out by default
    HELP = """\
## Evidence
Why the selected finding was made, line by line, and your notes on it (✎).
Scroll with **up/down**, **page up/down**; **z** shows it on the whole screen.
"""

    def __init__(self) -> None:
        super().__init__(id="evidence-view")
        self.border_title = "Evidence & notes"
