"""The burst's waits and times under load: starvation is not a full accept queue.

Real servers on loopback, in their own thread and loop (tests/servers/base.py), so
only the loop the burst runs in is blocked (tests/loop_hog.py), the way a loaded
2-core machine blocks it.  A connection whose wait ran out while this process could
not run is ``starved``: counted apart, never evidence of tcp.backlog_full.  A listener
that really never accepts still fills its backlog.  And the exporter's processing
phase is the server's think time by the kernel's clock, not how late the loop read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest

from probes.core.clocks import KERNEL, WALL
from probes.core.context import ProbeConfig, ProbeContext
from probes.core.deadline import STARVED as STARVED_ERRNO
from probes.core.deadline import StarvedWaits
from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.proto.burst import BurstResult, probe_burst
from probes.proto.http import HttpData
from probes.proto.sampler import Percentiles, percentiles
from probes.run.runner import Run, run_to_end
from tests.loop_hog import busy_loop, run_clock
from tests.servers import httpserver as H
from tests.servers.base import ServerThread
from tests.servers.pgserver import pg_pool

THINK_S = 0.3  # the HTTP server's delay before its first byte
PONG_S = 0.2  # the Redis-like server's delay before +PONG
# The kernel's last-data stamps step in jiffies (1-10 ms); loopback adds microseconds.
THINK_SLACK_S = 0.025
LOOPBACK_BOUND_S = 0.005  # loopback's handshake takes ~0.03 ms; the loop blocks 50+ ms
PROCESSING_SERIES = 'probe_http_duration_seconds{phase="processing"} '
BLOCK_S = 0.25  # a starved burst's blocked stretches: longer than its 0.2-s deadline


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A healthy server: every client is accepted and held until it hangs up."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    writer.close()


async def _pong_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Redis-like: answers PING after PONG_S, then holds the client."""
    with contextlib.suppress(ConnectionError):
        if await reader.read(64):
            await asyncio.sleep(PONG_S)
            writer.write(b"+PONG\r\n")
            await writer.drain()
            while await reader.read(64):
                pass
    writer.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, int]]:
    st = ServerThread()
    yield {
        "hold": st.serve(_hold),
        "pong": st.serve(_pong_later),
        "slow": st.serve(H.slow_first_byte(THINK_S)),
        "pool": st.serve(pg_pool(100)),  # a PostgreSQL stand-in with room for every burst
    }
    st.close()


async def _burst_starving(url: str, n: int, cap_s: float) -> tuple[ProbeResult, StarvedWaits]:
    """The burst's result while the loop is blocked BLOCK_S between each of its steps
    (its connections' deadline is 0.2 s, extended by at most *cap_s*)."""
    config = ProbeConfig(timeout=0.4, burst=n, proxy_env=())
    ctx = ProbeContext(parse_target(url), config)
    # gap 0: every connection gets one step per blocked stretch, as when 50 connections
    # are opened by a process that cannot run.
    async with run_clock(max_extension_s=cap_s) as waits, busy_loop(BLOCK_S, gap_s=0.0):
        results = [r async for r in probe_burst(ctx)]
    return results[-1], waits


def _limit_ids(url: str, result: ProbeResult) -> set[str]:
    return {f.id for f in diagnose(parse_target(url), {"burst": result}).findings}


def test_a_burst_starved_past_its_grace_is_no_full_backlog(servers: dict[str, int]) -> None:
    """The server accepts every connection at once (the kernel completes each
    handshake); the process that opened them could not run, past any extension of its
    deadlines.  Before: "#1 failed: timeout → accept backlog full" and
    probe.unexplained.  Now each is starved, counted apart, and nothing is judged."""
    n = 12
    url = f"127.0.0.1:{servers['hold']}"
    result, waits = asyncio.run(_burst_starving(url, n, cap_s=0.0))
    b = result.data
    assert isinstance(b, BurstResult)
    assert b.starved == n and b.opened == 0, b.line
    assert b.first_failure == 0 and b.failure == "" and b.limit == ""
    assert b.line.endswith(f"{n} cut short while this process could not run: no limit judged")
    assert "could not run for" in b.starved_why
    # It measured nothing about a limit: an error that says so, not "no limit reached".
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.errno_name == STARVED_ERRNO
    assert waits.reasons == []  # each connection claimed its own: the burst accounted for them
    assert waits.expired == n  # the probe still counts its expired deadlines
    ids = _limit_ids(url, result)
    assert "tcp.backlog_full" not in ids and "service.too_many_connections" not in ids
    assert "probe.unexplained" not in ids and "probe.incomplete" in ids


def test_a_blocked_loop_within_the_grace_opens_every_connection(
    servers: dict[str, int],
) -> None:
    """The same blocked loop with the run's grace (deadlines pushed back by the
    starvation, up to the timeout): every connection is held, by the kernel's times."""
    n = 12
    url = f"127.0.0.1:{servers['hold']}"
    result, waits = asyncio.run(_burst_starving(url, n, cap_s=0.4))
    b = result.data
    assert isinstance(b, BurstResult)
    assert b.opened == n and b.starved == 0 and result.status is Status.OK, b.line
    assert b.line.endswith("no limit reached") and waits.expired == 0
    # The handshakes are timed by the kernel, not by the loop that saw them BLOCK_S late.
    assert b.connect.clock == KERNEL and b.connect.max_s is not None
    assert b.connect.max_s < LOOPBACK_BOUND_S, b.connect
    assert not _limit_ids(url, result) & {"tcp.backlog_full", "probe.unexplained"}


