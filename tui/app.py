"""The netmedic Textual app: wires the screens; the screens do the work."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from probes.core.context import ProbeConfig
from probes.core.events import EventSink, NullSink
from probes.core.live import PaceClock
from probes.core.redact import Redactor
from probes.core.target import Target
from probes.run.plans import PLANS, ProbeFn, plan_for
from tui import recent
from tui.args import DEFAULT_PACE, LivePace
from tui.prefs import THEMES, Preferences
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.session import Session

if TYPE_CHECKING:
    from probes.record.journal import Journal
    from probes.record.journal_writer import JournalWriter
    from probes.record.services import ServiceCheck
    from probes.record.session import Session as SavedSession
    from probes.triage.pasted import PastedError
    from tui.demo.cases import DemoCase
    from tui.demo.servers import DemoLab
    from tui.remote import RemoteChoice

# The diagnosis screen, runner and exporter are imported when first needed, so
# the symptom picker's first frame does not pay for dnspython and the rules.


# Opens the journal of a new session: (target, symptom, plan, pasted error) -> Journal.
JournalFactory = Callable[[Target, str, tuple[str, ...], "PastedError | None"], "Journal"]


def memory_journal(
    target: Target, symptom: str, plan: tuple[str, ...], error: PastedError | None = None
) -> Journal:
    """Keep the session in memory only (tests; the default unless run_app says disk)."""
    from probes.record.journal import Journal

    return Journal.in_memory(target, symptom, plan=plan, error=error)


def disk_journal(
    target: Target, symptom: str, plan: tuple[str, ...], error: PastedError | None = None
) -> Journal:
    """A journal file under the state directory, so a dropped link loses nothing."""
    from probes.record.journal import Journal

    return Journal.create(target, symptom, plan=plan, error=error)


class _TeeSink:
    """Events to the session journal and to the sink the app was given (tests)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, event: object) -> None:
        for sink in self.sinks:
            sink.emit(event)


