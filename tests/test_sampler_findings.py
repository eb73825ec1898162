"""What the connection sampler sees becomes findings: real loopback servers that refuse
some connections, answer 503 to some requests, never accept, or turn clients away as
Redis does at maxclients.  The probe runs against them, then diagnose(); a live Run on
a stepping clock; and the sibling probes' more direct readings are not shadowed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.live import LiveControl
from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.net.tcp import probe_tcp
from probes.proto.http import probe_http
from probes.proto.sampler import SamplerData, probe_connections
from probes.run.runner import Run
from tests.live_fakes import SteppingClock
from tests.servers.base import loopback
from tests.servers.httpserver import status_by_count
from tests.test_live_evidence import LIVE, first_window, live_run, raised
from tests.tui.helpers import until


def finding(diagnosis: Diagnosis, fid: str) -> Finding:
    found = {f.id: f for f in diagnosis.findings}
    assert fid in found, diagnosis
    return found[fid]


async def sample(
    url: str, rounds: int, between: Callable[[int], object] | None = None, **config: object
) -> ProbeResult:
    """The sampler's final result after *rounds* attempts; *between(n)* runs after the
    n-th attempt and before the next (the probe waits at its yield meanwhile)."""
    settings: dict[str, object] = {"timeout": 1.0, "sample_interval": 0.05, **config}
    cfg = ProbeConfig(sample_duration=0, sample_count=rounds, **settings)  # type: ignore[arg-type]
    last = None
    async for result in probe_connections(ContextFor(url, cfg)):
        last = result
        if between is not None and not result.final and isinstance(result.data, SamplerData):
            step = between(result.data.sent)
            if asyncio.iscoroutine(step):
                await step
    assert last is not None and last.final
    return last


def ContextFor(url: str, cfg: ProbeConfig) -> ProbeContext:
    return ProbeContext(parse_target(url), cfg)


# ---- servers ---------------------------------------------------------------------------


class Flapping:
    """An HTTP listener on a fixed port that the test stops and starts: connections
    while it is stopped are refused (a service restarting, a member down)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def start(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(
                self._answer, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


@asynccontextmanager
async def flapping() -> AsyncIterator[Flapping]:
    f = Flapping()
    await f.start()
    try:
        yield f
    finally:
        await f.stop()


def http_server(status_of: Callable[[int], int]) -> AbstractAsyncContextManager[int]:
    """Answers request n (from 1) with status_of(n)."""
    return loopback(status_by_count(status_of))


@asynccontextmanager
async def redis_like(full: Callable[[int], bool]) -> AsyncIterator[int]:
    """Answers PING with +PONG, or, when full(n) for connection n, as Redis does at its
    maxclients limit: "-ERR max number of clients reached", then closes."""
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        served += 1
        try:
            if full(served):
                writer.write(b"-ERR max number of clients reached\r\n")
            else:
                await reader.readline()
                writer.write(b"+PONG\r\n")
            await writer.drain()
        finally:
            writer.close()

    async with loopback(handle) as port:
        yield port


def never_accepting() -> socket.socket:
    """Listens with the smallest backlog and never accepts: once its accept queue is
    full, SYNs go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    return listener


# ---- the probe, then diagnose() ---------------------------------------------------------


@pytest.mark.asyncio
async def test_a_listener_that_comes_and_goes_refuses_a_share_of_connections() -> None:
    async with flapping() as server:

        async def toggle(n: int) -> None:  # attempts 3, 6, 9, 12 find it stopped
            if n % 3 == 2:
                await server.stop()
            elif n % 3 == 0:
                await server.start()

        result = await sample(f"http://127.0.0.1:{server.port}/", 12, toggle)
    assert isinstance(result.data, SamplerData) and result.data.rate("refused") == pytest.approx(
        100 / 3
    )
    diagnosis = diagnose(parse_target(f"http://127.0.0.1:{server.port}/"), {result.probe: result})
    refused = finding(diagnosis, "tcp.refused")
    assert refused.severity is Severity.WARNING
    assert (
        refused.title == f"33% of connections to 127.0.0.1:{server.port} are refused (intermittent)"
    )
    assert "ECONNREFUSED" in refused.evidence[-1] and "refused 4" in refused.evidence[1]
    assert "connect p50" in refused.evidence[2]
    assert any(f"sport = :{server.port}" in (s.command or "") for s in refused.next_steps)
    assert any("tcp_abort_on_overflow" in (s.command or "") for s in refused.next_steps)
    assert diagnosis.verdict == "tcp.refused"


@pytest.mark.asyncio
async def test_a_server_answering_503_to_a_share_of_requests() -> None:
    async with http_server(lambda n: 503 if n % 3 == 0 else 200) as port:
        url = f"http://127.0.0.1:{port}/"
        result = await sample(url, 12)
    diagnosis = diagnose(parse_target(url), {result.probe: result})
    unavailable = finding(diagnosis, "http.unavailable")
    assert unavailable.severity is Severity.WARNING and diagnosis.verdict == "http.unavailable"
    assert (
        unavailable.title == f"33% of requests to 127.0.0.1:{port} are answered 503 (intermittent)"
    )
    assert "HTTP/1.1 503 Service Unavailable" in unavailable.evidence[-1]
    assert "first byte p50" in unavailable.evidence[2]
    counting = [s.command for s in unavailable.next_steps if s.command and "uniq -c" in s.command]
    assert counting and url in counting[0]


@pytest.mark.asyncio
async def test_a_listener_that_never_accepts_times_out_once_its_queue_is_full() -> None:
    with never_accepting() as listener:
        port = listener.getsockname()[1]
        result = await sample(f"127.0.0.1:{port}", 10, timeout=0.4)
    assert isinstance(result.data, SamplerData)
    assert result.data.rate("timeout") >= 70  # one or two fit in the queue (backlog 0, +1)
    diagnosis = diagnose(parse_target(f"127.0.0.1:{port}"), {result.probe: result})
    filtered = finding(diagnosis, "tcp.filtered")
    assert filtered.severity in (Severity.WARNING, Severity.ERROR)
    assert diagnosis.verdict == "tcp.filtered"
    commands = " ".join(s.command or "" for s in filtered.next_steps)
    assert "TcpExtListenDrops" in commands and "nf_conntrack_count" in commands
    assert f"traceroute -n -T -p {port} 127.0.0.1" in commands


@pytest.mark.asyncio
async def test_a_redis_at_maxclients_turns_a_share_of_clients_away() -> None:
    async with redis_like(lambda n: n % 2 == 0) as port:
        result = await sample(f"redis://127.0.0.1:{port}", 10)
    diagnosis = diagnose(parse_target(f"redis://127.0.0.1:{port}"), {result.probe: result})
    too_many = finding(diagnosis, "service.too_many_connections")
    assert too_many.severity is Severity.WARNING
    assert diagnosis.verdict == "service.too_many_connections"
    assert "max number of clients reached" in too_many.evidence[-1]
    assert any(f"-p {port} INFO clients" in (s.command or "") for s in too_many.next_steps)


@pytest.mark.asyncio
async def test_a_redis_full_for_every_client_is_an_error_not_unexplained() -> None:
    async with redis_like(lambda _n: True) as port:
        result = await sample(f"redis://127.0.0.1:{port}", 4)
    assert result.status is Status.FAILED
    diagnosis = diagnose(parse_target(f"redis://127.0.0.1:{port}"), {result.probe: result})
    too_many = finding(diagnosis, "service.too_many_connections")
    assert too_many.severity is Severity.ERROR and "every sampled connection" in too_many.title
    assert "probe.unexplained" not in {f.id for f in diagnosis.findings}


@pytest.mark.asyncio
async def test_a_closed_port_fails_the_sampler_with_its_own_finding() -> None:
    """watch's plan has no tcp probe: a refused port was only probe.unexplained."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await sample(f"127.0.0.1:{port}", 3)
    assert result.status is Status.FAILED
    diagnosis = diagnose(parse_target(f"127.0.0.1:{port}"), {result.probe: result})
    assert diagnosis.verdict == "tcp.refused"
    assert finding(diagnosis, "tcp.refused").severity is Severity.ERROR
    assert "probe.unexplained" not in {f.id for f in diagnosis.findings}


# ---- the more direct reading speaks first ------------------------------------------------


async def _run(
    probe: Callable[[ProbeContext], AsyncIterator[ProbeResult]], url: str
) -> ProbeResult:
    last = None
    async for result in probe(ContextFor(url, ProbeConfig(timeout=1.0))):
        last = result
    assert last is not None
    return last


@pytest.mark.asyncio
async def test_the_http_probes_own_503_is_not_shadowed_by_the_sampler() -> None:
    async with http_server(lambda _n: 503) as port:
        url = f"http://127.0.0.1:{port}/"
        sampled = await sample(url, 6)
        http = await _run(probe_http, url)
    diagnosis = diagnose(parse_target(url), {"connections": sampled, "http": http})
    unavailable = finding(diagnosis, "http.unavailable")
    assert unavailable.title == "127.0.0.1 is unavailable (503); Retry-After: 5"  # http_rules'
    assert [f.id for f in diagnosis.findings].count("http.unavailable") == 1


@pytest.mark.asyncio
async def test_the_tcp_probes_own_refusal_is_not_shadowed_by_the_sampler() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sampled = await sample(f"127.0.0.1:{port}", 3)
    tcp = await _run(probe_tcp, f"127.0.0.1:{port}")
    diagnosis = diagnose(parse_target(f"127.0.0.1:{port}"), {"connections": sampled, "tcp": tcp})
    refused = finding(diagnosis, "tcp.refused")
    assert refused.title.startswith("nothing accepts connections")  # tcp_rules'
    assert diagnosis.verdict == "tcp.refused"


# ---- a live run --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_live_run_raises_the_503s_it_samples() -> None:
    async with http_server(lambda n: 503 if n % 3 == 0 else 200) as port:
        clock = SteppingClock()
        run = Run(
            parse_target(f"http://127.0.0.1:{port}/"),
            "intermittent",
            LIVE,
            plan=("connections",),
            live=LiveControl(clock),
        )
        async with live_run(run) as seen:
            await first_window(run, clock)
            await until(lambda: raised(seen, "http.unavailable"), tries=300)
            assert run.diagnosis.verdict == "http.unavailable"
            found = finding(run.diagnosis, "http.unavailable")
            assert found.severity is Severity.WARNING
            # Live: the moving figure leads the evidence; the title stays put.
            assert found.title == (f"requests to 127.0.0.1:{port} are answered 503 (intermittent)")
            assert "of the last 10 connections" in found.evidence[0]
