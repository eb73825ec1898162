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


def load_recent(path: Path) -> list[str]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [s for s in items if isinstance(s, str)][:MAX_RECENT]


def remember(path: Path, target: str) -> list[str]:
    """Put *target* first in the list and save it; errors are ignored (best effort)."""
    items = [target, *(s for s in load_recent(path) if s != target)][:MAX_RECENT]
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(items, fh)
        os.replace(tmp, path)
    except OSError:
        pass
    return items
