"""Recently used targets, persisted in the user state directory (0600)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

MAX_RECENT = 8


def default_path() -> Path:
    base = os.environ.get("NETMEDIC_STATE_DIR") or platformdirs.user_state_dir("netmedic")
    return Path(base) / "recent.json"


def read_json(path: Path) -> object:
    """What a small state file holds (None when it is missing or not JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_json(path: Path, value: object) -> None:
    """Replace a small state file whole, 0600, never through a symlink; errors are
    ignored (remembering is best effort)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def load_recent(path: Path) -> list[str]:
    items = read_json(path)
    if not isinstance(items, list):
        return []
    return [s for s in items if isinstance(s, str)][:MAX_RECENT]


def remember(path: Path, target: str) -> list[str]:
    """Put *target* first in the list and save it; errors are ignored (best effort)."""
    items = [target, *(s for s in load_recent(path) if s != target)][:MAX_RECENT]
    save_json(path, items)
    return items
