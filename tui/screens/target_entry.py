"""Screen 2: the target, validated by the engine's parser as it is typed."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList, Static

from probes.core.options import OptionError, parse_header_option, parse_origin
from probes.core.redact import Redactor
from probes.core.target import Target, TargetError, parse_target
from probes.run.plans import SYMPTOMS
from tui.host import NetmedicHost, host

if TYPE_CHECKING:
    from probes.triage.naming import NamedTarget

NEEDS_ORIGIN = frozenset({"cors"})
NEEDS_HEADER = frozenset({"auth", "proxy", "websocket", "cors"})


class TargetEntryScreen(Screen[None]):
    HELP = """\
## Target
Type `host:port`, `[v6]:port` or a URL (`https://api.example.com/health`).
The reason a target is refused shows under the field.  **down** moves to the
recent targets; **enter** there picks one.  **escape** goes back.

**ctrl+o** opens the *other hosts* field: `--server db1` also reads the
server's side over your ssh, `--from bastion,app2` (or `--from @GROUP
--inventory FILE`) runs the same check from those hosts.  It is remembered
per target and shown again when that target is typed.  Given on the command
line (`netmedic TARGET --server db1`), it is filled in and open here, and wins
over the remembered one.
"""
    BINDINGS = [
        Binding("escape", "back", "Back", id="target.back", tooltip="Back to the symptoms"),
        # The field takes every printable key (q too), so ctrl+c quits here: show it.
        Binding(
            "ctrl+c", "app.quit", "Quit", id="target.quit", tooltip="Quit netmedic", priority=True
        ),
        Binding(
            "ctrl+o",
            "other_hosts",
            "Other hosts",
            id="target.other_hosts",
            tooltip="--server / --from: the server's side and other vantages, over your ssh",
            show=False,
        ),
    ]

    def __init__(
        self,
        symptom: str,
        recent: list[str],
        error_text: str = "",
        remotes: dict[str, str] | None = None,
        *,
        given_target: str = "",
        given_remote: str = "",
    ) -> None:
        super().__init__(id="target-entry")
        # From the command line (`netmedic TARGET --server db1`): shown to confirm.
        self.given_target = given_target
        self.given_remote = given_remote
        self.symptom = symptom
        self.recent = recent
        self.remotes = remotes or {}  # target -> its remembered "other hosts" field
        self.target: Target | None = None
        self.error_text = error_text  # the app's error, from the picker (already redacted)
        self.named: NamedTarget | None = None
        if error_text:  # the error reading loads when there is an error, not at start-up
            from probes.triage.naming import name_target

            self.named = name_target(error_text)

    @property
    def netmedic(self) -> NetmedicHost:
        return host(self.app)

    def compose(self) -> ComposeResult:
        label = next(s.label for s in SYMPTOMS if s.id == self.symptom)
        with Vertical(id="target-form"):
            yield Label(f"Symptom: {label}", id="target-symptom", markup=False)
            yield Label("Target", classes="field-label")
            yield self._input("target", "host:port, [v6]:port or URL")
            yield Static("", id="target-error", markup=False)
            if self.error_text and not self.given_target:
                yield Static(self._from_error(), id="target-from-error", markup=False)
            if self.given_target or self.given_remote:
                yield Static(self._given_hint(), id="target-given", markup=False)
            yield Static(
                "e.g. db.internal:5432 · https://api.example.com/health · [fd00::5]:6333",
                id="target-hint",
                markup=False,
            )
            if self.symptom in NEEDS_ORIGIN:
                yield Label(
                    "Origin (the page's origin, for the CORS preflight)", classes="field-label"
                )
                yield self._input("origin", "https://app.example.com")
            if self.symptom in NEEDS_HEADER:
                yield Label(
                    "Request header, its value from an environment variable (optional)",
                    classes="field-label",
                )
                yield self._input("header", "e.g. Authorization: $API_TOKEN")
            with Vertical(id="other-hosts"):
                yield Label(
                    "Other hosts, over your ssh: --server DEST, --from DEST,...|@GROUP",
                    classes="field-label",
                )
                yield self._input("remote", "--server db1 --from bastion")
            if self.recent:
                yield Label("Recent targets", classes="field-label")
                yield OptionList(*self.recent, id="recent", markup=False)
        yield Footer(compact=True)

    def _input(self, name: str, placeholder: str) -> Input:
        field = Input(placeholder=placeholder, id=name)
        field.cursor_blink = self.netmedic.blink
        return field

    def _given_hint(self) -> Text:
        """What the command line filled in, and what is left to do."""
        if self.given_target:
            return Text("from the command line: enter to start, or edit", style="italic")
        return Text("other hosts from the command line: type the target", style="italic")

    def _from_error(self) -> Text:
        """Where the prefilled target comes from, or what the error leaves out."""
        named = self.named
        if named is not None and named.target() is not None:
            text = Text("from your error: ", style="italic")
            text.append(named.field_text)
            return text.append(" (enter to confirm, or edit it)", style="italic")
        from probes.triage.naming import missing_reason

        return Text(f"{missing_reason(named)}: type the target", style="italic")

    def on_mount(self) -> None:
        field = self.query_one("#target", Input)
        field.focus()
        named = self.named
        if named is not None:  # a host without a port is typed up to the colon
            field.value = named.field_text if named.target() is not None else f"{named.host}:"
            if named.origin and self.query("#origin"):
                self.query_one("#origin", Input).value = named.origin
        if self.given_remote:
            self.query_one("#remote", Input).value = self.given_remote
            self.query_one("#other-hosts").display = True
        if self.given_target:  # the command line's target wins over the error's
            field.value = self.given_target

    @on(Input.Changed, "#target")
    def _validate(self, event: Input.Changed) -> None:
        error = self.query_one("#target-error", Static)
        self.target = None
        if not event.value.strip():
            error.update("")
            error.remove_class("-error")
            return
        try:
            self.target = parse_target(event.value)
        except TargetError as exc:  # it may quote what was typed: mask a URL password
            error.update(Text(f"✘ {Redactor.for_target(None).text(str(exc))}"))
            error.add_class("-error")
            return
        error.remove_class("-error")
        error.update(Text(f"→ {self.target.host_port} ({self.target.scheme})"))
        remembered = self.remotes.get(event.value.strip())
        if remembered and not self.given_remote:  # the command line's words win
            self.query_one("#remote", Input).value = remembered
            self.query_one("#other-hosts").display = True

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id != "target" and self.target is None:
            self.query_one("#target", Input).focus()
            return
        self._go()

    @on(OptionList.OptionSelected, "#recent")
    def _recent(self, event: OptionList.OptionSelected) -> None:
        field = self.query_one("#target", Input)
        field.value = str(event.option.prompt)
        self._validate(Input.Changed(field, field.value))
        self._go()

    def _go(self) -> None:
        if self.target is None:
            self.app.bell()
            if not self.query_one("#target", Input).value.strip():
                self.query_one("#target-error", Static).update(Text("✘ type a target first"))
                self.query_one("#target-error", Static).add_class("-error")
            return
        try:
            origin, header = self._value("#origin"), self._value("#header")
            origin = parse_origin(origin) if origin else ""
            headers = (parse_header_option(header, os.environ, "the header"),) if header else ()
        except OptionError as exc:
            self.app.bell()
            error = self.query_one("#target-error", Static)
            error.update(Text(f"✘ {exc}"))
            error.add_class("-error")
            return
        remote = self._value("#remote") if self.query_one("#other-hosts").display else ""
        start = functools.partial(
            self.netmedic.start_diagnosis,
            self.target,
            self.symptom,
            origin=origin,
            headers=headers,
            error_text=self.error_text,
        )
        if remote:
            self._read_other_hosts(remote, start)  # @GROUP may run ansible-inventory
        else:
            start()

    @work(thread=True, exclusive=True, group="other-hosts", exit_on_error=False)
    def _read_other_hosts(self, text: str, start: Callable[..., None]) -> None:
        from tui.remote import RemoteOptionError, parse_field

        try:
            choice = parse_field(text)
        except RemoteOptionError as exc:
            self.app.call_from_thread(self._refuse, f"other hosts: {exc}")
            return
        self.app.call_from_thread(start, remote=choice)

    def _refuse(self, text: str) -> None:
        self.app.bell()
        error = self.query_one("#target-error", Static)
        error.update(Text(f"✘ {text}"))
        error.add_class("-error")

    def action_other_hosts(self) -> None:
        box = self.query_one("#other-hosts")
        box.display = not box.display
        if box.display:
            self.query_one("#remote", Input).focus()

    def _value(self, selector: str) -> str:
        found = self.query(selector)
        return found.first(Input).value.strip() if found else ""

    def action_back(self) -> None:
        self.app.pop_screen()
