"""Atomic files for node_exporter's textfile collector (``watch --openmetrics FILE``).

The collector may read the file at any moment, so each version is written whole to
a temporary file in the same directory and renamed over the last: a reader sees the
old file or the new one, never half of one.  Mode 0644 (the collector often runs as
another user; metrics hold no secrets); never through a symlink: the destination
must be a regular file or absent, and ``rename`` replaces a path, it follows nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from probes.record.safefile import OutputError

TEXTFILE_MODE = 0o644


def check_textfile_path(path: str | os.PathLike[str]) -> Path:
    """Refuse a symlink, a directory, a special file or a missing/unwritable parent."""
    p = Path(path)
    if not str(path):
        raise OutputError("the metrics file name is empty")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {p}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(f"{p} is a symbolic link; refusing to write through it")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{p} exists and is not a regular file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent} is not writable")
    return p


def replace_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write *data* to a temporary file beside *path*, then rename it to *path*."""
    p = check_textfile_path(path)
    # The collector reads *.prom only: a name ending otherwise is never half-read.
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, TEXTFILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        check_textfile_path(p)  # still not a symlink or a directory
        os.replace(tmp, p)
    except (OSError, OutputError) as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p
