"""Deadlines that count work, not time spent waiting for a CPU.

On a machine busy with other work (50 checks at once on 2 cores), a probe can be
ready to run and still not get the CPU; its wall-clock deadline then passes while it
waits, and the run reports it as cut off. :class:`StarvationClock` measures how late
the event loop wakes up (a sleep of 50 ms that returns after 300 ms means 250 ms of
starvation) and pushes every active probe deadline back by that much, up to a cap, so
a deadline measures the time the probe could have used.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

TICK_S = 0.05
# Lateness below this is ordinary scheduling jitter, not starvation.
JITTER_S = 0.01


class StarvationClock:
    """Extends registered :class:`asyncio.Timeout` deadlines by the loop's lateness."""

    def __init__(self, max_extension_s: float) -> None:
        self.max_extension_s = max_extension_s
        self.starved_s = 0.0  # total lateness seen by this clock
        self._active: dict[asyncio.Timeout, float] = {}  # timeout -> extension granted
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="starvation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def deadline(self, seconds: float | None) -> AsyncIterator[asyncio.Timeout]:
        """Like ``asyncio.timeout(seconds)``, extended while the process is starved."""
        async with asyncio.timeout(seconds) as cm:
            if seconds is not None:
                self._active[cm] = 0.0
            try:
                yield cm
            finally:
                self._active.pop(cm, None)

    async def _watch(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(TICK_S)
            late = time.monotonic() - asked - TICK_S
            if late <= JITTER_S:
                continue
            self.starved_s += late
            for cm, granted in list(self._active.items()):
                when = cm.when()
                extra = min(late, self.max_extension_s - granted)
                if when is None or extra <= 0 or cm.expired():
                    continue
                cm.reschedule(when + extra)
                self._active[cm] = granted + extra
