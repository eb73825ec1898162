"""Forged journals: what someone else could hand netmedic to render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# OSC 52 (clipboard write), OSC 0 (title), ESC c (reset), C1 CSI, bidi override,
# a lone surrogate, an invisible tag character.
EVIL = "\x1b]52;c;Y2FuYXJ5\x07\x1b]0;pwned\x07\x1bc\x9b2J\u202eevil\ud800\U000e0041"
RAW_MARKERS = ("\x1b", "\x07", "\x9b", "\u202e", "\U000e0041")


def header(sid: str = "20260101-000000-abcdef", **extra: Any) -> dict[str, Any]:
    return {
        "type": "session",
        "schema": "netmedic.journal",
        "version": 1,
        "id": sid,
        "t": 1767225600.0,
        "started_at": "2026-01-01T00:00:00+00:00",
        "target": {"input": "db:5432", "host": "db", "port": 5432, "scheme": "tcp", "path": "/"},
        "symptom": "refused",
        "plan": ["dns", "tcp"],
        "host": "box",
        "user": "alice",
        "privileged": False,
        "privilege_mode": "unprivileged",
        "netmedic_version": "0.1.0",
        "timezone": "UTC",
        "utc_offset_s": 0,
        **extra,
    }


def evil_events() -> list[dict[str, Any]]:
    finding = {
        "id": f"tcp.refused{EVIL}",
        "severity": "error",
        "title": f"title {EVIL}",
        "rank": 1,
        "evidence": [f"evidence {EVIL}"],
        "next_steps": [{"text": f"step {EVIL}", "command": f"nc -zv db 5432 {EVIL}"}],
    }
    diagnosis = {"findings": [finding], "verdict": f"tcp.refused{EVIL}"}
    result = {
        "probe": "tcp",
        "status": "failed",
        "duration_s": 0.1,
        "summary": f"summary {EVIL}",
        "data": {"attempts": [{"address": f"10.0.0.1{EVIL}", "state": EVIL}], EVIL: EVIL},
        "error": {"errno_name": f"ECONNREFUSED{EVIL}", "explanation": EVIL, "answered_by": EVIL},
        "final": True,
    }
    return [
        {"type": "probe", "seq": 1, "t": 1767225601.0, "run": 1, "result": result},
        {"type": "diagnosis", "seq": 2, "t": 1767225601.5, "run": 1, "diagnosis": diagnosis},
        {"type": "note", "seq": 3, "t": 1767225602.0, "finding_id": "", "text": f"note {EVIL}"},
        {
            "type": "step",
            "seq": 4,
            "t": 1767225603.0,
            "finding_id": finding["id"],
            "step_index": 0,
            "state": "done",
        },
        {
            "type": "finished",
            "seq": 5,
            "t": 1767225604.0,
            "run": 1,
            "duration_s": 3.0,
            "diagnosis": diagnosis,
        },
        {"type": "end", "seq": 6, "t": 1767225605.0},
    ]


def evil_header(sid: str = "20260101-000000-abcdef") -> dict[str, Any]:
    target = {"input": f"db{EVIL}:5432", "host": f"db{EVIL}", "port": 5432, "scheme": "tcp"}
    return header(
        sid,
        target=target,
        host=f"box{EVIL}",
        user=f"alice{EVIL}",
        timezone=EVIL,
        symptom=f"refused{EVIL}",
        plan=["dns", f"tcp{EVIL}"],
    )


def write(path: Path, records: list[Any], raw_tail: bytes = b"") -> Path:
    lines = [json.dumps(r) if not isinstance(r, str) else r for r in records]
    data = ("\n".join(lines) + "\n").encode("utf-8") + raw_tail
    path.write_bytes(data)
    path.chmod(0o600)
    return path
