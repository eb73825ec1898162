"""The ``netmedic`` command line (DESIGN.md's contract).

Bad input is one line on stderr and exit status 2; an internal failure is one
line and exit status 3.  Nothing here prints a traceback unless
``NETMEDIC_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from probes import __version__
from probes.core.target import Target, TargetError, parse_target
from probes.run.plans import SYMPTOM_IDS, SYMPTOMS
from tui import args, remote
from tui.args import LivePace, add_live_arguments
from tui.headless_journal import journal_or_warn

if TYPE_CHECKING:
    from probes.core.model import Diagnosis
    from probes.record.services import ServiceCheck
    from probes.triage.pasted import PastedError
    from tui.demo.servers import DemoLab
    from tui.remote import RemoteChoice

FORMATS = ("md", "html", "json")
EXIT_GRACE_S = 2.0  # how long the command waits for leftover blocking threads

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INCOMPLETE = 4  # the run was cut short: nothing was verified (README "Guarantees")
SUBCOMMANDS = (
    "check",
    "symptoms",
    "report",
    "sessions",
    "services",
    "demo",
    "watch",
    "exporter",
    "help",
)


TUI_USAGE = """\
the TUI (keyboard-first, works at 80x24 over SSH):
  netmedic                              open the TUI at the symptom picker
  netmedic TARGET [--symptom ID]        open the TUI on TARGET (and symptom)
  netmedic --resume [ID]                reopen the latest (or the named) saved session
  netmedic TARGET --server DEST [--from DEST,...|@GROUP]
                                        the TUI, also asking other hosts over your ssh
  netmedic demo                         broken services on loopback to diagnose (try this first)

