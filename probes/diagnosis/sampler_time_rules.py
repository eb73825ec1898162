"""What the connection sampler's times say: a server slow to answer over a fast path.

``watch`` and the TUI's live runs may have no http probe, only the sampler's ``HEAD``
once a round; its first byte is the server's think time and its connect the path's
round trip, both by the kernel (probes/wire/timedconn.py).  Only those are compared:
a figure by our own clock grows with this host's load (a starved loop read a 0.5-ms
connect as 563 ms, and a 2.5-s first byte was then "only" 4x it), so attempts our
clock timed are left out, never mixed in.  The bar is http.slow_response's own
(probes/diagnosis/http_rules.py): 1 s and 10x the round trip.  The http probe's
reading of the same id, when it ran, speaks first (registered before this).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

from probes.core.clocks import KERNEL, clocked
from probes.core.model import Finding, NextStep, Severity
from probes.core.target import endpoint
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.http_rules import SLOW_RATIO, SLOW_THINK_S
from probes.proto.sampler import OK, SamplerData

MIN_TIMED = 2  # kernel-timed answers needed before a median speaks


def slow_first_byte(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("connections", SamplerData)
    if data is None or data.speaks != "http":
        return
    answered = [a for a in data.recent if a.outcome == OK]
    thinks = _kernel([(a.first_byte_s, a.first_byte_clock) for a in answered])
    rtts = _kernel([(a.connect_s, a.connect_clock) for a in answered])
    if len(thinks) < MIN_TIMED or not rtts:
        return
    think, rtt = statistics.median(thinks), statistics.median(rtts)
    if think < SLOW_THINK_S or think < SLOW_RATIO * rtt:
        return
    where = endpoint(data.address, data.port)
    yield Finding(
        "http.slow_response",
        Severity.WARNING,
        f"{ev.target.host} takes {think:.2f} s to send its first byte; the network round trip is {clocked(rtt, KERNEL)}",
        (
            f"server think time (HEAD sent → first byte), median of {len(thinks)} "
            f"sampled requests to {where}: {clocked(think, KERNEL)}",
            f"network round trip (TCP_INFO of the same connections): {clocked(rtt, KERNEL)} — "
            f"{think / max(rtt, 1e-6):.0f}x less",
            f"connection sampler: connect {data.connect.text()}; first byte {data.first_byte.text()}",
        ),
        (
            NextStep(
                "The time is spent in the server, not on the network: check the application's slow-request log, its database queries and upstream calls"
            ),
            NextStep(
                "Time it yourself",
                f"curl -s -o /dev/null -w 'connect %{{time_connect}} first byte %{{time_starttransfer}}\\n' {q(ev.target.input)}",
            ),
        ),
    )


def _kernel(figures: list[tuple[float | None, str]]) -> list[float]:
    """The figures the kernel timed (our clock's are left out, not mixed in)."""
    return [seconds for seconds, clock in figures if seconds is not None and clock == KERNEL]


RULES = (slow_first_byte,)
