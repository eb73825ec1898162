"""What screens may ask of the app: a small typed protocol instead of importing it.

Screens are pushed by :mod:`tui.app`; importing the app back would make a cycle.
They reach the app through :func:`host`, typed by :class:`NetmedicHost`, which
the app implements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App

    from probes.core.live import PaceClock
    from probes.core.target import Target
    from probes.record.services import ServiceCheck
    from probes.run.plans import ProbeFn
    from tui.args import LivePace
    from tui.prefs import Preferences
    from tui.remote import RemoteChoice
    from tui.session import Session


class NetmedicHost(Protocol):
    """The app's services, as screens see them."""

    blink: bool
    clock: Callable[[], float]
    probe_overrides: Mapping[str, ProbeFn]
    live: bool
    live_pace: LivePace
    pace_clock: PaceClock | None
    prefs: Preferences

    @property
    def privileged(self) -> bool: ...

    def first_plan(self, target: Target, symptom: str) -> tuple[str, ...]: ...

    def follows_evidence(self, symptom: str) -> bool: ...

    def symptom_chosen(self, symptom: str, target: Target | None, error_text: str = "") -> None: ...

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
    ) -> None: ...

    def export(self, session: Session, fmt: str = "md") -> Path: ...

    def show_error(self, error: BaseException) -> None: ...


def host(app: App[object] | App[int]) -> NetmedicHost:
    """The running app as the screens' :class:`NetmedicHost`."""
    return cast("NetmedicHost", app)
