"""Session events beyond probe results: what the person does.

The runner emits :mod:`probes.run.runner` events (probe updates, diagnosis changes,
run finished).  The faces add these when a person marks a step, types a note or
asks for a retest.  A journal (or any other recorder) implements
:class:`EventSink` and receives both kinds, so the TUI, ``check`` and reports
share one record of a session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


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
