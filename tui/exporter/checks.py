"""One journaled check inside a deadline: what a scrape or an alert runs.

The check is ``netmedic check``'s (the same Run, settled, redacted, journaled), with
two differences a prober needs (and its journal is marked as the exporter's, which
prunes its own: :mod:`tui.exporter.pruning`): the whole run, follow-ups included, ends by the
deadline the scrape set (what is missing then makes the verdict ``incomplete``), and
nothing is printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

from probes.core.context import ProbeConfig
from probes.core.model import Diagnosis
from probes.core.target import Target
from probes.diagnosis.ranking import INCOMPLETE, OK
from probes.record.metrics import Family, check_families
from probes.run.runner import Run, run_to_end
from tui.headless_journal import journal_or_warn

# The probes' own deadline, as a share of the run's: room left to diagnose what
# they found and for the follow-ups the evidence asks for.
PROBE_SHARE = 0.7
MIN_BUDGET_S = 0.2


# Runs past their deadline: cancelled, they end as their probes unwind (a step of
# the loop, or a thread's call returning).  The answer does not wait even for that;
# this keeps them referenced till then.
_LET_GO: set[asyncio.Future[Diagnosis]] = set()


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    families: tuple[Family, ...]
    diagnosis: Diagnosis
    session_id: str  # "" when the journal could not be written
    duration_s: float
    cut_short: bool  # the deadline ended it


async def journaled_check(
    target: Target, symptom: str, config: ProbeConfig, budget_s: float
) -> CheckOutcome:
    """Check *target* within *budget_s* seconds and journal it (``netmedic sessions``)."""
    from probes.record.retention import ORIGIN

    budget_s = max(MIN_BUDGET_S, budget_s)
    config = dataclasses.replace(config, timeout=min(config.timeout, budget_s * PROBE_SHARE))
    run = Run(target, symptom, config)
    journal = journal_or_warn(
        target, symptom, run.probe_names, what="check", program="netmedic exporter", origin=ORIGIN
    )
    if journal is not None:
        run.on_event = journal.emit
    started = time.monotonic()
    task = asyncio.ensure_future(run_to_end(run, settle=True))
    finished = False
    try:
        done, _ = await asyncio.wait({task}, timeout=budget_s)
        if done:
            task.result()
            finished = True
    finally:
        if not finished:
            _let_go(task)
        if journal is not None:
            journal.close(clean=finished)  # else the session reads as interrupted
    cut_short = not finished
    duration = time.monotonic() - started
    diagnosis = run.diagnosis
    if cut_short and diagnosis.verdict == OK:
        # ok promises every probe finished; an error found in time still stands,
        # as the ranking treats a run with probes pending.
        diagnosis = Diagnosis(diagnosis.findings, INCOMPLETE)
    families = check_families(run.results, diagnosis, duration)
    return CheckOutcome(
        families, diagnosis, journal.session_id if journal else "", duration, cut_short
    )


def _let_go(task: asyncio.Future[Diagnosis]) -> None:
    task.cancel()
    _LET_GO.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Future[Diagnosis]) -> None:
    _LET_GO.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a run that failed after its deadline says nothing
