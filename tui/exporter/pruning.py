"""When the exporter prunes its journals: after a check, at most once a period, on a
worker thread (reading and unlinking files never blocks the event loop).

What is kept is :mod:`probes.record.retention`'s rule; this only schedules it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from probes.record.journal import JournalError, sessions_dir
from probes.record.metrics import COUNTER, Family, Sample, gauge
from probes.record.retention import JournalIndex, PruneReport, Retention, prune
from probes.record.session import list_sessions

PRUNE_EVERY_S = 60.0


class Pruner:
    def __init__(
        self,
        policy: Retention,
        directory: Path | None = None,
        *,
        every_s: float = PRUNE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.directory = directory
        self.every_s = every_s
        self.clock = clock  # when passes are due
        self.wall = wall  # how old a journal is (its header has epoch time)
        self.index = JournalIndex()
        self.passes = 0
        self.removed = 0
        self.removed_bytes = 0
        self.last: PruneReport | None = None
        self._last_start: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    def kick(self) -> None:
        """Start a pass unless one runs or the last started less than a period ago."""
        now = self.clock()
        if self._task is not None and not self._task.done():
            return
        if self._last_start is not None and now - self._last_start < self.every_s:
            return
        self._last_start = now
        self._task = asyncio.get_running_loop().create_task(self._pass(), name="prune-journals")

    async def settled(self) -> None:
        """Wait for the pass under way, if any (tests, shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def families(self) -> tuple[Family, ...]:
        """For ``/metrics``: what the passes removed, and what the last one kept."""
        last = self.last or PruneReport()
        return (
            Family(
                "netmedic_exporter_journals_pruned",
                COUNTER,
                "Exporter journals removed by retention (keep_days, keep_ok, keep_sessions, keep_mb)",
                (Sample((), float(self.removed)),),
            ),
            gauge(
                "netmedic_exporter_journals",
                "Exporter journals kept after the last retention pass",
                float(last.kept),
            ),
            gauge(
                "netmedic_exporter_journal_bytes",
                "Bytes of the exporter journals kept after the last retention pass",
                float(last.kept_bytes),
            ),
        )

    async def _pass(self) -> None:
        directory = sessions_dir() if self.directory is None else self.directory
        try:
            report = await asyncio.to_thread(prune, directory, self.policy, self.wall(), self.index)
        except Exception as exc:  # the exporter serves on; its journals wait for a pass
            if not self._warned:  # once: the same failure every minute says nothing new
                self._warned = True
                why = str(exc) if isinstance(exc, JournalError | OSError) else repr(exc)
                print(
                    f"netmedic exporter: warning: cannot prune old journals: {why}",
                    file=sys.stderr,
                )
            return
        self.passes += 1
        self.removed += report.removed
        self.removed_bytes += report.removed_bytes
        self.last = report
        # Summarize the new journals now, off the loop, so the first `netmedic sessions`
        # after a day of scrapes reads them from the cache (5,000 parses take seconds).
        with contextlib.suppress(JournalError, OSError):
            await asyncio.to_thread(list_sessions, directory)