TARGET is host:port, [v6]:port or a URL (scheme://host[:port]/path); a URL's
scheme gives the default port.  Ping, trace and the connection sampler keep
running on the diagnosis screen: --interval S sets their pace (1 s), --window
ROUNDS how many rounds the findings read (60).  Sessions are saved as they
happen: see 'netmedic sessions' and 'netmedic report'.  'netmedic TARGET --help'
lists the TUI's options (--server, --from, ...) with examples."""


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message.rstrip(), file=sys.stderr)
        raise SystemExit(status)


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
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=TUI_USAGE,
    )
    parser.add_argument("--version", action="version", version=f"netmedic {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="probe a target headless and print the diagnosis")
    check.add_argument(
        "target",
        nargs="?",
        help="host:port, [v6]:port, a URL (a URL's scheme gives the port), "
        "or @NAME of a saved service ('netmedic services'); optional with --error "
        "when the error names the host",
    )
    check.add_argument(
        "--symptom",
        type=_symptom,
        default=None,
        help="symptom id (default: the saved service's, or the one --error names, else auto)",
    )
    check.add_argument(
        "--error",
        metavar="TEXT|-",
        help="the error your app printed ('-' reads it from stdin): picks the symptom and, "
        "without TARGET, the target; kept (redacted) with the diagnosis",
    )
    check.add_argument(
        "--json", action="store_true", help="print one JSON object (netmedic.check/1)"
    )
    check.add_argument(
        "--timeout", type=args.timeout, default=5.0, help="per-probe deadline in seconds"
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
    check.add_argument(
        "--hold",
        type=args.bounded(1, 3600, "seconds"),
        default=None,
        metavar="SECONDS",
        help="keep a WebSocket open this long after the upgrade (catches idle timeouts)",
    )
    check.add_argument(
        "--report",
        metavar="FILE",
        help="also write a report (format from the extension: .md, .html, .json)",
    )
    check.add_argument("--force", action="store_true", help="overwrite an existing --report FILE")
    remote.add_remote_arguments(check)  # --server, --from (tui/remote.py)
    check.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="every finding with its evidence and steps, and each probe's result",
    )

    sub.add_parser("symptoms", help="list symptom ids")

    report = sub.add_parser("report", help="render a saved session as a report or bundle")
    report.add_argument(
        "session",
        nargs="?",
        default="latest",
        help="session id, id prefix, journal path or 'latest'",
    )
    report.add_argument("--format", choices=FORMATS, default=None, help="md (default), html, json")
    report.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    report.add_argument("--bundle", metavar="ZIP", help="write a support bundle (zip)")
    report.add_argument("--force", action="store_true", help="overwrite existing output files")

    sub.add_parser("sessions", help="list saved sessions")

    demo = sub.add_parser(
        "demo",
        help="start broken services on loopback and diagnose them in the TUI (no root, no network)",
    )
    demo.add_argument(
        "--check",
        action="store_true",
        help="self-test: check every service and print expected vs actual verdict "
        "(exit 0 only when all match)",
    )
    demo.add_argument("--json", action="store_true", help="with --check: print one JSON object")
    sub.add_parser("services", help="list saved services (services.toml) and built-in profiles")
    _add_watch(sub)
    _add_exporter(sub)
    helper = sub.add_parser("help", help="the commands, or one command's options and examples")
    helper.add_argument("topic", nargs="?", choices=SUBCOMMANDS, metavar="COMMAND")
    from tui.cli_examples import add_examples

    add_examples(sub)
    return parser


def _add_watch(sub: Any) -> None:
    from tui.watch import add_watch_parser

    add_watch_parser(sub, "host:port, [v6]:port, a URL, or @NAME of a saved service", _symptom)


def _watch(ns: argparse.Namespace) -> int:
    from tui.watch import run_watch
    from tui.watch_options import watch_extras

    saved = _saved_service(ns)  # @NAME: its URL, headers and expected status
    target = saved.target if saved is not None else _parse_target(ns.target)
    try:
        extras = watch_extras(ns, saved)
    except remote.RemoteOptionError as exc:
        raise UsageError(str(exc)) from None
    return run_watch(target, ns, extras)


def _add_exporter(sub: Any) -> None:
    from tui.exporter.command import add_exporter_parser

    add_exporter_parser(sub)


def _exporter(ns: argparse.Namespace) -> int:
    from tui.exporter.command import ExporterUsageError, run_exporter

    try:
        return run_exporter(ns)
    except ExporterUsageError as exc:
        raise UsageError(str(exc)) from None


def build_tui_parser() -> _Parser:
    parser = _Parser(prog="netmedic", description="Open the netmedic TUI.")
    parser.add_argument("--version", action="version", version=f"netmedic {__version__}")
    parser.add_argument(
        "target",
        nargs="?",
        help="host:port, [v6]:port, a URL, or @NAME of a saved service ('netmedic services')",
    )
    parser.add_argument("--symptom", type=_symptom, default=None)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="ID",
        help="reopen the latest (or the named) saved session",
    )
    add_live_arguments(parser)
    remote.add_remote_arguments(parser)  # the target screen's "other hosts" field
    from tui.cli_examples import TUI_EXAMPLES

    parser.epilog = TUI_EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def console_main() -> int:
    """The ``netmedic`` command: :func:`main`, then an exit that never aborts.

    A probe cut short can leave a blocking call (an import, a resolver lookup) on a
    daemon thread; the interpreter killing it at exit can abort the process (SIGABRT).
    Wait briefly for those threads; if one is still stuck, leave without finalising."""
    code = main()
    from probes.core.context import join_blocking_threads

    if not join_blocking_threads(EXIT_GRACE_S):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _tolerate_narrow_encodings()
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe is found here, not in the interpreter's exit
        return code
    except UsageError as exc:
        print(f"netmedic: error: {_redact_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("netmedic: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    except Exception as exc:  # one line, never a traceback
        if os.environ.get("NETMEDIC_DEBUG") == "1":
            raise
        print(
            f"netmedic: internal error: {type(exc).__name__}: {_redact_line(str(exc))}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _tolerate_narrow_encodings() -> None:
    """``PYTHONIOENCODING=ascii`` or a C locale: what the stream cannot encode is
    written as ``\\u2014``-style escapes instead of failing with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _speaks_unicode(stream):
            with contextlib.suppress(OSError, ValueError):
                reconfigure(errors="backslashreplace")


def _speaks_unicode(stream: object) -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8", "utf-16", "utf-32")


def _reader_went_away() -> int:
    """stdout's reader closed the pipe (``netmedic sessions | head -1``): stop quietly,
    as Unix tools do, with the status a shell reports for SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 128 + 13  # SIGPIPE


def _redact_line(text: str) -> str:
    """Error text may quote what was typed: scrub secrets, keep it one line."""
    from probes.core.redact import Redactor

    return " ".join(Redactor.for_target(None).text(text).split())


def _dispatch(args: list[str]) -> int:
    if (args and args[0] in SUBCOMMANDS) or args[:1] in (["-h"], ["--help"], ["--version"]):
        ns = build_parser().parse_args(args)
        if ns.command == "check":
            return _check(ns)
        if ns.command == "symptoms":
            return _symptoms()
        if ns.command == "report":
            return _report(ns)
        if ns.command == "sessions":
            return _sessions()
        if ns.command == "demo":
            return _demo(ns)
        if ns.command == "services":
            return _services()
        if ns.command == "watch":
            return _watch(ns)
        if ns.command == "exporter":
            return _exporter(ns)
        if ns.command == "help" and ns.topic:
            return _dispatch([ns.topic, "--help"])
        build_parser().print_help()
        return EXIT_OK
    ns = build_tui_parser().parse_args(args)
    if ns.resume is not None:
        if ns.target:
            raise UsageError("give either a target or --resume, not both")
        if remote.field_words(ns):
            raise UsageError(
                "--resume reopens a session as saved; --server and --from go with a TARGET"
            )
        return _resume(ns.resume)
    pace = LivePace(ns.interval, ns.window)
    if ns.target and ns.target.startswith("@"):
        saved = _find_saved(ns.target[1:])
        return _tui(saved.target, ns.symptom, pace, service=saved, remote=_other_hosts(ns))
    target = _parse_target(ns.target) if ns.target else None
    return _tui(target, ns.symptom, pace, remote=_other_hosts(ns))


def _other_hosts(ns: argparse.Namespace) -> RemoteChoice | None:
    """``--server``/``--from`` on the TUI entry, validated as ``check`` does them."""
    try:
        return remote.given(ns)
    except remote.RemoteOptionError as exc:
        raise UsageError(str(exc)) from None


def _parse_target(text: str) -> Target:
    try:
        return parse_target(text)
    except TargetError as exc:
        raise UsageError(f"bad target: {exc}") from None


def _pasted_error(arg: str) -> PastedError:
    """``--error TEXT`` or ``--error -`` (stdin), cleaned and redacted by shape and by
    the environment's secrets; the run's redactor passes it again."""
    from probes.core.redact import Redactor
    from probes.triage.pasted import keep_error

    raw = _read_stdin() if arg == "-" else arg
    if not raw.strip():
        raise UsageError(
            "--error: the error text is empty" + (" (nothing on stdin)" if arg == "-" else "")
        )
    return keep_error(raw, Redactor.for_target(None))


def _read_stdin() -> str:
    """All of stdin up to a bound, keeping its end (where the error that counts is)."""
    from probes.triage.pasted import MAX_CHARS, MAX_STDIN_BYTES

    keep = MAX_CHARS * 4  # bytes: room for multi-byte characters
    tail = b""
    total = 0
    while total < MAX_STDIN_BYTES:
        chunk = sys.stdin.buffer.read(min(65536, MAX_STDIN_BYTES - total))
        if not chunk:
            break
        total += len(chunk)
        tail = (tail + chunk)[-keep:]
    return tail.decode("utf-8", errors="replace")


def _check_target(text: str | None, pasted: PastedError | None) -> Target:
    """TARGET when given (it wins); else the one the error names, never a guessed host."""
    if text:
        return _parse_target(text)
    if pasted is None:
        raise UsageError("check needs a TARGET (or --error TEXT naming one)")
    from probes.triage.naming import missing_reason

    named = pasted.named()
    target = named.target() if named is not None else None
    if target is None:
        raise UsageError(
            f"{missing_reason(named)}; give the target too: netmedic check HOST:PORT --error ..."
        )
    return target


def _symptoms() -> int:
    width = max(len(s.id) for s in SYMPTOMS)
    for s in SYMPTOMS:
        print(f"{s.id:<{width}}  {s.label}: {s.description}")
    return EXIT_OK


def _check(ns: argparse.Namespace) -> int:
    from probes.core.context import ProbeConfig
    from probes.core.privileges import has_raw_socket
    from probes.record.check_json import check_document
    from probes.record.safefile import OutputError, check_output_path
    from probes.run.runner import Run, run_to_end

    pasted = _pasted_error(ns.error) if ns.error is not None else None
    saved = _saved_service(ns)
    target = saved.target if saved is not None else _check_target(ns.target, pasted)
    symptom = (
        ns.symptom
        or (saved.symptom if saved is not None else "")
        or (pasted.symptom if pasted is not None else "")
        or "auto"
    )
    if ns.ca_file:
        _check_ca_file(ns.ca_file)
    from probes.core.options import OptionError, parse_header_option, parse_origin

    try:
        headers = tuple(parse_header_option(h, os.environ) for h in ns.header)
        origin = parse_origin(ns.origin) if ns.origin else ""
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    if not origin and not ns.target and pasted is not None:
        named = pasted.named()  # a browser's CORS message names the page's origin
        if named is not None and named.origin:
            with contextlib.suppress(OptionError):
                origin = parse_origin(named.origin)
    if ns.report:
        try:
            check_output_path(ns.report, ns.force)
        except OutputError as exc:
            raise UsageError(f"--report: {exc}") from None
        _report_format(ns.report, None, "--report")
    shaped = None
    if pasted is not None and saved is None:  # what the error names shapes the check
        from probes.triage.shaping import shape

        shaped = shape(pasted.text, target, ns.hold)
        target = shaped.target
    config = ProbeConfig(
        timeout=ns.timeout,
        ca_file=ns.ca_file,
        headers=headers,
        origin=origin,
        ws_hold=shaped.ws_hold if shaped is not None else ns.hold,
        app_reports=shaped.reports if shaped is not None else (),
    )
    if saved is not None:
        config = saved.configure(config)
    from probes.record.owners import seen_owners

    config = dataclasses.replace(config, seen_owners=seen_owners(target.host, target.port))
    try:
        config = remote.remote_config(ns, config)
    except remote.RemoteOptionError as exc:
        raise UsageError(str(exc)) from None
    run = Run(target, symptom, config)
    if shaped is not None:
        run.steps.extend(shaped.plan_steps(run.probe_names))
    error: PastedError | None = None
    if pasted is not None:
        from probes.triage.pasted import keep_error

        assert run.redactor is not None
        error = keep_error(pasted.text, run.redactor)  # the run is the secrets boundary
    journal = journal_or_warn(target, symptom, run.probe_names, what="run", error=error)
    if journal is not None:
        run.on_event = journal.emit
    run.on_event = remote.with_progress(run.on_event, sys.stderr, config)
    started = time.monotonic()
    try:
        diagnosis = asyncio.run(run_to_end(run, settle=True))
    except BaseException:
        if journal is not None:
            journal.close(clean=False)
        raise
    duration = time.monotonic() - started
    if journal is not None:
        journal.close()
        if journal.error:
            print(
                f"netmedic: warning: the session journal is incomplete: {journal.error}",
                file=sys.stderr,
            )
    privileged = has_raw_socket()
    if ns.json:
        doc = check_document(run, privileged, duration)
        if error is not None:
            from tui.check_view import said

            doc["error"] = {**error.to_json(), "said": said(error, run)}
        ascii_only = not _speaks_unicode(sys.stdout)  # escapes keep the JSON valid
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=ascii_only) + "\n")
    else:
        import io
        import shutil

        from rich.console import Console

        from tui.check_brief import print_brief
        from tui.check_view import print_check

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            highlight=False,
            soft_wrap=False,
            force_terminal=sys.stdout.isatty(),
            width=shutil.get_terminal_size().columns,
        )
        show = print_check if ns.verbose else print_brief
        show(run, privileged, duration, console, error=error)
        remote.print_remote(run.results, console)  # the host x layer table (--server, --from)
        sys.stdout.write(buffer.getvalue())
        if journal is not None:
            print(
                f"session {journal.session_id} saved; "
                f"'netmedic report {journal.session_id}' exports it",
                file=sys.stderr,
            )
    if ns.report:
        if journal is None:
            raise UsageError("--report needs the session journal, which could not be written")
        _write_report(journal.path, ns.report, None, ns.force)
    return check_status(diagnosis)


