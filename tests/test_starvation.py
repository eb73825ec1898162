"""A starved process keeps its probes: deadlines count work, not waiting for a CPU."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from probes.core.deadline import StarvedWaits, deadline, probe_clock
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


def _proc_stat(path: Path, steal_ticks: int) -> None:
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(f"cpu  100 0 50 1000 0 0 0 {steal_ticks} 0 0\ncpu0 1 2 3\n")


async def test_cpu_steal_during_a_wait_makes_its_expiry_starved(tmp_path: Path) -> None:
    """The hypervisor took the CPUs (steal time in /proc/stat) while the probe waited:
    its expiry proves nothing about the peer, even with an event loop that was on time."""
    stat = tmp_path / "stat"
    _proc_stat(stat, 0)
    clock = StarvationClock(max_extension_s=0.0, proc_stat=str(stat))
    clock.start()
    waits = StarvedWaits()
    hz = os.sysconf("SC_CLK_TCK")
    with probe_clock(clock, waits), pytest.raises(TimeoutError):
        async with deadline(0.2):
            _proc_stat(stat, 10 * hz * (os.cpu_count() or 1))  # 10 s of steal per CPU
            await asyncio.sleep(1)
    await clock.stop()
    assert len(waits.reasons) == 1
    assert "CPU steal 10.0 s" in waits.reasons[0]


async def test_an_on_time_expiry_without_steal_is_a_real_timeout(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    _proc_stat(stat, 5)
    clock = StarvationClock(max_extension_s=1.0, proc_stat=str(stat))
    clock.start()
    waits = StarvedWaits()
    with probe_clock(clock, waits), pytest.raises(TimeoutError):
        async with deadline(0.2):
            await asyncio.sleep(1)
    await clock.stop()
    assert waits.reasons == []
