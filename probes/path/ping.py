"""Ping as a stream: per-probe RTT or loss and running statistics, per address family.

Raw ICMP echo when allowed; otherwise ICMP datagram sockets; otherwise a TCP
connect to the target's port.  Snapshots are published at most every 100 ms;
memory is constant (counters plus a ring of the last samples).

A bounded run chasing drops (``check --symptom intermittent``) pings a *sized
sample*: faster, and until the loss rate is clearly above or below the bar
``path.loss`` sets (a one-sided 95% Wilson interval), or the time is up.  Nine
pings cannot tell 30% loss from none one time in twenty-five; what a sample that
ran out of time could not tell, the rules call inconclusive, never ``ok``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.clocks import KERNEL, WALL, clocked, series_clock
from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.proportion import UNSURE, versus
from probes.path.packets import ERROR, REPLY, TIMEOUT, UNREACHABLE
from probes.path.pathengine import (
    ModeInfo,
    Prober,
    Reply,
    family_of,
    icmp_name,
    open_prober,
    paced_rounds,
    pick_addresses,
    reply_timeout,
    send_window,
    stream_snapshots,
)
from probes.path.pathstats import FIRST_ANSWER, Ring, RttStats, RunningStats, window_stats

RECENT = 60  # samples kept for a sparkline; everything else is counters
# A sized sample (see the module docstring): the symptoms that ask whether packets are
# lost now and then, the pace (20 a second: 75 pings fit in a 5-s check), and the bar
# the loss rate is judged against (path_rules.LOSS_PCT, the bar path.loss sets).
SIZED_SYMPTOMS = frozenset({"intermittent"})
SIZED_INTERVAL_S = 0.05
SIZED_LOSS_PCT = 5.0
SIZED_KEEP = 200  # outcomes kept: a sized sample's evidence is all of it


@dataclass(frozen=True, slots=True)
class PingSample:
    seq: int
    outcome: str  # reply | timeout | unreachable | error ...
    rtt_s: float | None
    responder: str = ""


@dataclass(frozen=True, slots=True)
class PingHost:
    address: str
    family: int  # 4 or 6
    mode: str
    stats: RttStats
    recent: tuple[PingSample, ...]
    median_s: float | None = None  # recent samples, once ARP/NDP resolution has settled
    unreachable: str = ""  # "10.0.3.1: host unreachable" when a router said so
    unreachable_count: int = 0
    errors: int = 0
    last_error: str = ""
    # Which clock the round trips came from (probes.core.clocks.series_clock): "kernel"
    # when every answer was timed by its kernel receive stamp (or TCP_INFO).
    clock: str = WALL


@dataclass(frozen=True, slots=True)
class PingData:
    mode: str
    privileged: bool
    hint: str  # how to get the full mode, when a fallback ran
    interval_s: float
    size: int
    hosts: tuple[PingHost, ...]
    window: int = 0  # rounds a live run's findings read (0: the whole run)
    sized: bool = False  # a sized sample: it ran until its loss rate was clear, or time was up

    @property
    def answered(self) -> bool:
        """A live run counts ping as answered once every address has a first outcome."""
        return all(h.stats.sent >= FIRST_ANSWER for h in self.hosts)

    def windowed(self) -> PingData:
        """The same data with each address's statistics over its latest window only,
        so loss that stops clears from the findings once the window has moved past it."""
        if not self.window:
            return self
        hosts = []
        for h in self.hosts:
            recent = h.recent[-self.window :]
            stats = window_stats([s.rtt_s for s in recent])
            hosts.append(dataclasses.replace(h, stats=stats, recent=recent))
        return dataclasses.replace(self, hosts=tuple(hosts))


class _Host:
    def __init__(
        self, address: str, prober: Prober, interval: float = 0.2, keep: int = RECENT
    ) -> None:
        self.address = address
        self.interval = interval
        self.prober = prober
        self.stats = RunningStats()
        self.recent: Ring[PingSample] = Ring(max(RECENT, keep))
        self.unreachable = ""
        self.unreachable_count = 0
        self.errors = 0
        self.last_error = ""
        self.wall_timed = 0  # answers timed by our clock (no kernel stamp)

    def record(self, seq: int, reply: Reply) -> None:
        if reply.kind == ERROR:
            self.errors += 1
            self.last_error = reply.detail
        rtt = reply.rtt_s if reply.kind == REPLY else None
        if rtt is not None and reply.clock != KERNEL:
            self.wall_timed += 1
        self.stats.add(rtt)
        if reply.kind == UNREACHABLE:
            self.unreachable_count += 1
            self.unreachable = f"{reply.responder}: {icmp_name(reply)}"
        self.recent.append(PingSample(seq, reply.kind, rtt, reply.responder))

    def snapshot(self) -> PingHost:
        late_of = getattr(self.prober, "late_unreachable", None)  # test fakes may lack it
        late = late_of(self.address) if late_of else None
        if late is not None and not self.unreachable:
            self.unreachable = f"{late.responder}: {icmp_name(late)} (after {late.rtt_s:.1f} s)"
            self.unreachable_count += 1
        return PingHost(
            self.address,
            6 if ":" in self.address else 4,
            self.prober.mode,
            self.stats.snapshot(),
            self.recent.items(),
            _median(settled_rtts(self.recent.items(), self.interval)),
            self.unreachable,
            self.unreachable_count,
            self.errors,
            self.last_error,
            series_clock(self.stats.received - self.wall_timed, self.stats.received),
        )


def settled_rtts(samples: tuple[PingSample, ...], interval: float) -> list[float]:
    """RTTs after the start-up run of echoes held back by ARP/NDP resolution.

    Packets queued while the neighbour is resolved leave together, so their
    RTTs fall by one interval each (0.87, 0.67, 0.47 s at 0.2 s intervals):
    that is a one-off wait for the first packet, not latency of the path.
    """
    answered = sorted((s.seq, s.rtt_s) for s in samples if s.rtt_s is not None)
    held = -1
    for i in range(len(answered) - 1):
        (seq_a, rtt_a), (seq_b, rtt_b) = answered[i], answered[i + 1]
        expected = interval * (seq_b - seq_a)
        if abs((rtt_a - rtt_b) - expected) <= 0.25 * interval + 0.002 and rtt_b > 0.002:
            held = i + 1
        else:
            break
    return [rtt for _seq, rtt in answered[held + 1 :]]


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


async def _run_host(host: _Host, ctx: ProbeContext, wait: float, changed: asyncio.Event) -> None:
    cfg = ctx.config
    interval = max(0.001, host.interval)
    window = send_window(ctx, cfg.ping_duration, wait)

    async def one(seq: int) -> None:
        reply = await host.prober.probe(host.address, size=cfg.ping_size, timeout=wait)
        host.record(seq, reply)
        changed.set()

    def enough() -> bool:
        s = host.stats
        return sample_clear(s.sent - s.received, s.sent)

    await paced_rounds(
        lambda seq: (one(seq),),
        interval,
        cfg.ping_count,
        window,
        ctx.live,
        enough if is_sized(ctx) else None,
    )


async def probe_ping(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    addresses = pick_addresses(resolution.addresses)
    if not addresses:
        yield ProbeResult("ping", Status.SKIPPED, 0.0, "no address to ping")
        return
    hosts: list[_Host] = []
    info = ModeInfo("none", False)
    sized = is_sized(ctx)
    interval = (
        min(ctx.config.ping_interval, SIZED_INTERVAL_S) if sized else ctx.config.ping_interval
    )
    for address in addresses:
        prober, info = await open_prober(ctx, "ping", family_of(address))
        if prober is not None:
            keep = ctx.config.live_window if ctx.live else SIZED_KEEP if sized else RECENT
            hosts.append(_Host(address, prober, interval, keep))
    if not hosts:
        yield ProbeResult("ping", Status.ERROR, 0.0, f"cannot ping: {info.hint}")
        return
    wait = reply_timeout(ctx)
    changed = asyncio.Event()
    runner = asyncio.gather(*(_run_host(h, ctx, wait, changed) for h in hosts))

    def result(final: bool) -> ProbeResult:
        return _result(hosts, ctx, info, time.monotonic() - started, final, sized)

    try:
        async with contextlib.aclosing(stream_snapshots(runner, changed, result)) as snapshots:
            async for snapshot in snapshots:
                yield snapshot
    finally:
        for host in hosts:
            host.prober.close()


def is_sized(ctx: ProbeContext) -> bool:
    """A bounded run whose symptom asks about loss now and then pings a sized sample."""
    return ctx.live is None and ctx.symptom in SIZED_SYMPTOMS


def sample_clear(lost: int, sent: int) -> bool:
    """The loss rate of a sized sample is clearly above or below the bar."""
    return versus(lost, sent, SIZED_LOSS_PCT) != UNSURE


def _result(
    hosts: list[_Host],
    ctx: ProbeContext,
    info: ModeInfo,
    elapsed: float,
    final: bool,
    sized: bool = False,
) -> ProbeResult:
    snaps = tuple(h.snapshot() for h in hosts)
    data = PingData(
        snaps[0].mode,
        info.privileged,
        info.hint,
        hosts[0].interval,
        ctx.config.ping_size,
        snaps,
        max(1, ctx.config.live_window) if ctx.live else 0,
        sized,
    )
    parts = []
    for h in snaps:
        s = h.stats
        text = f"{h.address}: {s.received}/{s.sent} answered, {s.loss_pct:g}% loss"
        if s.avg_s is not None:
            text += f", avg {clocked(s.avg_s, h.clock)}"
        if h.unreachable:
            text += f" (unreachable from {h.unreachable})"
        parts.append(text)
    summary = "; ".join(parts) + f" [{data.mode}]"
    dead = [h for h in snaps if h.stats.sent and not h.stats.received]
    if not final or not dead:
        return ProbeResult("ping", Status.OK, elapsed, summary, data, final=final)
    first = dead[0]
    if first.unreachable:
        sender = first.unreachable.split(":", 1)[0]
        err = ProbeError("UNREACHABLE", f"{first.unreachable}", answered_by=sender)
    elif first.errors == first.stats.sent:
        err = ProbeError("SEND_FAILED", first.last_error)
    else:
        err = ProbeError(TIMEOUT.upper(), f"no answer from {first.address}")
    return ProbeResult("ping", Status.FAILED, elapsed, summary, data, err, final=True)
