"""A live run re-diagnoses evidence that arrives after its first look (issue 14, item 3):
the local sockets looked at again every few seconds, and a burst a person asks for.
Real listeners on loopback; the run's pace clock is stepped by the test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from probes.core.context import ProbeConfig
from probes.core.events import Event, FindingChanged, FollowUp, ProbeUpdate
from probes.core.live import LiveControl
from probes.core.model import Status
from probes.core.target import parse_target
from probes.diagnosis.engine import diagnose
from probes.proto.burst import BurstResult
from probes.proto.sampler import SamplerData
from probes.run.live import windowed
from probes.run.runner import ASKED_BY_PERSON, Run, RunFinished
from tests.live_fakes import SteppingClock
from tests.servers.base import loopback, server_thread
from tests.servers.httpserver import every_other_reset
from tests.tui.helpers import until
from tui.args import LivePace
from tui.live_status import live_config

LIVE = live_config(ProbeConfig(timeout=1.0, local_interval=5.0, burst=20), LivePace(1.0, 10))


@asynccontextmanager
async def live_run(run: Run) -> AsyncIterator[list[Event]]:
    """Drive *run* in the background; yield the events it streams (to the face)."""
    seen: list[Event] = []

    async def drive() -> None:
        async for event in run.events():
            seen.append(event)

    task = asyncio.create_task(drive())
    try:
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def live_run_on(
    port: int, plan: tuple[str, ...], clock: SteppingClock, journal: list[Event]
) -> Run:
    """A live run on 127.0.0.1:*port*, paced by *clock*, journaling to *journal*."""
    return Run(
        parse_target(f"127.0.0.1:{port}"),
        "intermittent",
        LIVE,
        plan=plan,
        live=LiveControl(clock),
        on_event=journal.append,
    )


def raised(events: list[Event], finding_id: str) -> bool:
    return any(
        isinstance(e, FindingChanged) and e.finding_id == finding_id and e.change == "raised"
        for e in events
    )


async def _until(check: Callable[[], bool]) -> None:
    await until(check, tries=300)


def _sampled(run: Run) -> int:
    """Connection attempts the sampler has made so far."""
    result = run.results.get("connections")
    return result.data.sent if result is not None and isinstance(result.data, SamplerData) else 0


async def first_window(run: Run, clock: SteppingClock) -> None:
    """Step the sampler through its first window: findings are told as changes after it."""
    for n in range(1, 11):
        await _until(lambda: clock.sleepers > 0)
        clock.advance(1.0)
        await _until(lambda n=n: _sampled(run) >= n)  # type: ignore[misc]


@pytest.mark.asyncio
async def test_a_close_wait_pile_up_after_the_first_look_is_raised_and_journaled() -> None:
    """The server never closes what its clients hung up: CLOSE_WAIT piles up after the
    first look.  The next look (one local_interval later) raises local.close_wait."""
    held: list[asyncio.StreamWriter] = []
    leaking = False  # switched on after the first look

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if leaking:
            held.append(writer)  # never closed: a leak
            return
        await reader.read()  # a well-behaved server closes when its client has
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = SteppingClock()
    journal: list[Event] = []
    # The sampler keeps the run live.
    run = live_run_on(port, ("local", "connections"), clock, journal)
    try:
        async with live_run(run) as seen:
            await _until(lambda: "local" in run.results)
            await first_window(run, clock)
            assert not raised(seen, "local.close_wait")
            leaking = True
            for _ in range(12):
                _r, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            await _until(lambda: len(held) >= 12)
            await asyncio.sleep(0.2)  # the FINs reach the server side
            await _until(lambda: clock.sleepers > 0)
            clock.advance(LIVE.local_interval)
            await _until(lambda: raised(seen, "local.close_wait"))
            assert run.diagnosis.verdict == "local.close_wait"
            # The journal has the look the change was read from, then the change; not
            # every look (the face sees every one): changes, not polls.
            looks = [e for e in journal if isinstance(e, ProbeUpdate) and e.result.probe == "local"]
            assert "CLOSE_WAIT" in str(looks[-1].result.data)
            assert raised(journal, "local.close_wait")
            assert journal.index(looks[-1]) < next(
                i for i, e in enumerate(journal) if isinstance(e, FindingChanged)
            )

            # Looks that change no finding reach the face, not the journal.
            def count(events: list[Event]) -> int:
                return sum(isinstance(e, ProbeUpdate) and e.result.probe == "local" for e in events)

            shown, journaled = count(seen), count(journal)
            for n in (1, 2):
                await _until(lambda: clock.sleepers > 0)
                clock.advance(LIVE.local_interval)
                await _until(lambda n=n: count(seen) >= shown + n)  # type: ignore[misc]
            assert count(journal) == journaled
    finally:
        for writer in held:
            writer.close()
        server.close()


@asynccontextmanager
async def max_clients_server(limit: int) -> AsyncIterator[int]:
    """A Redis-like server that takes *limit* clients and tells the next ones so."""
    clients: set[asyncio.StreamWriter] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(clients) >= limit:
            writer.write(b"-ERR max number of clients reached\r\n")
            await writer.drain()
            writer.close()
            return
        clients.add(writer)
        try:
            while await reader.read(1024):  # a client holds its slot until it hangs up
                pass
        finally:
            clients.discard(writer)
            writer.close()

    async with loopback(accept) as port:
        yield port


@pytest.mark.asyncio
async def test_a_burst_asked_for_in_a_live_run_finds_the_client_limit() -> None:
    async with max_clients_server(5) as port:
        journal: list[Event] = []
        run = live_run_on(port, ("connections",), SteppingClock(), journal)
        assert not run.request("burst", "asked for: too early")  # the run is not running
        async with live_run(run) as seen:
            await _until(lambda: "connections" in run.results)
            assert run.request("burst", "asked for: 20 connections at once (b)")
            assert not run.request("burst", "twice")  # one burst at a time
            await _until(lambda: "burst" in run.results)
            result = run.results["burst"]
            assert result.status is Status.FAILED and isinstance(result.data, BurstResult)
            assert result.data.opened == 5 and result.data.failure == "service error"
            assert "max number of clients" in result.data.said
            await _until(
                lambda: any(f.id == "service.too_many_connections" for f in run.diagnosis.findings)
            )
            finding = next(
                f for f in run.diagnosis.findings if f.id == "service.too_many_connections"
            )
            assert "accepts 5 connections at once" in finding.title
            # Journaled as a probe a person asked for, with its result.
            asked = [e for e in journal if isinstance(e, FollowUp)]
            assert [(e.step.probe, e.step.trigger) for e in asked] == [("burst", ASKED_BY_PERSON)]
            assert any(isinstance(e, ProbeUpdate) and e.result.probe == "burst" for e in journal)
            assert any(isinstance(e, FollowUp) for e in seen)
            # Done: it may be asked for again.
            await _until(lambda: run.request("burst", "again"))


@pytest.mark.asyncio
async def test_a_listener_that_never_accepts_fills_its_backlog() -> None:
    """SYNs beyond the accept queue go unanswered: tcp.backlog_full, after how many."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(2)  # and never accept()
        port = listener.getsockname()[1]
        run = Run(
            parse_target(f"127.0.0.1:{port}"),
            "too-many-connections",
            LIVE,
            plan=("burst",),
        )
        async for _event in run.events():
            pass
    burst = run.results["burst"].data
    assert isinstance(burst, BurstResult)
    assert burst.failure == "timeout" and 1 <= burst.opened <= 4  # backlog 2 (+1 on Linux)
    found = {f.id: f for f in run.diagnosis.findings}
    assert "tcp.backlog_full" in found, run.diagnosis
    assert "probe.unexplained" not in found


