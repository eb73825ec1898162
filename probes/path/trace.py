"""Traceroute the way mtr and trippy do it: every TTL in flight at once, in rounds.

Each round sends one probe per TTL (up to the destination once it is known);
rounds repeat for live per-hop statistics (loss, last, avg, best, worst,
stdev).  ICMP, UDP and TCP-SYN (to the target's own port) with raw sockets;
UDP with IP_RECVERR (as tracepath does) without.  The flow (ports) stays
fixed, Paris-style, so a load-balanced path does not look like flapping
routes; a hop that still answers from several addresses shows them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

from probes.core.clocks import KERNEL, WALL, series_clock
from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.path.packets import (
    ERROR,
    FRAG_NEEDED,
    ICMP,
    REPLY,
    TCP,
    TIME_EXCEEDED,
    TIMEOUT,
    UDP,
    UNREACHABLE,
)
from probes.path.pathengine import (
    Prober,
    Reply,
    family_of,
    icmp_name,
    open_prober,
    paced_rounds,
    reply_timeout,
    send_window,
    stream_snapshots,
)
from probes.path.pathstats import FIRST_ANSWER, Ring, RunningStats, window_stats
from probes.path.rdns import ReverseNames

MAX_RESPONDERS = 8
# Rounds after the first probe at most this many TTLs past the farthest hop that
# answered, with a full sweep now and then (to find hops past a silent stretch).
# Probes past an unresolved next hop wait in its neighbour (ARP/NDP) queue; a
# full sweep every round floods that queue, evicting the TCP probe's SYN, and
# spends the router's ICMP rate limit, so the "host unreachable" that would have
# named the router never reaches the connect.
PROBE_AHEAD = 3
FULL_SWEEP_EVERY = 8
# While the destination has not answered, a router that already answered is
# asked again at most this often: routers rate-limit ICMP errors (Linux: 1/s
# after a burst of 6 per source), and that budget must stay for the "host
# unreachable" about our TCP SYN, which names the router where the path stops.
STOPPED_HOP_INTERVAL_S = 1.0

OK, DESTINATION, SILENT, UNREACH = "ok", "destination", "silent", "unreachable"


@dataclass(frozen=True, slots=True)
class Responder:
    address: str
    count: int
    name: str = ""  # reverse DNS, resolved in the background (live runs); sanitised


@dataclass(frozen=True, slots=True)
class Hop:
    ttl: int
    status: str  # ok | destination | silent | unreachable
    responders: tuple[Responder, ...]
    sent: int  # probes whose fate is known
    received: int
    loss_pct: float
    last_s: float | None
    avg_s: float | None
    best_s: float | None
    worst_s: float | None
    stdev_s: float | None
    note: str = ""  # "host unreachable", "fragmentation needed"...
    # Live runs: the latest outcomes (RTT, None when lost), oldest first, for a
    # sparkline and the rolling window the findings read.
    recent: tuple[float | None, ...] = ()

    @property
    def address(self) -> str:
        return self.responders[0].address if self.responders else ""


@dataclass(frozen=True, slots=True)
class TraceData:
    address: str
    protocol: str  # icmp | udp | tcp
    port: int  # destination port for udp/tcp
    mode: str
    privileged: bool
    hint: str
    rounds: int
    reached: bool
    stopped_at: int  # ttl of the last hop that answered when the path stops (0: none)
    stop_reason: str
    hops: tuple[Hop, ...]
    window: int = 0  # rounds a live run's findings read (0: the whole run)
    # Which clock the hops' round trips came from (probes.core.clocks): "kernel" when
    # every answer was timed by its kernel receive stamp, else our clock's.
    clock: str = WALL

    @property
    def answered(self) -> bool:
        """A live run counts the trace as answered after its first round."""
        return self.rounds >= FIRST_ANSWER

    def windowed(self) -> TraceData:
        """The same data with each hop's statistics over its latest window only."""
        if not self.window:
            return self
        return dataclasses.replace(self, hops=tuple(_windowed(h, self.window) for h in self.hops))