def check_status(diagnosis: Diagnosis) -> int:
    """``check``'s exit status: 1 for an error finding; else 4 when the run is
    incomplete — its verdict, or a probe that could not finish behind a warning — so a
    script never reads an unfinished run as a pass; else 0."""
    from probes.diagnosis.coverage import INCOMPLETE as PROBE_INCOMPLETE
    from probes.diagnosis.ranking import INCOMPLETE

    if diagnosis.verdict == INCOMPLETE:
        return EXIT_INCOMPLETE
    if diagnosis.has_errors:
        return EXIT_FINDINGS
    unfinished = any(f.id == PROBE_INCOMPLETE for f in diagnosis.findings)
    return EXIT_INCOMPLETE if unfinished else EXIT_OK


def _check_ca_file(path: str) -> None:
    """``--ca-file`` must hold at least one PEM certificate: else every TLS failure
    would be blamed on the server."""
    import ssl
    import stat

    shown = _printable(repr(path))
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(f"--ca-file {shown}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"--ca-file {shown} is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"--ca-file {shown} is not readable")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError, ValueError):
        raise UsageError(f"--ca-file {shown} holds no PEM certificate") from None
    if not context.cert_store_stats().get("x509", 0):
        raise UsageError(f"--ca-file {shown} holds no PEM certificate")


