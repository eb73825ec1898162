"""The connection sampler: packets can be fine while connections fail.

Every interval it opens one TCP connection to the target and, when the target has
one, says one thing in its protocol (an HTTP ``HEAD`` with the configured headers,
as a saved service sends them, a Redis ``PING``, a PostgreSQL
startup, login and ``SELECT 1``: probes/proto/pghello.py), then closes it.  Each attempt ends as ``ok`` or as one kind of failure: ``refused``,
``reset``, ``timeout``, ``status NNN``, ``service error`` or ``error``.  It keeps
counters for the run and a ring of the latest attempts (the rolling window a live
run's findings read), with connect and first-byte percentiles over that window.

Opening many connections at once is the burst's job (probes/proto/burst.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.deadline import deadline
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.proto.pghello import goodbye, pg_hello
from probes.wire.connect import stream_source

OK, REFUSED, RESET, TIMEOUT, SERVICE_ERROR, ERROR = (
    "ok",
    "refused",
    "reset",
    "timeout",
    "service error",
    "error",
)
TLS_DETAIL = "TLS: "  # an ERROR's detail starts so when the TLS handshake failed
# A HEAD answered with these says the server is up: HEAD is our choice, not the client's.
HEAD_NOT_SUPPORTED = frozenset({405, 501})
# Redis answering PING with these is up: the sampler does not log in (the service probe does).
REDIS_WANTS_AUTH = (b"-NOAUTH", b"-WRONGPASS")
KEEP = 60  # attempts kept when not live
FIRST_ANSWER = 1  # attempts before a live run counts it answered (as ping and trace)
HTTP_SCHEMES = frozenset({"http", "https"})
REDIS_SCHEMES = frozenset({"redis", "rediss"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: str  # ok | refused | reset | timeout | status NNN | service error | error
    connect_s: float | None
    first_byte_s: float | None
    detail: str = ""
    source: str = ""  # the local address:port of its connection ("" when none was made)


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


@dataclass(frozen=True, slots=True)
class SamplerData:
    address: str
    port: int
    speaks: str  # tcp | http | redis | postgres
    interval_s: float
    sent: int  # attempts whose fate is known, whole run
    failed: int
    kinds: tuple[tuple[str, int], ...]  # outcome -> count in the window, most first
    recent: tuple[Attempt, ...]  # oldest first
    connect: Percentiles
    first_byte: Percentiles
    window: int = 0  # attempts a live run's findings read (0: the whole run)

    @property
    def own_sources(self) -> tuple[str, ...]:
        """The local ends of the kept attempts' connections: this run's own."""
        return tuple(a.source for a in self.recent if a.source)

    @property
    def answered(self) -> bool:
        return self.sent >= FIRST_ANSWER

    def rate(self, outcome: str) -> float:
        """Percent of the attempts in the window that ended as *outcome*."""
        total = sum(n for _k, n in self.kinds)
        return 100.0 * dict(self.kinds).get(outcome, 0) / total if total else 0.0

    def windowed(self) -> SamplerData:
        if not self.window:
            return self
        return _summarise(self, self.recent[-self.window :])

    def status_line(self) -> str:
        total = sum(n for _k, n in self.kinds)
        ok = dict(self.kinds).get(OK, 0)
        text = f"connections: {ok}/{total} ok"
        bad = [f"{self.rate(k):.0f}% {k}" for k, _n in self.kinds if k != OK]
        return text + (f" ({', '.join(bad)})" if bad else "")


def percentiles(values: list[float]) -> Percentiles:
    if not values:
        return Percentiles(None, None, None)
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return Percentiles(at(0.5), at(0.95), ordered[-1])


def _summarise(data: SamplerData, recent: tuple[Attempt, ...]) -> SamplerData:
    kinds: dict[str, int] = {}
    for a in recent:
        kinds[a.outcome] = kinds.get(a.outcome, 0) + 1
    return dataclasses.replace(
        data,
        kinds=tuple(sorted(kinds.items(), key=lambda kv: -kv[1])),
        recent=recent,
        connect=percentiles([a.connect_s for a in recent if a.connect_s is not None]),
        first_byte=percentiles([a.first_byte_s for a in recent if a.first_byte_s is not None]),
    )


def speaks_of(ctx: ProbeContext) -> str:
    scheme = ctx.target.scheme
    if scheme in HTTP_SCHEMES:
        return "http"
    if scheme in REDIS_SCHEMES or ctx.target.port == 6379:
        return "redis"
    if scheme in POSTGRES_SCHEMES or ctx.target.port == 5432:
        return "postgres"
    return "tcp"


def _request(ctx: ProbeContext, speaks: str) -> bytes:
    if speaks == "http":
        path = getattr(ctx.target, "path", "") or "/"
        host = ctx.target.host_port
        # The target's own origin: its headers (a saved service's API key) go with it.
        extra = "".join(f"{name}: {value}\r\n" for name, value in ctx.config.headers)
        return (
            f"HEAD {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netmedic\r\n{extra}"
            "Connection: close\r\n\r\n"
        ).encode("ascii", "replace")
    if speaks == "redis":
        return b"PING\r\n"
    return b""


def _judge(speaks: str, first: bytes, expect: int = 0) -> tuple[str, str]:
    """The outcome of the first bytes a service sent back (*expect*: the status a saved
    service's profile expects, never a failure)."""
    if speaks == "http":
        parts = first.split(b" ", 2)
        if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1][:3].isdigit():
            code = int(parts[1][:3])
            fine = code < 400 or code in HEAD_NOT_SUPPORTED or code == expect
            return (OK if fine else f"status {code}"), clean_bytes(first.split(b"\r\n")[0])
        return SERVICE_ERROR, f"not HTTP: {clean_bytes(first[:60])}"
    if speaks == "redis":
        if first.startswith(b"+"):
            return OK, ""
        if first.upper().startswith(REDIS_WANTS_AUTH):
            return OK, clean_bytes(first.split(b"\r\n")[0], 120)
        return SERVICE_ERROR, clean_bytes(first.split(b"\r\n")[0], 120)
    return OK, ""


