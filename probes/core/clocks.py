"""Which clock a figure came from, and how it is written.

A round trip stamped by the kernel (TCP_INFO, a packet's receive timestamp) does
not depend on when this process got to run; one taken by our own clock (the
event loop noticing an answer) grows with the load on this host.  Figures say
which they are where it matters: ``rtt 0.042 ms (kernel)``, ``84.7 ms (our clock)``.
"""

from __future__ import annotations

KERNEL = "kernel"  # stamped by the kernel: scheduling delays do not enter
WALL = "wall"  # our user-space monotonic clock: includes any wait to be scheduled
_LABELS = {KERNEL: "kernel", WALL: "our clock"}


def fine_ms(seconds: float) -> str:
    """Milliseconds with the precision a kernel figure has (loopback is ~0.04 ms)."""
    value = seconds * 1000
    if value < 1:
        return f"{value:.3f} ms"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:.1f} ms" if value < 10_000 else f"{seconds:.1f} s"


def clocked(seconds: float, clock: str) -> str:
    """``0.042 ms (kernel)``."""
    return f"{fine_ms(seconds)} ({_LABELS.get(clock, clock)})"
