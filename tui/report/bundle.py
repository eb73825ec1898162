"""The support bundle: one zip with everything a second pair of eyes needs.

``report.md``, ``report.html``, ``report.json``, ``journal.jsonl`` (the
session journal as written: redacted when it was recorded), ``context/*``
(resolv.conf, the hosts lines for the target, the route to it, listeners on its
port, proxy variables — collected when the bundle is made) and ``manifest.json``.
The context is fresh host data, not session data: it passes a
:class:`~probes.core.redact.Redactor` as it is collected, as a run's results do.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from probes.core.redact import Redactor
from probes.host.localcontext import ContextFile, collect
from probes.record.safefile import write_private
from probes.record.session import Session
from tui.report import render_document
from tui.report.document import build_document, iso

BUNDLE_SCHEMA = "netmedic.bundle"
BUNDLE_VERSION = 1


def build_bundle(
    session: Session,
    context: Sequence[ContextFile] | None = None,
    now: float | None = None,
) -> bytes:
    doc = build_document(session)
    if context is None:
        target = doc["target"]
        context = collect(str(target["host"]), target.get("port"), target.get("addresses") or ())
    redactor = Redactor.for_target(None)
    entries: list[tuple[str, bytes]] = []
    for fmt in ("md", "html", "json"):
        entries.append((f"report.{fmt}", render_document(doc, fmt).encode("utf-8")))
    try:
        journal = session.path.read_bytes()
    except OSError as exc:
        journal = f"(cannot read the journal: {exc.strerror})\n".encode()
    entries.append(("journal.jsonl", journal))
    for item in context:
        entries.append((f"context/{item.name}", redactor.text(item.text).encode("utf-8")))
    manifest = {
        "schema": BUNDLE_SCHEMA,
        "version": BUNDLE_VERSION,
        "session": session.id,
        "created_at": iso(time.time() if now is None else now),
        "files": [name for name, _ in entries],
        "note": "context/ was collected when the bundle was made; everything is redacted",
    }
    entries.append(("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(f"netmedic-{session.id}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def write_bundle(session: Session, path: str | Path, force: bool = False) -> Path:
    return write_private(path, build_bundle(session), force=force)
