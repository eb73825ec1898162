"""Deadlines that mean what they say (issue 22): a client that could not run is not a
server that did not answer, and a completed connect outweighs a connect that timed out.

Starvation is made deterministic by blocking this test's event loop (what 50 other
checks on 2 cores do to a check), against real servers on a loopback thread that keeps
answering meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.deadline import STARVED
from probes.core.model import ProbeError, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.diagnosis.overruled import CONTRADICTED, overrule
from probes.net.tcp import FILTERED, TcpAttempt, TcpData, probe_tcp
from probes.proto.http import TIMEOUT, HttpData, probe_http
from probes.run.runner import Run, run_to_end
from probes.wire.connect import OPEN, connect_once
from tests.servers.base import Handler, ServerThread, read_head, response, server_thread
from tests.servers.httpserver import slow_first_byte

FAULTS = (Severity.ERROR, Severity.WARNING)


@pytest.fixture
def servers() -> Iterator[ServerThread]:
    with server_thread() as st:
        yield st


def _block_loop(seconds: float) -> None:
    time.sleep(seconds)


def _answer_after(delay: float | None, heard: threading.Event) -> Handler:
    """Read the request, say so, answer 200 after *delay* seconds (None: never)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        heard.set()
        if delay is None:
            await reader.read()  # until the client gives up
            return
        await asyncio.sleep(delay)
        writer.write(response(200, "OK", body=b"ok\n"))
        await writer.drain()

    return handle


