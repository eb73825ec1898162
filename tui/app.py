"""Placeholder entry point for the Textual app (issue: the Textual app)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from probes.target import Target

if TYPE_CHECKING:
    from probes.session import Session


def run_app(target: Target | None, symptom: str | None, session: Session | None = None) -> int:
    """Open the TUI; *session* (from ``--resume``) restores a saved session."""
    print(
        "netmedic: the interactive interface is not built yet; use 'netmedic check TARGET'",
        file=sys.stderr,
    )
    return 2
