"""The person's preferences: ``config.toml`` in the netmedic config directory.

One typed model; the file is TOML, read strictly (an unknown key or a bad value
is refused with the key and the file named) and written back whole when a
preference changes in the app (the theme: F2 or the palette).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from probes.record.services import config_dir

FILE_NAME = "config.toml"
THEMES = ("textual-dark", "textual-light")
EXPORT_FORMATS = ("md", "html", "json")


class PrefsError(ValueError):
    """The config file cannot be used: one line naming the file and the key."""


@dataclass(frozen=True)
class Preferences:
    theme: str = THEMES[0]  # the app's colours (F2 switches and remembers)
    export_format: str = "md"  # what the e key writes

    def __post_init__(self) -> None:
        for name, allowed in (("theme", THEMES), ("export_format", EXPORT_FORMATS)):
            value = getattr(self, name)
            if value not in allowed:
                raise PrefsError(f"{name} = {value!r}: use one of {', '.join(allowed)}")


KEYS = tuple(f.name for f in dataclasses.fields(Preferences))


def prefs_path() -> Path:
    return config_dir() / FILE_NAME


def load_prefs(path: Path) -> Preferences:
    """The preferences in *path* (the defaults when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Preferences()
    except (OSError, UnicodeDecodeError) as exc:
        raise PrefsError(f"{path}: cannot read: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PrefsError(f"{path}: {exc}") from None
    for key, value in doc.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(KEYS)})"
            raise PrefsError(f"{path}: unknown key {key!r}{hint}")
        if not isinstance(value, str):
            raise PrefsError(f"{path}: {key} must be a string")
    try:
        return Preferences(**doc)
    except PrefsError as exc:
        raise PrefsError(f"{path}: {exc}") from None


def save_prefs(path: Path, prefs: Preferences) -> None:
    """Write *prefs* (0600, replacing the file atomically, never through a symlink)."""
    lines = ["# netmedic preferences (written by netmedic; unknown keys are refused)"]
    lines += [f"{k} = {json.dumps(getattr(prefs, k))}" for k in KEYS]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
