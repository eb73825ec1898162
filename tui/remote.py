"""The faces' side of probes.remote: ``--server DEST`` and ``--from DEST,...|@GROUP``
as options of ``check`` and as the target entry screen's field (the same words), the
config they make, and the host x layer table the CLI prints after the diagnosis."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from probes.core.context import ProbeConfig
from tui import args

if TYPE_CHECKING:
    from rich.console import Console


DEFAULT_TIMEOUT_S = 20.0  # per remote host
DEFAULT_CONCURRENCY = 10  # remote hosts asked at once


class RemoteOptionError(ValueError):
    """A bad remote option; ``str()`` is one line."""


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("other hosts, over your own ssh")
    group.add_argument(
        "--server",
        metavar="DEST",
        help="also read the server's side on DEST (anything ssh accepts: db1, user@10.0.0.5, "
        "a Host alias); needs python3 there, nothing else",
    )
    group.add_argument(
        "--from",
        dest="vantages",
        metavar="DEST[,DEST...]|@GROUP",
        help="run the client check from these hosts too and compare (@GROUP: from --inventory "
        "or ansible-inventory --list)",
    )
    group.add_argument(
        "--inventory",
        metavar="FILE",
        help="ansible-inventory --list JSON, or a file of ssh destinations one a line (@all)",
    )
    group.add_argument("--ssh-config", metavar="FILE", help="ssh_config file for ssh -F")
    group.add_argument(
        "--remote-timeout",
        type=args.bounded(1, 600, "seconds"),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"deadline per remote host ({DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--concurrency",
        type=args.whole(1, 100),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"remote hosts asked at once ({DEFAULT_CONCURRENCY})",
    )


class _FieldParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise RemoteOptionError(message)


@dataclass(frozen=True, slots=True)
class RemoteChoice:
    """The other hosts a run asks, resolved (an inventory group read once)."""

    server: str = ""
    vantages: tuple[tuple[str, str], ...] = ()
    ssh_config: str = ""
    timeout: float = DEFAULT_TIMEOUT_S
    concurrency: int = DEFAULT_CONCURRENCY
    field: str = ""  # the entry screen's words, remembered per target

    def apply(self, config: ProbeConfig) -> ProbeConfig:
        if not self.server and not self.vantages:
            return config
        rounds = math.ceil(len(self.vantages) / self.concurrency) if self.vantages else 1
        return dataclasses.replace(
            config,
            server=self.server,
            vantages=self.vantages,
            ssh_config=self.ssh_config,
            remote_timeout=self.timeout,
            remote_concurrency=self.concurrency,
            remote_budget=self.timeout * rounds,
        )


def parse_field(text: str) -> RemoteChoice:
    """The entry screen's field (``--server db1 --from a,b``): the same words as ``check``.
    Blocking (``@GROUP`` may run ansible-inventory): call it off the event loop."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise RemoteOptionError(f"cannot read the field: {exc}") from None
    parser = _FieldParser(prog="", add_help=False)
    add_remote_arguments(parser)
    return dataclasses.replace(choose(parser.parse_args(words)), field=text.strip())


def given(ns: argparse.Namespace) -> RemoteChoice | None:
    """The remote options given on a command line (the TUI entry), resolved and
    validated as ``check`` does, with the words the entry screen's field shows;
    None when none was given.  RemoteOptionError for bad ones."""
    words = field_words(ns)
    if not words:
        return None
    return dataclasses.replace(choose(ns), field=shlex.join(words))


def field_words(ns: argparse.Namespace) -> list[str]:
    """The remote options of *ns* that differ from their defaults, as words the entry
    screen's field (and ``check``) reads back the same."""
    words: list[str] = []
    for option, dest in _FIELD_OPTIONS:
        value = getattr(ns, dest, None)
        if value is None or value == _DEFAULTS.get(dest):
            continue
        if dest in _PATHS:  # the field is remembered: it must mean the same file elsewhere
            value = os.path.abspath(value)
        words += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    return words


