"""Deadlines a probe spends only while it could run.

A probe that waits for the network (a connect, a response) bounds the wait with
:func:`deadline` instead of ``asyncio.timeout``.  Outside a run it is exactly
``asyncio.timeout``.  Inside a run the runner installs its clock
(:class:`~probes.run.starvation.StarvationClock`) for each probe task: the clock
pushes the deadline back by the time this process was starved (the event loop could
not run), and when a deadline still expires while the process was starved, it notes
why in the probe's :class:`StarvedWaits`.  The runner then reports the probe as
incomplete (``STARVED``), never as a server that did not answer.

Only waits whose expiry the probe would report as a failure ("no answer to the SYN",
"no response") use :func:`deadline`; a wait that may end quietly (listening for a
banner) keeps ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

STARVED = "STARVED"  # errno_name of a result whose wait expired while the process was starved


class RunClock(Protocol):
    """What a run's clock gives its probes (see probes.run.starvation)."""

    def deadline(self, seconds: float | None) -> AbstractAsyncContextManager[asyncio.Timeout]: ...

    def lag_s(self) -> float:
        """Seconds this process was starved so far (monotonic, never decreases)."""
        ...


@dataclass
class StarvedWaits:
    """The deadlines of one probe that expired, and why some of them expired while
    the process could not run."""

    reasons: list[str] = field(default_factory=list)
    expired: int = 0  # deadlines the clock watched that expired, starved or not


_CLOCK: ContextVar[RunClock | None] = ContextVar("netmedic_run_clock", default=None)
_WAITS: ContextVar[StarvedWaits | None] = ContextVar("netmedic_starved_waits", default=None)


def deadline(seconds: float | None) -> AbstractAsyncContextManager[asyncio.Timeout]:
    """``asyncio.timeout(seconds)`` that counts only time this process could run."""
    clock = _CLOCK.get()
    if clock is None:
        return asyncio.timeout(seconds)
    return clock.deadline(seconds)


def lag_s() -> float:
    """Seconds the current run's process was starved so far (0 outside a run)."""
    clock = _CLOCK.get()
    return clock.lag_s() if clock is not None else 0.0


class Budget:
    """*seconds* a probe may use from now on; time it was starved does not count."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = time.monotonic()
        self._lag = lag_s()

    def left(self) -> float:
        used = (time.monotonic() - self._start) - (lag_s() - self._lag)
        return self.seconds - used


def note_expired(starved_reason: str = "") -> None:
    """Record that a deadline of the current probe expired (and, when it was starved,
    why: the reason)."""
    waits = _WAITS.get()
    if waits is None:
        return
    waits.expired += 1
    if starved_reason:
        waits.reasons.append(starved_reason)


def starved_mark() -> int:
    """Where the current probe's list of starved expiries ends now (see claim_starved)."""
    waits = _WAITS.get()
    return len(waits.reasons) if waits is not None else 0


def claim_starved(mark: int) -> str:
    """The first reason a deadline of the current probe expired starved since *mark*,
    taken off the probe's list: a probe that counts such a wait apart itself (one
    sampled connection among many) keeps the runner from voiding its whole result."""
    waits = _WAITS.get()
    if waits is None or len(waits.reasons) <= mark:
        return ""
    reason = waits.reasons[mark]
    del waits.reasons[mark:]
    return reason


@contextlib.contextmanager
def own_waits() -> Iterator[None]:
    """Give the current task (one of many a probe runs at once, as the burst's
    connections) a list of starved expiries of its own, so that :func:`claim_starved`
    takes its own reason, not a sibling's.  On leaving, its counts go to the probe's,
    with any reason it did not claim."""
    probe = _WAITS.get()
    if probe is None:
        yield
        return
    own = StarvedWaits()
    token = _WAITS.set(own)
    try:
        yield
    finally:
        _WAITS.reset(token)
        probe.expired += own.expired
        probe.reasons.extend(own.reasons)


@contextlib.contextmanager
def probe_clock(clock: RunClock, waits: StarvedWaits) -> Iterator[None]:
    """Run the block (one probe's task, and the tasks it starts) on *clock*."""
    clock_token = _CLOCK.set(clock)
    waits_token = _WAITS.set(waits)
    try:
        yield
    finally:
        _WAITS.reset(waits_token)
        _CLOCK.reset(clock_token)
