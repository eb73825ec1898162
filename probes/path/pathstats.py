"""Running RTT statistics in constant memory (an hour of pings must not grow)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RttStats:
    sent: int  # probes whose fate is known (answered or timed out)
    received: int
    loss_pct: float
    last_s: float | None
    min_s: float | None
    avg_s: float | None
    max_s: float | None
    mdev_s: float | None  # as ping prints it: sqrt(mean(x²) - mean²)
    jitter_s: float | None  # mean |rtt(n) - rtt(n-1)| over consecutive answers


class RunningStats:
    """Counters and sums only: O(1) memory however long it runs."""

    __slots__ = (
        "_jitter_n",
        "_jitter_sum",
        "_prev",
        "_sum",
        "_sum_sq",
        "last",
        "max",
        "min",
        "received",
        "sent",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.last: float | None = None
        self.min: float | None = None
        self.max: float | None = None
        self._sum = 0.0
        self._sum_sq = 0.0
        self._prev: float | None = None
        self._jitter_sum = 0.0
        self._jitter_n = 0

    def add(self, rtt: float | None) -> None:
        self.sent += 1
        if rtt is None:
            return
        self.received += 1
        self.last = rtt
        self.min = rtt if self.min is None else min(self.min, rtt)
        self.max = rtt if self.max is None else max(self.max, rtt)
        self._sum += rtt
        self._sum_sq += rtt * rtt
        if self._prev is not None:
            self._jitter_sum += abs(rtt - self._prev)
            self._jitter_n += 1
        self._prev = rtt

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0

    def snapshot(self) -> RttStats:
        avg = self._sum / self.received if self.received else None
        mdev = None
        if avg is not None:
            mdev = math.sqrt(max(0.0, self._sum_sq / self.received - avg * avg))
        jitter = self._jitter_sum / self._jitter_n if self._jitter_n else None
        return RttStats(
            self.sent,
            self.received,
            round(self.loss_pct, 2),
            self.last,
            self.min,
            avg,
            self.max,
            mdev,
            jitter,
        )


class Ring(Generic[T]):
    """The last *size* items."""

    def __init__(self, size: int) -> None:
        self._items: deque[T] = deque(maxlen=size)

    def append(self, item: T) -> None:
        self._items.append(item)

    def items(self) -> tuple[T, ...]:
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)


# A live run's streaming probe counts as answered once it has this many rounds: its
# first result is evidence (see docs/architecture.md, "Live runs"); holding the verdict
# back for a whole window told a closed port "incomplete" for ten seconds.
FIRST_ANSWER = 1


def window_stats(rtts: Sequence[float | None]) -> RttStats:
    """The statistics of a bounded window of outcomes (None: lost), oldest first."""
    stats = RunningStats()
    for rtt in rtts:
        stats.add(rtt)
    return stats.snapshot()
