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
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from probes.core.context import ProbeConfig, ProbeContext, SystemResolver, system_resolve
from probes.core.deadline import STARVED, StarvedWaits, probe_clock
from probes.core.events import (
    DiagnosisUpdate,
    Event,
    FindingChanged,
    FollowUp,
    PlanStep,
    ProbeUpdate,
    RunFinished,
)
from probes.core.live import LiveControl
from probes.core.model import Diagnosis, ProbeError, ProbeResult, Severity, Status
from probes.core.options import run_redactor
from probes.core.redact import Redactor
from probes.core.target import Target
from probes.diagnosis import diagnose
from probes.diagnosis.coverage import CUT_SHORT, verdict_settled
from probes.diagnosis.ranking import INCOMPLETE
from probes.run.live import (
    CHECKPOINT_EVERY_S,
    DIAGNOSE_EVERY_S,
    FindingTimeline,
    answered,
    window_of,
    windowed,
)
from probes.run.planner import follow_ups, heard_protocol, initial_plan, next_check_s
from probes.run.plans import PROBES, ProbeFn, ProbeSpec, plan_for
from probes.run.remote_plan import remote_steps
from probes.run.starvation import UNCOMPENSATED_S, StarvationClock, starved_result

T = TypeVar("T")

# The run's events live in probes.core.events (records read them without the runner).
__all__ = [
    "DiagnosisUpdate",
    "Event",
    "FindingChanged",
    "FollowUp",
    "ProbeUpdate",
    "Run",
    "RunFinished",
    "probe_deadline",
    "run_to_end",
]

# A probe gets the configured timeout plus this much to report what it saw.
DEADLINE_GRACE_S = 1.0
# A bounded run ends this long after its timeout (plus any duration asked for, like
# --hold) whatever its follow-ups: what has not answered by then is told as unfinished.
RUN_MARGIN_S = 1.0
# However the evidence reads, no probe runs more often than this in one run.
MAX_RUNS_PER_PROBE = 2
# Follow-ups that fit in what is left of the run's time (headless), and the least
# time any of them gets.
FIT_TO_RUN_TIME = frozenset({"ping", "trace", "mtu", "identify"})
MIN_FOLLOW_UP_S = 1.0
# A follow-up ends this long before the bounded run's limit, and is not started with
# less room than MIN_FOLLOW_UP_ROOM_S: it could only be cut.
FOLLOW_UP_MARGIN_S = 0.1
MIN_FOLLOW_UP_ROOM_S = 0.3
# How a live run's periodic record of a probe is told to the journal.
CHECKPOINT = "checkpoint"
# The trigger of a probe a person asked for in a live run (Run.request).
ASKED_BY_PERSON = "person"
# A starved process (no CPU for its ready work) gets its deadlines extended by the
# time it waited, up to this many times the configured timeout.
STARVED_GRACE = 1.0


