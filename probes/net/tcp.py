"""TCP connect probe: every resolved address, IPv4 and IPv6 separately.

Each attempt is classified the way an engineer reads ``nc -zv``: open, refused
(the address answered the SYN with a reset), filtered (no answer by the
deadline), unreachable (ICMP from a router or firewall, named when the kernel
tells us who sent it), or a local error (out of ports or file descriptors).
On an open port we listen briefly for a greeting to name the protocol.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.wire.connect import (
    ERROR,
    FILTERED,
    LOCAL_ERROR,
    OPEN,
    REFUSED,
    UNREACHABLE,
    TcpAttempt,
    connect_once,
)

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
    "probe_tcp",
]


@dataclass(frozen=True, slots=True)
class TcpData:
    port: int
    attempts: tuple[TcpAttempt, ...]

    def by_state(self, state: str) -> list[TcpAttempt]:
        return [a for a in self.attempts if a.state == state]


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
    attempts = await asyncio.gather(
        *(
            connect_once(addr, port, timeout, ctx.config.banner_wait)
            for addr in resolution.addresses
        )
    )
    data = TcpData(port, tuple(attempts))
    elapsed = time.monotonic() - started
    opened = data.by_state(OPEN)
    parts = [f"{_fmt(a)} {a.state}" for a in attempts]
    summary = "; ".join(parts)
    if opened and len(opened) == len(attempts):
        yield ProbeResult("tcp", Status.OK, elapsed, summary, data)
    else:
        first = next(a for a in attempts if not a.ok)
        err = ProbeError(
            first.errno_name or first.state.upper(),
            first.explanation,
            first.icmp.sender if first.icmp else "",
            first.elapsed_s,
        )
        yield ProbeResult("tcp", Status.FAILED, elapsed, summary, data, err)


def _fmt(attempt: TcpAttempt) -> str:
    if attempt.family == 6:
        return f"[{attempt.address}]:{attempt.port}"
    return f"{attempt.address}:{attempt.port}"