def _hog(heard: threading.Event, seconds: float) -> object:
    """A probe that takes the CPU away from the run once the request is on the server."""

    async def hog(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        await asyncio.to_thread(heard.wait, 10)
        _block_loop(seconds)
        yield ProbeResult("hog", Status.OK, seconds, "held the event loop")

    return hog


async def test_a_connect_answered_while_the_loop_was_blocked_is_open() -> None:
    """The SYN-ACK came in a millisecond; the timer fired first because this process
    could not run: the kernel's completed handshake is the answer, not a timeout."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        attempt = asyncio.ensure_future(connect_once("127.0.0.1", port, 0.2, 0.05))
        await asyncio.sleep(0)  # the SYN is on its way
        _block_loop(0.5)
        result = await attempt
    assert result.state == OPEN, result
    assert "seen late" in result.explanation


async def test_a_starved_http_probe_is_incomplete_not_a_timeout(servers: ServerThread) -> None:
    """The request is on the server, then this process cannot run for 1.5 s of its
    0.5 s budget (more than the 0.5 s a deadline may be pushed back): whether the
    server would have answered is unknown, so the result is incomplete, not a fault."""
    heard = threading.Event()
    port = servers.serve(_answer_after(None, heard))
    run = Run(
        parse_target(f"http://127.0.0.1:{port}/"),
        config=ProbeConfig(timeout=0.5),
        plan=["http", "hog"],
        probe_overrides={"hog": _hog(heard, 1.5)},  # type: ignore[dict-item]
    )
    diagnosis = await run_to_end(run)
    http = run.results["http"]
    assert http.status is Status.ERROR and http.error is not None
    assert http.error.errno_name == STARVED, http
    assert "could not run for 1." in http.error.explanation
    ids = {f.id: f for f in diagnosis.findings}
    assert "http.timeout" not in ids and "tcp.filtered" not in ids
    assert ids["probe.incomplete"].severity is Severity.WARNING
    assert diagnosis.verdict == "incomplete"
    assert not [f for f in diagnosis.findings if f.severity is Severity.ERROR]


async def test_the_same_silence_unstarved_is_a_timeout(servers: ServerThread) -> None:
    heard = threading.Event()
    port = servers.serve(_answer_after(None, heard))
    run = Run(
        parse_target(f"http://127.0.0.1:{port}/"), config=ProbeConfig(timeout=0.5), plan=["http"]
    )
    diagnosis = await run_to_end(run)
    assert run.results["http"].status is Status.FAILED
    assert diagnosis.verdict == "http.timeout"


async def test_a_starved_deadline_is_pushed_back(servers: ServerThread) -> None:
    """The answer comes 0.3 s after the request; the loop is blocked for 0.9 s, past
    the 0.6 s deadline: the deadline moves by the time the probe could not run (up to
    the timeout), and the answer waiting in the socket is read."""
    heard = threading.Event()
    port = servers.serve(_answer_after(0.3, heard))
    run = Run(
        parse_target(f"http://127.0.0.1:{port}/"),
        config=ProbeConfig(timeout=0.6),
        plan=["http", "hog"],
        probe_overrides={"hog": _hog(heard, 0.9)},  # type: ignore[dict-item]
    )
    diagnosis = await run_to_end(run)
    assert run.results["http"].status is Status.OK, run.results["http"]
    # (the first-byte time it reports includes the starvation: issue 22, item 1)
    assert not [f for f in diagnosis.findings if f.severity is Severity.ERROR]


async def test_tcp_open_and_an_http_connect_timeout_never_give_tcp_filtered(
    servers: ServerThread,
) -> None:
    """The TCP probe really connects; the HTTP result of the same run says its connect
    timed out (as a starved client's does): the completed connect wins."""
    port = servers.serve(slow_first_byte(0.0))
    target = parse_target(f"http://127.0.0.1:{port}/")
    ctx = ProbeContext(target, ProbeConfig(timeout=1.0))
    tcp = [r async for r in probe_tcp(ctx)][-1]
    ctx.close()
    assert tcp.status is Status.OK
    detail = "could not connect within 2.0s"
    http = ProbeResult(
        "http",
        Status.FAILED,
        2.0,
        f"timeout: {detail}",
        HttpData(target.input, "GET", TIMEOUT, phase="connect", detail=detail),
        ProbeError("TIMEOUT", detail, elapsed_s=2.0),
    )
    diagnosis = diagnose(target, {"tcp": tcp, "http": http})
    ids = {f.id: f for f in diagnosis.findings}
    assert "tcp.filtered" not in ids
    assert "tcp.open" in ids
    incomplete = ids["probe.incomplete"]
    assert any("TCP connection" in line and "succeeded" in line for line in incomplete.evidence)
    assert diagnosis.verdict == "incomplete"


async def test_a_filtered_tcp_attempt_is_overruled_by_a_completed_exchange(
    servers: ServerThread,
) -> None:
    """The other way round: the HTTP probe really got its 200; the TCP result of the
    same run says the SYN went unanswered."""
    port = servers.serve(slow_first_byte(0.0))
    target = parse_target(f"http://127.0.0.1:{port}/")
    ctx = ProbeContext(target, ProbeConfig(timeout=1.0))
    http = [r async for r in probe_http(ctx)][-1]
    ctx.close()
    assert http.status is Status.OK and isinstance(http.data, HttpData) and http.data.hops
    silent = TcpAttempt("127.0.0.1", 4, port, FILTERED, 1.0, "TIMEOUT", "no answer to the SYN")
    tcp = ProbeResult(
        "tcp",
        Status.FAILED,
        1.0,
        f"127.0.0.1:{port} filtered",
        TcpData(port, (silent,)),
        ProbeError("TIMEOUT", "no answer to the SYN", elapsed_s=1.0),
    )
    results = {"tcp": tcp, "http": http}
    overruled = overrule(results, port)["tcp"]
    assert overruled.status is Status.ERROR and overruled.error is not None
    assert overruled.error.errno_name == CONTRADICTED
    diagnosis = diagnose(target, results)
    ids = {f.id: f for f in diagnosis.findings}
    assert "tcp.filtered" not in ids and "http.ok" in ids
    assert any("answered 200" in line for line in ids["probe.incomplete"].evidence)
    assert diagnosis.verdict == "incomplete"


def _accept_silently(heard: threading.Event) -> Handler:
    """Accept, say so, and never answer (a TLS server that never sends its hello)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.set()
        while await reader.read(1024):
            pass

    return handle


async def test_a_tls_handshake_timeout_while_starved_is_incomplete(servers: ServerThread) -> None:
    """The TLS handshake waits on a thread, with the socket's own timer (no run
    deadline watches it): the starvation during the probe judges its timeout."""
    heard = threading.Event()
    port = servers.serve(_accept_silently(heard))
    run = Run(
        parse_target(f"tls://127.0.0.1:{port}"),
        config=ProbeConfig(timeout=1.0),
        plan=["tls", "hog"],
        probe_overrides={"hog": _hog(heard, 2.0)},  # type: ignore[dict-item]
    )
    diagnosis = await run_to_end(run)
    tls = run.results["tls"]
    assert tls.error is not None and tls.error.errno_name == STARVED, tls
    assert "tls.handshake_timeout" not in {f.id for f in diagnosis.findings}
    assert diagnosis.verdict == "incomplete"


async def test_the_same_tls_silence_unstarved_is_a_handshake_timeout(
    servers: ServerThread,
) -> None:
    port = servers.serve(_accept_silently(threading.Event()))
    run = Run(
        parse_target(f"tls://127.0.0.1:{port}"), config=ProbeConfig(timeout=1.0), plan=["tls"]
    )
    diagnosis = await run_to_end(run)
    assert diagnosis.verdict == "tls.handshake_timeout"
