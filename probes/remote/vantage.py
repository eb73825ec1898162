"""The client-side check from other places (``check TARGET --from DEST[,DEST...]``).

Each vantage runs the collector in client mode over SSH: resolve the name, connect to
every address, for TLS / HTTP targets read the leaf certificate and the status line,
and trace the path to each address (unprivileged UDP probes, as tracepath does).  At most ``remote_concurrency`` hosts are asked at once, each within
``remote_timeout``; a non-final result after each answer is the progress a face shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_text
from probes.remote import ssh
from probes.remote.untrusted import as_address, as_float, as_int, as_list, dicts

MAX_ADDRESSES = 8
MAX_PATHS = 2  # the collector traces one address per family
MAX_HOPS = 16  # ... and this many hops each
PATH_OUTCOMES = ("reached", "unreachable", "silent", "error")


@dataclass(frozen=True, slots=True)
class VantageAttempt:
    address: str
    state: str  # open | refused | filtered | unreachable | error
    error: str = ""
    ms: float = 0.0


@dataclass(frozen=True, slots=True)
class PathHop:
    ttl: int
    address: str  # who answered this TTL ("" no answer)
    ms: float = 0.0  # round trip; see VantagePath.clock for whose clock timed it


@dataclass(frozen=True, slots=True)
class VantagePath:
    """Where the packets to one address go from one place, and where they stop."""

    address: str  # the address traced
    outcome: str  # reached | unreachable (an ICMP error) | silent (no answer past a hop) | error
    detail: str = ""  # "host unreachable (code 1)", the errno's words for an error
    stopped_at: int = 0  # TTL of the destination, the unreachable answer, or the last hop heard
    hops: tuple[PathHop, ...] = ()
    protocol: str = "udp"
    clock: str = "collector"  # "collector": the remote script's monotonic clock, not the kernel's

    @property
    def reached(self) -> bool:
        return self.outcome == "reached"

    @property
    def last_hop(self) -> PathHop | None:
        """The farthest hop that answered."""
        return next((h for h in reversed(self.hops) if h.address), None)

    def describe(self) -> str:
        """ "reaches 10.0.0.5 in 3 hops", "goes silent after hop 2 (10.0.0.1)"..."""
        last = self.last_hop
        if self.outcome == "reached":
            # No hop count: this host's ping answered, and it had no trace.
            hops = f" in {self.stopped_at} hops" if self.stopped_at else ""
            return f"reaches {self.address}{hops}"
        if self.outcome == "unreachable":
            if last is None:
                return f"stops toward {self.address}: {self.detail}"
            return f"stops at hop {last.ttl} ({last.address}): {self.detail}"
        if self.outcome == "silent":
            if last is None:
                return f"gets no answer from any hop toward {self.address}"
            return f"goes silent after hop {last.ttl} ({last.address})"
        return f"cannot be traced toward {self.address}: {self.detail or self.outcome}"


@dataclass(frozen=True, slots=True)
class VantageView:
    """What one place saw of the target (or why it could not be asked)."""

    name: str  # the name the person or the inventory uses
    dest: str  # the ssh destination
    status: str  # ssh.OK or a failure class
    detail: str = ""  # ssh's words for a failure
    hostname: str = ""
    addresses: tuple[str, ...] = ()
    resolve_error: str = ""
    tcp: tuple[VantageAttempt, ...] = ()
    tls_leaf: str = ""  # SHA-256 of the leaf certificate, colon hex ("" not read)
    tls_verified: bool = False
    tls_error: str = ""
    http_status: int = 0
    http_error: str = ""
    paths: tuple[VantagePath, ...] = ()  # one per address traced
    elapsed_s: float = 0.0

    @property
    def reached(self) -> bool:
        return self.status == ssh.OK

    @property
    def tcp_state(self) -> str:
        """open when any address answered; else the first attempt's state."""
        if any(a.state == "open" for a in self.tcp):
            return "open"
        return self.tcp[0].state if self.tcp else ""

    def path_to(self, address: str = "") -> VantagePath | None:
        """The path to *address*, else the first one traced."""
        return next((p for p in self.paths if p.address == address), None) or (
            self.paths[0] if self.paths else None
        )


@dataclass(frozen=True, slots=True)
class VantagesData:
    views: tuple[VantageView, ...]  # in the order the person named them
    asked: int  # how many vantages the run asks
    concurrency: int
    timeout_s: float

    @property
    def answered(self) -> int:
        return len(self.views)

    @property
    def unreached(self) -> tuple[VantageView, ...]:
        return tuple(v for v in self.views if not v.reached)


