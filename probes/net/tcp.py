"""TCP connect probe: every resolved address, IPv4 and IPv6 separately.

Each attempt is classified the way an engineer reads ``nc -zv``: open, refused
(the address answered the SYN with a reset), filtered (no answer by the
deadline), unreachable (ICMP from a router or firewall, named when the kernel
tells us who sent it), or a local error (out of ports or file descriptors).
On an open port we listen briefly for a greeting to name the protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.proportion import repeats_to_see
from probes.wire.connect import (
    ERROR,
    FILTERED,
    LOCAL_ERROR,
    OPEN,
    REFUSED,
    UNREACHABLE,
    TcpAttempt,
    connect_once,
    quick_connect,
)

# A server that drops only some connections (every other one, when a worker
# pool is exhausted...) passes a single connect.  So an open port gets this many
# more quick connects, one after the other, each watched briefly for an
# immediate reset or close: cheap (a few ms on a healthy server, bounded by
# QUICK_WAIT_S each) and bounded, and they send nothing.
QUICK_REPEATS = 2
QUICK_WAIT_S = 0.15
# A bounded run asked about drops or refusals sizes its repeats to see one dead member
# of a pool of POOL_MEMBERS (a load balancer picking at random per connect) with at most
# POOL_MISS chance of missing it: 18 connects for one of three.  The extra ones watch
# only SIZED_WAIT_S each, so a healthy server costs a few ms per connect.
SIZED_SYMPTOMS = frozenset({"intermittent", "refused"})
POOL_MEMBERS = 3
POOL_MISS = 0.001
SIZED_WAIT_S = 0.02

# The attempt's states and type are this probe's data vocabulary too.
__all__ = [
    "ERROR",
    "FILTERED",
    "LOCAL_ERROR",
    "OPEN",
    "REFUSED",
    "UNREACHABLE",
    "TcpAttempt",
    "TcpData",
    "hung_up",
    "probe_tcp",
]


@dataclass(frozen=True, slots=True)
class TcpData:
    port: int
    attempts: tuple[TcpAttempt, ...]

    def by_state(self, state: str) -> list[TcpAttempt]:
        return [a for a in self.attempts if a.state == state]

    @property
    def own_sources(self) -> tuple[str, ...]:
        """The local address:port of every connection this probe opened (banner nudge and
        repeats included): a server's socket toward one of them is this run's own."""
        return tuple(
            source for a in self.attempts for source in (a.source, *a.repeat_sources) if source
        )


async def probe_tcp(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult(
            "tcp",
            Status.SKIPPED,
            time.monotonic() - started,
            "no address to connect to (name did not resolve)",
        )
        return
    port = ctx.target.port
    timeout = ctx.config.timeout
    extra = sized_repeats(ctx)
    attempts = await asyncio.gather(
        *(
            _attempt(addr, port, timeout, ctx.config.banner_wait, extra)
            for addr in resolution.addresses
        )
    )
    data = TcpData(port, tuple(attempts))
    elapsed = time.monotonic() - started
    parts = [_describe(a) for a in attempts]
    summary = "; ".join(parts)
    if all(a.ok and not hung_up(a) for a in attempts):
        yield ProbeResult("tcp", Status.OK, elapsed, summary, data)
    elif all(a.ok for a in attempts):
        first = next(a for a in attempts if hung_up(a))
        code = "ECONNRESET" if "reset" in (first.closed_by_peer, *first.repeats) else "EOF"
        err = ProbeError(code, _describe(first), elapsed_s=first.elapsed_s)
        yield ProbeResult("tcp", Status.FAILED, elapsed, summary, data, err)
    else:
        first = next(a for a in attempts if not a.ok)
        err = ProbeError(
            first.errno_name or first.state.upper(),
            first.explanation,
            first.icmp.sender if first.icmp else "",
            first.elapsed_s,
        )
        yield ProbeResult("tcp", Status.FAILED, elapsed, summary, data, err)


def sized_repeats(ctx: ProbeContext) -> int:
    """Quick connects beyond QUICK_REPEATS for a run that asks about a pool's members."""
    if ctx.live is not None or ctx.symptom not in SIZED_SYMPTOMS:
        return 0
    return max(0, repeats_to_see(POOL_MEMBERS, POOL_MISS) - 1 - QUICK_REPEATS)


async def _attempt(
    address: str, port: int, timeout: float, banner_wait: float, extra: int = 0
) -> TcpAttempt:
    first = await connect_once(address, port, timeout, banner_wait)
    if first.state != OPEN:
        return first
    repeats: list[tuple[str, str]] = []
    started = time.monotonic()
    for i in range(QUICK_REPEATS + extra):
        if i < QUICK_REPEATS:
            repeats.append(await quick_connect(address, port, timeout, QUICK_WAIT_S))
            continue
        if time.monotonic() - started > timeout / 2:
            break  # unanswered SYNs: the sized repeats must not eat the probe's deadline
        repeats.append(await quick_connect(address, port, min(timeout, 1.0), SIZED_WAIT_S))
    return dataclasses.replace(
        first,
        repeats=tuple(outcome for outcome, _source in repeats),
        repeat_sources=tuple(source for _outcome, source in repeats if source),
    )


def hung_up(attempt: TcpAttempt) -> bool:
    """The server accepted a connection and then reset or closed it at once."""
    return bool(attempt.closed_by_peer) or any(r in ("reset", "eof") for r in attempt.repeats)


def _describe(a: TcpAttempt) -> str:
    text = f"{_fmt(a)} {a.state}"
    if a.closed_by_peer:
        text += f", then {a.closed_by_peer} at once"
    dropped = sum(r in ("reset", "eof") for r in a.repeats)
    if dropped:
        text += f"; {dropped} of {len(a.repeats)} more connects dropped at once"
    refused = a.repeats.count(REFUSED)
    if refused:
        text += f"; {refused} of {len(a.repeats)} more connects refused"
    return text


def _fmt(attempt: TcpAttempt) -> str:
    if attempt.family == 6:
        return f"[{attempt.address}]:{attempt.port}"
    return f"{attempt.address}:{attempt.port}"
