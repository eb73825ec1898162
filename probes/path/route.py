"""Route probe: does this host have a route to each address, and which one.

A UDP ``connect()`` makes the kernel do the route lookup without sending a
packet: ENETUNREACH means no route, EHOSTUNREACH/EACCES/EINVAL mean an
unreachable, prohibit or blackhole route.  ``ip -j route get`` (when iproute2
is installed) adds the gateway and interface for the evidence.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.programs import find_program, safe_env


@dataclass(frozen=True, slots=True)
class RouteInfo:
    address: str
    routable: bool
    source: str = ""  # the local address the kernel would use
    gateway: str = ""
    device: str = ""
    route_type: str = ""  # unicast, local, unreachable, prohibit, blackhole...
    errno_name: str = ""
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class RouteData:
    routes: tuple[RouteInfo, ...]


async def probe_route(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("route", Status.SKIPPED, 0.0, "no address to route to")
        return
    routes = await asyncio.gather(*(route_to(addr) for addr in resolution.addresses))
    data = RouteData(tuple(routes))
    elapsed = time.monotonic() - started
    summary = "; ".join(_describe(r) for r in routes)
    bad = [r for r in routes if not r.routable]
    if bad:
        err = ProbeError(bad[0].errno_name, bad[0].explanation)
        yield ProbeResult("route", Status.FAILED, elapsed, summary, data, err)
    else:
        yield ProbeResult("route", Status.OK, elapsed, summary, data)


async def route_to(address: str) -> RouteInfo:
    routable, source, errno_name, explanation = _kernel_lookup(address)
    details = await _ip_route_get(address)
    return RouteInfo(
        address=address,
        routable=routable,
        source=source or details.get("prefsrc", ""),
        gateway=details.get("gateway", ""),
        device=details.get("dev", ""),
        route_type=details.get("type", "unicast" if routable else ""),
        errno_name=errno_name,
        explanation=explanation,
    )


def _kernel_lookup(address: str) -> tuple[bool, str, str, str]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sockaddr = socket.getaddrinfo(
            address, 9, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST
        )[0][4]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(sockaddr)
            return True, str(sock.getsockname()[0]), "", ""
    except OSError as exc:
        code = exc.errno or 0
        name = errno.errorcode.get(code, "OSError")
        texts = {
            errno.ENETUNREACH: f"this host has no route to {address} (no matching route, no default)",
            errno.EHOSTUNREACH: f"the routing table marks {address} unreachable",
            errno.EACCES: f"the routing table prohibits {address} (prohibit route)",
            errno.EINVAL: f"the routing table drops {address} (blackhole route)",
        }
        return False, "", name, texts.get(code, f"route lookup failed: {exc.strerror}")


async def _ip_route_get(address: str) -> dict[str, str]:
    ip = find_program("ip")
    if ip is None:
        return {}
    try:
        # iproute2 rejects "--" before the prefix of `route get`; a validated
        # numeric address can never be mistaken for an option.
        operand = str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return {}
    try:
        proc = await asyncio.create_subprocess_exec(
            ip,
            "-j",
            "route",
            "get",
            operand,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
            env=safe_env(),
        )
        try:
            async with asyncio.timeout(2.0):
                out, _ = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    except (OSError, TimeoutError):
        return {}
    try:
        parsed = json.loads(out or b"[]")
    except ValueError:
        return {}
    if not parsed or not isinstance(parsed[0], dict):
        return {}
    first = parsed[0]
    return {k: str(first[k]) for k in ("gateway", "dev", "prefsrc", "type") if k in first}


def _describe(route: RouteInfo) -> str:
    if not route.routable:
        return f"{route.address}: {route.errno_name}"
    via = f" via {route.gateway}" if route.gateway else ""
    dev = f" dev {route.device}" if route.device else ""
    return f"{route.address}{via}{dev}"