def failure_kind(exc: BaseException) -> str:
    """The outcome an exception from connecting or reading stands for."""
    if isinstance(exc, TimeoutError):
        return TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError)):
        return RESET
    return ERROR


async def attempt(ctx: ProbeContext, address: str, speaks: str, wait: float) -> Attempt:
    """One connection (and request): how it ended, how long each part took, and the
    connection's local end."""
    opened: list[str] = []
    result = await _attempt(ctx, address, speaks, wait, opened)
    return dataclasses.replace(result, source=opened[0]) if opened else result


async def _attempt(
    ctx: ProbeContext, address: str, speaks: str, wait: float, opened: list[str]
) -> Attempt:
    started = time.monotonic()
    connect_s = None
    writer = None
    tls = ssl.create_default_context(cafile=ctx.config.ca_file) if ctx.target.tls else None
    try:
        async with deadline(wait):  # pushed back while this process could not run
            reader, writer = await asyncio.open_connection(
                address, ctx.target.port, ssl=tls, server_hostname=ctx.target.host if tls else None
            )
            connect_s = time.monotonic() - started
            opened.append(stream_source(writer))
            if speaks == "postgres":  # a slot is taken by the startup, not the connect
                sent = time.monotonic()
                admitted, detail = await pg_hello(ctx.target, reader, writer)
                goodbye(writer)
                outcome = OK if admitted else SERVICE_ERROR
                return Attempt(outcome, connect_s, time.monotonic() - sent, detail)
            request = _request(ctx, speaks)
            if not request:
                return Attempt(OK, connect_s, None)
            sent = time.monotonic()
            writer.write(request)
            await writer.drain()
            first = await reader.read(512)
            if not first:
                return Attempt(RESET, connect_s, None, "closed without answering")
            outcome, detail = _judge(speaks, first, ctx.config.expect_status)
            return Attempt(outcome, connect_s, time.monotonic() - sent, detail)
    except ssl.SSLError as exc:  # its errno is an SSL_ERROR_* code, not an errno
        reason = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
        return Attempt(ERROR, connect_s, None, TLS_DETAIL + clean_text(str(reason), 120))
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        detail = errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
        return Attempt(failure_kind(exc), connect_s, None, detail)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(0.5):  # not wait_for: it can drop a cancel
                    await writer.wait_closed()


async def probe_connections(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("connections", Status.SKIPPED, 0.0, "no address to connect to")
        return
    cfg = ctx.config
    address = resolution.addresses[0]
    speaks = speaks_of(ctx)
    wait = min(2.0, max(0.2, cfg.timeout / 2))
    keep = max(1, cfg.live_window) if ctx.live else KEEP
    ring: deque[Attempt] = deque(maxlen=max(KEEP, keep))
    counts = {"sent": 0, "failed": 0}
    interval = max(0.05, cfg.sample_interval)
    duration = cfg.sample_duration
    window = None if duration == 0 else (duration or max(interval, cfg.timeout - wait))
    live = ctx.live
    clock_now = live.clock.now if live else time.monotonic

    def result(final: bool) -> ProbeResult:
        base = SamplerData(
            address,
            ctx.target.port,
            speaks,
            interval,
            counts["sent"],
            counts["failed"],
            (),
            (),
            percentiles([]),
            percentiles([]),
            keep if live else 0,
        )
        data = _summarise(base, tuple(ring))
        summary = f"{address}:{ctx.target.port} [{speaks}] {data.status_line()}"
        if data.connect.p50_s is not None:
            summary += f", connect p50 {data.connect.p50_s * 1000:.1f} ms"
        elapsed = time.monotonic() - started
        if not final or not data.sent or data.failed < data.sent:
            return ProbeResult("connections", Status.OK, elapsed, summary, data, final=final)
        worst = data.kinds[0][0] if data.kinds else ERROR
        err = ProbeError(worst.upper().replace(" ", "_"), f"every connection failed: {worst}")
        return ProbeResult("connections", Status.FAILED, elapsed, summary, data, err)

    begun = clock_now()
    resumes = live.resumed_count if live else 0
    n = 0
    while window is None or n * interval <= window:
        if live is not None:
            await live.wait_open()
            if live.resumed_count != resumes:  # after a pause: no catch-up burst
                resumes = live.resumed_count
                begun = clock_now() - n * interval
        got = await attempt(ctx, address, speaks, wait)
        ring.append(got)
        counts["sent"] += 1
        counts["failed"] += got.outcome != OK
        n += 1
        yield result(False)
        if cfg.sample_count and n >= cfg.sample_count:
            break
        delay = max(0.0, begun + n * interval - clock_now())
        if live is not None:
            await live.clock.sleep(delay)
        else:
            await asyncio.sleep(delay)
    yield result(True)
