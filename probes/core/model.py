"""The result model: frozen, typed dataclasses shared by every probe and face.

Failure is a value: a probe that fails returns a :class:`ProbeResult` whose
``status`` says so and whose ``error`` says how (errno name, who answered, after
how long).  JSON comes from these classes through :func:`to_jsonable`.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # the probe ran and the thing it tests does not work
    SKIPPED = "skipped"  # the probe does not apply (say why in summary)
    ERROR = "error"  # the probe itself could not run (deadline, local error)


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    OK = "ok"

    @property
    def weight(self) -> int:
        return {"error": 0, "warning": 1, "info": 2, "ok": 3}[self.value]


@dataclass(frozen=True, slots=True)
class ProbeError:
    """How a probe (or one attempt inside it) failed."""

    errno_name: str  # "ECONNREFUSED", "TIMEOUT", "NXDOMAIN"...
    explanation: str  # one sentence for a person
    answered_by: str = ""  # who sent the failure (a router's address, a resolver)
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One snapshot of a probe run.  Streaming probes emit several; the last is final."""

    probe: str
    status: Status
    duration_s: float
    summary: str
    data: Any = None  # a frozen dataclass owned by the probe module
    error: ProbeError | None = None
    final: bool = True


@dataclass(frozen=True, slots=True)
class NextStep:
    text: str
    command: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # stable "layer.name" from DESIGN.md
    severity: Severity
    title: str
    evidence: tuple[str, ...] = ()
    next_steps: tuple[NextStep, ...] = ()
    # Lower is closer to the root cause; set by the ranking, not by rules.
    rank: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    verdict: str  # id of the most likely root cause, or "ok"

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from dataclasses, enums, tuples and addresses."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not f.repr:  # fields hidden from repr hold secrets
                continue
            out[f.name] = to_jsonable(getattr(value, f.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, float):
        return round(value, 6)
    return value
