"""The connection burst: open N connections at once and hold them.

Where does the service start refusing?  A listener whose accept queue is full stops
answering SYNs (or, with ``tcp_abort_on_overflow``, resets them); a service at its
client limit accepts, says so ("max number of clients reached") or hangs up; this
host can run out of open files first.  The burst says which, and after how many —
the connection-pool test runbooks ask people to script.

Each connection speaks the service's protocol when the target has one, as a real
client would: PostgreSQL gives a client its slot at the StartupMessage, not at the
connect, so a pool at 4 of 5 slots looks limitless to bare TCP (probes/proto/pghello.py
logs in and asks ``SELECT 1``); Redis is asked ``PING``.

Its waits are deadlines a starved process does not spend (probes/core/deadline.py),
and its connections are timed by the kernel (probes/wire/timedconn.py), as the
sampler's: an attempt whose wait ran out while this process could not run, or whose
SYN-ACK or answer the kernel had received when our timer fired, is ``starved`` —
counted apart and never evidence of a limit.  Fifty connections opened while this
process cannot run are not a full accept queue.

It runs when asked: ``watch --connections N`` plans it, and the TUI's ``b`` key asks a
live run for it (:meth:`probes.run.runner.Run.request`).  Its result is evidence like
any other: the rules read it, the journal keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.deadline import STARVED as STARVED_ERRNO
from probes.core.deadline import claim_starved, deadline, own_waits, starved_mark
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes
from probes.proto.pghello import goodbye, pg_hello
from probes.proto.sampler import (
    OK,
    REFUSED,
    RESET,
    SERVICE_ERROR,
    STARVED,
    TIMEOUT,
    Attempt,
    AttemptTiming,
    Percentiles,
    failure_kind,
    percentiles,
    speaks_of,
    starved_note,
)
from probes.wire.timedconn import TimedConnection

DEFAULT_BURST = 100  # connections when the config does not say
MAX_BURST = 1024
FD_LIMIT = "fd limit"
SAYS_WAIT_S = 0.3  # how long an accepted connection is given to say "too many clients"
LIMITS = {
    REFUSED: "accept backlog full or a connection limit in front (refused)",
    TIMEOUT: "accept backlog full (SYNs unanswered)",
    SERVICE_ERROR: "the service's client limit",
    RESET: "the service's client limit (accepted, then closed)",
    FD_LIMIT: "this host's open-files limit (EMFILE)",
}
NO_TIMES = Percentiles(None, None, None)


@dataclass(frozen=True, slots=True)
class BurstResult:
    asked: int
    opened: int  # connections that were accepted and held
    first_failure: int  # 1-based index of the first that failed (0: none failed)
    failure: str  # its outcome: refused | timeout | reset | service error | fd limit | error
    limit: str  # what the failure points at (LIMITS)
    address: str = ""
    port: int = 0
    said: str = ""  # what the service said when it turned a client away (sanitised)
    sources: tuple[str, ...] = ()  # the local address:port of each connection it held
    # Attempts cut short while this process could not run: neither held nor failed.
    starved: int = 0
    starved_why: str = ""  # the first one's reason
    connect: Percentiles = NO_TIMES  # the handshakes, by the kernel's clock where it had one
    first_byte: Percentiles = NO_TIMES  # the answers to what the burst said (PING, the hello)

    @property
    def own_sources(self) -> tuple[str, ...]:
        return self.sources

    @property
    def judged(self) -> bool:
        """Whether the burst could say where the limit is: one failed, or none starved."""
        return bool(self.first_failure) or not self.starved

    @property
    def line(self) -> str:
        text = f"{self.opened} of {self.asked} connections opened and held at once"
        if not self.first_failure:
            if self.starved:
                return text + (
                    f"; {self.starved} cut short while this process could not run: no limit judged"
                )
            return text + ": no limit reached"
        text += f"; #{self.first_failure} failed: {self.failure}"
        text += f" → {self.limit}" if self.limit else ""
        return text + starved_note(self.starved)

    @property
    def times(self) -> str:
        """``connect p50 0.031 ms, ... (kernel); first byte ...``; "" when none."""
        parts = [
            f"{name} {figures.text()}"
            for name, figures in (("connect", self.connect), ("first byte", self.first_byte))
            if figures.p50_s is not None
        ]
        return "; ".join(parts)


class _Connection(AttemptTiming):
    """One of the burst's connections: how far it got, and its figures by both clocks."""

    def __init__(self, address: str, port: int) -> None:
        super().__init__()
        self.address, self.port = address, port
        self.writer: asyncio.StreamWriter | None = None

    def timed_out(self, starved_reason: str, wait: float) -> Attempt:
        """Our deadline ran out: a failure of the server only when the kernel has no
        handshake or answer we missed and this process was not starved meanwhile —
        or when the kernel itself waited the whole *wait* for a SYN-ACK."""
        judged = self.kernel_timeout(wait)
        if judged is not None:
            return judged
        conn = self.conn
        if conn is not None and self.sent is not None and conn.answer_time() is not None:
            return self.attempt(
                STARVED,
                "the service answered; this process could not run to read it in time",
                answered=True,
            )
        if starved_reason:
            return self.attempt(STARVED, starved_reason)
        return self.attempt(TIMEOUT, "TimeoutError")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.conn is not None:
            self.conn.close()


