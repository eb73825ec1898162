"""A task that keeps the event loop it runs in busy, the way a loaded process does.

It blocks the loop with ``time.sleep`` chunks and yields briefly between them, so
every other coroutine in the same loop waits up to a chunk each time it resumes:
a figure timed by the loop noticing an answer is then off by up to a chunk,
while one stamped by the kernel is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from probes.core.deadline import StarvedWaits, probe_clock
from probes.run.starvation import StarvationClock


async def _hog(block_s: float, gap_s: float) -> None:
    while True:
        time.sleep(block_s)  # noqa: ASYNC251 - blocking the loop is the point
        await asyncio.sleep(gap_s)


@contextlib.asynccontextmanager
async def busy_loop(block_s: float = 0.05, gap_s: float = 0.002) -> AsyncIterator[None]:
    """Within the block, the running loop is blocked *block_s* at a time."""
    task = asyncio.create_task(_hog(block_s, gap_s))
    await asyncio.sleep(0)  # the first chunk starts before the caller's work
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def run_clock(max_extension_s: float) -> AsyncIterator[StarvedWaits]:
    """The run's starvation clock as the runner installs it for one probe task."""
    clock = StarvationClock(max_extension_s=max_extension_s)
    clock.start()
    waits = StarvedWaits()
    try:
        with probe_clock(clock, waits):
            yield waits
    finally:
        await clock.stop()