async def probe_vantages(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    config = ctx.config
    vantages = config.vantages
    if not vantages:
        yield ProbeResult("vantages", Status.SKIPPED, 0.0, "no --from given")
        return
    started = time.monotonic()
    target = ctx.target
    params = {
        "mode": "client",
        "host": target.host,
        "port": target.port,
        "scheme": target.scheme,
        "path": target.path or "/",
        "timeout": min(5.0, max(1.0, config.timeout)),
        # What the collector may spend of the per-host deadline (ssh's own set-up aside).
        "budget": max(1.0, config.remote_timeout * 0.6),
    }
    gate = asyncio.Semaphore(max(1, config.remote_concurrency))
    done: dict[int, VantageView] = {}

    async def ask(index: int, name: str, dest: str) -> tuple[int, VantageView]:
        async with gate:
            reply = await ssh.collect(dest, params, config.remote_timeout, config.ssh_config)
            return index, read_view(name, reply)

    tasks = [asyncio.ensure_future(ask(i, n, d)) for i, (n, d) in enumerate(vantages)]
    try:
        for next_done in asyncio.as_completed(tasks):
            index, view = await next_done
            done[index] = view
            data = _data(done, len(vantages), config)
            if len(done) < len(vantages):
                yield ProbeResult(
                    "vantages",
                    Status.OK,
                    time.monotonic() - started,
                    f"{len(done)}/{len(vantages)} vantages answered",
                    data,
                    final=False,
                )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    data = _data(done, len(vantages), config)
    elapsed = time.monotonic() - started
    unreached = data.unreached
    summary = f"{data.answered - len(unreached)}/{len(vantages)} vantages checked the target"
    if unreached:
        names = ", ".join(v.name for v in unreached[:5])
        summary += f"; not reached: {names}"
    if len(unreached) == len(vantages):
        first = unreached[0]
        yield ProbeResult(
            "vantages",
            Status.FAILED,
            elapsed,
            summary,
            data,
            ProbeError(
                first.status.upper(),
                f"no vantage could be asked ({first.detail})",
                first.dest,
                elapsed,
            ),
        )
        return
    yield ProbeResult("vantages", Status.OK, elapsed, summary, data)


def _data(done: dict[int, VantageView], asked: int, config: Any) -> VantagesData:
    views = tuple(done[i] for i in sorted(done))
    return VantagesData(views, asked, config.remote_concurrency, config.remote_timeout)


def read_view(name: str, reply: ssh.Reply) -> VantageView:
    """The typed, sanitised view in a client-mode reply (untrusted)."""
    if not reply.ok:
        return VantageView(name, reply.dest, reply.status, reply.detail, elapsed_s=reply.elapsed_s)
    doc = reply.document
    if doc.get("error"):
        return VantageView(
            name,
            reply.dest,
            ssh.BAD_OUTPUT,
            clean_text(str(doc["error"]), 200),
            elapsed_s=reply.elapsed_s,
        )
    resolve = doc.get("resolve") if isinstance(doc.get("resolve"), dict) else {}
    assert isinstance(resolve, dict)
    addresses = tuple(
        clean_text(str(a), 64) for a in as_list(resolve.get("addresses"))[:MAX_ADDRESSES]
    )
    tcp = tuple(
        VantageAttempt(
            clean_text(str(a.get("address", "")), 64),
            clean_text(str(a.get("state", "")), 16),
            clean_text(str(a.get("error", "")), 120),
            as_float(a.get("ms")),
        )
        for a in as_list(doc.get("tcp"))[:MAX_ADDRESSES]
        if isinstance(a, dict)
    )
    tls = doc.get("tls") if isinstance(doc.get("tls"), dict) else {}
    http = doc.get("http") if isinstance(doc.get("http"), dict) else {}
    assert isinstance(tls, dict) and isinstance(http, dict)
    return VantageView(
        name=name,
        dest=reply.dest,
        status=ssh.OK,
        hostname=clean_text(str(doc.get("hostname", "")), 64),
        addresses=addresses,
        resolve_error=clean_text(str(resolve.get("error", "")), 160),
        tcp=tcp,
        tls_leaf=clean_text(str(tls.get("leaf_sha256", "")), 100),
        tls_verified=bool(tls.get("verified")),
        tls_error=clean_text(str(tls.get("error") or tls.get("verify_error") or ""), 160),
        http_status=as_int(http.get("status")),
        http_error=clean_text(str(http.get("error", "")), 160),
        paths=tuple(p for p in map(read_path, dicts(doc.get("path"))[:MAX_PATHS]) if p),
        elapsed_s=reply.elapsed_s,
    )


def read_path(doc: dict[str, Any]) -> VantagePath | None:
    """One traced path out of the collector's document (untrusted: addresses must parse
    as addresses, TTLs fall in 1..MAX_HOPS, words are capped)."""
    address = as_address(doc.get("address"))
    outcome = str(doc.get("outcome", ""))
    if not address or outcome not in PATH_OUTCOMES:
        return None
    hops: dict[int, PathHop] = {}
    for hop in dicts(doc.get("hops"))[:MAX_HOPS]:
        ttl = as_int(hop.get("ttl"))
        if 1 <= ttl <= MAX_HOPS and ttl not in hops:
            hops[ttl] = PathHop(
                ttl, as_address(hop.get("address")), max(0.0, as_float(hop.get("ms")))
            )
    stopped = as_int(doc.get("stopped_at"))
    return VantagePath(
        address=address,
        outcome=outcome,
        detail=clean_text(str(doc.get("detail", "")), 120),
        stopped_at=stopped if 0 <= stopped <= MAX_HOPS else 0,
        hops=tuple(hops[t] for t in sorted(hops)),
        protocol=clean_text(str(doc.get("protocol", "udp")), 8),
        clock=clean_text(str(doc.get("clock", "collector")), 16),
    )
