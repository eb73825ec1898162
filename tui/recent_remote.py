"""The "other hosts" field of each recent target (``--server db1 --from @web``),
remembered next to the recent targets (0600) so the entry screen fills it in again."""

from __future__ import annotations

from pathlib import Path

from tui.recent import read_json, save_json

MAX_TARGETS = 32


def path_beside(recent_path: Path) -> Path:
    return recent_path.with_name("recent_remote.json")


def load(path: Path) -> dict[str, str]:
    items = read_json(path)
    if not isinstance(items, dict):
        return {}
    return {k: v for k, v in items.items() if isinstance(k, str) and isinstance(v, str)}


def remember(path: Path, target: str, field: str) -> None:
    """Keep *field* for *target* (an empty field forgets it); errors are ignored."""
    items = {k: v for k, v in load(path).items() if k != target}
    if field.strip():
        items = {target: field.strip(), **items}
    save_json(path, dict(list(items.items())[:MAX_TARGETS]))
