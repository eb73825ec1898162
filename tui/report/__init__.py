"""Reports from a session journal: Markdown, HTML and JSON, and the support bundle.

All three formats render one document (:func:`tui.report.document.build_document`,
schema ``netmedic.report`` v1, documented there).  A journal holds redacted data
only (the run is the secrets boundary), so rendering adds no redaction pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from probes.record.safefile import write_private
from probes.record.session import Session
from tui.report.document import build_document
from tui.report.html import render_html
from tui.report.markdown import render_markdown

FORMATS = ("md", "html", "json")
EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def render_document(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "html":
        return render_html(doc)
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def render(session: Session, fmt: str) -> str:
    """The report of *session* in *fmt* (``md``, ``html`` or ``json``)."""
    return render_document(build_document(session), fmt)


def format_for_path(path: str, default: str = "md") -> str:
    for ext, fmt in EXTENSIONS.items():
        if path.lower().endswith(ext):
            return fmt
    return default


def export(
    session: Session,
    path: str | Path,
    fmt: str | None = None,
    force: bool = False,
) -> Path:
    """Write *session*'s report to *path* safely (0600, no symlinks, no overwrite
    unless *force*); the format defaults to the extension.  Raises
    :class:`probes.record.safefile.OutputError` (one-line message) on a bad path.
    For the TUI's export key."""
    text = render(session, fmt or format_for_path(str(path)))
    return write_private(path, text.encode("utf-8"), force=force)
