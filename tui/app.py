"""The netmedic Textual app: wires the screens; the screens do the work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from probes.context import ProbeConfig
from probes.events import EventSink, NullSink
from probes.plans import PLANS, ProbeFn, plan_for
from probes.target import Target
from tui import recent
from tui.screens.symptom_picker import SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.session import Session

# The diagnosis screen, runner and exporter are imported when first needed, so
# the symptom picker's first frame does not pay for dnspython and the rules.

THEMES = ("textual-dark", "textual-light")


class NetmedicApp(App[int]):
    TITLE = "netmedic"
    CSS_PATH = ["styles/app.tcss", "styles/screens.tcss", "styles/panels.tcss"]
    BINDINGS = [
        Binding("f1", "toggle_help", "Help", id="app.help", tooltip="Help for the focused part"),
        Binding("f2", "toggle_theme", "Theme", id="app.theme", tooltip="Light or dark theme"),
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
    ) -> None:
        super().__init__()
        self.initial_target = target
        self.initial_symptom = symptom
        self.config = config or ProbeConfig()
        self.probe_overrides = dict(probe_overrides or {})
        self.plans = dict(plans or {})
        self.sink = sink or NullSink()
        self.clock = clock
        self.recent_path = recent_path or recent.default_path()
        self.export_dir = export_dir or Path.cwd()
        self.blink = blink
        self._privileged = privileged

    @property
    def privileged(self) -> bool:
        """Raw sockets allowed?  (Injected by tests so snapshots do not depend on uid.)"""
        if self._privileged is None:
            from probes.privileges import has_raw_socket

            self._privileged = has_raw_socket()
        return self._privileged

    def on_mount(self) -> None:
        self.theme = THEMES[0]
        if self.initial_target is not None and self.initial_symptom is not None:
            self.push_screen(SymptomPickerScreen(self.initial_target))
            self.start_diagnosis(self.initial_target, self.initial_symptom)
        else:
            self.push_screen(SymptomPickerScreen(self.initial_target))

    # ---- flow -------------------------------------------------------------------
    def plan_for(self, symptom: str) -> tuple[str, ...]:
        if symptom in self.plans:
            return tuple(self.plans[symptom])
        return plan_for(symptom)

    def symptom_chosen(self, symptom: str, target: Target | None) -> None:
        if target is not None:
            self.start_diagnosis(target, symptom)
        else:
            self.push_screen(TargetEntryScreen(symptom, recent.load_recent(self.recent_path)))

    def start_diagnosis(
        self, target: Target, symptom: str, *, origin: str = "", header_env: str = ""
    ) -> None:
        recent.remember(self.recent_path, target.input)
        session = Session(target, symptom, sink=self.sink, clock=self.clock)
        session.origin = origin
        session.header_env = header_env
        from tui.screens.diagnosis import DiagnosisScreen

        self.push_screen(DiagnosisScreen(session))

    def export(self, session: Session) -> Path:
        """The one export seam: the report exporter replaces this body."""
        from tui.export import export_session

        return export_session(session, self.export_dir)

    # ---- one error path -------------------------------------------------------------
    def show_error(self, error: BaseException) -> None:
        title = getattr(error, "title", "Internal error")
        self.notify(f"{error}", title=title, severity="error", markup=False, timeout=10)

    # ---- help, theme, palette -------------------------------------------------------------
    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = getattr(screen, "palette_commands", None)
        if commands is not None:
            yield from commands()


if TYPE_CHECKING:
    from probes.session import Session as SavedSession


def run_app(target: Target | None, symptom: str | None, session: SavedSession | None = None) -> int:
    if symptom is not None and symptom not in PLANS:
        symptom = None
    NetmedicApp(target, symptom).run()
    return 0