@dataclass
class Run:
    target: Target
    symptom: str = "auto"
    config: ProbeConfig = field(default_factory=ProbeConfig)
    # An explicit list of probes (tests, a face's own plan); None: the planner decides
    # from the symptom, the target and the environment.
    plan: Sequence[str] | None = None
    # Seam for tests: probe functions by name, overriding the registry.
    probe_overrides: dict[str, ProbeFn] = field(default_factory=dict)
    system_resolver: SystemResolver = system_resolve
    started_at: float = field(default_factory=time.time)
    results: dict[str, ProbeResult] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()  # what the target resolved to (system resolver)
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis((), INCOMPLETE))
    on_event: Callable[[Event], None] | None = None
    # The secrets boundary (see the module docstring); built from the target, the
    # configured headers and the environment when not given.
    redactor: Redactor | None = None
    # Start the probes the evidence asks for (default: only when the planner chose the
    # first probes; an explicit plan runs as given).
    follow_evidence: bool | None = None
    # Headless: stop probes that can no longer change the verdict (see coverage).
    settle: bool = False
    steps: list[PlanStep] = field(default_factory=list)  # every probe of the run, and why
    _clock: StarvationClock = field(
        default_factory=lambda: StarvationClock(0.0), init=False, repr=False
    )
    cut_short: dict[str, str] = field(default_factory=dict)  # probe -> why it was stopped
    # A live run (probes/run/live.py): streaming probes run until cancelled, paused
    # and paced by this control; findings read their rolling windows and are raised
    # and cleared as the evidence moves.  None: a bounded run (``check``).
    live: LiveControl | None = None
    timeline: FindingTimeline = field(default_factory=FindingTimeline)
    _live_marks: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _unjournaled: dict[str, ProbeResult] = field(default_factory=dict, init=False, repr=False)
    # While events() runs: where results and requested probes arrive, and what runs.
    _inbox: asyncio.Queue[ProbeResult | PlanStep | str] | None = field(
        default=None, init=False, repr=False
    )
    _running: set[str] = field(default_factory=set, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)  # its end is recorded
    _started_s: float = field(default=0.0, init=False, repr=False)  # monotonic
    # Every (probe, reason) a follow-up was planned for: each is planned at most once.
    _asked: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    _limit_s: float | None = field(default=None, init=False, repr=False)  # the bound

    def __post_init__(self) -> None:
        if self.redactor is None:
            self.redactor = run_redactor(self.target, self.config.headers, os.environ)
        if self.follow_evidence is None:
            self.follow_evidence = self.plan is None
        if not self.steps:
            self.steps = self._first_steps()

    def _first_steps(self) -> list[PlanStep]:
        if self.plan is not None:
            first = [PlanStep(name, "asked for") for name in dict.fromkeys(self.plan)]
            named = {step.probe for step in first}
            return [*first, *(s for s in remote_steps(self.config) if s.probe not in named)]
        first = initial_plan(
            plan_for(self.symptom),
            self.symptom,
            self.target,
            self._env(),
            self._known(),
            live=self.live is not None,
        )
        return [*first, *remote_steps(self.config)]

    def _env(self) -> Mapping[str, str]:
        proxy_env = self.config.proxy_env
        return dict(proxy_env) if proxy_env is not None else os.environ

    def _known(self) -> tuple[str, ...]:
        return (*PROBES, *self.probe_overrides)

    @property
    def probe_names(self) -> tuple[str, ...]:
        """Every probe of the run so far, in the order they were planned (once each,
        though a probe that skipped before the evidence named its protocol runs again)."""
        return tuple(dict.fromkeys(step.probe for step in self.steps))

    @property
    def follow_ups(self) -> list[PlanStep]:
        return [step for step in self.steps if step.trigger]

    def stop(self) -> RunFinished | None:
        """A person ends this live run (leaves, quits, retests, Ctrl-C) and cancels the
        task iterating :meth:`events`, before or after this call.  When every probe has
        answered (a final result, or a streaming probe's first result) and the
        live diagnosis is an answer, the run is recorded once as finished — stopped —
        with that diagnosis; otherwise it stays cut short, told as incomplete."""
        if self.live is None or not self._started_s or self._stopped:
            return None
        every = all(answered(self.results.get(name)) for name in self.probe_names)
        if not every or self.diagnosis.verdict == INCOMPLETE:
            return None
        self._stopped = True
        event = RunFinished(self.diagnosis, time.monotonic() - self._started_s, stopped=True)
        self._emit(event)
        return event

    def request(self, probe: str, reason: str) -> bool:
        """Start *probe* in this running live run because a person asked (the TUI's
        burst key).  It runs like a follow-up: journaled, its result diagnosed.  False
        when the run is not live and running, the probe is unknown, or it is running."""
        inbox = self._inbox
        if self.live is None or inbox is None or probe in self._running:
            return False
        if probe not in self._known():
            return False
        self._running.add(probe)
        inbox.put_nowait(PlanStep(probe, reason, ASKED_BY_PERSON))
        return True

    async def events(self) -> AsyncIterator[Event]:
        started = self._started_s = time.monotonic()
        ctx = ProbeContext(self.target, self.config, self.system_resolver, self.symptom)
        self._clock = StarvationClock(max_extension_s=self.config.timeout * STARVED_GRACE)
        self._clock.start()
        if self.live is not None:
            ctx.go_live(self.live)
            self._live_marks = {}
            self._unjournaled = {}
        queue: asyncio.Queue[ProbeResult | PlanStep | str] = asyncio.Queue()
        self._inbox = queue
        tasks: dict[str, asyncio.Task[None]] = {}  # the latest task of each probe
        every: list[asyncio.Task[None]] = []

        def launch(step: PlanStep) -> None:
            probe_ctx = ctx if not step.trigger else self._follow_up_context(ctx, step, started)
            task = asyncio.create_task(
                self._drive(step.probe, probe_ctx, queue), name=f"probe:{step.probe}"
            )
            tasks[step.probe] = task
            every.append(task)
            self._running.add(step.probe)

        for step in self.steps:
            launch(step)
        limit = None if self.live is not None else self.time_limit_s()
        self._limit_s = limit  # fixed at the start: follow-ups never extend it
        ended = 0
        try:
            while ended < len(every):
                wake = self._next_check(started)
                left = self._time_left(started, limit)
                if left is not None and left <= 0:
                    async for event in self._out_of_time(tasks, started, limit or 0.0):
                        yield event
                    break
                if left is not None:
                    wake = left if wake is None else min(wake, left)
                try:
                    # Not wait_for: on 3.11 it returns a result that arrives with a
                    # cancel and drops the cancel, and the run goes on past its end.
                    async with asyncio.timeout(wake):
                        item = await queue.get()
                except TimeoutError:
                    item = ""  # time for the time-based follow-ups, or the run's end
                if isinstance(item, PlanStep):  # a person asked for a probe
                    step = dataclasses.replace(item, at_s=time.monotonic() - started)
                    self.steps.append(step)
                    self.results.pop(step.probe, None)
                    launch(step)
                    yield self._emit(FollowUp(step))
                    continue
                if isinstance(item, str):
                    ended += bool(item)
                    self._running.discard(item)
                else:
                    item = self._redacted(item)
                    self.results[item.probe] = item
                    record = self._journal_update(item, started)
                    yield self._emit(
                        ProbeUpdate(item, checkpoint=record == CHECKPOINT), bool(record)
                    )
                    if not item.final:
                        if self.live is not None:
                            first = self._first_answer(item)  # the verdict may be due now
                            async for event in self._live_diagnosis(tasks, started, first):
                                yield event
                        continue
                for step in self._new_follow_ups(ctx, started):
                    self.steps.append(step)
                    self.results.pop(step.probe, None)  # a rerun replaces its skip
                    yield self._emit(FollowUp(step))
                    skipped = self._too_late(step, started)
                    if skipped is None:
                        launch(step)
                    else:
                        self.results[step.probe] = skipped
                        yield self._emit(ProbeUpdate(skipped))
                if isinstance(item, str):
                    continue
                pending = [name for name in tasks if not self._finished(name)]
                if self.live is not None:
                    async for event in self._live_diagnosis(tasks, started, force=True):
                        yield event
                    if all(self._finished(name) for name in tasks):
                        break  # only probes that look again are left: they keep no run going
                    continue
                new = self._diagnose(pending)
                if self.settle and pending and verdict_settled(new, self.results, pending):
                    for name in pending:
                        tasks[name].cancel()
                        result = self._cut_short(name, new.verdict, started)
                        self.results[name] = result
                        yield self._emit(ProbeUpdate(result))
                    new = self._diagnose([])
                if new != self.diagnosis:
                    self.diagnosis = new
                    yield self._emit(DiagnosisUpdate(new))
            if not self._stopped:
                self._stopped = True  # ended by itself: nothing left to stop
                yield self._emit(RunFinished(self.diagnosis, time.monotonic() - started))
        finally:
            self._inbox = None
            self._running.clear()
            for task in every:
                task.cancel()
            await asyncio.gather(*every, return_exceptions=True)
            await self._clock.stop()
            resolved = ctx.resolved()
            if resolved is not None:
                self.addresses = resolved.addresses
            ctx.close()

    def time_limit_s(self) -> float:
        """The hard bound of a bounded run: the timeout plus :data:`RUN_MARGIN_S`, plus
        the longest duration one of its first probes was asked to take (``--hold``).
        Follow-ups never extend it."""
        deadlines = [
            probe_deadline(PROBES.get(step.probe), self.config) or 0.0 for step in self.steps
        ]
        longest = max([0.0, *deadlines]) - self.config.timeout - DEADLINE_GRACE_S
        return self.config.timeout + RUN_MARGIN_S + max(0.0, longest)

    def _time_left(self, started: float, limit: float | None) -> float | None:
        """Seconds until the run's bound (None: unbounded).  Time the process spent
        starved of CPU is added back, capped as for the probes' own deadlines."""
        if limit is None:
            return None
        # lag_s, not starved_s: right after a blocked stretch the watcher has not
        # woken yet, and its overdue tick is the starvation still to be counted.
        starved = min(self._clock.lag_s(), self._clock.max_extension_s)
        return started + limit + starved - time.monotonic()

    async def _out_of_time(
        self, tasks: Mapping[str, asyncio.Task[None]], started: float, limit: float
    ) -> AsyncIterator[Event]:
        """The run's bound has passed: every probe still running is stopped and told
        as unfinished (``DEADLINE``), and the evidence so far is diagnosed."""
        code, text = (
            "DEADLINE",
            f"the run's limit of {limit:g}s (timeout plus {RUN_MARGIN_S:g}s) was reached",
        )
        starved = self._clock.lag_s()
        granted = min(starved, self._clock.max_extension_s)
        if starved - granted >= UNCOMPENSATED_S:
            # The bound came because this process could not run, not because a peer was slow.
            code = STARVED
            text = (
                f"this process could not run for {starved:.1f} s of the run: {text} "
                f"(extended by {granted:.1f} s)"
            )
        standing = self._fault_so_far()
        followed = {step.probe for step in self.steps if step.trigger}
        for name, task in tasks.items():
            if self._finished(name):
                continue
            task.cancel()
            if standing and name in followed:
                # A follow-up asked late cannot unsay a fault the finished probes found:
                # it is cut short beside that verdict, not made the run's failure.
                why = f"the run's limit came before {name} (a follow-up) finished; {standing} stands on the finished probes"
                result = self._cut_short(name, standing, started, why)
            else:
                result = _error(name, started, code, text)
            self.results[name] = result
            yield self._emit(ProbeUpdate(result))
        new = self._diagnose([])
        if new != self.diagnosis:
            self.diagnosis = new
            yield self._emit(DiagnosisUpdate(new))

    def _fault_so_far(self) -> str:
        """The verdict of the finished probes alone when it is an error ("" otherwise)."""
        finished = {name: r for name, r in self.results.items() if r.final}
        so_far = self._redacted(diagnose(self.target, finished, self.symptom, ()))
        verdict = next((f for f in so_far.findings if f.id == so_far.verdict), None)
        return verdict.id if verdict is not None and verdict.severity is Severity.ERROR else ""

    def _finished(self, name: str) -> bool:
        result = self.results.get(name)
        return result is not None and result.final

    def _diagnose(self, pending: Sequence[str]) -> Diagnosis:
        return self._redacted(diagnose(self.target, self.results, self.symptom, pending))

    def _next_check(self, started: float) -> float | None:
        if not self.follow_evidence:
            return None
        due = next_check_s(self.results, self.probe_names)
        if due is None:
            return None
        return max(0.0, due - (time.monotonic() - started)) + 0.001

    def _new_follow_ups(self, ctx: ProbeContext, started: float) -> list[PlanStep]:
        if not self.follow_evidence:
            return []
        every_run = [step.probe for step in self.steps]  # a rerun counts twice
        fresh: list[PlanStep] = []
        for step in follow_ups(
            self.target,
            self.results,
            every_run,
            time.monotonic() - started,
            self._known(),
        ):
            # The guard behind the planner: evidence that reads the same twice (a
            # skip that asks for the probe that skipped) plans nothing new.
            key = (step.probe, step.reason)
            if key in self._asked or every_run.count(step.probe) >= MAX_RUNS_PER_PROBE:
                continue
            self._asked.add(key)
            fresh.append(step)
        protocol = heard_protocol(self.results)
        if protocol and not ctx.heard_protocol:
            ctx.heard(protocol)
        return fresh

    def _follow_up_context(self, ctx: ProbeContext, step: PlanStep, started: float) -> ProbeContext:
        """A probe added late fits in what is left of the run's time (headless), so a
        timeout-class fault still answers within the configured timeout; in a bounded
        run no follow-up is given more than the time left before the run's limit."""
        timeout = self.config.timeout
        if self.settle and step.probe in FIT_TO_RUN_TIME:
            timeout = max(MIN_FOLLOW_UP_S, timeout - (time.monotonic() - started))
        before_limit = self._follow_up_room(started)
        if before_limit is not None:
            timeout = min(timeout, before_limit)
        if timeout == self.config.timeout:
            return ctx
        return ctx.with_config(dataclasses.replace(self.config, timeout=timeout))

    def _follow_up_room(self, started: float) -> float | None:
        """Seconds a follow-up may take before the bounded run's limit (None: unbounded)."""
        left = self._time_left(started, self._limit_s)
        return None if left is None else left - FOLLOW_UP_MARGIN_S

    def _too_late(self, step: PlanStep, started: float) -> ProbeResult | None:
        """A follow-up asked with too little time left before the run's limit is not
        started: a skip that says so (and how to give it time), not a run cut short."""
        room = self._follow_up_room(started)
        if room is None or room >= MIN_FOLLOW_UP_ROOM_S:
            return None
        elapsed = time.monotonic() - started
        why = (
            f"not started: it was asked for {elapsed:.1f} s into the run, too late to finish "
            f"before the run's limit of {self._limit_s or 0.0:g} s (--timeout "
            f"{self.config.timeout:g} plus {RUN_MARGIN_S:g} s); a longer --timeout gives it time"
        )
        return ProbeResult(step.probe, Status.SKIPPED, 0.0, why)

    def _cut_short(self, name: str, verdict: str, started: float, reason: str = "") -> ProbeResult:
        reason = reason or f"the verdict {verdict} was settled; {name} could not change it"
        self.cut_short[name] = reason
        elapsed = time.monotonic() - started
        return ProbeResult(
            name,
            Status.SKIPPED,
            elapsed,
            f"cut short: {reason}",
            error=ProbeError(CUT_SHORT, reason, elapsed_s=elapsed),
        )

    def _redacted(self, value: T) -> T:
        assert self.redactor is not None  # set in __post_init__
        return self.redactor.obj(value)

    def _emit(self, event: Event, record: bool = True) -> Event:
        """Hand *event* to the sink (the journal) when *record*; the face gets all."""
        if record and self.on_event is not None:
            self.on_event(event)
        return event

    # ---- live runs ------------------------------------------------------------------
    def _journal_update(self, result: ProbeResult, started: float) -> str:
        """Bounded runs journal every update; live runs journal changes, not packets:
        a probe's first final result or its first live result, then a
        :data:`CHECKPOINT` now and then, and the latest evidence behind each change of
        the findings (:meth:`_record_evidence`).  "" when not journaled."""
        if self.live is None:
            return "update"
        now = self.live.clock.now()
        key = f"journal:{result.probe}"
        last = self._live_marks.get(key)
        first = answered(result) and last is None
        if first or (last is not None and now - last >= CHECKPOINT_EVERY_S):
            self._live_marks[key] = now
            self._unjournaled.pop(result.probe, None)
            return "first" if first else CHECKPOINT
        self._unjournaled[result.probe] = result
        return ""

    def _first_answer(self, result: ProbeResult) -> bool:
        """True the first time a live probe's result counts as its answer."""
        key = f"answered:{result.probe}"
        if key in self._live_marks or not answered(result):
            return False
        self._live_marks[key] = 0.0
        return True

    def _record_evidence(self) -> None:
        """The findings changed: journal the latest results not journaled yet, so the
        journal holds the evidence the change was read from."""
        if self.on_event is None or self.live is None:
            return
        now = self.live.clock.now()
        for name, result in self._unjournaled.items():
            self.on_event(ProbeUpdate(result))
            self._live_marks[f"journal:{name}"] = now
        self._unjournaled.clear()

    async def _live_diagnosis(
        self, tasks: Mapping[str, asyncio.Task[None]], started: float, force: bool = False
    ) -> AsyncIterator[Event]:
        """Re-diagnose the accumulated evidence (debounced, off the event loop's thread)
        and tell what changed: the diagnosis to the face, and to the journal only when
        its verdict or findings changed; each finding raised or cleared."""
        assert self.live is not None
        now = self.live.clock.now()
        if not force and now - self._live_marks.get("diagnosed", -1e18) < DIAGNOSE_EVERY_S:
            return
        self._live_marks["diagnosed"] = now
        pending = [n for n in tasks if not answered(self.results.get(n))]
        view = {name: windowed(result) for name, result in self.results.items()}
        standing = {f.id: f.severity for f in self.diagnosis.findings}
        new = self._redacted(
            await asyncio.to_thread(diagnose, self.target, view, self.symptom, pending, standing)
        )
        if new != self.diagnosis:
            shape = _shape(new) != _shape(self.diagnosis)
            self.diagnosis = new
            if shape:
                self._record_evidence()
            yield self._emit(DiagnosisUpdate(new), record=shape)
        if pending:  # a finding "cleared" before every probe answered is no story yet
            return
        at_s = time.monotonic() - started
        for change in self.timeline.update(new, at_s, window_of(self.results)):
            yield self._emit(change)

    async def _drive(
        self, name: str, ctx: ProbeContext, queue: asyncio.Queue[ProbeResult | PlanStep | str]
    ) -> None:
        started = time.monotonic()
        deadline = probe_deadline(PROBES.get(name), ctx.config)
        last: ProbeResult | None = None
        starved = StarvedWaits()
        lag_at_start = self._clock.lag_s()

        def judged(result: ProbeResult) -> ProbeResult:
            lag = self._clock.lag_s() - lag_at_start
            return starved_result(result, starved, lag, ctx.config.timeout)

        try:
            fn = self.probe_overrides.get(name) or PROBES[name].load()
            with probe_clock(self._clock, starved):
                async with self._clock.deadline(deadline):
                    async for result in fn(ctx):
                        last = result
                        queue.put_nowait(judged(result))
            if last is None or not last.final:
                queue.put_nowait(
                    _error(name, started, "NO_RESULT", "the probe ended without a result")
                )
        except TimeoutError:
            late = _error(
                name, started, "DEADLINE", f"the probe did not finish within {deadline:g}s"
            )
            queue.put_nowait(judged(late))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug must not take the run down
            queue.put_nowait(_error(name, started, type(exc).__name__, f"probe crashed: {exc}"))
        finally:
            queue.put_nowait(name)


def _shape(diagnosis: Diagnosis) -> tuple[object, ...]:
    """What a journal records of a live diagnosis: verdict and findings, not numbers."""
    return (diagnosis.verdict, tuple((f.id, f.severity) for f in diagnosis.findings))


def probe_deadline(spec: ProbeSpec | None, config: ProbeConfig) -> float | None:
    """The deadline for one probe: None for a streaming probe asked to run until cancelled."""
    duration = getattr(config, spec.duration_field, None) if spec and spec.duration_field else None
    if duration is None:
        return config.timeout + DEADLINE_GRACE_S
    if duration <= 0 and spec is not None and spec.rounds_field:
        # Asked for a number of rounds, not a time: they take rounds x interval.
        rounds = getattr(config, spec.rounds_field, 0) or 0
        duration = rounds * float(getattr(config, spec.interval_field, 0.0) or 0.0)
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


async def run_to_end(run: Run, settle: bool | None = None) -> Diagnosis:
    """Drive *run* to completion (for headless use) and return its diagnosis.

    ``settle=True`` stops probes that can no longer change the verdict."""
    if settle is not None:
        run.settle = settle
    async for _event in run.events():
        pass
    return run.diagnosis
