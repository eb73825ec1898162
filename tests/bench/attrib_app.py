"""netmedic's TUI with each frame's bytes attributed to the widgets that wrote them.

    python -m tests.bench.attrib_app OUT.jsonl [netmedic arguments...]
    python -m tests.bench.attrib_app OUT.jsonl -m tests.bench.live_app

Runs ``tui.cli.main`` with Textual's compositor watched: every frame written to the
terminal becomes one JSON line in OUT.jsonl, ``{"t": seconds, "full": bool,
"bytes": {widget: bytes}}`` (a full-screen repaint is attributed to "FULL" and the
widget that asked for the relayout, when known).  Used by tests.bench.bytes_attrib;
a measurement aid, not part of netmedic.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from typing import TYPE_CHECKING, Any

from textual._compositor import ChopsUpdate, Compositor, LayoutUpdate
from textual.widget import Widget

if TYPE_CHECKING:
    from tui.tight import TightCompositor

_out: Any = None
_started = time.monotonic()
_layout_asked: list[str] = []
_refreshed: set[str] = set()


def _name(widget: Widget | None) -> str:
    if widget is None:
        return "?"
    parts: list[str] = []
    node: Any = widget
    while node is not None and len(parts) < 2:
        if getattr(node, "id", None):
            parts.append(f"#{node.id}")
            break
        parts.append(type(node).__name__)
        node = node.parent
    return "<".join(parts)


def _emit(record: dict[str, Any]) -> None:
    record["t"] = round(time.monotonic() - _started, 3)
    _out.write(json.dumps(record) + "\n")
    _out.flush()


def _patch() -> None:
    original_refresh = Widget.refresh

    def refresh(
        self: Widget,
        *regions: Any,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Any:
        if layout and self.is_mounted:
            _layout_asked.append(_name(self))
        if self.is_mounted:
            _refreshed.add(_name(self) + ("[r]" if regions else ""))
        return original_refresh(self, *regions, repaint=repaint, layout=layout, recompose=recompose)

    Widget.refresh = refresh  # type: ignore[method-assign]

    original_partial = Compositor.render_partial_update
    original_full = Compositor.render_full_update

    def partial(self: Compositor) -> ChopsUpdate | None:
        update = original_partial(self)
        if update is None or type(self) is not Compositor:
            return update  # a subclass's own render_partial_update is watched below
        return _attribute(self, update)

    def tight_partial(self: TightCompositor) -> ChopsUpdate | None:
        update = original_tight(self)
        return None if update is None else _attribute(self, update)

    def _attribute(self: Compositor, update: ChopsUpdate) -> ChopsUpdate:
        from rich.console import Console

        console = Console(color_system="truecolor", legacy_windows=False, force_terminal=True)
        per: dict[str, int] = {}
        for span in update.spans:
            one = type(update)(update.chops, [span], update.chop_ends)
            y, x1, _ = span
            try:
                widget, _region = self.get_widget_at(x1, y)
            except Exception:
                widget = None
            key = _name(widget)
            rendered = one.render_segments(console)
            per[key] = per.get(key, 0) + len(rendered.encode())
            if key == os.environ.get("ATTRIB_DUMP"):
                _emit({"dump": key, "span": list(span), "text": rendered})
        spans = [list(s) for s in update.spans]
        _emit({"full": False, "bytes": per, "who": sorted(_refreshed), "spans": spans})
        _refreshed.clear()
        return update

    def full(self: Compositor, simplify: bool = False) -> LayoutUpdate:
        update = original_full(self, simplify=simplify)
        from rich.console import Console

        console = Console(color_system="truecolor", legacy_windows=False, force_terminal=True)
        size = len(update.render_segments(console).encode())
        asked = sorted(set(_layout_asked))
        _layout_asked.clear()
        _emit({"full": True, "bytes": {"FULL": size}, "asked": asked, "who": sorted(_refreshed)})
        _refreshed.clear()
        return update

    Compositor.render_partial_update = partial  # type: ignore[method-assign]
    from tui.tight import TightCompositor

    original_tight = TightCompositor.render_partial_update
    TightCompositor.render_partial_update = tight_partial  # type: ignore[method-assign]
    Compositor.render_full_update = full  # type: ignore[method-assign]


def main() -> int:
    global _out
    _out = open(sys.argv[1], "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the app
    _patch()
    if sys.argv[2:3] == ["-m"]:  # another app module: ... OUT.jsonl -m tests.bench.live_app
        runpy.run_module(sys.argv[3], run_name="__main__")
        return 0
    from tui.cli import main as netmedic

    return netmedic(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
