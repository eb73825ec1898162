"""App-level messages: engine events wrapped for the Textual message queue."""

from __future__ import annotations

from textual.message import Message

from probes.core.events import FindingChanged, PlanStep
from probes.core.model import Diagnosis, ProbeResult


class ProbeResultArrived(Message):
    """A probe reported (streaming probes report several times)."""

    def __init__(self, run_number: int, result: ProbeResult) -> None:
        super().__init__()
        self.run_number = run_number
        self.result = result


class ProbeAdded(Message):
    """The evidence asked for another probe: it needs a panel."""

    def __init__(self, run_number: int, step: PlanStep) -> None:
        super().__init__()
        self.run_number = run_number
        self.step = step


class DiagnosisChanged(Message):
    def __init__(self, run_number: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.run_number = run_number
        self.diagnosis = diagnosis


class RunCompleted(Message):
    def __init__(self, run_number: int, diagnosis: Diagnosis, duration_s: float) -> None:
        super().__init__()
        self.run_number = run_number
        self.diagnosis = diagnosis
        self.duration_s = duration_s


class FindingMoved(Message):
    """A live run raised or cleared a finding."""

    def __init__(self, run_number: int, change: FindingChanged) -> None:
        super().__init__()
        self.run_number = run_number
        self.change = change