def test_a_pools_answer_the_kernel_had_is_not_a_full_pool(servers: dict[str, int]) -> None:
    """PostgreSQL's hello takes several exchanges inside the deadline: the pool answered
    each in time (the kernel received it), the starved process did not read it."""
    n = 8
    url = f"postgres://app@127.0.0.1:{servers['pool']}/appdb"
    result, waits = asyncio.run(_burst_starving(url, n, cap_s=0.05))
    b = result.data
    assert isinstance(b, BurstResult)
    assert b.starved == n and b.opened == 0 and b.first_failure == 0, b.line
    assert "the service answered; this process could not run to read it" in b.starved_why
    assert result.error is not None and result.error.errno_name == STARVED_ERRNO
    assert waits.reasons == []
    ids = _limit_ids(url, result)
    assert "service.too_many_connections" not in ids and "tcp.backlog_full" not in ids
    assert "probe.incomplete" in ids


@pytest.mark.parametrize("block_s", [0.0, 0.3], ids=["unloaded", "loop-blocked-300ms"])
def test_a_listener_that_never_accepts_still_fills_its_backlog(block_s: float) -> None:
    """A listener with backlog 1 that never accepts: SYNs beyond its queue go
    unanswered: tcp.backlog_full, nothing starved.  Also with the loop blocked 300 ms at
    a time: the kernel itself waited the whole wait for a SYN-ACK, however little this
    process ran meanwhile."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # and never accept()
        port = listener.getsockname()[1]
        config = ProbeConfig(timeout=1.0, burst=6, proxy_env=())
        target = parse_target(f"127.0.0.1:{port}")
        the_run = Run(target, "too-many-connections", config, plan=("burst",))

        async def go() -> None:
            if not block_s:
                await run_to_end(the_run)
                return
            async with busy_loop(block_s):
                await run_to_end(the_run)

        asyncio.run(go())
    b = the_run.results["burst"].data
    assert isinstance(b, BurstResult), the_run.results["burst"].summary
    assert b.starved == 0 and b.failure == "timeout", b.line
    assert 1 <= b.opened <= 3  # backlog 1 (+1 on Linux)
    assert b.connect.clock == KERNEL  # the ones accepted into the queue
    found = {f.id: f for f in the_run.diagnosis.findings}
    assert "tcp.backlog_full" in found, the_run.diagnosis
    assert "not counted" not in found["tcp.backlog_full"].evidence[0]


def test_the_bursts_times_are_the_kernels_while_the_loop_is_busy(
    servers: dict[str, int],
) -> None:
    """Redis-like PONG after 0.2 s to each of 5 connections, read by a loop blocked
    50 ms at a time: connect and first byte by the kernel, labelled so."""
    url = f"redis://127.0.0.1:{servers['pong']}"
    config = ProbeConfig(timeout=5.0, burst=5, proxy_env=())
    the_run = Run(parse_target(url), "too-many-connections", config, plan=("burst",))

    async def go() -> None:
        async with busy_loop(0.05):
            await run_to_end(the_run)

    asyncio.run(go())
    result = the_run.results["burst"]
    b = result.data
    assert isinstance(b, BurstResult)
    assert b.opened == 5 and b.starved == 0 and result.status is Status.OK, b.line
    assert b.connect.clock == KERNEL and b.first_byte.clock == KERNEL
    assert b.connect.max_s is not None and b.connect.max_s < LOOPBACK_BOUND_S
    assert b.first_byte.p50_s is not None and b.first_byte.max_s is not None
    assert abs(b.first_byte.p50_s - PONG_S) <= THINK_SLACK_S, b.first_byte
    assert "connect p50 0.0" in result.summary and "first byte p50 " in result.summary
    assert "(kernel)" in result.summary and result.summary.endswith("(kernel))")


def _burst(opened: int, failure: str, first: int, starved: int) -> ProbeResult:
    b = BurstResult(
        opened + starved + (1 if first else 0), opened, first, failure,
        "accept backlog full (SYNs unanswered)" if failure else "", "127.0.0.1", 8080,
        starved=starved, starved_why="this process could not run for 1.2 s",
        connect=percentiles([0.00003] * opened, [KERNEL] * opened),
    )  # fmt: skip
    status = Status.FAILED if first else Status.OK
    return ProbeResult("burst", status, 1.0, b.line, b)


def test_only_judged_failures_are_evidence_of_a_limit() -> None:
    target = parse_target("127.0.0.1:8080")
    # Three held, the fourth unanswered on a running loop, the rest starved: a full queue,
    # and the evidence says how many were not counted.
    mixed = diagnose(target, {"burst": _burst(3, "timeout", 4, 6)})
    backlog = next(f for f in mixed.findings if f.id == "tcp.backlog_full")
    assert "holds 3 connections at once" in backlog.title
    assert "6 not counted: cut short while this process could not run" in backlog.evidence[0]
    # Thirty held and twenty starved, no other failure: nothing said about a limit.
    starved = _burst(30, "", 0, 20)
    data = starved.data
    assert isinstance(data, BurstResult) and not data.judged
    assert data.line.endswith("20 cut short while this process could not run: no limit judged")
    ids = {f.id for f in diagnose(target, {"burst": starved}).findings}
    assert "tcp.backlog_full" not in ids and "service.too_many_connections" not in ids
    # Nothing starved and nothing failed: the all-clear the burst can give.
    clear = _burst(30, "", 0, 0).data
    assert isinstance(clear, BurstResult) and clear.judged
    assert clear.line.endswith("no limit reached")
    assert clear.times == "connect p50 0.030 ms, p95 0.030 ms, max 0.030 ms (kernel)"
    assert Percentiles(None, None, None).p50_s is None


def test_the_exporters_processing_phase_is_the_servers_think_time(
    servers: dict[str, int],
) -> None:
    """blackbox's probe_http_duration_seconds{phase="processing"}: the server's known
    0.3-s think time by the kernel's clock, although a loop blocked 200 ms at a time
    read the answer late; the HELP text and netmedic_http_phase_clock say which clock."""
    from probes.record.exposition import render
    from probes.record.metrics import check_families

    url = f"http://127.0.0.1:{servers['slow']}/"
    config = ProbeConfig(timeout=5.0, proxy_env=())
    the_run = Run(parse_target(url), "slow", config, plan=("http",))

    async def go() -> None:
        async with busy_loop(0.2):
            await run_to_end(the_run)

    asyncio.run(go())
    data = the_run.results["http"].data
    assert isinstance(data, HttpData) and data.status == 200
    t = data.timings
    assert t.kernel_think_s is not None and t.think_s is not None
    families = {f.name: f for f in check_families(the_run.results, the_run.diagnosis, 1.0)}
    duration = families["probe_http_duration_seconds"]
    phases = {dict(s.labels)["phase"]: s.value for s in duration.samples}
    assert abs(phases["processing"] - THINK_S) <= THINK_SLACK_S, (phases, t)
    assert phases["processing"] == round(t.kernel_think_s, 6)
    assert phases["connect"] < LOOPBACK_BOUND_S
    assert "processing the server's think time by the kernel's clock" in duration.help
    # Same names and labels as blackbox's: only the phase label.
    assert all(tuple(name for name, _ in s.labels) == ("phase",) for s in duration.samples)
    clocks = {
        dict(s.labels)["phase"]: dict(s.labels)["clock"]
        for s in families["netmedic_http_phase_clock"].samples
    }
    assert clocks["processing"] == KERNEL and clocks["connect"] == KERNEL
    assert clocks["transfer"] == WALL and set(clocks) == set(phases)
    text = render(tuple(families.values()))
    line = next(x for x in text.splitlines() if x.startswith(PROCESSING_SERIES))
    assert float(line.split()[-1]) == phases["processing"]
    assert "# HELP probe_http_duration_seconds Duration of http request by phase" in text


def test_the_exporters_processing_falls_back_to_our_clock() -> None:
    """No kernel figure (a reused connection): our clock's mark, and it says so."""
    from probes.proto.http import HttpTimings
    from probes.record.metrics import http_phases

    t = HttpTimings(dns_s=0.001, connect_s=0.01, ttfb_s=0.41, total_s=0.42, sent_s=0.011)
    phases = http_phases(t)
    assert phases["connect"] == (0.01, WALL)
    seconds, clock = phases["processing"]
    assert clock == WALL and abs(seconds - 0.4) < 1e-9  # connected -> first byte, as blackbox
    assert "tls" not in phases  # a phase that did not happen is absent
    kernel = http_phases(HttpTimings(connect_s=0.01, ttfb_s=0.41, sent_s=0.011, kernel_think_s=0.3))
    assert kernel["processing"] == (0.3, KERNEL)


def test_starved_connections_are_shown_as_such() -> None:
    """The TUI's burst panel and watch --json say how many were starved, and which
    clock timed the connects."""
    from rich.console import Console

    from tui.watch import tick
    from tui.widgets.panels.burst import BurstPanel

    result = _burst(30, "", 0, 20)
    console = Console(width=100, record=True)
    panel = BurstPanel.__new__(BurstPanel)  # render_data reads only the result
    console.print(panel.render_data(result))
    text = console.export_text()
    assert "30/50 held at once" in text and "no limit judged" in text
    assert "20 starved: cut short while this process could not run" in text
    assert "no limit reached" not in text
    assert "connect p50 0.030 ms, p95 0.030 ms, max 0.030 ms (kernel)" in text
    told = tick(1, 1.0, {"burst": result}, [], [], "incomplete")
    assert told.connections["burst"]["starved"] == 20
    assert told.connections["burst"]["connect_ms"] == {
        "p50": 0.03, "p95": 0.03, "max": 0.03, "clock": KERNEL,
    }  # fmt: skip
    assert told.burst_line.endswith("no limit judged")
