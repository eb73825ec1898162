"""Atomic files for node_exporter's textfile collector (``watch --openmetrics FILE``).

The collector may read the file at any moment, so each version is written whole to
a temporary file in the same directory and renamed over the last
(:func:`probes.record.safefile.replace_whole`).  Mode 0644 (the collector often runs
as another user; metrics hold no secrets); never through a symlink: the destination
must be a regular file or absent, and ``rename`` replaces a path, it follows nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from probes.record.safefile import check_output_path, replace_whole

TEXTFILE_MODE = 0o644


def check_textfile_path(path: str | os.PathLike[str]) -> Path:
    """Refuse a symlink, a directory, a special file or a missing/unwritable parent
    (an existing regular file is replaced: that is the point)."""
    return check_output_path(path, force=True)


def replace_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write *data* to a temporary file beside *path*, then rename it to *path*."""
    # The collector reads *.prom only: a temporary name ending in .tmp is never half-read.
    return replace_whole(check_textfile_path(path), data, TEXTFILE_MODE, suffix=".tmp")
