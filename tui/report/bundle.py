"""The support bundle: one zip with everything a second pair of eyes needs.

``report.md``, ``report.html``, ``report.json``, ``journal.jsonl`` (the
session journal, re-redacted line by line), ``context/*`` (resolv.conf, the
hosts lines for the target, the route to it, listeners on its port, proxy
variables — collected when the bundle is made) and ``manifest.json``.
Every entry passes through the same :class:`~probes.core.redact.Redactor`.
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


def redact_journal(data: bytes, redactor: Redactor) -> bytes:
    """Each JSON line redacted as JSON; a line that does not parse, as text."""
    out: list[str] = []
    for raw in data.decode("utf-8", "replace").split("\n"):
        if not raw.strip():
            out.append(raw)
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            out.append(redactor.text(raw))
            continue
        out.append(json.dumps(redactor.json(record), ensure_ascii=False, separators=(",", ":")))
    return "\n".join(out).encode("utf-8")


def build_bundle(
    session: Session,
    redactor: Redactor,
    context: Sequence[ContextFile] | None = None,
    now: float | None = None,
) -> bytes:
    doc = build_document(session, redactor)
    if context is None:
        target = doc["target"]
        context = collect(str(target["host"]), target.get("port"), target.get("addresses") or ())
    entries: list[tuple[str, bytes]] = []
    for fmt in ("md", "html", "json"):
        entries.append((f"report.{fmt}", render_document(doc, fmt).encode("utf-8")))
    try:
        journal = session.path.read_bytes()
    except OSError as exc:
        journal = f"(cannot read the journal: {exc.strerror})\n".encode()
    entries.append(("journal.jsonl", redact_journal(journal, redactor)))
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
            zf.writestr(info, redactor.known(data.decode("utf-8", "replace")).encode("utf-8"))
    return buf.getvalue()


def write_bundle(
    session: Session, path: str | Path, redactor: Redactor, force: bool = False
) -> Path:
    return write_private(path, build_bundle(session, redactor), force=force)
