"""A headless session that never ends, for kill tests.

``python -m tests.session_script DIR`` journals a run whose ``tcp`` probe
streams progress forever while notes arrive; after each event is written (and
fsynced) it prints the event's ``seq``.  The parent kills it mid-session.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.events import NoteAdded, StepMarked, StepState
from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.record.journal import Journal
from probes.run.runner import Run, run_to_end


async def _dns(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    yield ProbeResult("dns", Status.OK, 0.001, "db.internal → 10.0.0.5")


async def _tcp(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    i = 0
    while True:
        i += 1
        yield ProbeResult("tcp", Status.OK, 0.01 * i, f"attempt {i}", final=False)
        await asyncio.sleep(0.01)


async def main(directory: Path) -> None:
    target = parse_target("db.internal:5432")
    journal = Journal.create(target, "timeout", plan=("dns", "tcp"), directory=directory)

    def emit(event: object) -> None:
        journal.emit(event)
        print(journal.seq, flush=True)

    run = Run(target, "timeout", ProbeConfig(timeout=120), plan=("dns", "tcp"))
    run.probe_overrides = {"dns": _dns, "tcp": _tcp}
    run.on_event = emit
    print(journal.path, flush=True)
    task = asyncio.create_task(run_to_end(run))
    n = 0
    while not task.done():
        n += 1
        emit(NoteAdded("", f"note {n}"))
        if n == 3:
            emit(StepMarked("tcp.filtered", 0, StepState.DONE))
        await asyncio.sleep(0.015)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