async def _said_at_once(reader: asyncio.StreamReader, conn: TimedConnection) -> bytes | None:
    """What the service says right after the connect (or to our PING): None when it says
    nothing within SAYS_WAIT_S.  What the kernel received in time counts as said in time,
    however late this process got to read it."""
    try:
        async with asyncio.timeout(SAYS_WAIT_S):  # a quiet end: not wait_for, nor a deadline
            return await reader.read(256)
    except TimeoutError:
        if not conn.answer_segments():
            return None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAYS_WAIT_S):
            return await reader.read(256)  # already in the socket's buffer
    return None


async def _one(ctx: ProbeContext, c: _Connection, speaks: str, wait: float) -> Attempt:
    """Open one connection (and say the protocol's hello); it stays open when OK."""
    mark = starved_mark()
    try:
        c.conn = TimedConnection(c.address, c.port)  # EMFILE is raised here
        async with deadline(wait):  # pushed back while this process could not run
            await c.conn.connect()
            reader, c.writer = await c.conn.streams(None, None)
            c.sending()  # nothing sent yet but a hello: what comes in now is its answer
            if speaks == "postgres":
                admitted, detail = await pg_hello(ctx.target, reader, c.writer)
                return c.attempt(OK if admitted else SERVICE_ERROR, detail, answered=True)
            if speaks == "redis":
                c.writer.write(b"PING\r\n")  # a client at maxclients is told at once
        # Outside the deadline: a service may well say nothing, and that is fine.
        first = await _said_at_once(reader, c.conn)
        if first is None:
            return c.attempt(OK)
        if not first:
            return c.attempt(RESET, "closed at once")
        lowered = first.lower()
        if b"max" in lowered or b"too many" in lowered:
            return c.attempt(SERVICE_ERROR, clean_bytes(first.split(b"\r\n")[0], 120))
        return c.attempt(OK, answered=speaks == "redis")
    except TimeoutError:  # before OSError: it is one
        return c.timed_out(claim_starved(mark), wait)
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return c.attempt(FD_LIMIT)
        return c.attempt(failure_kind(exc))
    except asyncio.IncompleteReadError:
        return c.attempt(RESET)


async def burst(ctx: ProbeContext, address: str, n: int, wait: float) -> BurstResult:
    """Open *n* connections to *address* at once, hold them, and close them all."""
    n = max(1, min(MAX_BURST, n))
    speaks = speaks_of(ctx)
    connections = [_Connection(address, ctx.target.port) for _ in range(n)]

    async def one(c: _Connection) -> Attempt:
        with own_waits():  # its own starved expiries: 50 wait at once
            got = await _one(ctx, c, speaks, wait)
        if got.outcome != OK:  # not held: let it go now
            c.close()
        return got

    try:
        outcomes = await asyncio.gather(*(one(c) for c in connections))
    finally:
        for c in connections:
            if speaks == "postgres" and c.writer is not None:
                with contextlib.suppress(Exception):
                    goodbye(c.writer)
            c.close()
    return _result(n, outcomes, address, ctx.target.port)


def _result(n: int, outcomes: list[Attempt], address: str, port: int) -> BurstResult:
    kinds = [a.outcome for a in outcomes]
    first = next((i + 1 for i, k in enumerate(kinds) if k not in (OK, STARVED)), 0)
    failure = kinds[first - 1] if first else ""
    said = next((a.detail for a in outcomes if a.outcome == SERVICE_ERROR and a.detail), "")
    starved = [a for a in outcomes if a.outcome == STARVED]
    connects = [a for a in outcomes if a.connect_s is not None]
    firsts = [a for a in outcomes if a.first_byte_s is not None]
    return BurstResult(
        n,
        kinds.count(OK),
        first,
        failure,
        LIMITS.get(failure, ""),
        address,
        port,
        said,
        tuple(a.source for a in outcomes if a.source),  # every connection it made is its own
        len(starved),
        starved[0].detail if starved else "",
        percentiles(
            [a.connect_s for a in connects if a.connect_s is not None],
            [a.connect_clock for a in connects],
        ),
        percentiles(
            [a.first_byte_s for a in firsts if a.first_byte_s is not None],
            [a.first_byte_clock for a in firsts],
        ),
    )


async def probe_burst(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("burst", Status.SKIPPED, 0.0, "no address to connect to")
        return
    wait = min(2.0, max(0.2, ctx.config.timeout / 2))
    result = await burst(ctx, resolution.addresses[0], ctx.config.burst or DEFAULT_BURST, wait)
    elapsed = time.monotonic() - started
    summary = result.line + (f" ({result.times})" if result.times else "")
    if not result.judged:  # it measured nothing about a limit: not an all-clear
        why = f"{result.starved} of {result.asked} connections were cut short: {result.starved_why}"
        err = ProbeError(STARVED_ERRNO, why, elapsed_s=elapsed)
        yield ProbeResult("burst", Status.ERROR, elapsed, summary, result, err)
        return
    if not result.first_failure:
        yield ProbeResult("burst", Status.OK, elapsed, summary, result)
        return
    error = ProbeError(result.failure.upper().replace(" ", "_"), result.line, elapsed_s=elapsed)
    yield ProbeResult("burst", Status.FAILED, elapsed, summary, result, error)
