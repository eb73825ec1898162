"""Screen 3: live probe panels, findings, and the guided-steps checklist.

The plan runs in one exclusive worker.  Probe results arrive as messages and
are only stored; a timer repaints the panels whose result changed a few times
a second (never one repaint per packet).  Leaving the screen or quitting
cancels the worker, and the runner cancels every probe with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Iterator
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.worker import Worker, WorkerState

from probes.core.events import FindingChanged
from probes.core.live import LiveControl
from probes.core.model import Diagnosis, Finding, ProbeResult
from probes.proto.burst import DEFAULT_BURST
from probes.record.session import INCOMPLETE
from probes.run.live import answered
from probes.run.plans import SYMPTOMS
from probes.run.remote_plan import with_remote
from probes.run.runner import DiagnosisUpdate, FollowUp, ProbeUpdate, Run, RunFinished
from tui.host import NetmedicHost, host
from tui.live_status import live_config, live_status
from tui.messages import (
    DiagnosisChanged,
    FindingMoved,
    ProbeAdded,
    ProbeResultArrived,
    RunCompleted,
)
from tui.session import RestoredRun, Session
from tui.tight import tighten
from tui.widgets.evidence import EvidenceView
from tui.widgets.findings import FindingsList
from tui.widgets.modals import CopyScreen, NoteScreen
from tui.widgets.panels import make_panel
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain
from tui.widgets.quiet import update_quietly
from tui.widgets.steps import StepsChecklist
from tui.widgets.verdict import VerdictBanner

MAX_CLEARED_SHOWN = 20
NARROW_BELOW = 100  # columns: below this, probes and findings share the screen in turns
REPAINT_INTERVAL_S = 0.25
EVIDENCE_EVERY_S = 3.0  # a live finding's evidence (its figures move every round): repaint period


class Body(Horizontal):
    """Probes beside findings; reports its width so the screen can go narrow."""

    def on_resize(self, event: events.Resize) -> None:
        screen = self.screen
        if isinstance(screen, DiagnosisScreen):
            screen.apply_width(event.size.width)


class DiagnosisScreen(Screen[None]):
    LIVE_REPAINT_S = 1.0  # a live panel and the status line: at most one repaint per this
    HELP = """\
## Diagnosis
Probe panels fill in as the plan runs; the findings list the likely root cause
first.  Pick a finding, then walk its next steps.

- **tab** / **shift+tab** move between panels, findings, evidence and steps,
- **z** zooms the focused part to the whole screen (**z** or **escape** again: back),
- **n** adds a note to the selected finding (from anywhere on this screen),
- **r** retests (runs the plan again and shows what changed),
- **e** exports the report (Markdown; HTML and JSON are in the command palette),
- **p** pauses the live probes (ping, trace, connections), **p** again resumes,
- **b** opens many connections at once (when connections are sampled): where does
  the service start refusing?  The burst gets a panel; its limit is a finding.
