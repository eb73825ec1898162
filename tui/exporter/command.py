"""The ``netmedic exporter`` subcommand: its arguments, its config, its server."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any


class ExporterUsageError(ValueError):
    """Bad arguments or config: the command line reports ``str()`` and exits 2."""


def add_exporter_parser(sub: Any) -> None:
    exporter = sub.add_parser(
        "exporter",
        help="serve Prometheus metrics: blackbox_exporter's /probe, with the reason why",
    )
    exporter.add_argument(
        "--config",
        metavar="FILE",
        help="modules and allow list (default: exporter.toml in the config dir)",
    )
    exporter.add_argument(
        "--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:9469)"
    )


def run_exporter(ns: argparse.Namespace) -> int:
    from probes.record.exporter_config import (
        ExporterConfigError,
        load_exporter_config,
        parse_listen,
    )
    from probes.record.services import ServicesError, load_services
    from tui.exporter.server import Exporter, serve

    try:
        config = load_exporter_config(Path(ns.config) if ns.config else None)
        listen = config.listen
        if ns.listen:
            listen = parse_listen(ns.listen, lambda why: ExporterConfigError(f"--listen: {why}"))
        services = load_services()
    except (ExporterConfigError, ServicesError) as exc:
        raise ExporterUsageError(str(exc)) from None
    exporter = Exporter(config, services, os.environ)
    try:
        asyncio.run(serve(exporter, *listen))
    except OSError as exc:
        raise ExporterUsageError(
            f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}"
        ) from None
    return 0
