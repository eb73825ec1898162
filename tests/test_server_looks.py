"""`watch --server`: the server's side looked at again at the watch's pace (a stepping
clock; ssh itself is the lab's business, tests/test_remote_lab.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.live import LiveControl
from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.remote import server, ssh
from probes.run.plans import PROBES
from probes.run.runner import probe_deadline
from tests.live_fakes import SteppingClock
from tests.tui.test_remote_tui import SERVER_DOC
from tui.remote import RemoteChoice
from tui.watch_options import ServerLooks, WatchExtras


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each look's destination; the collector's answer is the loopback-only server."""
    seen: list[str] = []

    async def collect(dest: str, params: dict[str, Any], timeout: float, config: str = "") -> Any:
        seen.append(dest)
        return ssh.Reply(dest, ssh.OK, "", 0.01, SERVER_DOC)

    monkeypatch.setattr(server.ssh, "collect", collect)
    return seen


async def _until_waiting(clock: SteppingClock) -> None:
    for _ in range(50):
        if clock.sleepers:
            return
        await asyncio.sleep(0)


async def test_a_live_run_looks_again_every_interval_and_pauses_with_the_run(
    looks: list[str],
) -> None:
    config = ProbeConfig(server="db1", server_interval=60.0, remote_budget=0)
    ctx = ProbeContext(parse_target("10.0.0.5:5432"), config)
    clock = SteppingClock()
    live = LiveControl(clock)
    ctx.go_live(live)
    results = aiter(server.probe_server(ctx))
    first = await anext(results)
    assert first.final and looks == ["db1"]
    again = asyncio.ensure_future(anext(results))
    await _until_waiting(clock)
    clock.advance(59)
    await asyncio.sleep(0)
    assert not again.done() and looks == ["db1"]
    clock.advance(1)
    second = await again
    assert second.final and "127.0.0.1:5432" in second.summary and len(looks) == 2
    live.pause()
    paused = asyncio.ensure_future(anext(results))
    clock.advance(120)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not paused.done() and len(looks) == 2  # no look while paused
    live.resume()  # the schedule restarts: a whole interval, no catch-up look
    await _until_waiting(clock)
    assert not paused.done()
    clock.advance(60)
    await asyncio.wait_for(paused, 5)
    assert len(looks) == 3
    await results.aclose()  # type: ignore[attr-defined]


async def test_one_look_outside_a_paced_live_run(looks: list[str]) -> None:
    ctx = ProbeContext(parse_target("10.0.0.5:5432"), ProbeConfig(server="db1"))
    assert [r.final async for r in server.probe_server(ctx)] == [True]
    assert looks == ["db1"]


def test_the_watch_configures_the_pace_and_no_deadline_for_the_looks() -> None:
    extras = WatchExtras(server=RemoteChoice("db1", timeout=9.0), server_every=30)
    config = extras.configure(ProbeConfig(timeout=2.0), round_s=0.5)
    assert (config.server, config.server_interval, config.remote_timeout) == ("db1", 15.0, 9.0)
    assert probe_deadline(PROBES["server"], config) is None  # each look has ssh's deadline
    assert WatchExtras().configure(ProbeConfig(), 1.0).server == ""


def test_each_look_is_told_once() -> None:
    told = ServerLooks()
    look = ProbeResult("server", Status.OK, 0.1, "db1: 127.0.0.1:5432")
    assert told.fresh({"server": look}) is look
    assert told.fresh({"server": look}) is None
    assert told.fresh({}) is None
