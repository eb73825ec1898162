"""The ``netmedic`` command line (DESIGN.md's contract).

Bad input is one line on stderr and exit status 2; an internal failure is one
line and exit status 3.  Nothing here prints a traceback unless
``NETMEDIC_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from probes import __version__
from probes.plans import SYMPTOM_IDS, SYMPTOMS
from probes.target import Target, TargetError, parse_target

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
SUBCOMMANDS = ("check", "symptoms")


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message.rstrip(), file=sys.stderr)
        raise SystemExit(status)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not 0.1 <= value <= 300:
        raise argparse.ArgumentTypeError(f"{text} is outside 0.1..300 seconds")
    return value


def _symptom(text: str) -> str:
    if text not in SYMPTOM_IDS:
        raise argparse.ArgumentTypeError(
            f"unknown symptom {text!r}; see 'netmedic symptoms' ({', '.join(SYMPTOM_IDS)})"
        )
    return text


def build_parser() -> _Parser:
    parser = _Parser(
        prog="netmedic",
        description="Troubleshoot a connection problem: live probes and a diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"netmedic {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="probe a target headless and print the diagnosis")
    check.add_argument("target", help="host:port, [v6]:port or a URL")
    check.add_argument(
        "--symptom", type=_symptom, default="auto", help="symptom id (default: auto)"
    )
    check.add_argument(
        "--json", action="store_true", help="print one JSON object (netmedic.check/1)"
    )
    check.add_argument(
        "--timeout", type=_timeout, default=5.0, help="per-probe deadline in seconds"
    )
    check.add_argument(
        "--ca-file", metavar="PEM", help="extra CA certificates for TLS verification"
    )
    check.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: $ENV_VAR'",
        help="extra request header, its value read from an environment variable "
        "(sent only to the target's origin, redacted everywhere)",
    )
    check.add_argument("--origin", metavar="URL", help="Origin for the CORS preflight")

    sub.add_parser("symptoms", help="list symptom ids")
    return parser


def build_tui_parser() -> _Parser:
    parser = _Parser(prog="netmedic", description="Open the netmedic TUI.")
    parser.add_argument("--version", action="version", version=f"netmedic {__version__}")
    parser.add_argument("target", nargs="?", help="host:port, [v6]:port or a URL")
    parser.add_argument("--symptom", type=_symptom, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"netmedic: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("netmedic: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback
        if os.environ.get("NETMEDIC_DEBUG") == "1":
            raise
        print(f"netmedic: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def _dispatch(args: list[str]) -> int:
    if (args and args[0] in SUBCOMMANDS) or args[:1] in (["-h"], ["--help"], ["--version"]):
        ns = build_parser().parse_args(args)
        if ns.command == "check":
            return _check(ns)
        if ns.command == "symptoms":
            return _symptoms()
        build_parser().print_help()
        return EXIT_OK
    ns = build_tui_parser().parse_args(args)
    target = _parse_target(ns.target) if ns.target else None
    return _tui(target, ns.symptom)


def _parse_target(text: str) -> Target:
    try:
        return parse_target(text)
    except TargetError as exc:
        raise UsageError(f"bad target: {exc}") from None


def _symptoms() -> int:
    width = max(len(s.id) for s in SYMPTOMS)
    for s in SYMPTOMS:
        print(f"{s.id:<{width}}  {s.label}: {s.description}")
    return EXIT_OK


def _check(ns: argparse.Namespace) -> int:
    from probes.check_json import check_document
    from probes.context import ProbeConfig
    from probes.privileges import has_raw_socket
    from probes.runner import Run, run_to_end

    target = _parse_target(ns.target)
    if ns.ca_file and not os.path.isfile(ns.ca_file):
        raise UsageError(f"--ca-file {ns.ca_file!r} is not a readable file")
    from probes.options import OptionError, known_secrets, parse_header_option, parse_origin
    from probes.redact import SecretScrubber

    try:
        headers = tuple(parse_header_option(h, os.environ) for h in ns.header)
        origin = parse_origin(ns.origin) if ns.origin else ""
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    scrub = SecretScrubber(known_secrets(target, headers, os.environ))
    config = ProbeConfig(timeout=ns.timeout, ca_file=ns.ca_file, headers=headers, origin=origin)
    run = Run(target, ns.symptom, config)
    started = time.monotonic()
    diagnosis = asyncio.run(run_to_end(run))
    duration = time.monotonic() - started
    privileged = has_raw_socket()
    if ns.json:
        doc = _scrubbed(check_document(run, privileged, duration), scrub)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        import io
        import shutil

        from rich.console import Console

        from tui.check_view import print_check

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            highlight=False,
            soft_wrap=False,
            force_terminal=sys.stdout.isatty(),
            width=shutil.get_terminal_size().columns,
        )
        print_check(run, privileged, duration, console)
        sys.stdout.write(scrub(buffer.getvalue()))
    return EXIT_FINDINGS if diagnosis.has_errors else EXIT_OK


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """Every string in a JSON document passed through the secret scrubber."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    return value


def _tui(target: Target | None, symptom: str | None) -> int:
    from tui.app import run_app

    return run_app(target, symptom)


if __name__ == "__main__":
    sys.exit(main())
