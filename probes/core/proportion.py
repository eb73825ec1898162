"""How sure a sample is: a rate's confidence interval, and repeats that find a dead member.

Nine pings with 30% random loss come back whole one time in twenty-five, and a load
balancer with one dead backend of three hides it from two connects almost half the
time.  A verdict read from a sample is only an answer when the sample is big enough
for the question; these helpers say when it is (pure arithmetic, no I/O), so a probe
can keep sampling until then and a rule can say "inconclusive" when time ran out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# One-sided 95%: "the rate is below the threshold" is wrong at most 5% of the time.
Z_95_ONE_SIDED = 1.645
ABOVE, BELOW, UNSURE = "above", "below", "unsure"


@dataclass(frozen=True, slots=True)
class Interval:
    """Where a rate lies (0..1) with the chosen confidence."""

    low: float
    high: float

    def text(self) -> str:
        return f"{self.low * 100:.1f}–{self.high * 100:.1f}%"


def wilson(hits: int, n: int, z: float = Z_95_ONE_SIDED) -> Interval:
    """The Wilson score interval for *hits* of *n* (sound at 0 and n, unlike p ± z·se)."""
    if n <= 0:
        return Interval(0.0, 1.0)
    p = hits / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def versus(hits: int, n: int, threshold_pct: float) -> str:
    """ABOVE when the rate is clearly at or over *threshold_pct*, BELOW when clearly
    under it, UNSURE while the interval still holds the threshold."""
    interval = wilson(hits, n)
    threshold = threshold_pct / 100.0
    if interval.low >= threshold:
        return ABOVE
    if interval.high < threshold:
        return BELOW
    return UNSURE


def repeats_to_see(members: int, miss_chance: float) -> int:
    """Connects needed so that one dead member of *members*, picked at random per
    connect, is missed with at most *miss_chance*: ((m-1)/m)^k <= miss_chance."""
    if members <= 1:
        return 1
    return math.ceil(math.log(miss_chance) / math.log((members - 1) / members))