_FIELD_OPTIONS = (
    ("--server", "server"),
    ("--from", "vantages"),
    ("--inventory", "inventory"),
    ("--ssh-config", "ssh_config"),
    ("--remote-timeout", "remote_timeout"),
    ("--concurrency", "concurrency"),
)
_PATHS = frozenset({"inventory", "ssh_config"})
_DEFAULTS: dict[str, object] = {
    "remote_timeout": DEFAULT_TIMEOUT_S,
    "concurrency": DEFAULT_CONCURRENCY,
}


def remote_config(ns: argparse.Namespace, config: ProbeConfig) -> ProbeConfig:
    """*config* with the remote options of ``check``; RemoteOptionError for bad ones."""
    return choose(ns).apply(config)


def choose(ns: argparse.Namespace) -> RemoteChoice:
    from probes.remote.inventory import InventoryError, inventory_path, vantages
    from probes.remote.ssh import DestinationError, check_destination

    server = ns.server or ""
    try:
        if server:
            check_destination(server)
        if ns.inventory:
            inventory_path(ns.inventory)
        chosen = vantages(ns.vantages, ns.inventory or "") if ns.vantages else ()
    except (DestinationError, InventoryError) as exc:
        raise RemoteOptionError(str(exc)) from None
    if ns.ssh_config and not _readable(ns.ssh_config):
        raise RemoteOptionError(f"--ssh-config {ns.ssh_config}: no such file")
    return RemoteChoice(server, chosen, ns.ssh_config or "", ns.remote_timeout, ns.concurrency)


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def print_remote(results: Any, console: Console) -> None:
    """The server's side in one line and the host x layer table, after the diagnosis."""
    from rich.table import Table
    from rich.text import Text

    from probes.remote.compare import LAYERS, table
    from probes.remote.serverdata import ServerData
    from probes.remote.ssh import EXPLAIN
    from probes.remote.vantage import VantagesData

    server = results.get("server")
    if server is not None and isinstance(server.data, ServerData):
        data = server.data
        line = Text("server side: ", style="bold")
        # Remote text: appended as plain text, never parsed as markup.
        line.append(
            server.summary
            if data.local is not None
            else f"{data.dest}: {EXPLAIN.get(data.status, data.status)}"
        )
        console.print(line)
    vantage = results.get("vantages")
    if vantage is None or not isinstance(vantage.data, VantagesData):
        return
    grid = Table(title="the same check from each place", title_justify="left", box=None)
    grid.add_column("host")
    for layer in LAYERS:
        grid.add_column(layer)
    grid.add_column("first difference")
    for row in table(results, vantage.data):
        if row.status != "ok":
            grid.add_row(
                row.name,
                Text(EXPLAIN.get(row.status, row.status), style="yellow"),
                *[""] * len(LAYERS),
            )
            continue
        cells = [
            Text(c or "-", style="bold red" if layer == row.differs else "")
            for c, layer in zip(row.cells, LAYERS, strict=True)
        ]
        grid.add_row(row.name, *cells, Text(row.differs or ("" if row.name == "here" else "same")))
    console.print(grid)


def with_progress(
    inner: Callable[[Any], None] | None, stream: TextIO, config: ProbeConfig
) -> Callable[[Any], None] | None:
    """*inner* (the journal's sink), plus a progress line on *stream* while the vantages
    answer, when it is a terminal: ``vantages: 7/20 answered``."""
    if not config.vantages or not stream.isatty():
        return inner
    from probes.core.events import ProbeUpdate

    def sink(event: Any) -> None:
        if inner is not None:
            inner(event)
        if isinstance(event, ProbeUpdate) and event.result.probe == "vantages":
            data = event.result.data
            answered = getattr(data, "answered", 0)
            line = f"vantages: {answered}/{len(config.vantages)} answered"
            end = "\n" if event.result.final else ""
            stream.write(f"\r{line}{end}")
            stream.flush()

    return sink
