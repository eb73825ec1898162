"""Export the session.  One entry point, :func:`export_session`, so the report
exporter (Markdown/HTML from the journal) can replace the JSON dump later.

Files are created 0600 with ``O_EXCL | O_NOFOLLOW``: never over an existing
file, never through a symlink.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from probes.check_json import check_document
from probes.privileges import has_raw_socket
from tui.session import Session

SCHEMA = "netmedic.tui-session/1"


class ExportError(Exception):
    title = "Export failed"


def session_document(session: Session) -> dict[str, Any]:
    if session.run is None:
        raise ExportError("nothing to export yet: no run has finished")
    duration = session.history[-1].duration_s if session.history else 0.0
    return {
        "schema": SCHEMA,
        "check": check_document(session.run, has_raw_socket(), duration),
        "runs": [
            {"run": r.number, "verdict": r.verdict, "duration_s": round(r.duration_s, 6)}
            for r in session.history
        ],
        "steps": [
            {"finding": fid, "step": idx + 1, "state": state.value}
            for (fid, idx), state in sorted(session.steps.items())
        ],
        "notes": [{"finding": n.finding_id, "text": n.text} for n in session.notes],
    }


def export_session(session: Session, directory: Path, now: dt.datetime | None = None) -> Path:
    """Write the session as JSON into *directory*; return the new file's path."""
    doc = session_document(session)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    for n in range(100):
        suffix = "" if n == 0 else f"-{n}"
        path = directory / f"netmedic-{stamp}{suffix}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ExportError(f"cannot create {path}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    raise ExportError(f"too many exports named netmedic-{stamp}*.json in {directory}")
