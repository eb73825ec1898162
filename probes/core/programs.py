"""Helper programs (``ip``, ``nft``, ``ss``...) by absolute path, never through PATH.

netmedic often runs as root.  Whoever can write to a directory early in root's
PATH (``~/bin``, ``.``, a venv) would otherwise run code as uid 0 when
netmedic calls ``ip``.  So helper programs are looked up only in the system
directories below, and the programs themselves get the same fixed PATH.
"""

from __future__ import annotations

import os

SAFE_DIRS: tuple[str, ...] = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
SAFE_PATH = ":".join(SAFE_DIRS)


def find_program(name: str) -> str | None:
    """The absolute path of *name* in the system directories, or None.

    A name with a slash is refused: only bare program names are looked up.
    """
    if not name or "/" in name or name in (".", ".."):
        return None
    for folder in SAFE_DIRS:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def find_user_program(name: str) -> str | None:
    """A program the person runs themselves (``ssh``, ``ansible-inventory``): from the
    system directories first, then, for anyone but root, their own PATH (a pipx or
    ~/.local install).  Root gets the system directories only: a directory early in
    root's PATH must not choose what netmedic runs."""
    found = find_program(name)
    if found is not None or os.geteuid() == 0 or not name or "/" in name:
        return found
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isabs(folder):
            continue  # "." or a relative entry: never the current directory
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def safe_env() -> dict[str, str]:
    """The environment a helper program gets: the fixed PATH, the C locale."""
    return {"PATH": SAFE_PATH, "LC_ALL": "C"}