def _report_format(path: str, fmt: str | None, option: str) -> str:
    """The format for an output file: *fmt* when given, else from the extension; an
    unknown extension is refused rather than filled with another format."""
    from tui.report import EXTENSIONS, format_for_path

    if fmt:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix and suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UsageError(
            f"{option} {_printable(path)}: unknown extension {_printable(suffix)} (use {known})"
        )
    return format_for_path(path)


def _saved_service(ns: argparse.Namespace) -> ServiceCheck | None:
    """``check @NAME``: what the saved service runs (the TUI's picker runs the same,
    :func:`probes.record.services.service_check`); None for a plain target.  An
    explicit --symptom or --header still counts."""
    if not ns.target or not ns.target.startswith("@"):
        return None
    return _find_saved(ns.target[1:])


def _find_saved(name: str) -> ServiceCheck:
    from probes.record.services import ServicesError, find_service, service_check

    try:
        return service_check(find_service(name), os.environ)
    except (ServicesError, TargetError) as exc:
        raise UsageError(str(exc)) from None


def _services() -> int:
    from probes.core.profiles import KINDS
    from probes.record.services import ServicesError, load_services_file, services_path

    path = services_path()
    try:
        saved_file = load_services_file(path)
    except ServicesError as exc:
        raise UsageError(str(exc)) from None
    saved = saved_file.services
    if not saved:
        print(f"no saved services in {path}; an example:\n")
        from probes.record.services import SAMPLE

        print(SAMPLE)
    else:
        print(f"saved services ({path}):")
        for s in saved:
            headers = ", ".join(
                f"{h} from ${v}{'' if v in os.environ else ' (not set)'}" for h, v in s.headers
            )
            extra = [
                f"kind {s.kind}" if s.kind else "",
                f"symptom {s.symptom}" if s.symptom else "",
                f"expects {s.expect}" if s.expect else "",
                headers,
            ]
            print(_printable(f"  @{s.name:<14} {s.check_url}  " + "; ".join(e for e in extra if e)))
            if s.description:
                print(_printable(f"  {'':<15} {s.description}"))
    print('\nbuilt-in profiles (applied from the port, or kind = "..."):')
    for kind in KINDS.values():
        ports = ", ".join(f":{p}" for p in kind.ports) or "any port"
        auth = (
            f"; key in {kind.auth.header}" + (f" ({kind.auth.scheme})" if kind.auth.scheme else "")
            if kind.auth
            else ""
        )
        health = f"; health {kind.health}" if kind.health else ""
        print(f"  {kind.name:<11} {kind.label} ({ports}{health}{auth})")
    for error in saved_file.errors:  # each disabled entry, file:line (exit 2 below)
        print(_printable(f"netmedic: {error}"), file=sys.stderr)
    return EXIT_USAGE if saved_file.errors else EXIT_OK


