"""The "other hosts" field of each recent target (``--server db1 --from @web``),
remembered next to the recent targets (0600) so the entry screen fills it in again."""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_TARGETS = 32


def path_beside(recent_path: Path) -> Path:
    return recent_path.with_name("recent_remote.json")


def load(path: Path) -> dict[str, str]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(items, dict):
        return {}
    return {k: v for k, v in items.items() if isinstance(k, str) and isinstance(v, str)}


def remember(path: Path, target: str, field: str) -> None:
    """Keep *field* for *target* (an empty field forgets it); errors are ignored."""
    items = {k: v for k, v in load(path).items() if k != target}
    if field.strip():
        items = {target: field.strip(), **items}
    items = dict(list(items.items())[:MAX_TARGETS])
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(items, fh)
        os.replace(tmp, path)
    except OSError:
        pass
