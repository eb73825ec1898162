"""Name the protocol of a port that says nothing first, as an expert would.

Many servers wait for the client (HTTP, Redis, PostgreSQL, TLS): a bare ``host:port``
that stays silent after the TCP probe's nudge is asked, on a fresh connection each,
the harmless questions ``nmap -sV`` asks from its probe list: the port's well-known
protocol first (5432 PostgreSQL, 6379 Redis, 6333 an HTTP API, 443 TLS...), then an
HTTP request, a Redis ``PING``, a PostgreSQL SSLRequest and a TLS ClientHello.  A URL
whose own probe hears nothing it understands is asked the same, all but its own
protocol, the likeliest mix-up first (TLS for ``http://``, plaintext HTTP for
``https://``).  The questions go out at once, so a silent port costs one wait, not
four, and the first answer that names a protocol ends the wait (in that order when
several have); what was sent and what came back is kept, so the follow-up it
triggers can say why (a question still waiting then is ``stopped``).
Nothing is written: no command that changes state, no credentials.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult, Status
from probes.core.sanitize import clean_bytes
from probes.wire.banner import identify
from probes.wire.connect import stream_source

HTTP, REDIS, POSTGRES, TLS = "http", "redis", "postgres", "tls"
ORDER = (HTTP, REDIS, POSTGRES, TLS)  # after the well-known port's own protocol
WELL_KNOWN: dict[int, str] = {
    5432: POSTGRES,
    6379: REDIS,
    6380: REDIS,
    26379: REDIS,
    6333: HTTP,  # Qdrant's REST API
    8108: HTTP,  # Typesense
    9200: HTTP,  # Elasticsearch / OpenSearch
    11434: HTTP,  # Ollama
    80: HTTP,
    8000: HTTP,
    8080: HTTP,
    443: TLS,
    8443: TLS,
    6443: TLS,
}
# A URL's own protocol is not asked again (its probe did), and its likeliest mix-up is
# asked first: a plaintext scheme at a TLS port, a TLS scheme at the plaintext service.
OWN: dict[str, str] = {
    "http": HTTP,
    "ws": HTTP,
    "https": TLS,
    "wss": TLS,
    "tls": TLS,
    "rediss": TLS,
    "redis": REDIS,
    "postgres": POSTGRES,
    "postgresql": POSTGRES,
}
MIX_UP: dict[str, str] = {
    "http": TLS,
    "ws": TLS,
    "redis": TLS,
    "postgres": TLS,
    "postgresql": TLS,
    "https": HTTP,
    "wss": HTTP,
    "tls": HTTP,
    "rediss": REDIS,
}
SCHEMES = ("tcp", "smtp", *OWN)  # the targets identify asks about
WAIT_S = 0.6  # per question: a server that answers at all answers on loopback at once
# A RESP reply to PING that banner.identify does not know (-MISCONF, -LOADING, ...).
_RESP_REPLY = re.compile(rb"^(?:\+PONG|-[A-Z]{3,}[ \r])")


@dataclass(frozen=True, slots=True)
class Question:
    probe: str  # http | redis | postgres | tls
    sent: str  # what was sent, as a person reads it
    reply: str = ""  # the first bytes back, sanitised
    protocol: str = ""  # what the reply names ("" when nothing)
    outcome: str = "silent"  # answered | silent | closed | reset | failed | stopped
    source: str = ""  # the local address:port of its connection ("" when none was made)


@dataclass(frozen=True, slots=True)
class IdentifyData:
    address: str
    port: int
    protocol: str  # the first protocol named ("" when none answered)
    questions: tuple[Question, ...]

    @property
    def own_sources(self) -> tuple[str, ...]:
        """The local ends of the questions' connections: this run's own."""
        return tuple(q.source for q in self.questions if q.source)

    @property
    def answered(self) -> Question | None:
        return next((q for q in self.questions if q.protocol), None)


def _client_hello(host: str) -> bytes:
    """A real TLS ClientHello (what ``openssl s_client`` sends first)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    name = host if not host.replace(".", "").isdigit() and ":" not in host else None
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def _question(probe: str, host: str) -> tuple[bytes, str]:
    if probe == HTTP:
        request = f"GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: netmedic\r\n\r\n"
        return request.encode(), "an HTTP request (GET / HTTP/1.0)"
    if probe == REDIS:
        return b"*1\r\n$4\r\nPING\r\n", "a Redis PING"
    if probe == POSTGRES:
        return struct.pack("!II", 8, 80877103), "a PostgreSQL SSLRequest"
    return _client_hello(host), "a TLS ClientHello"