def _write_report(journal_path: Path, output: str, fmt: str | None, force: bool) -> None:
    from probes.record.safefile import OutputError, write_private
    from probes.record.session import JournalError, read_journal
    from tui.report import render

    try:
        session = read_journal(journal_path)
        text = render(session, _report_format(output, fmt, "--report"))
        write_private(output, text.encode("utf-8"), force=force)
    except (OutputError, JournalError) as exc:
        raise UsageError(str(exc)) from None


def _report(ns: argparse.Namespace) -> int:
    from probes.record.safefile import OutputError, check_output_path, write_private
    from probes.record.session import JournalError, load_session
    from tui.report import render
    from tui.report.bundle import build_bundle

    try:
        outputs = [p for p in (ns.output, ns.bundle) if p]
        for path in outputs:
            check_output_path(path, ns.force)
        if len(outputs) == 2 and os.path.abspath(outputs[0]) == os.path.abspath(outputs[1]):
            raise UsageError("-o and --bundle name the same file")
        fmt = _report_format(ns.output, ns.format, "-o") if ns.output else ns.format or "md"
        session = load_session(ns.session)
        if ns.output:
            write_private(ns.output, render(session, fmt).encode("utf-8"), ns.force)
            print(f"netmedic: wrote {ns.output}", file=sys.stderr)
        if ns.bundle:
            write_private(ns.bundle, build_bundle(session), ns.force)
            print(f"netmedic: wrote {ns.bundle}", file=sys.stderr)
        if not outputs:
            text = render(session, fmt)
            if fmt == "json" and not _speaks_unicode(sys.stdout):
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=True) + "\n"
            sys.stdout.write(text)
    except (OutputError, JournalError) as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def _sessions() -> int:
    import datetime as dt

    from probes.record.journal import sessions_dir
    from probes.record.session import JournalError, list_sessions

    try:
        found = list_sessions()
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not found:
        print(f"no saved sessions in {sessions_dir()}")
        return EXIT_OK
    rows = [("SESSION", "STARTED (UTC)", "TARGET", "SYMPTOM", "LAST VERDICT", "STATE")]
    for s in found:
        if s.error:
            rows.append((s.id, "?", "?", "?", "?", f"unreadable: {s.error}"))
            continue
        when = dt.datetime.fromtimestamp(s.started_t, dt.UTC).strftime("%Y-%m-%d %H:%M")
        state = "closed" if s.ended else "interrupted"
        rows.append((s.id, when, s.target, s.symptom, s.verdict_text or s.verdict, state))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        line = "  ".join(f"{r[i]:<{widths[i]}}" for i in range(5)) + "  " + r[5]
        print(_printable(line))
    return EXIT_OK


