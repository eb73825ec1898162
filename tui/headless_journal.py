"""The session journal of a headless run (``check``, ``watch``, the exporter's scrapes):
saved when it can be, and when it cannot, one warning line and the run goes on."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probes.core.target import Target
    from probes.record.journal import Journal
    from probes.triage.pasted import PastedError


def journal_or_warn(
    target: Target,
    symptom: str,
    plan: tuple[str, ...],
    *,
    what: str,
    program: str = "netmedic",
    error: PastedError | None = None,
    origin: str = "",
) -> Journal | None:
    """A new journal for the run, or None after ``PROGRAM: warning: WHY; this WHAT is
    not saved`` on stderr (a full disk or an unsafe state dir never stops a check)."""
    from probes.record.journal import Journal, JournalError

    try:
        return Journal.create(target, symptom, plan=plan, error=error, origin=origin)
    except JournalError as exc:
        print(f"{program}: warning: {exc}; this {what} is not saved", file=sys.stderr)
        return None