def _windowed(hop: Hop, window: int) -> Hop:
    recent = hop.recent[-window:]
    if not recent:
        return hop
    s = window_stats(recent)
    return dataclasses.replace(
        hop,
        sent=s.sent,
        received=s.received,
        loss_pct=s.loss_pct,
        last_s=s.last_s,
        avg_s=s.avg_s,
        best_s=s.min_s,
        worst_s=s.max_s,
        stdev_s=s.mdev_s,
        recent=recent,
    )


class _HopState:
    def __init__(self, ttl: int, keep: int) -> None:
        self.ttl = ttl
        self.stats = RunningStats()
        self.recent: Ring[float | None] = Ring(max(1, keep))
        self.responders: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        self.note = ""

    def record(self, reply: Reply) -> None:
        if reply.kind == ERROR:
            return  # not sent: neither an answer nor a loss
        answered = reply.kind in (REPLY, TIME_EXCEEDED, UNREACHABLE, FRAG_NEEDED)
        self.stats.add(reply.rtt_s if answered else None)
        self.recent.append(reply.rtt_s if answered else None)
        if not answered:
            return
        self.kinds[reply.kind] = self.kinds.get(reply.kind, 0) + 1
        if reply.responder in self.responders or len(self.responders) < MAX_RESPONDERS:
            self.responders[reply.responder] = self.responders.get(reply.responder, 0) + 1
        if reply.kind in (UNREACHABLE, FRAG_NEEDED):
            self.note = icmp_name(reply)


class _Trace:
    def __init__(self, address: str, prober: Prober, max_ttl: int, keep: int = 0) -> None:
        self.address = address
        self.prober = prober
        self.max_ttl = max_ttl
        self.keep = keep  # outcomes kept per hop (live runs); 0: none shown
        self.hops = {ttl: _HopState(ttl, keep) for ttl in range(1, max_ttl + 1)}
        self.names = ReverseNames()
        self.dest_ttl: int | None = None
        self.unreach_ttl: int | None = None
        self.rounds = 0
        self.errors: list[str] = []
        self.last_sent: dict[int, float] = {}
        self.answers = 0
        self.wall_timed = 0  # answers without a kernel stamp

    @property
    def clock(self) -> str:
        return series_clock(self.answers - self.wall_timed, self.answers)

    @property
    def limit(self) -> int:
        return min(self.dest_ttl or self.max_ttl, self.unreach_ttl or self.max_ttl)

    def round_ttls(self, n: int, now: float) -> list[int]:
        """The TTLs to probe in round *n* (0-based)."""
        top = self.limit
        if n % FULL_SWEEP_EVERY:
            farthest = max((t for t, h in self.hops.items() if h.stats.received), default=0)
            top = min(top, farthest + PROBE_AHEAD)
        ttls = []
        for ttl in range(1, top + 1):
            answered = bool(self.hops[ttl].stats.received)
            recent = now - self.last_sent.get(ttl, -1e9) < STOPPED_HOP_INTERVAL_S
            if self.dest_ttl is None and answered and recent:
                continue
            self.last_sent[ttl] = now
            ttls.append(ttl)
        return ttls

    def record(self, ttl: int, reply: Reply) -> None:
        self.hops[ttl].record(reply)
        if reply.kind not in (ERROR, TIMEOUT):
            self.answers += 1
            self.wall_timed += reply.clock != KERNEL
        if reply.kind == REPLY and (self.dest_ttl is None or ttl < self.dest_ttl):
            self.dest_ttl = ttl
        if reply.kind == UNREACHABLE and (self.unreach_ttl is None or ttl < self.unreach_ttl):
            self.unreach_ttl = ttl
        if reply.kind == ERROR and len(self.errors) < 5:
            self.errors.append(reply.detail)

    def table(self) -> tuple[tuple[Hop, ...], bool, int, str]:
        reached = self.dest_ttl is not None and (
            self.unreach_ttl is None or self.dest_ttl <= self.unreach_ttl
        )
        answered = [t for t in range(1, self.limit + 1) if self.hops[t].stats.received]
        if reached or self.unreach_ttl is not None:
            last = self.limit
        else:
            last = min(self.max_ttl, (answered[-1] + 1) if answered else 1)
        hops = tuple(self._hop(t, t == self.dest_ttl and reached) for t in range(1, last + 1))
        if reached:
            return hops, True, 0, ""
        if self.unreach_ttl is not None:
            hop = hops[self.unreach_ttl - 1]
            return (
                hops,
                False,
                self.unreach_ttl,
                f"hop {self.unreach_ttl} ({hop.address}) answered {hop.note}",
            )
        if not answered:
            return hops, False, 0, "no hop answered"
        n = answered[-1]
        return hops, False, n, f"nothing answers beyond hop {n} ({hops[n - 1].address})"

    def _hop(self, ttl: int, is_dest: bool) -> Hop:
        h = self.hops[ttl]
        s = h.stats.snapshot()
        if is_dest:
            status = DESTINATION
        elif UNREACHABLE in h.kinds:
            status = UNREACH
        elif not s.received:
            status = SILENT
        else:
            status = OK
        responders = tuple(
            Responder(a, c, self.names.get(a))
            for a, c in sorted(h.responders.items(), key=lambda kv: -kv[1])
        )
        return Hop(
            ttl,
            status,
            responders,
            s.sent,
            s.received,
            s.loss_pct,
            s.last_s,
            s.avg_s,
            s.min_s,
            s.max_s,
            s.mdev_s,
            h.note,
            h.recent.items() if self.keep else (),
        )


