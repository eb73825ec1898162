"""Run a symptom's probe plan concurrently and stream what happens.

:class:`Run` is driven the same way by every face: iterate :meth:`Run.events`
and draw each event.  Every probe has a deadline; a probe that overruns it or
raises becomes an ``error`` result (failure is data).  Leaving the iteration
early, or cancelling the task that iterates, cancels every probe and waits for
them to unwind, so nothing is left running.

The run is the engine's secrets boundary: every result and diagnosis passes the
run's :class:`~probes.core.redact.Redactor` exactly once, as it leaves the probe
and before it is stored, diagnosed or emitted.  Journal, ``check`` output,
reports and the screen only ever receive redacted data.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from probes.core.context import ProbeConfig, ProbeContext, SystemResolver, system_resolve
from probes.core.model import Diagnosis, ProbeError, ProbeResult, Status
from probes.core.options import run_redactor
from probes.core.redact import Redactor
from probes.core.target import Target
from probes.diagnosis import diagnose
from probes.run.plans import PROBES, ProbeFn, ProbeSpec, plan_for

T = TypeVar("T")

# A probe gets the configured timeout plus this much to report what it saw.
DEADLINE_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class ProbeUpdate:
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class DiagnosisUpdate:
    diagnosis: Diagnosis


@dataclass(frozen=True, slots=True)
class RunFinished:
    diagnosis: Diagnosis
    duration_s: float


Event = ProbeUpdate | DiagnosisUpdate | RunFinished


@dataclass
class Run:
    target: Target
    symptom: str = "auto"
    config: ProbeConfig = field(default_factory=ProbeConfig)
    plan: Sequence[str] | None = None
    # Seam for tests: probe functions by name, overriding the registry.
    probe_overrides: dict[str, ProbeFn] = field(default_factory=dict)
    system_resolver: SystemResolver = system_resolve
    started_at: float = field(default_factory=time.time)
    results: dict[str, ProbeResult] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()  # what the target resolved to (system resolver)
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis((), "ok"))
    on_event: Callable[[Event], None] | None = None
    # The secrets boundary (see the module docstring); built from the target, the
    # configured headers and the environment when not given.
    redactor: Redactor | None = None

    def __post_init__(self) -> None:
        if self.redactor is None:
            self.redactor = run_redactor(self.target, self.config.headers, os.environ)

    @property
    def probe_names(self) -> tuple[str, ...]:
        return tuple(self.plan) if self.plan is not None else plan_for(self.symptom)

    async def events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        ctx = ProbeContext(self.target, self.config, self.system_resolver, self.symptom)
        queue: asyncio.Queue[ProbeResult | None] = asyncio.Queue()
        names = self.probe_names
        tasks = [
            asyncio.create_task(self._drive(name, ctx, queue), name=f"probe:{name}")
            for name in names
        ]
        pending = len(tasks)
        try:
            while pending:
                item = await queue.get()
                if item is None:
                    pending -= 1
                    continue
                item = self._redacted(item)
                self.results[item.probe] = item
                yield self._emit(ProbeUpdate(item))
                if item.final:
                    new = self._redacted(diagnose(self.target, self.results, self.symptom))
                    if new != self.diagnosis:
                        self.diagnosis = new
                        yield self._emit(DiagnosisUpdate(new))
            yield self._emit(RunFinished(self.diagnosis, time.monotonic() - started))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            resolved = ctx.resolved()
            if resolved is not None:
                self.addresses = resolved.addresses
            ctx.close()

    def _redacted(self, value: T) -> T:
        assert self.redactor is not None  # set in __post_init__
        return self.redactor.obj(value)

    def _emit(self, event: Event) -> Event:
        if self.on_event is not None:
            self.on_event(event)
        return event

    async def _drive(
        self, name: str, ctx: ProbeContext, queue: asyncio.Queue[ProbeResult | None]
    ) -> None:
        started = time.monotonic()
        deadline = probe_deadline(PROBES.get(name), self.config)
        last: ProbeResult | None = None
        try:
            fn = self.probe_overrides.get(name) or PROBES[name].load()
            async with asyncio.timeout(deadline):
                async for result in fn(ctx):
                    last = result
                    queue.put_nowait(result)
            if last is None or not last.final:
                queue.put_nowait(
                    _error(name, started, "NO_RESULT", "the probe ended without a result")
                )
        except TimeoutError:
            queue.put_nowait(
                _error(name, started, "DEADLINE", f"the probe did not finish within {deadline:g}s")
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug must not take the run down
            queue.put_nowait(_error(name, started, type(exc).__name__, f"probe crashed: {exc}"))
        finally:
            queue.put_nowait(None)


def probe_deadline(spec: ProbeSpec | None, config: ProbeConfig) -> float | None:
    """The deadline for one probe: None for a streaming probe asked to run until cancelled."""
    duration = getattr(config, spec.duration_field, None) if spec and spec.duration_field else None
    if duration is None:
        return config.timeout + DEADLINE_GRACE_S
    if duration <= 0:
        return None
    return float(duration) + config.timeout + DEADLINE_GRACE_S


def _error(name: str, started: float, code: str, text: str) -> ProbeResult:
    elapsed = time.monotonic() - started
    return ProbeResult(
        probe=name,
        status=Status.ERROR,
        duration_s=elapsed,
        summary=text,
        error=ProbeError(code, text, elapsed_s=elapsed),
    )


async def run_to_end(run: Run) -> Diagnosis:
    """Drive *run* to completion (for headless use) and return its diagnosis."""
    async for _event in run.events():
        pass
    return run.diagnosis
