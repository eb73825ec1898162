"""What ``netmedic watch`` takes beyond its own figures: a saved service (``@NAME``)
and the server's side (``--server DEST``).

A saved service is watched as ``check @NAME`` checks it: its URL (with the health
path), its headers read from the environment, and the status it expects; the
connection sampler sends the headers with every request and counts that status as
an answer.

The server's side in a live run is a look, not a stream: the collector runs once at
the start and again every ``--server-every`` rounds (60: a minute at the default pace),
so a listener that goes, a unit that fails or a firewall rule that appears is raised as
the finding it stands for, and cleared when it goes, without an ssh every second.
``--from`` is refused: the comparison of vantages reads the dns, tcp, tls and http
probes of ``check``, which a watch does not run.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from probes.core.context import ProbeConfig
from probes.core.model import ProbeResult
from tui import args, remote

if TYPE_CHECKING:
    from probes.record.services import ServiceCheck

DEFAULT_SERVER_EVERY = 60  # rounds between two looks at the server's side
SERVER = "server"
NO_VANTAGES = (
    "watch does not take --from: the vantages compare check's dns, tcp, tls and http "
    "results, which watch does not run; use 'netmedic check TARGET --from ...'"
)


def add_watch_remote_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the server's side, over your own ssh")
    group.add_argument(
        "--server",
        metavar="DEST",
        help="also look at the server's side on DEST (anything ssh accepts) at the start "
        "and every --server-every rounds; needs python3 there, nothing else",
    )
    group.add_argument(
        "--server-every",
        type=args.whole(1, 100_000),
        default=DEFAULT_SERVER_EVERY,
        metavar="ROUNDS",
        help=f"rounds between two looks at the server's side ({DEFAULT_SERVER_EVERY})",
    )
    group.add_argument("--ssh-config", metavar="FILE", help="ssh_config file for ssh -F")
    group.add_argument(
        "--remote-timeout",
        type=args.bounded(1, 600, "seconds"),
        default=remote.DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"deadline of each look at the server ({remote.DEFAULT_TIMEOUT_S:g})",
    )
    # Taken only to say why not (argparse would say "unrecognized arguments").
    group.add_argument("--from", dest="vantages", help=argparse.SUPPRESS)


@dataclass(frozen=True, slots=True)
class WatchExtras:
    """A watch's saved service and server, resolved before the run starts."""

    service: ServiceCheck | None = None
    server: remote.RemoteChoice | None = None
    server_every: int = DEFAULT_SERVER_EVERY

    def configure(self, config: ProbeConfig, round_s: float) -> ProbeConfig:
        """*config* with the service's headers and expectations, and the server looked
        at every ``server_every`` rounds of *round_s* seconds, until the watch ends."""
        if self.service is not None:
            config = self.service.configure(config)
        if self.server is None:
            return config
        return dataclasses.replace(
            self.server.apply(config),
            server_interval=self.server_every * round_s,
            remote_budget=0,  # each look has ssh's deadline; the probe runs until cancelled
        )


def watch_extras(ns: argparse.Namespace, service: ServiceCheck | None) -> WatchExtras:
    """The extras of a ``watch`` command line; RemoteOptionError for bad ones."""
    if ns.vantages is not None:
        raise remote.RemoteOptionError(NO_VANTAGES)
    server = None
    if ns.server:
        only_server = argparse.Namespace(
            server=ns.server,
            vantages=None,
            inventory=None,
            ssh_config=ns.ssh_config,
            remote_timeout=ns.remote_timeout,
            concurrency=remote.DEFAULT_CONCURRENCY,
        )
        server = remote.choose(only_server)  # validated as check validates it
    elif ns.ssh_config:
        raise remote.RemoteOptionError("--ssh-config goes with --server")
    return WatchExtras(service, server, ns.server_every)


@dataclass
class ServerLooks:
    """Which look at the server's side a watch has told already."""

    told: ProbeResult | None = None

    def fresh(self, results: dict[str, ProbeResult]) -> ProbeResult | None:
        """The server's latest finished look, once."""
        result = results.get(SERVER)
        if result is None or not result.final or result is self.told:
            return None
        self.told = result
        return result


def server_entry(result: ProbeResult) -> dict[str, str]:
    """A look at the server's side in a watch's interval (JSON), as plain text."""
    return {"status": result.status.value, "summary": result.summary}
