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
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes
from probes.proto.pghello import goodbye, pg_hello
from probes.proto.sampler import (
    OK,
    REFUSED,
    RESET,
    SERVICE_ERROR,
    TIMEOUT,
    failure_kind,
    speaks_of,
)
from probes.wire.connect import stream_source

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

    @property
    def own_sources(self) -> tuple[str, ...]:
        return self.sources

    @property
    def line(self) -> str:
        text = f"{self.opened} of {self.asked} connections opened and held at once"
        if not self.first_failure:
            return text + ": no limit reached"
        text += f"; #{self.first_failure} failed: {self.failure}"
        return text + (f" → {self.limit}" if self.limit else "")


async def burst(ctx: ProbeContext, address: str, n: int, wait: float) -> BurstResult:
    """Open *n* connections to *address* at once, hold them, and close them all."""
    n = max(1, min(MAX_BURST, n))
    held: list[asyncio.StreamWriter] = []
    sources: list[str] = []  # taken at the connect (a later TLS upgrade hides the socket)
    said: list[str] = []
    speaks = speaks_of(ctx)

    async def one() -> str:
        try:
            async with asyncio.timeout(wait):
                reader, writer = await asyncio.open_connection(address, ctx.target.port)
                held.append(writer)
                sources.append(stream_source(writer))
                if speaks == "postgres":
                    admitted, detail = await pg_hello(ctx.target, reader, writer)
                    if not admitted:
                        said.append(detail)
                        return SERVICE_ERROR
                    return OK
                if speaks == "redis":
                    writer.write(b"PING\r\n")  # a client at maxclients is told at once
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SAYS_WAIT_S):  # not wait_for: it can drop a cancel
                        first = await reader.read(256)
                    if not first:
                        return RESET
                    lowered = first.lower()
                    if b"max" in lowered or b"too many" in lowered:
                        said.append(clean_bytes(first.split(b"\r\n")[0], 120))
                        return SERVICE_ERROR
                return OK
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                return FD_LIMIT
            return failure_kind(exc)
        except asyncio.IncompleteReadError:
            return RESET
        except TimeoutError:
            return TIMEOUT

    try:
        outcomes = await asyncio.gather(*(one() for _ in range(n)))
    finally:
        for writer in held:
            if speaks == "postgres":
                goodbye(writer)
            writer.close()
    opened = sum(1 for o in outcomes if o == OK)
    first = next((i + 1 for i, o in enumerate(outcomes) if o != OK), 0)
    failure = outcomes[first - 1] if first else ""
    return BurstResult(
        n,
        opened,
        first,
        failure,
        LIMITS.get(failure, ""),
        address,
        ctx.target.port,
        said[0] if said else "",
        tuple(source for source in sources if source),
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
    if not result.first_failure:
        yield ProbeResult("burst", Status.OK, elapsed, result.line, result)
        return
    error = ProbeError(result.failure.upper().replace(" ", "_"), result.line, elapsed_s=elapsed)
    yield ProbeResult("burst", Status.FAILED, elapsed, result.line, result, error)
