"""Path MTU: the largest packet with DF set that reaches the target.

Echo requests with DF (IP_PMTUDISC_PROBE: the kernel neither fragments them
nor trusts its PMTU cache) are sent in parallel batches of sizes between the
largest that passed and the smallest that vanished, each size twice so that
one lost packet does not move the answer.  A router that cannot forward a
size should say "fragmentation needed" (IPv6: "packet too big"); when large
packets vanish and nobody says so, PMTU discovery is broken: a black hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.path.packets import ERROR, FRAG_NEEDED, REPLY
from probes.path.pathengine import ModeInfo, Prober, Reply, family_of, open_prober, route_mtu
from probes.path.route import _ip_route_get

# Time for a neighbour resolution on the path to finish before the first round is retried.
NEIGHBOUR_SETTLE_S = 0.3
BATCH = 24  # sizes per round
COPIES = 2
MAX_ROUNDS = 5
KEEP = 64  # probes kept in the result
# The largest packet the IP headers can describe: IPv4's total length and IPv6's
# payload length are 16-bit fields (jumbograms aside).  Loopback's MTU is 65536.
MAX_IP_PACKET = {4: 65535, 6: 65535 + 40}


@dataclass(frozen=True, slots=True)
class MtuProbe:
    size: int
    outcome: str  # reply | timeout | frag_needed | error
    responder: str = ""


@dataclass(frozen=True, slots=True)
class MtuData:
    address: str
    mode: str
    privileged: bool
    hint: str
    local_mtu: int  # the MTU of the interface towards the target
    path_mtu: int | None  # largest size that got through (None: even small ones did not)
    smallest_lost: int | None
    frag_needed_from: str  # a router that said "fragmentation needed", if any
    frag_needed_mtu: int
    blackhole: bool
    rounds: int
    probes: tuple[MtuProbe, ...]
    explanation: str


async def interface_mtu(address: str) -> int:
    """The MTU of the interface towards *address*: where the search starts.

    Not the route's MTU: that includes what PMTU discovery learnt, and we want
    to measure the path, not repeat the cache.
    """
    return _interface(address, await _ip_route_get(address))[1]


def _interface(address: str, details: dict[str, str]) -> tuple[str, int]:
    """(device, MTU) of the route towards *address*; the device may be unknown ("")."""
    dev = details.get("dev", "")
    if dev and "/" not in dev:
        mtu = _sysfs_mtu(dev)
        if mtu:
            return dev, mtu
    try:
        return dev, route_mtu(address)
    except OSError:
        return dev, 1500


def stays_on_host(address: str, device: str, route_type: str = "") -> bool:
    """True when packets to *address* never leave this host (loopback, own address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or device == "lo" or route_type == "local"


def _sysfs_mtu(dev: str) -> int:
    try:
        return int(Path(f"/sys/class/net/{dev}/mtu").read_text("ascii").strip())
    except (OSError, ValueError):
        return 0


def _sizes(lo: int, hi: int, extra: set[int]) -> list[int]:
    """Up to BATCH sizes strictly between lo and hi."""
    span = hi - lo - 1
    if span <= 0:
        return []
    if span <= BATCH:
        return list(range(lo + 1, hi))
    step = (hi - lo) / (BATCH + 1)
    picks = {lo + round(step * (i + 1)) for i in range(BATCH)}
    picks |= {s for s in extra if lo < s < hi}
    return sorted(picks)


async def _round(
    prober: Prober, address: str, sizes: list[int], wait: float, copies: int = COPIES
) -> list[Reply]:
    jobs = [
        prober.probe(address, size=size, df=True, timeout=wait)
        for size in sizes
        for _ in range(copies)
    ]
    return list(await asyncio.gather(*jobs))


async def probe_mtu(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("mtu", Status.SKIPPED, 0.0, "no address to probe")
        return
    address = resolution.addresses[0]
    v6 = ":" in address
    # No path to measure is the reason whatever the privileges: asked first.
    details = await _ip_route_get(address)
    device, local = _interface(address, details)
    if stays_on_host(address, device, details.get("type", "")):
        text = (
            f"skipped: loopback — packets to {address} never leave this host "
            f"(interface {device or 'lo'}, MTU {local}), so there is no path MTU to measure"
        )
        yield ProbeResult("mtu", Status.SKIPPED, time.monotonic() - started, text)
        return
    prober, info = await open_prober(ctx, "mtu", family_of(address))
    if prober is None:
        yield ProbeResult(
            "mtu",
            Status.SKIPPED,
            time.monotonic() - started,
            f"path MTU needs raw sockets or ICMP datagram sockets: {info.hint}",
        )
        return
    try:
        local = min(local, MAX_IP_PACKET[6 if v6 else 4])
        hi = min(local, ctx.config.mtu_max) if ctx.config.mtu_max else local
        floor = 1280 if v6 else 576
        low = min(floor, hi)
        wait = min(0.5, max(0.2, ctx.config.timeout / 5))
        seen: list[MtuProbe] = []
        frag_from, frag_mtu = "", 0
        ok_sizes: set[int] = set()
        lost: set[int] = set()
        hints: set[int] = {1500, 1492, 1480, 1472, 1460, 1450, 1420, 1400, 1380, 1350, 1280}
        rounds = 0

        def absorb(sizes: list[int], replies: list[Reply]) -> None:
            nonlocal frag_from, frag_mtu
            copies = len(replies) // len(sizes)
            for i, reply in enumerate(replies):
                size = sizes[i // copies]
                if len(seen) < KEEP:
                    seen.append(MtuProbe(size, reply.kind, reply.responder))
                if reply.kind == REPLY:
                    ok_sizes.add(size)
                elif reply.kind == FRAG_NEEDED:
                    lost.add(size)
                    if reply.mtu:
                        frag_from, frag_mtu = reply.responder, reply.mtu
                        hints.add(reply.mtu)
                elif reply.kind == ERROR and reply.mtu:
                    lost.add(size)
                    hints.add(reply.mtu)
            for size in sizes:
                if size not in ok_sizes:
                    lost.add(size)

        # The first round decides whether anything gets through at all: more copies.
        # Sent together with ping's and trace's first packets, they can all be queued
        # behind a neighbour (ARP/ND) resolution on the way and dropped from its short
        # queue: silence then means "not yet", so the first round is tried once more.
        first = sorted({low, hi})
        absorb(first, await _round(prober, address, first, wait, copies=2 * COPIES))
        if not ok_sizes:
            await asyncio.sleep(NEIGHBOUR_SETTLE_S)
            absorb(first, await _round(prober, address, first, wait, copies=2 * COPIES))
        rounds = 1
        while rounds < MAX_ROUNDS and ok_sizes:
            lo = max(ok_sizes)
            up = min((s for s in lost if s > lo), default=None)
            if up is None or up - lo <= 1:
                break
            sizes = _sizes(lo, up, hints)
            if not sizes:
                break
            absorb(sizes, await _round(prober, address, sizes, wait))
            rounds += 1
            yield _result(
                address, info, local, ok_sizes, lost, frag_from, frag_mtu, rounds, seen, started,
                final=False,
            )  # fmt: skip
        yield _result(
            address, info, local, ok_sizes, lost, frag_from, frag_mtu, rounds, seen, started,
            final=True,
        )  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            prober.close()


def _result(
    address: str,
    info: ModeInfo,
    local: int,
    ok_sizes: set[int],
    lost: set[int],
    frag_from: str,
    frag_mtu: int,
    rounds: int,
    seen: list[MtuProbe],
    started: float,
    final: bool,
) -> ProbeResult:
    elapsed = time.monotonic() - started
    path_mtu = max(ok_sizes) if ok_sizes else None
    smallest_lost = min((s for s in lost if path_mtu is None or s > path_mtu), default=None)
    blackhole = bool(path_mtu is not None and smallest_lost is not None and not frag_from)
    if path_mtu is None:
        text = f"no echo reply from {address} even for small packets: cannot measure the path MTU"
    elif smallest_lost is None:
        text = f"packets of {path_mtu} bytes (this host's MTU) reach {address} with DF set"
    elif frag_from:
        text = (
            f"path MTU {path_mtu}: {frag_from} reports a next-hop MTU of {frag_mtu} "
            "(PMTU discovery works)"
        )
    else:
        text = (
            f"packets up to {path_mtu} bytes reach {address}; {smallest_lost} bytes and larger "
            "vanish and no router says 'fragmentation needed': PMTU black hole"
        )
    data = MtuData(
        address,
        info.mode,
        info.privileged,
        info.hint,
        local,
        path_mtu,
        smallest_lost,
        frag_from,
        frag_mtu,
        blackhole,
        rounds,
        tuple(seen),
        text,
    )
    if path_mtu is None:
        err = ProbeError("NO_REPLY", text)
        return ProbeResult("mtu", Status.FAILED, elapsed, text, data, err, final=final)
    if blackhole:
        err = ProbeError("MTU_BLACKHOLE", text)
        return ProbeResult("mtu", Status.FAILED, elapsed, text, data, err, final=final)
    return ProbeResult("mtu", Status.OK, elapsed, text, data, final=final)
