"""Fakes for live runs: a stepping clock and a scripted path.

``SteppingClock`` is the pacing clock of a live run: ``sleep`` waits until the test
moves time on with ``advance``, so a test drives hundreds of 1 Hz rounds without
waiting for them and without asserting on wall-clock speed.  ``FakePath`` is a
:class:`~probes.path.pathengine.Prober` for a path of *hops* routers whose loss the
test switches on and off; ``install`` puts it behind the real ping and trace probes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from probes.path.packets import REPLY, TIME_EXCEEDED, TIMEOUT
from probes.path.pathengine import ModeInfo, Reply


class SteppingClock:
    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        return sum(1 for _due, _n, f in self._sleepers if not f.done())

    def advance(self, seconds: float) -> None:
        self.t += seconds
        while self._sleepers and self._sleepers[0][0] <= self.t + 1e-9:
            _due, _n, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


@dataclass
class FakePath:
    """Hop k answers from 10.9.0.k; the destination is the last hop."""

    destination: str = "192.0.2.10"
    hops: int = 4
    loss_from: int = 0  # 0: no loss; k: every other probe to hop >= k is lost
    ecmp_hop: int = 0  # this hop answers from two routers in turn
    sent: int = 0
    counter: dict[int, int] = field(default_factory=dict)
    mode: str = "raw-icmp"
    privileged: bool = True
    supports_ttl: bool = True

    async def probe(
        self, dst: str, *, ttl: int = 64, size: int = 0, df: bool = False, timeout: float = 1.0
    ) -> Reply:
        self.sent += 1
        hop = min(ttl, self.hops)
        n = self.counter.get(ttl, 0)  # per TTL: ping (ttl 64) and trace lose alike
        self.counter[ttl] = n + 1
        if self.loss_from and hop >= self.loss_from and n % 2:
            return Reply(TIMEOUT)
        rtt = 0.001 * (hop * 5 + n % 3)
        if hop == self.hops:
            return Reply(REPLY, self.destination, rtt)
        router = f"10.9.0.{hop}"
        if hop == self.ecmp_hop and n % 2:
            router = f"10.9.1.{hop}"
        return Reply(TIME_EXCEEDED, router, rtt)

    def close(self) -> None:
        pass

    def late_unreachable(self, dst: str) -> Reply | None:
        return None


def install(monkeypatch: pytest.MonkeyPatch, path: FakePath) -> None:
    """The real ping and trace probes, sending through *path*."""

    async def opener(*_args: Any, **_kw: Any) -> tuple[FakePath, ModeInfo]:
        return path, ModeInfo(path.mode, True)

    monkeypatch.setattr("probes.path.ping.open_prober", opener)
    monkeypatch.setattr("probes.path.trace.open_prober", opener)