@pytest.mark.asyncio
async def test_a_burst_to_a_closed_port_claims_no_limit() -> None:
    """Not one accepted: the burst found no limit, and says nothing about one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = Run(parse_target(f"127.0.0.1:{port}"), "refused", LIVE, plan=("tcp", "burst"))
    async for _event in run.events():
        pass
    ids = [f.id for f in run.diagnosis.findings]
    assert "tcp.backlog_full" not in ids and "service.too_many_connections" not in ids
    assert "probe.unexplained" not in ids and run.diagnosis.verdict == "tcp.refused"


@pytest.mark.asyncio
async def test_a_live_run_the_person_stops_is_finished_once_every_probe_answered() -> None:
    """Leaving a live run is its normal end: recorded finished (stopped) with the live
    diagnosis once every probe has answered; before that it stays cut short."""
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = SteppingClock()
    journal: list[Event] = []
    run = live_run_on(port, ("tcp", "connections"), clock, journal)
    assert run.live is not None
    run.live.pause()  # the sampler waits before its first connection
    try:
        async with live_run(run) as seen:
            await _until(lambda: "tcp" in run.results)
            assert "connections" not in run.results
            assert run.stop() is None  # the sampler has not answered yet
            run.live.resume()
            await _until(lambda: "connections" in run.results)
            await _until(lambda: run.diagnosis.verdict != "incomplete")
            stopped = run.stop()
            assert stopped is not None and stopped.stopped
            assert stopped.diagnosis == run.diagnosis
            assert run.stop() is None  # once
        finished = [e for e in journal if isinstance(e, RunFinished)]
        assert finished == [stopped]  # cancelling afterwards adds no second end
        assert not any(isinstance(e, RunFinished) for e in seen)
    finally:
        server.close()


@pytest.mark.asyncio
async def test_a_reset_title_counts_the_sampler_beside_the_tcp_probe() -> None:
    """Every other connection reset: the title says how many of how many, the sampler's
    window included, never that every connection is reset (issue 22)."""
    with server_thread() as servers:
        port = servers.serve(every_other_reset())
        clock = SteppingClock()
        run = Run(
            parse_target(f"http://127.0.0.1:{port}/"),
            "intermittent",
            LIVE,
            plan=("tcp", "connections"),
            live=LiveControl(clock),
        )
        async with live_run(run):
            await _until(lambda: "tcp" in run.results)
            await first_window(run, clock)
            view = dict(run.results)
    sampled = view["connections"].data
    assert isinstance(sampled, SamplerData)
    found = diagnose(run.target, {n: windowed(r) for n, r in view.items()}, "intermittent")
    reset = next(f for f in found.findings if f.id == "tcp.reset_after_connect")
    total = 3 + sum(n for _k, n in sampled.kinds)
    assert f" of {total} connections right after accepting them (intermittent)" in reset.title
    assert "every" not in reset.title and reset.severity.value == "warning"
    assert any(line.startswith("connection sampler: ") for line in reset.evidence)