class NetmedicApp(App[int]):
    TITLE = "netmedic"
    CSS_PATH = ["styles/app.tcss", "styles/screens.tcss", "styles/panels.tcss"]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit netmedic (saved as it goes)"),
        # Like mtr, htop and k9s: ctrl+c quits from every screen, fields included.
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            id="app.interrupt",
            tooltip="Quit netmedic, from any screen",
            show=False,
            priority=True,
        ),
        Binding("f1", "help", "Help", id="app.help", tooltip="Every key, screen by screen"),
        # Not a priority: a text field keeps its question marks.
        Binding(
            "question_mark", "help", "Help", id="app.help_key", tooltip="Every key", show=False
        ),
        Binding(
            "f2",
            "toggle_theme",
            "Theme",
            id="app.theme",
            tooltip="Light or dark theme",
            show=False,
        ),
    ]

    def __init__(
        self,
        target: Target | None = None,
        symptom: str | None = None,
        *,
        config: ProbeConfig | None = None,
        probe_overrides: Mapping[str, ProbeFn] | None = None,
        plans: Mapping[str, Sequence[str]] | None = None,
        sink: EventSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        recent_path: Path | None = None,
        export_dir: Path | None = None,
        blink: bool = True,
        privileged: bool | None = None,
        journal_factory: JournalFactory = memory_journal,
        resume: SavedSession | None = None,
        handle_hangup: bool = False,
        demo: Sequence[DemoCase] | None = None,
        live: bool = True,
        live_pace: LivePace = DEFAULT_PACE,
        pace_clock: PaceClock | None = None,
        service: ServiceCheck | None = None,
        remote: RemoteChoice | None = None,
        prefs: Preferences | None = None,
        prefs_path: Path | None = None,
        on_hang_up: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        # What a hang-up must still clean (the demo's servers and certificates): the
        # process ends at once, past every ``with`` and ``finally``.
        self.on_hang_up = on_hang_up
        # The person's preferences; a change is written to prefs_path (None: not kept).
        self.prefs = prefs or Preferences()
        self.prefs_path = prefs_path
        self.demo_cases = tuple(demo or ())
        # `netmedic @name`: the saved service's target, and its symptom unless one is given.
        self.initial_service = service
        self.initial_target = service.target if service is not None else target
        self.initial_symptom = symptom or (service.symptom if service is not None else None)
        # `netmedic TARGET --server DEST`: the other hosts every run from here asks,
        # shown (and editable) in the target screen's field.
        self.initial_remote = remote
        self.config = config or ProbeConfig()
        self.probe_overrides = dict(probe_overrides or {})
        self.plans = dict(plans or {})
        self.sink = sink or NullSink()
        self.clock = clock
        self.recent_path = recent_path or recent.default_path()
        self.export_dir = export_dir or Path.cwd()
        self.blink = blink
        self._privileged = privileged
        self.journal_factory = journal_factory
        self.resume_from = resume
        self.handle_hangup = handle_hangup
        # The diagnosis screen keeps ping, trace and the sampler running (live), one
        # round per live_pace.interval, paced by pace_clock (a seam for tests).
        self.live = live
        self.live_pace = live_pace
        self.pace_clock = pace_clock
        self.journals: list[JournalWriter] = []
        self._events_loop: asyncio.AbstractEventLoop | None = None

    @property
    def privileged(self) -> bool:
        """Raw sockets allowed?  (Injected by tests so snapshots do not depend on uid.)"""
        if self._privileged is None:
            from probes.core.privileges import has_raw_socket

            self._privileged = has_raw_socket()
        return self._privileged

    def on_mount(self) -> None:
        self.theme = self.prefs.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        loop = self._events_loop = asyncio.get_running_loop()
        if self.handle_hangup:
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(sig, self._hang_up, sig)
        if self.demo_cases:
            from tui.screens.demo_picker import DemoPickerScreen

            self.push_screen(DemoPickerScreen(self.demo_cases))
        else:
            self.push_screen(SymptomPickerScreen(self.initial_target))
        if self.resume_from is not None:
            self.resume_diagnosis(self.resume_from)
        elif self.initial_target is not None and self.initial_symptom is not None:
            self.start_diagnosis(
                self.initial_target,
                self.initial_symptom,
                service=self.initial_service,
                remote=self.initial_remote,
            )

    def on_unmount(self) -> None:
        # The app is gone from the screen: waiting for the journals costs nobody.
        self.close_journals(wait=True)

    def close_journals(self, clean: bool = True, wait: bool = False) -> None:
        """Close every session journal; ``wait`` blocks until they are on disk
        (never on the event loop, except when the terminal is gone)."""
        for writer in self.journals:
            writer.close(clean=clean, wait=wait)

    def _hang_up(self, sig: signal.Signals) -> None:
        """The SSH link dropped (SIGHUP) or we were told to stop (SIGTERM): every
        event already emitted is on disk before the process ends."""
        self.close_journals(clean=False, wait=True)
        if self.on_hang_up is not None:
            self.on_hang_up()
        if sig == signal.SIGHUP:
            # The terminal is gone: restoring it would block on a dead pty.
            os._exit(128 + sig)
        self.exit(return_code=128 + sig)

    # ---- flow -------------------------------------------------------------------
    def first_plan(self, target: Target, symptom: str) -> tuple[str, ...]:
        """The probes a diagnosis starts with: the planner's choice from the symptom, the
        target and the environment (or the plan a test gave for the symptom)."""
        if symptom in self.plans:
            return tuple(self.plans[symptom])
        from probes.run.planner import initial_plan
        from probes.run.plans import PROBES

        proxy_env = self.config.proxy_env
        env = dict(proxy_env) if proxy_env is not None else os.environ
        known = (*PROBES, *self.probe_overrides)
        steps = initial_plan(plan_for(symptom), symptom, target, env, known, live=self.live)
        return tuple(step.probe for step in steps)

    def follows_evidence(self, symptom: str) -> bool:
        """Whether runs add the probes the evidence asks for (not when a test fixed the plan)."""
        return symptom not in self.plans

    def symptom_chosen(self, symptom: str, target: Target | None, error_text: str = "") -> None:
        """The picker chose; a target given on the command line wins over the error's.
        With other hosts from the command line, the target screen shows them first."""
        if target is not None and self.initial_remote is None:
            self.start_diagnosis(target, symptom, error_text=error_text)
        else:
            from tui import recent_remote

            recent_targets = recent.load_recent(self.recent_path)
            remotes = recent_remote.load(recent_remote.path_beside(self.recent_path))
            given = self.initial_remote.field if self.initial_remote is not None else ""
            self.push_screen(
                TargetEntryScreen(
                    symptom,
                    recent_targets,
                    error_text,
                    remotes,
                    given_target=target.input if target is not None else "",
                    given_remote=given,
                )
            )

    def start_diagnosis(
        self,
        target: Target,
        symptom: str,
        *,
        origin: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        error_text: str = "",
        service: ServiceCheck | None = None,
        remote: RemoteChoice | None = None,
    ) -> None:
        if not self.demo_cases:  # the demo's ports die with it: not worth recalling
            recent.remember(self.recent_path, target.input)
        config = self.config
        if remote is not None:  # the entry screen's "other hosts" field (tui/remote.py)
            from tui import recent_remote

            where = recent_remote.path_beside(self.recent_path)
            recent_remote.remember(where, target.input, remote.field)
            config = remote.apply(config)
        if origin or headers:
            config = dataclasses.replace(
                config, origin=origin or config.origin, headers=config.headers + headers
            )
        if service is not None:  # a saved service: what `check @name` runs
            config = service.configure(config)
        redactor = self._redactor(target, config)
        error = None
        if error_text:
            from probes.triage.pasted import keep_error

            error = keep_error(error_text, redactor)  # the run's redactor: the boundary
        from probes.run.remote_plan import with_remote

        plan = with_remote(self.first_plan(target, symptom), config)
        factory = self.journal_factory

        def open_journal() -> Journal:
            return self._fall_back_to_memory(
                lambda: factory(target, symptom, plan, error), target, symptom, plan, error
            )

        journal = self._writer(open_journal)
        session = Session(
            target,
            symptom,
            sink=self._sink(journal),
            clock=self.clock,
            config=config,
            redactor=redactor,
            journal=journal,
            error=error,
        )
        self._push_diagnosis(session)

    def resume_diagnosis(self, saved: SavedSession) -> None:
        """Reopen a saved session: its evidence, findings and checklist, ready to retest."""
        target = saved.target()
        redactor = self._redactor(target, self.config)
        plan = tuple(str(p) for p in saved.header.get("plan", ())) or self.first_plan(
            target, saved.symptom
        )

        def open_journal() -> Journal:
            return self._fall_back_to_memory(
                saved.reopen_journal, target, saved.symptom, plan, saved.pasted_error
            )

        journal = self._writer(open_journal)
        session = Session.resume(
            saved,
            sink=self._sink(journal),
            journal=journal,
            config=self.config,
            clock=self.clock,
            redactor=redactor,
        )
        self._push_diagnosis(session, plan)

    def _push_diagnosis(self, session: Session, plan: tuple[str, ...] | None = None) -> None:
        from tui.screens.diagnosis import DiagnosisScreen

        self.push_screen(DiagnosisScreen(session, plan))

    def _redactor(self, target: Target, config: ProbeConfig) -> Redactor:
        from probes.core.options import run_redactor

        return run_redactor(target, config.headers, os.environ)

    def _writer(self, open_journal: Callable[[], Journal]) -> JournalWriter:
        from probes.record.journal_writer import JournalWriter

        writer = JournalWriter(open_journal)
        self.journals.append(writer)
        return writer

    def _sink(self, journal: JournalWriter) -> EventSink:
        return journal if isinstance(self.sink, NullSink) else _TeeSink(journal, self.sink)

    def _fall_back_to_memory(
        self,
        open_journal: Callable[[], Journal],
        target: Target,
        symptom: str,
        plan: tuple[str, ...],
        error: PastedError | None = None,
    ) -> Journal:
        """Runs on the journal thread: a state directory that cannot be written must
        not stop the troubleshooting, but the person is told it is not saved."""
        from probes.record.journal import Journal, JournalError

        try:
            return open_journal()
        except JournalError as exc:
            warn = functools.partial(
                self.notify,
                f"{exc}; this session is kept in memory only (export still works)",
                title="Session not saved",
                severity="warning",
                markup=False,
                timeout=10,
            )
            if self._events_loop is not None:
                with contextlib.suppress(RuntimeError):  # the app already ended
                    self._events_loop.call_soon_threadsafe(warn)
            return Journal.in_memory(target, symptom, plan=plan, error=error)

    def export(self, session: Session, fmt: str = "md") -> Path:
        """Write *session*'s report (md, html or json) into the export directory.

        Blocking (it waits for the journal and writes a file): call it off the
        event loop."""
        from tui.export import export_report

        return export_report(session, fmt, self.export_dir)

    # ---- one error path -------------------------------------------------------------
    def show_error(self, error: BaseException) -> None:
        title = getattr(error, "title", "Internal error")
        self.notify(f"{error}", title=title, severity="error", markup=False, timeout=10)

    # ---- help, theme, palette -------------------------------------------------------------
    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.BINDINGS, type(self.screen)))

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", "")
        if name in THEMES and name != self.prefs.theme:
            self.prefs = dataclasses.replace(self.prefs, theme=name)
            self.save_prefs()

    def save_prefs(self) -> None:
        """Write the preferences off the event loop; a failure is told, not raised."""
        path, prefs = self.prefs_path, self.prefs
        if path is None:
            return

        def save() -> None:
            from tui.prefs import save_prefs

            try:
                save_prefs(path, prefs)
            except OSError as exc:
                self.call_from_thread(
                    self.notify, f"{path}: {exc}", title="Preferences not saved", markup=False
                )

        self.run_worker(save, thread=True, group="prefs", exit_on_error=False)

    def action_screenshot_here(self) -> None:
        """An SVG of the screen into the export directory (the reports' place), never
        a Downloads directory a server does not have; written 0600 off the event loop."""
        svg = self.export_screenshot().encode()
        path = self.export_dir / time.strftime("netmedic-screen-%Y%m%d-%H%M%S.svg")

        def write() -> None:
            from probes.record.safefile import OutputError, write_private

            try:
                write_private(path, svg)
            except OutputError as exc:
                self.call_from_thread(
                    self.notify, f"{exc}", title="Screenshot not saved", severity="error"
                )
                return
            self.call_from_thread(
                self.notify, f"Screenshot written to {path}", title="Screenshot", markup=False
            )

        self.run_worker(write, thread=True, group="screenshot", exit_on_error=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from tui.palette import binding_commands

        yield SystemCommand("Help", "Every key, screen by screen (F1, ?)", self.action_help)
        yield SystemCommand("Theme", "Change the theme (remembered)", self.action_change_theme)
        yield SystemCommand("Quit", "Quit netmedic (ctrl+c, q)", self.action_quit)
        nodes = getattr(screen, "palette_nodes", None)
        yield from binding_commands(screen, nodes() if nodes is not None else ())
        commands = getattr(screen, "palette_commands", None)
        if commands is not None:
            yield from commands()
        yield SystemCommand(
            "Screenshot",
            f"Save an SVG of this screen in {self.export_dir}",
            lambda: self.set_timer(0.1, self.action_screenshot_here),
        )


def run_app(
    target: Target | None,
    symptom: str | None,
    session: SavedSession | None = None,
    pace: LivePace = DEFAULT_PACE,
    service: ServiceCheck | None = None,
    remote: RemoteChoice | None = None,
) -> int:
    """The real app: sessions are journaled to disk and a hang-up flushes them."""
    prefs = _load_prefs()  # a bad config.toml is told first, terminal or not
    if prefs is None:
        return 2
    if not terminal_attached():
        return _no_terminal("use 'netmedic check TARGET' for plain output")
    if symptom is not None and symptom not in PLANS:
        symptom = None
    app = NetmedicApp(
        target,
        symptom,
        journal_factory=disk_journal,
        resume=session,
        handle_hangup=True,
        live_pace=pace,
        service=service,
        remote=remote,
        prefs=prefs[0],
        prefs_path=prefs[1],
    )
    return _run_to_exit(app)


def _run_to_exit(app: NetmedicApp) -> int:
    """Run *app* in this terminal; its journals are closed (as unclean after a hang-up)
    and, unless the link dropped, the person is told where the sessions are."""
    try:
        app.run()
    finally:
        hung_up = (app.return_code or 0) >= 128
        app.close_journals(clean=not hung_up, wait=True)
    if not hung_up:
        _say_where_sessions_are(app.journals)
    return app.return_code or 0


def _load_prefs() -> tuple[Preferences, Path] | None:
    """The person's config.toml, or None after saying (one line) why it is refused."""
    from tui.prefs import PrefsError, load_prefs, prefs_path

    path = prefs_path()
    try:
        return load_prefs(path), path
    except PrefsError as exc:
        print(f"netmedic: {exc}", file=sys.stderr)
        return None


def _no_terminal(hint: str) -> int:
    print(
        f"netmedic: the TUI needs a terminal (stdin and stdout are not one); {hint}",
        file=sys.stderr,
    )
    return 2


def terminal_attached() -> bool:
    """Both stdin and stdout are a terminal: without one the TUI would write escape
    codes into a file and wait forever for keys."""
    try:
        return os.isatty(sys.stdin.fileno()) and os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # closed or replaced streams
        return False


def run_demo(lab: DemoLab) -> int:
    """``netmedic demo``: the picker of *lab*'s broken services.  Demo sessions are
    saved like any other (the report's session id is one ``netmedic report`` finds);
    the caller stops the servers, and a hang-up does so before the process ends."""
    if not terminal_attached():
        return _no_terminal("use 'netmedic demo --check' for plain output")
    from tui.demo.cases import DEMO_NAME

    prefs = _load_prefs()
    if prefs is None:
        return 2
    app = NetmedicApp(
        config=ProbeConfig(ca_file=lab.ca_file or None, self_name=DEMO_NAME),
        demo=lab.cases,
        journal_factory=disk_journal,
        handle_hangup=True,
        prefs=prefs[0],
        prefs_path=prefs[1],
        on_hang_up=lab.close,
    )
    return _run_to_exit(app)


def _say_where_sessions_are(writers: list[JournalWriter]) -> None:
    from probes.record.session import JournalError, find_session

    for writer in writers:
        journal = writer.journal
        if journal is None or journal.memory is not None:
            continue
        try:
            latest = find_session("latest", journal.path.parent) == journal.path
        except JournalError:
            latest = False
        ref = "" if latest else f" {journal.session_id}"  # both commands default to latest
        print(
            f"netmedic: session {journal.session_id} saved: 'netmedic report{ref}' exports it, "
            f"'netmedic --resume{ref}' reopens it",
            file=sys.stderr,
        )
