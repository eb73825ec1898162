"""The command palette's entries, generated from the bindings in reach.

Every key the focused part, its screen and the app answer to (ours: they carry
an ``id``) is a palette command with the binding's description and tooltip, so
the footer, the F1 help and the palette read one source.  A screen may name more
parts whose keys belong in its palette wherever the focus is (the steps' done
and copy while a panel has focus).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from textual.app import SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

# Keys the palette names itself (help, quit, theme) or that mean nothing there.
SKIPPED = frozenset({"app.quit", "app.interrupt", "app.help", "app.help_key", "app.theme"})


def binding_commands(
    screen: Screen[object], also: Iterable[DOMNode] = ()
) -> Iterator[SystemCommand]:
    """One command per enabled binding of ours on *screen* and the nodes *also* names."""
    found: list[tuple[DOMNode, Binding]] = [
        (a.node, a.binding) for a in screen.active_bindings.values() if a.enabled
    ]
    for node in also:
        for item in type(node).BINDINGS:
            for binding in [item] if isinstance(item, Binding) else Binding.make_bindings([item]):
                name = binding.action.split("(")[0]
                if node.check_action(name, ()) is not False:
                    found.append((node, binding))
    seen: set[str] = set()
    for node, binding in found:
        ident = binding.id or ""
        if not ident or ident in SKIPPED or not binding.description:
            continue
        if binding.action in ("quit", "app.quit"):  # the palette's own Quit says it once
            continue
        if ident.endswith((".up", ".down")) or ident in seen:
            continue
        seen.add(ident)
        run = functools.partial(screen.app.run_action, binding.action, node)
        title = f"{binding.description} ({screen.app.get_key_display(binding)})"
        yield SystemCommand(title, binding.tooltip or binding.description, run)
