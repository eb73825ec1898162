"""Session events: what a run does and what the person does.

The runner (:mod:`probes.run.runner`) emits the run's events (a probe reported, the
diagnosis changed, the evidence asked for a probe, the run finished).  The faces add
the person's when they mark a step, type a note or ask for a retest.  A journal (or any other recorder) implements
:class:`EventSink` and receives both kinds, so the TUI, ``check`` and reports
share one record of a session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from probes.core.model import Diagnosis, ProbeResult


class StepState(enum.StrEnum):
    TODO = "todo"
    DONE = "done"
    DID_NOT_HELP = "did_not_help"


@dataclass(frozen=True, slots=True)
class StepMarked:
    finding_id: str
    step_index: int
    state: StepState


@dataclass(frozen=True, slots=True)
class NoteAdded:
    finding_id: str  # "" for a note about the whole session
    text: str


@dataclass(frozen=True, slots=True)
class RetestStarted:
    run_number: int  # 1 for the first run, 2 for the first retest...


class EventSink(Protocol):
    def emit(self, event: object) -> None: ...


class NullSink:
    def emit(self, event: object) -> None:
        pass


# -- the run's events ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One probe of a run and the reason it runs."""

    probe: str
    reason: str
    trigger: str = ""  # "" in the first plan; else the probe whose evidence asked for it
    at_s: float = 0.0  # seconds into the run when it was added


@dataclass(frozen=True, slots=True)
class ProbeUpdate:
    result: ProbeResult
    # A live run's periodic record of a probe's latest result (no change behind it):
    # what a journal may thin out when a run grows long.
    checkpoint: bool = False


@dataclass(frozen=True, slots=True)
class DiagnosisUpdate:
    diagnosis: Diagnosis


@dataclass(frozen=True, slots=True)
class RunFinished:
    diagnosis: Diagnosis
    duration_s: float
    # A live run a person ended (left, quit, retested, Ctrl-C) after every probe had
    # answered: its streaming probes were still running, the diagnosis is the live one.
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The evidence asked for another probe; it starts now."""

    step: PlanStep


@dataclass(frozen=True, slots=True)
class FindingChanged:
    """A live run's finding was raised or cleared (journaled: the story with times).

    ``window`` is how many rounds of the streaming probes the findings read when it
    changed (0 for a bounded run): loss "seen in the last 60 rounds"."""

    finding_id: str
    change: str  # raised | cleared
    severity: str
    title: str
    at_s: float  # seconds into the run
    window: int = 0
    evidence: tuple[str, ...] = ()
    first: bool = False  # already there when the evidence first answered (no news)


Event = ProbeUpdate | DiagnosisUpdate | RunFinished | FollowUp | FindingChanged
