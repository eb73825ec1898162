"""The connection sampler: packets can be fine while connections fail.

Every interval it opens one TCP connection to the target and, when the target has
one, says one thing in its protocol (an HTTP ``HEAD`` with the configured headers,
as a saved service sends them, a Redis ``PING``, a PostgreSQL startup, login and
``SELECT 1``: probes/proto/pghello.py), then closes it.  Each attempt ends as ``ok``
or as one kind of failure: ``refused``, ``reset``, ``timeout``, ``status NNN``,
``service error`` or ``error`` (or ``starved``, below).  It keeps
counters for the run and a ring of the latest attempts (the rolling window a live
run's findings read), with connect and first-byte percentiles over that window.

Its times are the kernel's (probes/wire/timedconn.py): the connect is the handshake's
RTT from ``TCP_INFO``, the first byte the server's think time (our request's last byte
out to its answer's last byte in, as the kernel stamped them; for PostgreSQL, of the
hello's last exchange).  Our own clock — how late a busy event loop noticed — is kept
beside them and stands in, labelled, only where the kernel has no figure.  An attempt
whose deadline ran out while this process could not run (probes/core/deadline.py), or
whose answer the kernel had received when our timer fired, is ``starved``: counted
apart, never as the server's failure.

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

from probes.core.clocks import KERNEL, WALL, clock_label, clocked, fine_ms, series_clock
from probes.core.context import ProbeContext
from probes.core.deadline import STARVED as STARVED_ERRNO
from probes.core.deadline import claim_starved, deadline, starved_mark
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.proto.pghello import goodbye, pg_hello
from probes.wire.timedconn import Figure, TimedConnection

OK, REFUSED, RESET, TIMEOUT, SERVICE_ERROR, ERROR = (
    "ok",
    "refused",
    "reset",
    "timeout",
    "service error",
    "error",
)
# Not a failure: the attempt said nothing about the server (this process could not run).
STARVED = "starved"
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
    outcome: str  # ok | refused | reset | timeout | status NNN | service error | error | starved
    connect_s: float | None  # the handshake's time, by connect_clock (None: no handshake)
    first_byte_s: float | None  # the server's think time, by first_byte_clock
    detail: str = ""
    source: str = ""  # the local address:port of its connection ("" when none was made)
    connect_clock: str = WALL  # probes.core.clocks: KERNEL, or WALL where it had none
    first_byte_clock: str = WALL
    # Our clock's figures beside the kernel's (how late the event loop noticed).
    connect_wall_s: float | None = None
    first_byte_wall_s: float | None = None


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    clock: str = WALL  # the figures' clock: KERNEL, WALL or MIXED (probes.core.clocks)

    def text(self) -> str:
        """``p50 0.042 ms, p95 0.061 ms, max 0.210 ms (kernel)``; a dash when empty."""
        if self.p50_s is None or self.p95_s is None or self.max_s is None:
            return "—"
        figures = f"p50 {fine_ms(self.p50_s)}, p95 {fine_ms(self.p95_s)}, max {fine_ms(self.max_s)}"
        return f"{figures} ({clock_label(self.clock)})"


@dataclass(frozen=True, slots=True)
class SamplerData:
    address: str
    port: int
    speaks: str  # tcp | http | redis | postgres
    interval_s: float
    sent: int  # attempts whose fate is known, whole run
    failed: int  # of them, failures of the server (starved ones are not)
    kinds: tuple[tuple[str, int], ...]  # outcome -> count in the window, most first
    recent: tuple[Attempt, ...]  # oldest first
    connect: Percentiles
    first_byte: Percentiles
    window: int = 0  # attempts a live run's findings read (0: the whole run)
    starved: int = 0  # attempts, whole run, cut short while this process could not run

    @property
    def own_sources(self) -> tuple[str, ...]:
        """The local ends of the kept attempts' connections: this run's own."""
        return tuple(a.source for a in self.recent if a.source)

    @property
    def answered(self) -> bool:
        return self.sent >= FIRST_ANSWER

    @property
    def judged(self) -> int:
        """Attempts in the window that say something about the server (not starved)."""
        return sum(n for k, n in self.kinds if k != STARVED)

    def rate(self, outcome: str) -> float:
        """Percent of the judged attempts in the window that ended as *outcome*."""
        total = self.judged
        return 100.0 * dict(self.kinds).get(outcome, 0) / total if total else 0.0

    def windowed(self) -> SamplerData:
        if not self.window:
            return self
        return _summarise(self, self.recent[-self.window :])

    def status_line(self) -> str:
        ok = dict(self.kinds).get(OK, 0)
        text = f"connections: {ok}/{self.judged} ok"
        bad = [f"{self.rate(k):.0f}% {k}" for k, _n in self.kinds if k not in (OK, STARVED)]
        text += f" ({', '.join(bad)})" if bad else ""
        return text + starved_note(dict(self.kinds).get(STARVED, 0))


def starved_note(n: int) -> str:
    """What a count of starved attempts adds to a line ("" for none)."""
    if not n:
        return ""
    return f"; {n} not counted: cut short while this process could not run"


def percentiles(values: list[float], clocks: list[str] | None = None) -> Percentiles:
    """p50/p95/max of *values*; *clocks* says which clock timed each (default: ours)."""
    if not values:
        return Percentiles(None, None, None)
    ordered = sorted(values)
    timed_by = clocks if clocks is not None else [WALL] * len(values)
    clock = series_clock(sum(c == KERNEL for c in timed_by), len(timed_by))

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return Percentiles(at(0.5), at(0.95), ordered[-1], clock)


def _summarise(data: SamplerData, recent: tuple[Attempt, ...]) -> SamplerData:
    kinds: dict[str, int] = {}
    for a in recent:
        kinds[a.outcome] = kinds.get(a.outcome, 0) + 1
    connects = [a for a in recent if a.connect_s is not None]
    firsts = [a for a in recent if a.first_byte_s is not None]
    return dataclasses.replace(
        data,
        kinds=tuple(sorted(kinds.items(), key=lambda kv: -kv[1])),
        recent=recent,
        connect=percentiles(
            [a.connect_s for a in connects if a.connect_s is not None],
            [a.connect_clock for a in connects],
        ),
        first_byte=percentiles(
            [a.first_byte_s for a in firsts if a.first_byte_s is not None],
            [a.first_byte_clock for a in firsts],
        ),
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
    timing = _Timing()
    result = await _attempt(ctx, address, speaks, wait, timing)
    return dataclasses.replace(result, source=timing.source) if timing.source else result


class AttemptTiming:
    """How far one connection attempt got, and its figures by both clocks so far: the
    sampler's attempts and the burst's connections."""

    def __init__(self) -> None:
        self.conn: TimedConnection | None = None
        self.sent: float | None = None  # our clock when the (last) request went out

    def sending(self) -> None:
        """Right before the request goes out: both clocks' start of the first byte."""
        assert self.conn is not None
        self.conn.sending()
        self.sent = time.monotonic()

    def attempt(self, outcome: str, detail: str = "", answered: bool = False) -> Attempt:
        """The attempt so far; *answered*: the server's answer came, time its first byte."""
        conn = self.conn
        connect = conn.connect_time if conn is not None else None
        first_byte: Figure | None = None
        wall_first = None
        if answered and self.sent is not None and conn is not None:
            wall_first = time.monotonic() - self.sent
            first_byte = conn.answer_figure(wall_first)
        return Attempt(
            outcome,
            connect[0] if connect else None,
            first_byte[0] if first_byte else None,
            detail,
            conn.source if conn is not None else "",
            connect_clock=connect[1] if connect else WALL,
            first_byte_clock=first_byte[1] if first_byte else WALL,
            connect_wall_s=conn.wall_connect_s if conn is not None else None,
            first_byte_wall_s=wall_first,
        )

    def kernel_timeout(self, wait: float) -> Attempt | None:
        """After our deadline ran out, what the kernel says of the handshake: completed
        anyway (starved: this process could not run to see it), or a SYN unanswered for
        the whole *wait* (the peer's timeout, however little this process ran); None
        when it says neither."""
        conn = self.conn
        if conn is None:
            return None
        if conn.completed_late():
            late = conn.connect_time
            took = f" in {clocked(*late)}" if late else ""
            why = f"the kernel completed the handshake{took}; this process could not run to see it in time"
            return self.attempt(STARVED, why)
        unanswered = conn.syn_unanswered_for()
        if unanswered is not None and unanswered >= wait:
            return self.attempt(TIMEOUT, f"the kernel had no SYN-ACK after {unanswered:.1f} s")
        return None


