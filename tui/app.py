"""Placeholder entry point for the Textual app (issue: the Textual app)."""

from __future__ import annotations

import sys

from probes.target import Target


def run_app(target: Target | None, symptom: str | None) -> int:
    print(
        "netmedic: the interactive interface is not built yet; use 'netmedic check TARGET'",
        file=sys.stderr,
    )
    return 2
