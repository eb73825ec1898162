"""What the TUI remembers about one troubleshooting session (no Textual here).

A session is one target and symptom, run one or more times (the first run and
each retest), plus what the person did: steps marked, notes typed.  Every
person event goes to the :class:`~probes.core.events.EventSink` the app was given,
and so do the runner's events, so a journal sees one ordered record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from probes.core.context import ProbeConfig
from probes.core.events import EventSink, NoteAdded, NullSink, RetestStarted, StepMarked, StepState
from probes.core.model import Diagnosis, ProbeResult
from probes.core.redact import Redactor
from probes.core.target import Target

if TYPE_CHECKING:
    from probes.record.journal_writer import JournalWriter
    from probes.record.session import Session as SavedSession
    from probes.run.runner import Run
    from probes.triage.pasted import PastedError


@dataclass(frozen=True, slots=True)
class RunRecord:
    number: int
    verdict: str
    duration_s: float
    finding_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RestoredRun:
    """The last run of a resumed session, as its journal recorded it."""

    session_id: str
    started_at: str  # ISO time the session began
    results: dict[str, ProbeResult]
    diagnosis: Diagnosis
    finished: bool  # False when the link dropped mid-run (or the run was cut short)
    focus: str = ""  # the finding the person last marked a step of or noted
    verdict_text: str = ""  # "incomplete (3 of 8 probes finished)" when cut short
    findings_run: int = 0  # the run the findings come from
    findings_partial: bool = False  # they come from a run that did not finish
    cut_run: int = 0  # the number of the run that was cut short (0: none)


@dataclass
class Session:
    target: Target
    symptom: str
    sink: EventSink = field(default_factory=NullSink)
    clock: Callable[[], float] = time.monotonic
    run_number: int = 0
    run: Run | None = None
    history: list[RunRecord] = field(default_factory=list)
    steps: dict[tuple[str, int], StepState] = field(default_factory=dict)
    notes: list[NoteAdded] = field(default_factory=list)
    config: ProbeConfig = field(default_factory=ProbeConfig)  # with origin/headers asked for
    # The run's redactor: runs get it (the secrets boundary), and what the person
    # types passes it before it is recorded.
    redactor: Redactor = field(default_factory=Redactor)
    journal: JournalWriter | None = None
    restored: RestoredRun | None = None  # set when resumed from a journal
    error: PastedError | None = None  # what the app said, as the person pasted it (redacted)

    @classmethod
    def resume(
        cls,
        saved: SavedSession,
        *,
        sink: EventSink,
        journal: JournalWriter | None,
        config: ProbeConfig,
        clock: Callable[[], float] = time.monotonic,
        redactor: Redactor | None = None,
    ) -> Session:
        """Continue *saved*: its runs, checklist and notes; a retest is the next run."""
        target = saved.target()
        session = cls(
            target,
            saved.symptom,
            sink,
            clock,
            config=config,
            redactor=redactor or Redactor.for_target(target),
            journal=journal,
            error=saved.pasted_error,
        )
        latest = saved.latest
        session.run_number = latest.number if latest else 0
        for run in saved.runs:
            if run.complete:  # before/after comparisons use finished runs only
                ids = tuple(f.id for f in run.diagnosis().findings)
                session.history.append(
                    RunRecord(run.number, run.verdict, run.duration_s or 0.0, ids)
                )
        session.steps = dict(saved.step_states)
        session.notes = [NoteAdded(n.finding_id, n.text) for n in saved.notes]
        worked_on = sorted(
            [(m.t, m.finding_id) for m in saved.steps]
            + [(n.t, n.finding_id) for n in saved.notes if n.finding_id]
        )
        source = saved.findings_run
        session.restored = RestoredRun(
            saved.id,
            str(saved.header.get("started_at", "")),
            latest.probe_results() if latest else {},
            saved.diagnosis(),
            saved.complete,
            worked_on[-1][1] if worked_on else "",
            verdict_text=saved.verdict_text,
            findings_run=source.number if source else 0,
            findings_partial=source is not None and not source.complete,
            cut_run=0 if saved.complete else (latest.number if latest else 1),
        )
        return session

    def start_run(self, run: Run) -> int:
        """Record the start of a run; the second and later are retests."""
        self.run_number += 1
        self.run = run
        if self.run_number > 1:
            self.sink.emit(RetestStarted(self.run_number))
        return self.run_number

    def finish_run(self, diagnosis: Diagnosis, duration_s: float) -> None:
        if diagnosis.verdict == "incomplete":
            return  # a run cut short is no "after": comparisons use finished runs only
        ids = tuple(f.id for f in diagnosis.findings)
        self.history.append(RunRecord(self.run_number, diagnosis.verdict, duration_s, ids))

    @property
    def previous_verdict(self) -> str | None:
        """The verdict of the run before the last finished one, if any."""
        return self.history[-2].verdict if len(self.history) >= 2 else None

    def changes(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Finding ids (gone, new) between the last two finished runs."""
        if len(self.history) < 2:
            return (), ()
        before, after = self.history[-2].finding_ids, self.history[-1].finding_ids
        return (
            tuple(i for i in before if i not in after),
            tuple(i for i in after if i not in before),
        )

    def mark_step(self, finding_id: str, index: int, state: StepState) -> StepState:
        key = (finding_id, index)
        if self.steps.get(key, StepState.TODO) == state:
            state = StepState.TODO  # pressing the same mark again clears it
        self.steps[key] = state
        self.sink.emit(StepMarked(finding_id, index, state))
        return state

    def step_state(self, finding_id: str, index: int) -> StepState:
        return self.steps.get((finding_id, index), StepState.TODO)

    def add_note(self, finding_id: str, text: str) -> NoteAdded:
        note = NoteAdded(finding_id, self.redactor.text(text))
        self.notes.append(note)
        self.sink.emit(note)
        return note
