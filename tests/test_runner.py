"""The runner: concurrency, deadlines, failure as data, clean cancellation."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, Run, RunFinished, run_to_end

TARGET = parse_target("192.0.2.1:80")


async def fast(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    yield ProbeResult("fast", Status.OK, 0.0, "fine")


async def streaming(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    for i in range(3):
        yield ProbeResult("stream", Status.OK, 0.0, f"step {i}", final=i == 2)
        await asyncio.sleep(0)


async def hangs(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    await asyncio.sleep(3600)
    yield ProbeResult("hang", Status.OK, 0.0, "never")


async def crashes(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    raise RuntimeError("boom")
    yield ProbeResult("crash", Status.OK, 0.0, "never")  # pragma: no cover


async def waits_on_socket(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        await loop.sock_recv(sock, 10)
    yield ProbeResult("waits", Status.OK, 0.0, "never")


def make_run(**probes):  # type: ignore[no-untyped-def]
    return Run(TARGET, "auto", ProbeConfig(timeout=0.2), plan=tuple(probes), probe_overrides=probes)


async def test_streams_results_and_ends_with_run_finished() -> None:
    run = make_run(fast=fast, stream=streaming)
    events = [e async for e in run.events()]
    assert isinstance(events[-1], RunFinished)
    updates = [e.result.summary for e in events if isinstance(e, ProbeUpdate)]
    assert updates.count("fine") == 1
    assert [u for u in updates if u.startswith("step")] == ["step 0", "step 1", "step 2"]
    assert run.results["stream"].final


async def test_deadline_and_crash_become_error_results() -> None:
    run = make_run(hang=hangs, crash=crashes, fast=fast)
    await run_to_end(run)
    assert run.results["hang"].status is Status.ERROR
    assert run.results["hang"].error is not None
    assert run.results["hang"].error.errno_name == "DEADLINE"
    assert run.results["crash"].status is Status.ERROR
    assert "boom" in run.results["crash"].summary
    assert run.results["fast"].status is Status.OK


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_cancel_leaves_no_tasks_threads_or_sockets() -> None:
    before_tasks = len(asyncio.all_tasks())
    before_fds = open_fds()
    # Real probes plus one that holds a socket waiting forever, cancelled mid-flight.
    run = Run(
        parse_target("127.0.0.1:9"),
        "timeout",
        ProbeConfig(timeout=30),
        plan=("dns", "route", "tcp", "waits"),
        probe_overrides={"waits": waits_on_socket},
    )
    consumer = asyncio.create_task(run_to_end(run))
    await asyncio.sleep(0.2)
    consumer.cancel()
    try:
        await consumer
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before_tasks
    assert open_fds() <= before_fds
    assert not [t for t in threading.enumerate() if t.name == "netmedic-blocking"]


async def test_breaking_out_of_events_cancels_probes() -> None:
    run = make_run(fast=fast, hang=hangs)
    before = len(asyncio.all_tasks())
    agen = run.events()
    async for event in agen:
        if isinstance(event, ProbeUpdate):
            break
    await agen.aclose()
    assert len(asyncio.all_tasks()) == before


async def test_diagnosis_updates_are_emitted_on_change() -> None:
    seen: list[object] = []
    run = Run(parse_target("127.0.0.1:1"), "refused", ProbeConfig(timeout=2), plan=("tcp",))
    run.on_event = seen.append
    await run_to_end(run)
    diagnoses = [e for e in seen if isinstance(e, DiagnosisUpdate)]
    assert diagnoses and diagnoses[-1].diagnosis.verdict == "tcp.refused"


async def test_a_cancel_that_meets_a_result_ends_the_run() -> None:
    """The consumer is cancelled in the very step a probe's result reaches the queue
    (Python 3.11's ``wait_for`` returned the result and dropped the cancel then): the
    run still ends at once, and never reports what it had not gathered yet."""
    consumer: asyncio.Task[object] | None = None
    seen: list[object] = []

    async def cancels_as_it_reports(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        yield ProbeResult("racer", Status.OK, 0.0, "first step", final=False)
        assert consumer is not None
        consumer.cancel()  # the step above is in the queue, its getter not yet woken
        await asyncio.sleep(0.3)
        yield ProbeResult("racer", Status.OK, 0.0, "gathered after the cancel")

    run = Run(
        TARGET,
        "auto",
        ProbeConfig(timeout=5),
        plan=("racer",),
        probe_overrides={"racer": cancels_as_it_reports},
    )
    run.on_event = seen.append
    consumer = asyncio.create_task(run_to_end(run))
    done, _ = await asyncio.wait({consumer}, timeout=5)
    assert consumer in done and consumer.cancelled()
    racer = run.results.get("racer")
    assert racer is None or racer.summary != "gathered after the cancel"
    assert not [e for e in seen if isinstance(e, RunFinished)]
