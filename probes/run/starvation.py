"""Deadlines that count work, not time spent waiting for a CPU.

On a machine busy with other work (50 checks at once on 2 cores), a probe can be
ready to run and still not get the CPU; its wall-clock deadline then passes while it
waits, and the run reports it as cut off. :class:`StarvationClock` measures how late
the event loop wakes up (a sleep of 50 ms that returns after 300 ms means 250 ms of
starvation); a probe deadline that comes due is pushed back by the starvation seen
since it was set, up to a cap, so a deadline measures the time the probe could have
used.

A deadline can still expire while the process was starved: the starvation went past
the cap, or the loop was blocked when the deadline came due (a SYN-ACK that arrived in
a millisecond is read only after the timer fired).  Then the clock notes why in the
probe's :class:`~probes.core.deadline.StarvedWaits`, with the CPU steal time the
kernel counted meanwhile (``/proc/stat``), and the runner reports the probe as
incomplete instead of as a peer that never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.deadline import STARVED, StarvedWaits, note_expired
from probes.core.model import ProbeError, ProbeResult, Status

TICK_S = 0.05
# Lateness below this is ordinary scheduling jitter, not starvation.
JITTER_S = 0.01
# Starvation a deadline was not compensated for, from which its expiry proves nothing.
UNCOMPENSATED_S = 0.1
# A timeout the clock did not watch proves nothing when the process was starved for
# this share of the probe's budget (and at least UNWATCHED_MIN_S) while it waited.
UNWATCHED_SHARE = 0.25
UNWATCHED_MIN_S = 0.5
# Probes that aggregate many short waits (packets, sampled connections): a starved
# stretch costs them a few samples, it does not void what the others measured.
SAMPLING = frozenset({"ping", "trace", "connections"})
PROC_STAT = "/proc/stat"
STEAL_SHOWN_S = 0.05  # CPU steal worth naming in a reason


@dataclass
class _Deadline:
    """One registered deadline: when it is due, and how much it was pushed back."""

    timeout: asyncio.Timeout
    when: float  # loop time
    lag_s: float  # the clock's lag when the deadline was set
    steal_s: float  # CPU steal (seconds per CPU) when the deadline was set
    started: float  # monotonic
    granted: float = 0.0
    handle: asyncio.TimerHandle | None = None


class StarvationClock:
    """Deadlines pushed back by the event loop's lateness (see the module docstring).

    The extension is settled when a deadline comes due, not by the watcher: after the
    loop was blocked, every overdue timer fires in one batch, before the watcher could
    say how late it was; the lateness of the watcher's own overdue tick says it."""

    def __init__(self, max_extension_s: float, proc_stat: str = PROC_STAT) -> None:
        self.max_extension_s = max_extension_s
        self.starved_s = 0.0  # total lateness seen by this clock
        self.proc_stat = proc_stat
        self._task: asyncio.Task[None] | None = None
        self._tick_due: float | None = None  # when the running tick should wake up

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="starvation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._tick_due = None

    def lag_s(self) -> float:
        """Starvation so far, including a tick that is overdue right now (the loop
        is only just running again and the watcher has not woken up yet)."""
        return self.starved_s + self._overdue()

    def _overdue(self) -> float:
        if self._tick_due is None:
            return 0.0
        late = time.monotonic() - self._tick_due
        return late if late > JITTER_S else 0.0

    @contextlib.asynccontextmanager
    async def deadline(self, seconds: float | None) -> AsyncIterator[asyncio.Timeout]:
        """Like ``asyncio.timeout(seconds)``, extended while the process is starved;
        an expiry the extension did not make up for is noted for the runner."""
        if seconds is None:
            async with asyncio.timeout(None) as cm:
                yield cm
            return
        loop = asyncio.get_running_loop()
        entry: _Deadline | None = None
        try:
            async with asyncio.timeout(None) as cm:
                entry = _Deadline(
                    cm, loop.time() + seconds, self.lag_s(), self._steal_s(), time.monotonic()
                )
                entry.handle = loop.call_at(entry.when, self._due, entry)
                try:
                    yield cm
                finally:
                    entry.handle.cancel()
        except TimeoutError:
            if entry is not None:
                self._judge(entry, seconds)
            raise

    def _due(self, entry: _Deadline) -> None:
        """The deadline is due: push it back by the starvation it was not yet granted
        (up to the cap), or let it expire."""
        loop = asyncio.get_running_loop()
        lag = self.lag_s() - entry.lag_s
        owed = min(lag, self.max_extension_s) - entry.granted
        if owed > JITTER_S:
            entry.granted += owed
            entry.when = loop.time() + owed
            entry.handle = loop.call_at(entry.when, self._due, entry)
            return
        entry.timeout.reschedule(loop.time())

    def _judge(self, entry: _Deadline, seconds: float) -> None:
        granted = entry.granted if entry.timeout.expired() else 0.0
        lag = self.lag_s() - entry.lag_s
        steal = max(0.0, self._steal_s() - entry.steal_s)
        waited = time.monotonic() - entry.started
        if lag - granted < UNCOMPENSATED_S and steal < max(UNCOMPENSATED_S, waited / 4):
            note_expired()
            return
        reason = (
            f"this process could not run for {lag:.1f} s of a {seconds:g} s budget "
            f"(event loop {lag:.1f} s late, deadline extended by {granted:.1f} s"
        )
        reason += f", CPU steal {steal:.1f} s)" if steal >= STEAL_SHOWN_S else ")"
        note_expired(reason)

    def _steal_s(self) -> float:
        """CPU steal time so far, in seconds per CPU (0 where /proc/stat says nothing)."""
        try:
            with open(self.proc_stat, "rb") as f:
                fields = f.readline().split()
        except OSError:
            return 0.0
        if len(fields) < 9 or fields[0] != b"cpu":
            return 0.0
        return int(fields[8]) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)

    async def _watch(self) -> None:
        while True:
            asked = time.monotonic()
            self._tick_due = asked + TICK_S
            await asyncio.sleep(TICK_S)
            late = time.monotonic() - asked - TICK_S
            self._tick_due = None
            if late > JITTER_S:
                self.starved_s += late


def starved_result(
    result: ProbeResult, starved: StarvedWaits, lag_s: float, budget_s: float
) -> ProbeResult:
    """*result*, or, when it is a final failure and one of its deadlines expired while
    the process was starved, the same result as incomplete: a client that could not
    run is not a peer that did not answer.  Its data stays for the panels; the
    rules read no evidence from an errored result.

    A timeout from a wait the clock did not watch (a blocking handshake on a thread, a
    library's own timer) is judged by the starvation during the probe (*lag_s*) against
    its *budget_s*."""
    if not result.final or result.status not in _FAILURES:
        return result
    reason = starved.reasons[0] if starved.reasons else ""
    unwatched = not starved.expired and result.probe not in SAMPLING and _timed_out(result)
    if not reason and unwatched and lag_s >= max(UNWATCHED_MIN_S, budget_s * UNWATCHED_SHARE):
        reason = (
            f"this process could not run for {lag_s:.1f} s while the probe waited "
            f"(a {budget_s:g} s budget)"
        )
    if not reason:
        return result
    return dataclasses.replace(
        result,
        status=Status.ERROR,
        summary=f"incomplete: {reason} ({result.summary})",
        error=ProbeError(STARVED, reason, elapsed_s=result.duration_s),
    )


_FAILURES = (Status.FAILED, Status.ERROR)


def _timed_out(result: ProbeResult) -> bool:
    code = result.error.errno_name if result.error is not None else ""
    return code == "DEADLINE" or code.endswith("TIMEOUT")
