"""Reading a ``netmedic.check/1`` document (``check --json``) in tests."""

from __future__ import annotations

from typing import Any


def probe(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["probes"] if p["probe"] == name)


def ids(doc: dict[str, Any]) -> list[str]:
    return [f["id"] for f in doc["findings"]]


def finding(doc: dict[str, Any], fid: str) -> dict[str, Any]:
    for f in doc["findings"]:
        if f["id"] == fid:
            return f
    raise AssertionError(f"no {fid} in {ids(doc)}")


def evidence(doc: dict[str, Any], fid: str) -> str:
    return "\n".join(finding(doc, fid)["evidence"])
