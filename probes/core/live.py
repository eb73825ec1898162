"""What the streaming probes of a live run share: a pause switch and the clock they pace by.

A live run (the TUI's diagnosis screen, ``netmedic watch``) keeps ping, trace and the
connection sampler running until it is paused or cancelled.  Pausing stops new rounds
(packets in flight still report); resuming restarts the schedule from now, so a pause
never ends in a burst of catch-up rounds.  The clock is a seam: tests drive hours of
1 Hz rounds with a fake one, and nothing asserts on wall-clock speed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class PaceClock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class LiveControl:
    def __init__(self, clock: PaceClock | None = None) -> None:
        self.clock: PaceClock = clock or RealClock()
        self._open = asyncio.Event()
        self._open.set()
        self.resumed_count = 0  # resumes so far: a pacer restarts its schedule after one

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        if self.paused:
            self.resumed_count += 1
            self._open.set()

    def toggle(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    async def wait_open(self) -> None:
        await self._open.wait()
