"""The TUI's export key: the session's report, read back from its journal.

The report is the same one ``netmedic report`` renders (Markdown, HTML or
JSON), so what the person exports mid-session matches what a colleague gets
from the journal later.  Files are written 0600, never over an existing file,
never through a symlink; a second export gets a ``-1``, ``-2``... suffix.
"""

from __future__ import annotations

import os
from pathlib import Path

from probes.record.safefile import OutputError
from probes.record.session import JournalError, journal_session
from tui.report import export
from tui.session import Session

EXTENSIONS = {"md": "md", "html": "html", "json": "json"}
MAX_COPIES = 100


class ExportError(Exception):
    title = "Export failed"


def export_report(session: Session, fmt: str, directory: Path) -> Path:
    """Write *session*'s report in *fmt* into *directory*; return the new file.

    Blocks until the journal has every event so far: call it off the event loop.
    """
    writer = session.journal
    if writer is None:
        raise ExportError("this session has no journal to export")
    writer.flush()
    journal = writer.journal
    if journal is None:
        raise ExportError(writer.error or "the session journal could not be opened")
    try:
        saved = journal_session(journal)
    except JournalError as exc:
        raise ExportError(str(exc)) from None
    if not saved.runs:
        raise ExportError("nothing to export yet: no probe has reported")
    stem = f"netmedic-{saved.id}"
    for n in range(MAX_COPIES):
        path = directory / f"{stem}{'' if n == 0 else f'-{n}'}.{EXTENSIONS[fmt]}"
        if os.path.lexists(path):
            continue
        try:
            return export(saved, path, fmt)
        except OutputError as exc:
            if os.path.lexists(path):  # created between the check and the write
                continue
            raise ExportError(str(exc)) from None
    raise ExportError(f"too many exports named {stem}*.{fmt} in {directory}")