class _Timing(AttemptTiming):
    """One sampled attempt: its local end is kept even after the connection closed."""

    def __init__(self) -> None:
        super().__init__()
        self.source = ""  # the connection's local end, taken at the connect
        # Waiting for any byte after our one request, in clear: whatever the kernel
        # received since is the answer (TLS records may be a session ticket instead).
        self.reading_answer = False

    def connected(self) -> None:
        assert self.conn is not None
        self.source = self.conn.source

    def timed_out(self, starved_reason: str, wait: float) -> Attempt:
        """Our deadline ran out: the server's fault only when the kernel has no answer
        it missed and this process was not starved meanwhile — or when the kernel itself
        waited the whole *wait* for a SYN-ACK."""
        judged = self.kernel_timeout(wait)
        if judged is not None:
            return judged
        conn = self.conn
        if conn is not None and self.reading_answer:
            think = conn.answer_time()
            if think is not None:
                why = f"the server answered in {clocked(think, KERNEL)}; this process could not run to read it in time"
                return self.attempt(STARVED, why, answered=True)
        if starved_reason:
            return self.attempt(STARVED, starved_reason)
        return self.attempt(TIMEOUT, "TimeoutError")


async def _attempt(
    ctx: ProbeContext, address: str, speaks: str, wait: float, timing: _Timing
) -> Attempt:
    writer = None
    tls = ssl.create_default_context(cafile=ctx.config.ca_file) if ctx.target.tls else None
    mark = starved_mark()
    try:
        timing.conn = TimedConnection(address, ctx.target.port)
        async with deadline(wait):  # pushed back while this process could not run
            await timing.conn.connect()
            timing.connected()
            host = ctx.target.host if tls else None
            reader, writer = await timing.conn.streams(tls, host)
            if speaks == "postgres":  # a slot is taken by the startup, not the connect
                timing.sending()
                admitted, detail = await pg_hello(ctx.target, reader, writer)
                goodbye(writer)
                return timing.attempt(OK if admitted else SERVICE_ERROR, detail, answered=True)
            request = _request(ctx, speaks)
            if not request:
                return timing.attempt(OK)
            timing.sending()
            writer.write(request)
            await writer.drain()
            timing.reading_answer = tls is None
            first = await reader.read(512)
            if not first:
                return timing.attempt(RESET, "closed without answering")
            outcome, detail = _judge(speaks, first, ctx.config.expect_status)
            return timing.attempt(outcome, detail, answered=True)
    except ssl.SSLError as exc:  # its errno is an SSL_ERROR_* code, not an errno
        reason = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
        return timing.attempt(ERROR, TLS_DETAIL + clean_text(str(reason), 120))
    except TimeoutError:  # before OSError: it is one
        return timing.timed_out(claim_starved(mark), wait)
    except (OSError, asyncio.IncompleteReadError) as exc:
        detail = errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
        return timing.attempt(failure_kind(exc), detail)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(0.5):  # not wait_for: it can drop a cancel
                    await writer.wait_closed()
        if timing.conn is not None:
            timing.conn.close()


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
    counts = {"sent": 0, "failed": 0, "starved": 0}
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
            counts["starved"],
        )
        data = _summarise(base, tuple(ring))
        summary = f"{address}:{ctx.target.port} [{speaks}] {data.status_line()}"
        if data.connect.p50_s is not None:
            summary += f", connect p50 {clocked(data.connect.p50_s, data.connect.clock)}"
        if data.first_byte.p50_s is not None:
            summary += f", first byte p50 {clocked(data.first_byte.p50_s, data.first_byte.clock)}"
        elapsed = time.monotonic() - started
        judged = data.sent - data.starved
        if final and data.sent and not judged:  # it measured nothing: not an all-clear
            why = f"every one of {data.sent} connections was cut short while this process could not run"
            err = ProbeError(STARVED_ERRNO, why, elapsed_s=elapsed)
            return ProbeResult("connections", Status.ERROR, elapsed, summary, data, err)
        if not final or not judged or data.failed < judged:
            return ProbeResult("connections", Status.OK, elapsed, summary, data, final=final)
        worst = next((k for k, _n in data.kinds if k != STARVED), ERROR)
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
        counts["starved"] += got.outcome == STARVED
        counts["failed"] += got.outcome not in (OK, STARVED)
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
