"""Packet receive timestamps from the kernel (``SO_TIMESTAMPING``), as ping takes them.

An answer's arrival is stamped by the kernel when the packet comes in, not when
this process's event loop gets round to reading it, so a round trip stays right
while the loop is busy or the CPU is saturated.  The kernel stamps on
``CLOCK_REALTIME``; the send time is read on that clock too (``time.time()``,
right before the send syscall: on loopback the answer can be stamped before
``sendto`` returns).  The monotonic times stay beside them for deadlines, and
for the fallback when no stamp came (then the figure is our clock's).

``SO_TIMESTAMPING`` rather than ``SO_TIMESTAMPNS``: the kernel turns receive
stamping on for the whole host lazily (a deferred work item), and a packet that
arrives before that has no stamp.  ``SO_TIMESTAMPNS`` then stamps it when we
read it — our clock's time passed off as the kernel's; ``SO_TIMESTAMPING``
reports no stamp, so the figure is honestly labelled ours.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from probes.core.clocks import KERNEL, WALL

SO_TIMESTAMPING = getattr(socket, "SO_TIMESTAMPING", 37)
SCM_TIMESTAMPING = SO_TIMESTAMPING
_RX_SOFTWARE, _SOFTWARE = 1 << 3, 1 << 4  # SOF_TIMESTAMPING_* (linux/net_tstamp.h)
_TIMESPEC = struct.Struct("=qq")  # struct timespec on 64-bit Linux; ts[0] is the software stamp
ANCILLARY_SPACE = 1024  # room for the timestamps and an extended error with its offender


@dataclass(frozen=True, slots=True)
class Sent:
    """When a probe left: our monotonic clock, and the kernel stamps' clock."""

    mono: float
    wall: float

    @classmethod
    def now(cls) -> Sent:
        return cls(time.monotonic(), time.time())


def enable_rx_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp every packet *sock* receives (errors queued too)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, _RX_SOFTWARE | _SOFTWARE)
    except OSError:
        return False
    return True


def stamp_of(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive timestamp in a ``recvmsg`` ancillary list (seconds, realtime)."""
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPING and len(payload) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            return sec + nsec / 1e9 if sec or nsec else None
    return None


async def stamping_live(limit_s: float = 0.25) -> bool:
    """Wait until the kernel stamps packets on arrival (call with a stamping socket open).

    The first socket that asks turns stamping on for the host through a deferred work
    item; until it has run, answers arrive unstamped and can only be timed by our
    clock.  A datagram to ourselves on loopback shows when stamps are live: at once
    when anything on the host already stamps, a few ms after start-up otherwise."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return False
    with sock:
        try:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            enable_rx_stamps(sock)
            here = sock.getsockname()
        except OSError:  # no loopback in this namespace: nothing to wait for
            return False
        deadline = time.monotonic() + limit_s
        while True:
            try:
                sock.sendto(b"t", here)
                while True:
                    if recv_stamped(sock, 16)[2] is not None:
                        return True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return False
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.002)


def recv_stamped(sock: socket.socket, size: int = 65535) -> tuple[bytes, Any, float | None]:
    """One datagram, its sender and its kernel receive stamp (raises like recvfrom)."""
    data, ancdata, _flags, addr = sock.recvmsg(size, ANCILLARY_SPACE)
    return data, addr, stamp_of(ancdata)


def round_trip(sent: Sent, arrived_mono: float, stamp: float | None) -> tuple[float, str]:
    """(seconds, clock): the kernel stamp's round trip when there is one, else our clock's."""
    if stamp is not None:
        rtt = stamp - sent.wall
        if rtt >= 0:  # a wall clock stepped between send and answer: fall back
            return rtt, KERNEL
    return max(0.0, arrived_mono - sent.mono), WALL
