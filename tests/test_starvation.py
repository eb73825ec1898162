"""A starved process keeps its probes: deadlines count work, not waiting for a CPU."""

from __future__ import annotations

import asyncio
import time

from probes.run.starvation import StarvationClock


async def _hog(seconds: float, slices: int) -> None:
    """Take the CPU away from the event loop, as 50 other checks on 2 cores do."""
    for _ in range(slices):
        time.sleep(seconds / slices)  # noqa: ASYNC251  (deliberately blocks the loop)
        await asyncio.sleep(0)


async def _work(steps: int) -> str:
    for _ in range(steps):
        await asyncio.sleep(0.05)
    return "done"


async def test_a_starved_probe_gets_the_time_it_waited_for() -> None:
    clock = StarvationClock(max_extension_s=5.0)
    clock.start()
    hog = asyncio.create_task(_hog(1.0, 5))
    async with clock.deadline(0.6):
        assert await _work(8) == "done"  # 0.4 s of work, 1 s of waiting for the loop
    await hog
    await clock.stop()
    assert clock.starved_s > 0.5


async def test_without_starvation_the_deadline_holds() -> None:
    clock = StarvationClock(max_extension_s=5.0)
    clock.start()
    timed_out = False
    try:
        async with clock.deadline(0.2):
            await _work(20)
    except TimeoutError:
        timed_out = True
    await clock.stop()
    assert timed_out


async def test_the_extension_is_capped() -> None:
    clock = StarvationClock(max_extension_s=0.1)
    clock.start()
    hog = asyncio.create_task(_hog(1.0, 5))
    timed_out = False
    try:
        async with clock.deadline(0.3):
            await _work(8)
    except TimeoutError:
        timed_out = True
    await hog
    await clock.stop()
    assert timed_out
