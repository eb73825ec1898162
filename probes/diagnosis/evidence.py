"""Typed access to the latest probe results, for rules."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from probes.core.model import ProbeResult, Severity, Status
from probes.core.target import Target

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Evidence:
    target: Target
    results: Mapping[str, ProbeResult]
    symptom: str = "auto"
    # A live run's findings up at its previous diagnosis (id -> severity).  A rule
    # reading a rolling window may keep one up below the threshold that raised it
    # (hysteresis): random loss around a threshold must not raise and clear it with
    # every packet.  Empty for a bounded run.
    standing: Mapping[str, Severity] = field(default_factory=dict)

    def data(self, probe: str, kind: type[T]) -> T | None:
        """The data of *probe*'s final result when it is of type *kind*.  A probe that
        could not finish (an error: deadline, starved, crashed) gave no evidence."""
        result = self.results.get(probe)
        if result is None or not result.final or result.status is Status.ERROR:
            return None
        if not isinstance(result.data, kind):
            return None
        return result.data


def q(value: object) -> str:
    """Quote a value for a shell command shown to a person."""
    return shlex.quote(str(value))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"
