"""Which clock a figure came from, and how it is written.

A round trip stamped by the kernel (TCP_INFO, a packet's receive timestamp) does
not depend on when this process got to run; one taken by our own clock (the
event loop noticing an answer) grows with the load on this host.  Figures say
which they are where it matters: ``rtt 0.042 ms (kernel)``, ``84.7 ms (our clock)``.
"""

from __future__ import annotations

KERNEL = "kernel"  # stamped by the kernel: scheduling delays do not enter
WALL = "wall"  # our user-space monotonic clock: includes any wait to be scheduled
# Some figures of a series by each: the kernel turns receive stamping on lazily
# (a deferred work item), so the first answers after start-up may have no stamp.
MIXED = "mixed"
_LABELS = {KERNEL: "kernel", WALL: "our clock", MIXED: "kernel, some by our clock"}


def series_clock(kernel_timed: int, total: int) -> str:
    """The clock of a series of *total* figures, *kernel_timed* of them by the kernel."""
    if total and kernel_timed == total:
        return KERNEL
    return MIXED if kernel_timed else WALL


def ms_number(value: float) -> str:
    """A millisecond figure with the precision a kernel figure has (loopback is ~0.04 ms)."""
    if value < 1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def fine_ms(seconds: float) -> str:
    """``0.042 ms``, ``8.01 ms``, ``84.7 ms``, ``12.3 s``."""
    value = seconds * 1000
    return f"{ms_number(value)} ms" if value < 10_000 else f"{seconds:.1f} s"


def clock_label(clock: str) -> str:
    """ "kernel" / "our clock"."""
    return _LABELS.get(clock, clock)


def clocked(seconds: float, clock: str) -> str:
    """``0.042 ms (kernel)``."""
    return f"{fine_ms(seconds)} ({clock_label(clock)})"