def _named(probe: str, reply: bytes) -> str:
    name = identify(reply) or ""
    if name:
        return name
    if probe == REDIS and _RESP_REPLY.match(reply):
        return "Redis"
    if probe == POSTGRES and reply in (b"S", b"N"):
        return "PostgreSQL"
    return ""


async def _ask(address: str, port: int, host: str, probe: str, wait: float) -> Question:
    payload, sent = _question(probe, host)
    try:
        async with asyncio.timeout(wait):
            reader, writer = await asyncio.open_connection(address, port)
    except (OSError, TimeoutError) as exc:
        return Question(probe, sent, outcome="failed", reply=clean_bytes(str(exc).encode(), 80))
    source = stream_source(writer)
    return replace(await _exchange(reader, writer, probe, payload, sent, wait), source=source)


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    probe: str,
    payload: bytes,
    sent: str,
    wait: float,
) -> Question:
    try:
        writer.write(payload)
        await writer.drain()
        async with asyncio.timeout(wait):
            reply = await reader.read(512)
    except TimeoutError:
        return Question(probe, sent)
    except OSError:
        return Question(probe, sent, outcome="reset")
    finally:
        writer.close()
    if not reply:
        return Question(probe, sent, outcome="closed")
    return Question(probe, sent, clean_bytes(reply, 120), _named(probe, reply), "answered")


async def _ask_all(
    address: str, port: int, host: str, probes: tuple[str, ...], wait: float
) -> list[Question]:
    """Every question at once; the first answer that names a protocol ends the others
    (a port speaks one protocol: whichever question names it is right)."""
    tasks = [asyncio.ensure_future(_ask(address, port, host, p, wait)) for p in probes]
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if any(task.result().protocol for task in done):
            break
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [
        task.result()
        if task.done() and not task.cancelled()
        else Question(probe, sent, outcome="stopped")
        for task, probe, sent in zip(
            tasks, probes, (_question(p, host)[1] for p in probes), strict=True
        )
    ]


def order_for(port: int, scheme: str = "tcp") -> tuple[str, ...]:
    """The questions in order: a URL's likeliest mix-up first (a plaintext URL that hung
    up is asked TLS first), else the port's well-known protocol; never the URL's own."""
    first = MIX_UP.get(scheme) or WELL_KNOWN.get(port)
    ordered = ((first,) if first else ()) + tuple(p for p in ORDER if p != first)
    return tuple(p for p in ordered if p != OWN.get(scheme))


async def probe_identify(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    t = ctx.target
    resolution = await ctx.resolution()
    if t.scheme not in SCHEMES or not resolution.addresses:
        why = "no question for this scheme" if resolution.addresses else "no address"
        yield ProbeResult("identify", Status.SKIPPED, time.monotonic() - started, why)
        return
    address = resolution.addresses[0]
    wait = min(WAIT_S, max(0.05, ctx.config.timeout))
    questions = await _ask_all(address, t.port, t.host, order_for(t.port, t.scheme), wait)
    data = IdentifyData(
        address, t.port, next((q.protocol for q in questions if q.protocol), ""), tuple(questions)
    )
    answered = data.answered
    summary = (
        f"{answered.sent} was answered in {answered.protocol}: {answered.reply}"
        if answered
        else "no answer names a protocol: " + "; ".join(f"{q.sent}: {q.outcome}" for q in questions)
    )
    yield ProbeResult("identify", Status.OK, time.monotonic() - started, summary, data)
