"""The connection sampler's times from the kernel, and starvation that is not the server's.

A real HTTP server on loopback (its own thread and loop) delays its first byte by a
known 300 ms while the loop the sampler runs in is blocked (tests/loop_hog.py), the
way a loaded 2-core machine blocks it.  Our clock reads the answer up to a blocked
chunk late; the kernel's figures (TCP_INFO: the handshake's RTT, last data sent ->
last data received) do not move.  And an attempt whose deadline ran out while the
process could not run is counted apart: never a timeout of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.clocks import KERNEL, MIXED, WALL
from probes.core.context import ProbeConfig, ProbeContext
from probes.core.deadline import STARVED as STARVED_ERRNO
from probes.core.deadline import StarvedWaits
from probes.core.model import Diagnosis, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.proto.sampler import (
    OK,
    STARVED,
    Attempt,
    Percentiles,
    SamplerData,
    percentiles,
    probe_connections,
)
from probes.run.runner import Run, run_to_end
from tests.loop_hog import busy_loop, run_clock
from tests.servers import httpserver as H
from tests.servers.base import ServerThread

THINK_S = 0.3  # the server's delay before its first byte
# The kernel's last-data stamps step in jiffies (1-10 ms); loopback adds microseconds.
THINK_SLACK_S = 0.025
SLOW_THINK_S = 1.1  # past http.slow_response's 1-s bar
LOOPBACK_BOUND_S = 0.005  # loopback's handshake takes ~0.03 ms; the loop blocks 50+ ms


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, int]]:
    st = ServerThread()  # its own thread and loop: only the sampler's loop is blocked

    async def never_answers(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        await asyncio.sleep(60)

    yield {
        "slow": st.serve(H.slow_first_byte(THINK_S)),
        "slower": st.serve(H.slow_first_byte(SLOW_THINK_S)),
        "silent": st.serve(never_answers),
    }
    st.close()


def _sampled(run: Run) -> SamplerData:
    data = run.results["connections"].data
    assert isinstance(data, SamplerData)
    return data


def _busy_sample(url: str, rounds: int, block_s: float) -> tuple[Run, Diagnosis]:
    """A run of the sampler alone while its loop is blocked *block_s* at a time."""
    config = ProbeConfig(
        timeout=5.0, sample_interval=0.05, sample_count=rounds, sample_duration=0, proxy_env=()
    )
    the_run = Run(parse_target(url), "intermittent", config, plan=("connections",))

    async def go() -> Diagnosis:
        async with busy_loop(block_s):
            return await run_to_end(the_run)

    return the_run, asyncio.run(go())


def test_first_byte_and_connect_are_the_kernels_while_the_loop_is_blocked(
    server: dict[str, int],
) -> None:
    url = f"http://127.0.0.1:{server['slow']}/"
    # Blocked 50 ms between awaits, as the issue asks.
    the_run, diagnosis = _busy_sample(url, 6, 0.05)
    data = _sampled(the_run)
    assert data.sent == 6 and data.failed == 0 and data.starved == 0
    assert data.first_byte.clock == KERNEL and data.connect.clock == KERNEL
    assert data.first_byte.p50_s is not None and data.connect.max_s is not None
    assert abs(data.first_byte.p50_s - THINK_S) <= THINK_SLACK_S, data.first_byte
    assert data.connect.max_s < LOOPBACK_BOUND_S, data.connect
    for attempt in data.recent:  # our clock's figures are kept beside, for contrast
        assert attempt.connect_wall_s is not None and attempt.first_byte_wall_s is not None
        assert attempt.first_byte_wall_s >= THINK_S - THINK_SLACK_S
    summary = the_run.results["connections"].summary
    assert "connect p50 0.0" in summary and " ms (kernel)" in summary
    assert "first byte p50 " in summary and "first byte p50 —" not in summary
    assert diagnosis.verdict == "ok" and not diagnosis.has_errors  # 0.3 s is no slow server
    # watch --json says the clock beside the figures.
    from tui.watch import tick

    conn = tick(1, 1.0, the_run.results, [], [], diagnosis.verdict).connections
    assert conn["connect_ms"]["clock"] == KERNEL and conn["first_byte_ms"]["clock"] == KERNEL
    assert abs(conn["first_byte_ms"]["p50"] - THINK_S * 1000) <= THINK_SLACK_S * 1000


def test_a_slow_server_over_a_fast_path_is_told_by_the_kernels_figures(
    server: dict[str, int],
) -> None:
    """The issue's case under `watch` (no http probe, only the sampler): a 1.1-s first
    byte over loopback, read by a loop blocked 300 ms at a time, is http.slow_response
    compared with the kernel's 0.03-ms handshake, not with our clock's connect."""
    url = f"http://127.0.0.1:{server['slower']}/"
    _run, diagnosis = _busy_sample(url, 2, 0.3)
    slow = next(f for f in diagnosis.findings if f.id == "http.slow_response")
    assert slow.severity is Severity.WARNING and diagnosis.verdict == "http.slow_response"
    assert "(kernel)" in slow.title and "TCP_INFO" in slow.evidence[1]
    assert "median of 2 sampled requests" in slow.evidence[0]


def test_our_clocks_first_bytes_are_never_compared() -> None:
    """Where the kernel had no figure (our clock stood in), a slow-looking first byte
    is how late this process read it: no finding from it."""
    late = Attempt(
        OK, 0.00003, 2.5, connect_clock=KERNEL, first_byte_clock=WALL, first_byte_wall_s=2.5
    )
    recent = (late, late, late)
    data = SamplerData(
        "127.0.0.1", 80, "http", 1.0, 3, 0, ((OK, 3),), recent,
        percentiles([0.00003] * 3, [KERNEL] * 3), percentiles([2.5] * 3),
    )  # fmt: skip
    result = ProbeResult("connections", Status.OK, 3.0, "sampled", data)
    findings = diagnose(parse_target("http://127.0.0.1/"), {"connections": result}).findings
    assert "http.slow_response" not in {f.id for f in findings}


async def _busy_for(seconds: float) -> None:
    """Keep the loop from running for *seconds*, in one stretch (a starved process)."""
    import time

    time.sleep(seconds)  # noqa: ASYNC251 - blocking the loop is the point


async def _sample_starving(
    url: str, rounds: int, starve_from: int
) -> tuple[ProbeResult, StarvedWaits]:
    """The sampler's final result; from attempt *starve_from* on, the loop is blocked
    0.4 s at a time while the attempt waits (its deadline is 0.2 s, extended 0.05 s)."""
    config = ProbeConfig(
        timeout=0.4, sample_interval=0.05, sample_count=rounds, sample_duration=0, proxy_env=()
    )
    hog: asyncio.Task[None] | None = None
    last = None
    async with run_clock(max_extension_s=0.05) as waits:

        async def starve() -> None:
            while True:
                await asyncio.sleep(0.1)  # let the attempt connect and send first
                await _busy_for(0.4)

        if not starve_from:
            hog = asyncio.create_task(starve())
        try:
            async for result in probe_connections(ProbeContext(parse_target(url), config)):
                last = result
                data = result.data
                if hog is None and isinstance(data, SamplerData) and data.sent >= starve_from:
                    hog = asyncio.create_task(starve())
        finally:
            if hog is not None:
                hog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hog
    assert last is not None and last.final
    return last, waits


def test_an_attempt_cut_short_by_starvation_is_not_a_server_timeout(
    server: dict[str, int],
) -> None:
    """The server never answers: by the numbers, two attempts that waited their whole
    0.2 s on a running loop are timeouts; those whose wait was eaten by a blocked loop
    say nothing about the server — counted apart, said so, no finding from them."""
    url = f"http://127.0.0.1:{server['silent']}/"
    result, waits = asyncio.run(_sample_starving(url, rounds=5, starve_from=2))
    data = result.data
    assert isinstance(data, SamplerData)
    outcomes = [a.outcome for a in data.recent]
    # Before the hog, the wait ran on a running loop: a timeout (starved only if this
    # machine itself stalled the test for longer than the deadline's extension).
    assert set(outcomes[:2]) <= {"timeout", STARVED} and "timeout" in outcomes[:2], outcomes
    assert set(outcomes[2:]) == {STARVED}, outcomes
    timeouts = outcomes.count("timeout")
    assert data.failed == timeouts and data.starved == 5 - timeouts and data.judged == timeouts
    starved = data.recent[-1]
    assert "could not run" in starved.detail
    assert starved.connect_s is not None and starved.connect_clock == KERNEL
    note = f"{5 - timeouts} not counted: cut short while this process could not run"
    assert note in result.summary
    assert data.rate("timeout") == 100  # of the judged attempts
    # The sampler accounted for its starved waits: the runner will not void its result.
    assert waits.reasons == []
    assert result.status is Status.FAILED  # every judged attempt failed: the server's silence
    findings = diagnose(parse_target(url), {result.probe: result}).findings
    timeout = next(f for f in findings if f.id == "http.timeout")
    assert f"{timeouts} of {timeouts} connections" in timeout.evidence[0]
    assert note in timeout.evidence[1]


def test_a_sampler_that_only_starved_is_incomplete_not_a_fault(server: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{server['silent']}/"
    result, _waits = asyncio.run(_sample_starving(url, rounds=3, starve_from=0))
    data = result.data
    assert isinstance(data, SamplerData)
    assert data.starved == 3 and data.failed == 0
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.errno_name == STARVED_ERRNO
    diagnosis = diagnose(parse_target(url), {result.probe: result})
    ids = {f.id for f in diagnosis.findings}
    assert "http.timeout" not in ids and "tcp.filtered" not in ids
    assert "probe.incomplete" in ids and diagnosis.verdict == "incomplete"


def test_a_syn_the_kernel_never_got_answered_is_a_timeout_even_when_starved() -> None:
    """A listener whose accept queue is full drops SYNs: the kernel waited the whole
    wait for a SYN-ACK however little this process ran, so the attempts are the
    server's timeouts, not this process's starvation (the burst's rule too)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # and never accept()
        port = listener.getsockname()[1]
        queued = [socket.create_connection(("127.0.0.1", port), 1)]  # the queue is full
        try:
            result, _waits = asyncio.run(
                _sample_starving(f"127.0.0.1:{port}", rounds=3, starve_from=0)
            )
        finally:
            for sock in queued:
                sock.close()
    data = result.data
    assert isinstance(data, SamplerData)
    assert [a.outcome for a in data.recent] == ["timeout"] * 3, data.recent
    assert data.starved == 0 and data.failed == 3
    assert all("no SYN-ACK after" in a.detail for a in data.recent)


def test_percentiles_say_their_clock() -> None:
    kernel = percentiles([0.00004, 0.00003, 0.00005], [KERNEL] * 3)
    assert kernel.clock == KERNEL
    assert kernel.text() == "p50 0.040 ms, p95 0.050 ms, max 0.050 ms (kernel)"
    assert percentiles([0.3, 0.4], [KERNEL, WALL]).clock == MIXED
    assert percentiles([0.3]).clock == WALL
    assert Percentiles(None, None, None).text() == "—"


def test_over_tls_the_times_are_the_kernels_too(tmp_path: Path) -> None:
    """https://: the socket the TLS transport wraps is still ours to ask."""
    from tests.servers.pki import Pki
    from tests.servers.tlsserver import TlsServer

    pki = Pki(tmp_path)
    # TLS 1.2: TLS 1.3's session tickets may come in after our request, and then the
    # kernel's last-segment stamp competes with our clock's (see TimedConnection.answer_figure).
    tls = TlsServer(pki.server_context(pki.leaf(), max_version=ssl.TLSVersion.TLSv1_2))
    url = f"https://127.0.0.1:{tls.port}/"
    config = ProbeConfig(
        timeout=2.0, sample_interval=0.05, sample_count=3, sample_duration=0,
        ca_file=str(pki.ca_file), proxy_env=(),
    )  # fmt: skip

    async def go() -> ProbeResult:
        return [r async for r in probe_connections(ProbeContext(parse_target(url), config))][-1]

    try:
        result = asyncio.run(go())
    finally:
        tls.close()
    data = result.data
    assert isinstance(data, SamplerData) and dict(data.kinds) == {OK: 3}, result.summary
    assert data.connect.clock == KERNEL and data.first_byte.clock == KERNEL
    assert data.connect.max_s is not None and data.connect.max_s < LOOPBACK_BOUND_S
    assert all(a.source for a in data.recent)
