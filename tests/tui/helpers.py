"""Shared set-up for TUI tests: the app wired to the fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from probes.core.target import Target, parse_target
from probes.record.journal import Journal
from probes.record.session import Session as SavedSession
from probes.run.plans import SYMPTOM_IDS
from probes.triage.pasted import PastedError
from tests.data.make_session import FACTS, SESSION_ID, T0
from tests.fake_engine import FakeNetwork
from tui import app as app_module
from tui.app import JournalFactory, NetmedicApp, memory_journal
from tui.cli import main
from tui.remote import RemoteChoice


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[object] = []

    def emit(self, event: object) -> None:
        self.events.append(event)


def make_app(
    tmp: Path,
    target: str | None = None,
    symptom: str | None = None,
    network: FakeNetwork | None = None,
    sink: RecordingSink | None = None,
    live: bool = False,
    privileged: bool = True,
    probes: tuple[str, ...] | None = None,
    journal_factory: JournalFactory = memory_journal,
    resume: SavedSession | None = None,
    remote: RemoteChoice | None = None,
) -> NetmedicApp:
    network = network or FakeNetwork()
    # Only probes the fake network answers for: real ones would make snapshots flaky.
    faked: tuple[str, ...] = (
        ("dns", "route", "tcp", "ping", "trace") if live else ("dns", "route", "tcp")
    )
    faked = probes or faked
    plans = {symptom_id: faked for symptom_id in SYMPTOM_IDS}
    return NetmedicApp(
        parse_target(target) if target else None,
        symptom,
        probe_overrides=network.overrides(),
        plans=plans,
        sink=sink,
        clock=lambda: 0.0,
        recent_path=tmp / "state" / "recent.json",
        export_dir=tmp,
        blink=False,
        privileged=privileged,
        journal_factory=journal_factory,
        resume=resume,
        remote=remote,
    )


def disk_journals(directory: Path) -> JournalFactory:
    """Journal files in *directory* (never the person's state directory), with a
    fixed id, clock and facts so screens that show them are reproducible: one
    session per directory."""

    def factory(
        target: Target, symptom: str, plan: tuple[str, ...], error: PastedError | None = None
    ) -> Journal:
        return Journal.create(
            target,
            symptom,
            plan=plan,
            error=error,
            directory=directory,
            facts=FACTS,
            clock=lambda: T0,
            session_id=SESSION_ID,
        )

    return factory


async def settle(pilot: Pilot[Any]) -> None:
    """Let every probe worker finish and the screen catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(check: Callable[[], bool], tries: int = 500) -> None:
    """Wait for *check* while the app runs its workers (real probes, no event to wait on)."""
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def launched(monkeypatch: pytest.MonkeyPatch, *argv: str) -> dict[str, Any]:
    """What ``netmedic ARGV`` hands the TUI (run_app's arguments), through the real CLI;
    the TUI itself is not started."""
    seen: dict[str, Any] = {}

    def run_app(target: Any, symptom: Any, **kwargs: Any) -> int:
        seen.update(kwargs, target=target, symptom=symptom)
        return 0

    monkeypatch.setattr(app_module, "run_app", run_app)
    assert main(list(argv)) == 0
    return seen