def _printable(text: str) -> str:
    from probes.core.sanitize import clean_text

    return clean_text(text, 1000)


def _demo(ns: argparse.Namespace) -> int:
    if ns.json and not ns.check:
        raise UsageError("--json goes with --check (netmedic demo --check --json)")
    from tui.demo.servers import DemoLab, hang_up_exits

    # Every server stops, and the certificates go, on the way out: a hang-up too.
    with hang_up_exits(), DemoLab() as lab:
        if ns.check:
            return _demo_check(lab, ns.json)
        from tui.app import run_demo

        return run_demo(lab)


def _demo_check(lab: DemoLab, as_json: bool) -> int:
    from tui.demo.selftest import check_all, document

    started = time.monotonic()
    results = asyncio.run(check_all(lab.cases, lab.ca_file))
    duration = time.monotonic() - started
    if as_json:
        sys.stdout.write(json.dumps(document(results, duration), indent=2) + "\n")
    else:
        import shutil

        from rich.console import Console

        from tui.demo.table import print_results

        console = Console(
            highlight=False,
            soft_wrap=False,
            force_terminal=sys.stdout.isatty(),
            width=shutil.get_terminal_size().columns if sys.stdout.isatty() else 100,
        )
        print_results(results, duration, console)
    return EXIT_OK if all(r.matched for r in results) else EXIT_FINDINGS


def _resume(ref: str) -> int:
    from probes.record.journal import check_not_in_use
    from probes.record.session import JournalError, load_session
    from probes.run.plans import PLANS

    try:
        session = load_session(None if ref == "latest" else ref)
        check_not_in_use(session.path)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    target = session.target()
    if not target.host or not 1 <= target.port <= 65535 or session.symptom not in PLANS:
        raise UsageError(f"session {session.id} has no usable target or symptom; cannot resume it")
    from tui.app import run_app

    return run_app(target, session.symptom, session=session)


def _tui(
    target: Target | None,
    symptom: str | None,
    pace: LivePace,
    service: ServiceCheck | None = None,
    remote: RemoteChoice | None = None,
) -> int:
    from tui.app import run_app

    return run_app(target, symptom, pace=pace, service=service, remote=remote)


if __name__ == "__main__":
    sys.exit(console_main())