- **v** switches probes/findings on a narrow terminal,
- **escape** goes back to the symptoms, **q** quits,
- **ctrl+p** opens the command palette (export as HTML or JSON, theme, ...).
"""
    # 80 columns: the footer holds the steps' keys, these but n, b and z, quit and help;
    # every key is in the F1 help and the command palette.
    BINDINGS = [
        Binding("r", "retest", "Retest", id="diag.retest", tooltip="Run the probes again"),
        Binding(
            "e",
            "export",
            "Export",
            id="diag.export",
            tooltip="Write the report (config.toml's format)",
        ),
        Binding(
            "n",
            "note",
            "Note",
            id="diag.note",
            tooltip="Add a note to the selected finding",
            show=False,
        ),
        Binding("p", "pause", "Pause", id="diag.pause", tooltip="Pause the live probes"),
        Binding("p", "resume", "Resume", id="diag.resume", tooltip="Resume the live probes"),
        Binding(
            "b",
            "burst",
            "Burst",
            id="diag.burst",
            tooltip=f"Open {DEFAULT_BURST} connections at once: where does the service refuse?",
            show=False,
        ),
        Binding("v", "toggle_view", "View", id="diag.view", tooltip="Probes or findings"),
        Binding(
            "z",
            "zoom",
            "Zoom",
            id="diag.zoom",
            tooltip="Focused part full screen, or back",
            show=False,
        ),
        Binding("escape", "back", "Back", id="diag.back", tooltip="Back to the symptoms"),
    ]

    def __init__(self, session: Session, plan: tuple[str, ...] | None = None) -> None:
        super().__init__(id="diagnosis")
        tighten(self)  # a live screen over SSH: write the changed cells only
        self.session = session
        self.plan = plan  # a resumed session keeps the plan it was journaled with
        self.diagnosis = Diagnosis((), "ok")
        self.finished = False
        self._pending: dict[str, ProbeResult] = {}
        # Probes of the current run that answered: a final result, or a live probe's
        # first result (it keeps running, but it has answered).
        self._answered: set[str] = set()
        self._view_chosen = False  # the person pressed v during this run: leave the view be
        self._panels: dict[str, ProbePanel] = {}
        self._live: LiveControl | None = None  # the current run's pause switch
        self._run_wall = time.time()  # when the current run started (for "cleared at")
        self._status = ""
        self._evidence_of = ""  # the finding whose evidence is shown
        self._evidence_at = -1e9  # when it was last drawn (monotonic)
        self._evidence_due = False  # a live re-diagnosis moved it since
        self._painted: dict[str, float] = {}  # panel -> when its live result was last drawn
        self._status_at = -1e9
        self._run: Run | None = None  # the current run (the burst key asks it for a probe)

    @property
    def netmedic(self) -> NetmedicHost:
        return host(self.app)

    # ---- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._target_line(), id="target-line", markup=False)
        yield Static("", id="live-status", markup=False, classes="-empty")
        yield VerdictBanner()
        if self.session.error is not None:
            yield Static("", id="app-said", markup=False)
        with Body(id="body"):
            with VerticalScroll(id="probes"):
                for name in self._plan():
                    panel = make_panel(name)
                    self._panels[name] = panel
                    yield panel
            with Vertical(id="side"):
                yield FindingsList()
                with EvidenceView():
                    yield Static("", id="evidence", markup=False)
                yield StepsChecklist()
        # 80 columns hold the focused part's keys, this screen's, quit and help; the
        # command palette (ctrl+p) is named in the F1 help instead.
        yield Footer(compact=True, show_command_palette=False)

    def _plan(self) -> tuple[str, ...]:
        if self.plan:
            return self.plan
        first = self.netmedic.first_plan(self.session.target, self.session.symptom)
        return with_remote(first, self.session.config)  # --server / --from: their panels

    def _target_line(self) -> Text:
        """Target, symptom, run: at 80 columns the symptom stays whole; the resolved
        address goes first, then the target is cut in its middle."""
        target = self.session.target
        label = next(s.label for s in SYMPTOMS if s.id == self.session.symptom)
        tail = Text(f"  · {label}")
        if self.session.run_number:
            tail.append(f" · run {self.session.run_number}")
        if self.session.restored is not None:
            tail.append(" · resumed", style="italic")
        if not self.netmedic.privileged:
            tail.append(" · unprivileged", style="italic")
        room = (self.size.width or self.app.size.width or 80) - 2 - len("netmedic ") - len(tail)
        shown = plain(target.input)
        resolved = f" → {target.host_port}" if target.input != target.host_port else ""
        if len(shown) + len(resolved) <= room:
            shown.append_text(plain(resolved, "dim"))
        elif len(shown) > room:
            keep = max(8, room - 1)
            cut = target.input[: keep // 2] + "…" + target.input[len(target.input) - keep // 2 :]
            shown = plain(cut)
        text = Text()
        text.append("netmedic ", style="bold")
        text.append_text(shown)
        text.append_text(tail)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def on_mount(self) -> None:
        self.apply_width(self.size.width or self.app.size.width)
        self.set_interval(REPAINT_INTERVAL_S, self._flush)
        self.query_one(StepsChecklist).focus()
        if self.session.restored is not None:
            self._show_restored()
        else:
            self.start_run()

    def on_unmount(self) -> None:
        self._stop_live()
        if self.session.journal is not None:  # the thread writes what is queued, then ends
            self.session.journal.close(wait=False)

    def _show_restored(self) -> None:
        """A resumed session: the last run's evidence and verdict, as journaled.
        A run cut short is told as incomplete, with the findings of the last run that
        finished (where the marks and notes were made) or the partial ones."""
        restored = self.session.restored
        assert restored is not None
        self.query_one(StepsChecklist).recorded = True  # until a retest derives them again
        cut = not restored.finished
        for name, panel in self._panels.items():
            result = restored.results.get(name)
            if result is not None:
                panel.show_result(result, cut_short=cut)
            elif cut:
                panel.show_not_finished()
        self.finished = True
        if cut:
            self._show_incomplete(restored)
        else:
            self._show_diagnosis(restored.diagnosis, "Resumed: press r to retest")
        if restored.focus:  # where the person left off
            findings = self.query_one(FindingsList)
            findings.highlight_id(restored.focus)
            self._show_finding(findings.highlighted_finding)
        self.notify(
            f"Session {restored.session_id} from {_local_time(restored.started_at)}: "
            "evidence, findings, checklist and notes restored.",
            title="Resumed",
            markup=False,
        )

    def _show_incomplete(self, restored: RestoredRun) -> None:
        diagnosis = restored.diagnosis
        if restored.findings_partial:
            source = f"the findings below are partial (run {restored.findings_run})"
            so_far = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
        elif restored.findings_run:
            source = (
                f"the findings below are from run {restored.findings_run}, the last that finished"
            )
            so_far = None
        else:
            source = "no finding yet"
            so_far = None
        self.diagnosis = diagnosis
        self.query_one(VerdictBanner).show_incomplete(
            restored.verdict_text,
            f"run {restored.cut_run} was cut short; {source}",
            so_far,
            "Resumed: press r to run the plan again",
        )
        findings = self.query_one(FindingsList)
        findings.partial = restored.findings_partial
        findings.show(diagnosis)
        self._show_finding(findings.highlighted_finding)
        self._show_said(Diagnosis((), INCOMPLETE))

    def on_resize(self) -> None:
        self.query_one("#target-line", Static).update(self._target_line())

    def apply_width(self, width: int) -> None:
        """Below NARROW_BELOW columns for the body (help panel open, small terminal),
        probes and findings take the body in turns."""
        narrow = width < NARROW_BELOW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Both views are on screen when wide: hide the key there.
        if action == "toggle_view":
            return self.has_class("-narrow")
        if action == "burst":
            return "connections" in self._panels and not self.finished
        # One p key: "Pause" while live probes run, "Resume" while they are paused.
        if action in ("pause", "resume"):
            live = self._live
            if live is None or self.finished:
                return False
            return live.paused == (action == "resume")
        return True

    def action_toggle_view(self) -> None:
        self._view_chosen = True
        self.toggle_class("-show-probes")
        if self.has_class("-show-probes") and self.has_class("-narrow"):
            first = next(iter(self._panels.values()), None)
            if first is not None:
                first.focus()
        else:
            self.query_one(StepsChecklist).focus()

    # ---- running --------------------------------------------------------------------
    def start_run(self) -> None:
        app = self.netmedic
        self.query_one(StepsChecklist).recorded = False  # this run derives its own steps
        follow = app.follows_evidence(self.session.symptom)
        self._live = LiveControl(app.pace_clock) if app.live else None
        run = Run(
            self.session.target,
            self.session.symptom,
            live_config(self.session.config, app.live_pace) if app.live else self.session.config,
            # The planner decides (and says why) unless the plan is fixed: resumed or a test's.
            plan=None if follow and self.plan is None else self._plan(),
            follow_evidence=follow,
            probe_overrides=dict(app.probe_overrides),
            on_event=self.session.sink.emit,
            redactor=self.session.redactor,
            live=self._live,
        )
        self._run_wall = time.time()
        self._run = run
        number = self.session.start_run(run)
        self.finished = False
        self._view_chosen = False
        self.add_class("-show-probes")  # narrow: watch the probes while they run
        self._answered = set()
        self.query_one(FindingsList).partial = False
        self.started_at = app.clock()
        self.query_one(VerdictBanner).show_running(number, self._last_verdict(), self._progress())
        self._show_said(Diagnosis((), INCOMPLETE))
        self.query_one("#target-line", Static).update(self._target_line())
        self.run_probes(run, number)

    def _progress(self) -> tuple[int, int]:
        """(probes with a final result, probes of the run) for the current run."""
        planned = len(dict.fromkeys([*self._plan(), *self._panels, *self._answered]))
        return len(self._answered), planned

    def _last_verdict(self) -> str | None:
        return self.session.history[-1].verdict if self.session.history else None

    @work(exclusive=True, group="probes", exit_on_error=False)
    async def run_probes(self, run: Run, number: int) -> None:
        async for event in run.events():
            if isinstance(event, ProbeUpdate):
                self.post_message(ProbeResultArrived(number, event.result))
            elif isinstance(event, DiagnosisUpdate):
                self.post_message(DiagnosisChanged(number, event.diagnosis))
            elif isinstance(event, FollowUp):
                self.post_message(ProbeAdded(number, event.step))
            elif isinstance(event, FindingChanged):
                self.post_message(FindingMoved(number, event))
            elif isinstance(event, RunFinished):
                duration = self.netmedic.clock() - self.started_at
                self.post_message(RunCompleted(number, event.diagnosis, duration))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._live = None  # nothing left to pause
            self.refresh_bindings()
            self.netmedic.show_error(event.worker.error)
            self.query_one(VerdictBanner).show_failed(event.worker.error)

    def on_probe_result_arrived(self, message: ProbeResultArrived) -> None:
        if message.run_number == self.session.run_number:
            name = message.result.probe
            self._pending[name] = message.result
            if answered(message.result) and name not in self._answered:
                self._answered.add(name)  # final, or a live probe's first result
                if not self.finished:  # the banner's "N of M probes finished" moved
                    self._show_banner(self.diagnosis)

    def on_probe_added(self, message: ProbeAdded) -> None:
        name = message.step.probe
        if message.run_number != self.session.run_number or name in self._panels:
            return
        panel = make_panel(name)
        panel.tooltip = f"added: {message.step.reason}"
        self._panels[name] = panel
        self.query_one("#probes", VerticalScroll).mount(panel)

    def on_finding_moved(self, message: FindingMoved) -> None:
        if message.run_number != self.session.run_number:
            return
        change = message.change
        when = _clock_time(self._run_wall + change.at_s)
        if change.change == "cleared":
            line = f"{change.finding_id} cleared at {when}: {change.title}"
            findings = self.query_one(FindingsList)
            findings.cleared = (*findings.cleared, line)[-MAX_CLEARED_SHOWN:]
            findings.show(self.diagnosis)
            self.notify(line, title="Cleared", markup=False)
        elif not change.first:
            self.notify(
                f"{change.finding_id} raised at {when}: {change.title}",
                title="Raised",
                severity="warning",
                markup=False,
            )

    def on_diagnosis_changed(self, message: DiagnosisChanged) -> None:
        if message.run_number == self.session.run_number:
            self._show_diagnosis(message.diagnosis)

    def on_run_completed(self, message: RunCompleted) -> None:
        if message.run_number != self.session.run_number:
            return
        self.finished = True
        self._flush()
        self._show_findings_view()
        self.session.finish_run(message.diagnosis, message.duration_s)
        self._show_diagnosis(message.diagnosis)
        moved = self.session.previous_verdict
        if moved is not None and moved != message.diagnosis.verdict:
            self.notify(
                f"verdict moved {moved} → {message.diagnosis.verdict}", title="Retest", markup=False
            )

    def _flush(self) -> None:
        """Repaint the panels whose result changed since the last repaint.  A live
        (streaming) result repaints its panel at most once per LIVE_REPAINT_S: a trace
        round reports hop by hop, and one repaint per hop rewrites each hop row several
        times a round.  Final results repaint at once."""
        now = time.monotonic()
        pending, self._pending = self._pending, {}
        final = False
        for name, result in pending.items():
            panel = self._panels.get(name)
            if panel is None:
                continue
            if not result.final and now - self._painted.get(name, -1e9) < self.LIVE_REPAINT_S:
                self._pending[name] = result  # the next tick after the interval shows it
                continue
            panel.show_result(result)
            self._painted[name] = now
            final = final or result.final
        if final or self.finished or now - self._status_at >= self.LIVE_REPAINT_S:
            self._status_at = now
            self._show_status()
        if self._evidence_due and now - self._evidence_at >= EVIDENCE_EVERY_S:
            self._show_finding(self.query_one(FindingsList).highlighted_finding)

    def _show_status(self) -> None:
        """What is running and what has answered; never "live" when nothing answered."""
        results = {n: p.result for n, p in self._panels.items() if p.result is not None}
        text = live_status(results, self._live, self.finished)
        if text != self._status:
            self._status = text
            status = self.query_one("#live-status", Static)
            status.set_class(not text, "-empty")
            update_quietly(status, Text(text, no_wrap=True, overflow="ellipsis"))

    def _show_findings_view(self) -> None:
        """Narrow: the findings, now that there are some (unless the person chose)."""
        if not self._view_chosen and self.has_class("-show-probes"):
            self.remove_class("-show-probes")
            if self.has_class("-narrow") and isinstance(self.focused, ProbePanel):
                self.query_one(StepsChecklist).focus()

    def _show_diagnosis(self, diagnosis: Diagnosis, footnote: str = "") -> None:
        self.diagnosis = diagnosis
        done, planned = self._progress()
        if not self.finished and diagnosis.findings and done >= planned:
            # A live run never ends by itself (loopback-only keeps sampling the
            # sockets): once every probe has answered, its findings are the news.
            self._show_findings_view()
        findings = self.query_one(FindingsList)
        findings.partial = self._show_banner(diagnosis, footnote) or findings.partial
        findings.show(diagnosis)
        self._show_finding(findings.highlighted_finding, live=not self.finished)
        self._show_said(diagnosis)

    def _show_banner(self, diagnosis: Diagnosis, footnote: str = "") -> bool:
        """The verdict banner; True when it tells a run cut short (the findings are partial)."""
        session = self.session
        banner = self.query_one(VerdictBanner)
        if self.finished and diagnosis.verdict == INCOMPLETE:
            done, planned = self._progress()
            banner.show_incomplete(
                f"{INCOMPLETE} ({done} of {planned} probes finished)",
                "the run was cut short; the findings below are partial",
                footnote="press r to run the plan again",
            )
            return True
        banner.show_verdict(
            diagnosis,
            self.finished,
            session.run_number,
            session.previous_verdict if self.finished else None,
            session.changes() if self.finished else ((), ()),
            footnote,
            progress=None if self.finished else self._progress(),
        )
        return False

    def _show_said(self, diagnosis: Diagnosis) -> None:
        """``your app said: ...; netmedic sees: ...`` — the error tied to the verdict."""
        error = self.session.error
        if error is None:
            return
        verdict = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
        if verdict is not None:
            seen = verdict.title + ("" if self.finished else " (still probing)")
        elif not self.finished:
            seen = "still probing…"
        elif diagnosis.verdict == INCOMPLETE:
            seen = "an incomplete run: the verdict so far is not an answer"
        else:
            seen = "no problem found: every probe passed"
        # Two lines, each cut to the width: at 80 columns the verdict must stay in view.
        text = Text("your app said: ", style="bold")
        width = max(20, (self.size.width or self.app.size.width) - 18)
        text.append_text(plain(error.said_within(width), "italic"))
        text.append(";\nnetmedic sees: ", style="bold")
        text.append_text(plain(seen))
        update_quietly(self.query_one("#app-said", Static), text)

    # ---- findings and steps ---------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#findings")
    def _finding_highlighted(self) -> None:
        # A rebuilt list highlights the same finding again: that is a live re-diagnosis,
        # paced like one; moving to another finding shows it at once.
        self._show_finding(self.query_one(FindingsList).highlighted_finding, live=not self.finished)

    @on(OptionList.OptionSelected, "#findings")
    def _finding_selected(self) -> None:
        self.query_one(StepsChecklist).focus()

    def _show_finding(self, finding: Finding | None, live: bool = False) -> None:
        """Show *finding*'s evidence and steps.  A *live* re-diagnosis of the finding
        already shown repaints them at most once per EVIDENCE_EVERY_S (the timer shows
        the latest): its figures move every round, and the panels show them live."""
        now = time.monotonic()
        same = finding is not None and finding.id == self._evidence_of
        if live and same and now - self._evidence_at < EVIDENCE_EVERY_S:
            self._evidence_due = True
            return
        self._evidence_at, self._evidence_due = now, False
        evidence = self.query_one("#evidence", Static)
        steps = self.query_one(StepsChecklist)
        if finding is None:
            self._evidence_of = ""
            update_quietly(
                evidence, Text("No findings yet." if not self.finished else "Nothing wrong found.")
            )
            steps.show(None, [])
            return
        text = Text()
        for line in finding.evidence:
            text.append("• " if not text else "\n• ")
            text.append_text(plain(line))
        notes = [n.text for n in self.session.notes if n.finding_id == finding.id]
        for note in notes:
            text.append("\n✎ " if text else "✎ ", style="italic")
            text.append_text(plain(note, "italic"))
        # The same finding, live: keep the evidence's height (no relayout per round).
        update_quietly(evidence, text, keep_height=finding.id == self._evidence_of)
        self._evidence_of = finding.id
        states = [self.session.step_state(finding.id, i) for i in range(len(finding.next_steps))]
        steps.show(finding, states)

    @on(StepsChecklist.Marked)
    def _marked(self, event: StepsChecklist.Marked) -> None:
        finding = event.checklist.finding
        if finding is not None:
            state = self.session.mark_step(finding.id, event.index, event.state)
            event.checklist.set_state(event.index, state)

    @on(StepsChecklist.CopyRequested)
    def _copy(self, event: StepsChecklist.CopyRequested) -> None:
        self.app.copy_to_clipboard(event.command)
        self.app.push_screen(CopyScreen(event.command, blink=self.netmedic.blink))

    def action_note(self) -> None:
        """A note on the selected finding, whatever has focus; the text goes to the
        note dialog's field, never to this screen's keys."""
        finding = self.query_one(FindingsList).highlighted_finding
        if finding is None:
            self.notify("No finding to note yet: wait for the first findings.", markup=False)
            return

        def save(text: str | None) -> None:
            if text:
                self.session.add_note(finding.id, text)
                self._show_finding(self.query_one(FindingsList).highlighted_finding)
                self.notify("Note added.")

        self.app.push_screen(NoteScreen(finding.id, blink=self.netmedic.blink), save)

    # ---- actions ------------------------------------------------------------------------
    def action_pause(self) -> None:
        if self._live is not None:
            self._live.pause()
            self.refresh_bindings()
            self._show_status()

    def action_resume(self) -> None:
        if self._live is not None:
            self._live.resume()
            self.refresh_bindings()
            self._show_status()

    def action_burst(self) -> None:
        """Ask the live run for a burst: it runs as a probe (a panel, journaled) and
        the limit it finds is a finding like any other."""
        run = self._run
        reason = f"asked for: {DEFAULT_BURST} connections at once (b)"
        if run is None or self.finished or not run.request("burst", reason):
            running = "burst" in self._panels and "burst" not in self._answered
            self.notify(
                "A burst is running: wait for its panel to finish."
                if running
                else "No live run to ask: press r to run the probes again.",
                markup=False,
            )
            return
        self._answered.discard("burst")

    def action_retest(self) -> None:
        self._stop_live()
        self.start_run()

    def _stop_live(self) -> None:
        """The person ends the live run (retest, back, quit): when every probe had
        answered it is recorded as finished, stopped (Run.stop), not as cut short."""
        run = self._run
        if run is None or self.finished:
            return
        event = run.stop()
        if event is not None:
            self.finished = True
            self.session.finish_run(event.diagnosis, event.duration_s)

    def action_export(self, fmt: str = "") -> None:
        fmt = fmt or self.netmedic.prefs.export_format
        self.run_worker(self._export(fmt), group="export", exit_on_error=False)

    async def _export(self, fmt: str) -> None:
        try:  # waits for the journal thread and writes a file: off the event loop
            path = await asyncio.to_thread(self.netmedic.export, self.session, fmt)
        except Exception as exc:
            self.netmedic.show_error(exc)
            return
        self.last_export: Path = path
        self.notify(f"Report written to {path}", title="Export", markup=False)

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is None or not self.maximize(self.focused, container=False):
            self.notify("Nothing to zoom here: tab to a panel, the findings or the steps.")

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        self.app.pop_screen()

    def palette_nodes(self) -> tuple[StepsChecklist, ...]:
        """The steps' keys (done, didn't help, copy) are in the palette wherever the focus is."""
        return (self.query_one(StepsChecklist),)

    def palette_commands(self) -> Iterator[SystemCommand]:
        """What no key does: the report in the other formats."""
        for fmt, label in (("md", "markdown"), ("html", "html"), ("json", "json")):
            yield SystemCommand(
                f"Export as {label}",
                f"Write the session report as {label}",
                functools.partial(self.action_export, fmt),
            )


def _clock_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def _local_time(iso: str) -> str:
    """An ISO timestamp from the journal, in this machine's time zone."""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    except ValueError:
        return "an earlier run"
