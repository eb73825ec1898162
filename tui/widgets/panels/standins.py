"""STAND-IN data shapes for the ping and trace panels.

The real ping/trace/MTU probes (issue 3) are built in parallel and their data
classes are not available yet.  These small frozen dataclasses have the shape an
mtr-style tracer gives (hops with ttl, responders, loss, last/avg/best/worst) so
the panels can be built and tested now.  WIRE-UP once issue 3 lands: point the
panels at ``probes.ping`` / ``probes.trace`` data (or adapt them into these
shapes in :func:`as_ping` / :func:`as_trace`) and delete this module.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PingData:
    address: str
    mode: str  # "icmp" (raw), "icmp-dgram" (unprivileged), "tcp-connect"
    rtts_ms: tuple[float | None, ...]  # one per probe sent; None = lost

    @property
    def sent(self) -> int:
        return len(self.rtts_ms)

    @property
    def received(self) -> tuple[float, ...]:
        return tuple(r for r in self.rtts_ms if r is not None)

    @property
    def loss_pct(self) -> float:
        return 100.0 * (1 - len(self.received) / self.sent) if self.sent else 0.0

    def stats(self) -> tuple[float, float, float, float] | None:
        """(min, avg, max, jitter) in ms, jitter as mean absolute successive difference."""
        got = self.received
        if not got:
            return None
        jitter = (
            statistics.fmean(abs(a - b) for a, b in itertools.pairwise(got))
            if len(got) > 1
            else 0.0
        )
        return min(got), statistics.fmean(got), max(got), jitter


@dataclass(frozen=True, slots=True)
class TraceHop:
    ttl: int
    responders: tuple[str, ...]  # empty: silent hop
    sent: int
    received: int
    last_ms: float | None = None
    avg_ms: float | None = None
    best_ms: float | None = None
    worst_ms: float | None = None
    rate_limited: bool = False  # loss here that does not carry on to later hops

    @property
    def loss_pct(self) -> float:
        return 100.0 * (1 - self.received / self.sent) if self.sent else 0.0


@dataclass(frozen=True, slots=True)
class TraceData:
    address: str
    mode: str  # "udp", "icmp", "tcp"
    rounds: int
    hops: tuple[TraceHop, ...]


def as_ping(data: Any) -> PingData | None:
    return data if isinstance(data, PingData) else None


def as_trace(data: Any) -> TraceData | None:
    return data if isinstance(data, TraceData) else None