async def _rounds(trace: _Trace, ctx: ProbeContext, wait: float, changed: asyncio.Event) -> None:
    cfg = ctx.config
    interval = max(0.01, cfg.trace_interval)
    window = send_window(ctx, cfg.trace_duration, wait)

    async def one(ttl: int) -> None:
        reply = await trace.prober.probe(trace.address, ttl=ttl, timeout=wait)
        trace.record(ttl, reply)
        if cfg.resolve_names and reply.responder:
            trace.names.ask(reply.responder, changed)
        changed.set()

    def launch(n: int) -> list[Coroutine[Any, Any, None]]:
        trace.rounds = n + 1
        # The limit shrinks as hops answer.
        return [one(ttl) for ttl in trace.round_ttls(n, time.monotonic())]

    try:
        await paced_rounds(launch, interval, cfg.trace_rounds, window, ctx.live)
    finally:
        trace.names.close()


async def probe_trace(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("trace", Status.SKIPPED, 0.0, "no address to trace")
        return
    address = resolution.addresses[0]
    protocol = ctx.config.trace_protocol if ctx.config.trace_protocol in (ICMP, UDP, TCP) else ICMP
    prober, info = await open_prober(ctx, "trace", family_of(address), protocol)
    if prober is None:
        yield ProbeResult("trace", Status.ERROR, 0.0, f"cannot trace: {info.hint}")
        return
    ran = info.mode.removeprefix("raw-") if info.privileged else UDP
    port = ctx.target.port if ran == TCP else getattr(prober, "dport", getattr(prober, "port", 0))
    keep = max(1, ctx.config.live_window) if ctx.live else 0
    trace = _Trace(address, prober, max(1, min(64, ctx.config.trace_max_ttl)), keep)
    wait = reply_timeout(ctx)
    changed = asyncio.Event()
    runner = asyncio.ensure_future(_rounds(trace, ctx, wait, changed))

    def result(final: bool) -> ProbeResult:
        hops, reached, stopped, reason = trace.table()
        data = TraceData(
            address,
            ran,
            port if ran != ICMP else 0,
            info.mode,
            info.privileged,
            info.hint,
            trace.rounds,
            reached,
            stopped,
            reason,
            hops,
            keep,
            trace.clock,
        )
        elapsed = time.monotonic() - started
        path = " ".join(h.address or "*" for h in hops)
        summary = f"{address} via {ran}: {path}" + ("" if reached else f" — {reason}")
        if reached or not final:
            return ProbeResult("trace", Status.OK, elapsed, summary, data, final=final)
        if trace.errors and not any(h.received for h in hops):
            err = ProbeError("SEND_FAILED", trace.errors[0])
        else:
            answered_by = hops[stopped - 1].address if stopped else ""
            err = ProbeError("NOT_REACHED", reason, answered_by=answered_by)
        return ProbeResult("trace", Status.FAILED, elapsed, summary, data, err)

    try:
        async with contextlib.aclosing(stream_snapshots(runner, changed, result)) as snapshots:
            async for snapshot in snapshots:
                yield snapshot
    finally:
        prober.close()
