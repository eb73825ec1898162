"""Read a session journal back into a :class:`Session` (reports, ``--resume``).

Loader API (what faces use)::

    from probes.record.session import load_session, list_sessions, JournalError

    session = load_session("latest")          # or an id, an id prefix, a path
    session.target()                          # probes.core.target.Target (no credentials)
    session.symptom                           # "tls"
    session.latest                            # RunRecord of the last run (or None)
    session.latest.probe_results()            # {probe: ProbeResult}, data as plain JSON
    session.verdict, session.verdict_text     # "incomplete", "incomplete (3 of 8 probes finished)"
    session.diagnosis()                       # Diagnosis of session.findings_run
    session.step_states                       # {(finding_id, step_index): StepState}
    session.notes                             # [Note(t, finding_id, text)]
    session.next_run_number                   # pass to RetestStarted for a retest
    journal = session.reopen_journal()        # a Journal (EventSink) appending to it

Results data is probe-specific and stays plain JSON (``dict``) here; faces
render the probes they know and the rest generically.

A torn last line is ignored (``Session.torn_tail`` says so); any other
unreadable line is skipped and counted in ``Session.skipped_lines``.  A journal
larger than :data:`MAX_JOURNAL_BYTES` (a ``watch`` of days) is read by its head and
its tail, :data:`HEAD_BYTES` each; ``Session.gap_bytes`` says how much of its middle
was left unread.  A journal
written by a newer netmedic (``version`` above :data:`SCHEMA_VERSION`) raises
:class:`JournalError` with one line saying so.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.core.events import StepState
from probes.core.model import (
    Diagnosis,
    Finding,
    NextStep,
    ProbeError,
    ProbeResult,
    Severity,
    Status,
)
from probes.core.sanitize import clean_text, clean_tree, is_clean
from probes.core.target import Target
from probes.record.journal import (
    SCHEMA,
    SCHEMA_VERSION,
    SUFFIX,
    Journal,
    JournalError,
    check_state_dir,
    sessions_dir,
)
from probes.record.summary_cache import SummaryCache
from probes.triage.pasted import PastedError

# Bounds on what a journal can make a reader do: anything beyond them was not written
# by netmedic (a forged or corrupt file) and is skipped, never kept.
MAX_JOURNAL_BYTES = 64 << 20
# An oversized journal is read from both ends: the session header, the plan and the
# first results are at its head, the latest runs and verdict at its tail.
HEAD_BYTES = TAIL_BYTES = MAX_JOURNAL_BYTES // 2
MAX_LINE_BYTES = 4 << 20  # one event; a probe result is a few KiB
MAX_RUNS = 200
MAX_PROBES_PER_RUN = 64
MAX_ARRIVALS_PER_RUN = 512
MAX_MARKS = 2000  # steps marked, notes
MAX_T = 253402300799.0  # 9999-12-31: later "times" are forged or corrupt
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
INCOMPLETE = "incomplete"  # DESIGN.md: a run cut short; the verdict so far is not an answer

__all__ = [
    "INCOMPLETE",
    "JournalError",
    "Note",
    "RunRecord",
    "Session",
    "SessionSummary",
    "StepMark",
    "VerdictChange",
    "diagnosis_from_json",
    "find_session",
    "journal_session",
    "list_sessions",
    "load_session",
    "read_journal",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class Note:
    t: float
    finding_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FindingMove:
    """A live run's ``finding`` event: a warning or error finding raised or cleared."""

    t: float
    run: int
    finding_id: str
    change: str  # raised | cleared
    severity: str
    title: str
    first: bool  # raised by the run's first diagnosis (not a change seen live)


@dataclass(frozen=True, slots=True)
class StepMark:
    t: float
    finding_id: str
    step_index: int
    state: StepState


@dataclass(frozen=True, slots=True)
class VerdictChange:
    t: float
    run: int
    before: str  # "" when there was no verdict yet
    after: str


@dataclass
class RunRecord:
    """One run of the probe plan (the first run, or a retest).

    A run is *complete* when its ``finished`` event was journaled (and the runner did
    not itself call it incomplete), or when it is a live run that reached a verdict
    before its process ended without journaling the end (an SSH drop, a kill): every
    probe had answered and its diagnosis was an answer, so it is told *stopped* (and
    when), not incomplete.  Otherwise its verdict is ``incomplete``, whatever its
    diagnosis said so far."""

    number: int
    started_t: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe -> latest result
    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # final results
    diagnosis_json: dict[str, Any] | None = None
    finished: bool = False
    stopped: bool = False  # a live run the person ended after every probe answered
    duration_s: float | None = None
    finished_t: float | None = None
    plan: tuple[str, ...] = ()  # the probes the session planned (from the header)
    last_t: float = 0.0  # the run's latest journaled event

    @property
    def dropped_with_answer(self) -> bool:
        """A live run that ended without its ``finished`` event after every probe had
        answered (a final result, or a live probe's journaled window) and its latest
        diagnosis was an answer: it reached a verdict, then the session dropped."""
        if self.finished or self.verdict_so_far in ("", INCOMPLETE):
            return False
        probes = dict.fromkeys([*self.plan, *self.results])
        results = [self.results.get(name) for name in probes]
        if not any(r is not None and _live_answer(r) for r in results):
            return False  # a bounded run killed mid-way stays cut short
        return all(r is not None and (r.get("final", True) or _live_answer(r)) for r in results)

    @property
    def stopped_t(self) -> float | None:
        """When a live run was stopped: by the person, or by the session dropping."""
        if self.stopped:
            return self.finished_t
        return self.last_t if self.dropped_with_answer else None

    @property
    def verdict_so_far(self) -> str:
        """The diagnosis' verdict as journaled ("" before any diagnosis)."""
        if self.diagnosis_json is None:
            return ""
        return str(self.diagnosis_json.get("verdict", "ok"))

    @property
    def complete(self) -> bool:
        ended = self.finished or self.dropped_with_answer
        return ended and self.verdict_so_far not in ("", INCOMPLETE)

    @property
    def verdict(self) -> str:
        return self.verdict_so_far if self.complete else INCOMPLETE

    @property
    def probes_finished(self) -> int:
        """Probes with a final result (partial results are not answers)."""
        return sum(1 for r in self.results.values() if r.get("final", True))

    @property
    def probes_planned(self) -> int:
        """The plan, plus any probe that reported without being in it (follow-ups)."""
        return len(dict.fromkeys([*self.plan, *self.results]))

    @property
    def verdict_text(self) -> str:
        """``tls.expired``, ``tls.expired (stopped 10:42:07 UTC, the session dropped)``, or
        ``incomplete (3 of 8 probes finished)``."""
        if self.dropped_with_answer:
            when = time.strftime("%H:%M:%S UTC", time.gmtime(self.last_t))
            return f"{self.verdict} (stopped {when}, the session dropped)"
        if self.complete:
            return self.verdict
        return f"{INCOMPLETE} ({self.probes_finished} of {self.probes_planned} probes finished)"

    def diagnosis(self) -> Diagnosis:
        return diagnosis_from_json(self.diagnosis_json or {})

    def probe_results(self) -> dict[str, ProbeResult]:
        """Results as :class:`ProbeResult`; ``data`` stays a plain dict."""
        return {name: result_from_json(raw) for name, raw in self.results.items()}


@dataclass
class Session:
    path: Path
    header: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    steps: list[StepMark] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    verdict_changes: list[VerdictChange] = field(default_factory=list)
    finding_moves: list[FindingMove] = field(default_factory=list)
    ended: bool = False
    resumed: int = 0
    last_seq: int = 0
    last_t: float = 0.0
    torn_tail: bool = False
    skipped_lines: int = 0
    gap_bytes: int = 0  # the unread middle of an oversized journal
    limited_runs: list[int] = field(default_factory=list)  # runs that hit the journal bound

    @property
    def id(self) -> str:
        """The session id: safe as a file or zip entry name (a forged one is not used)."""
        return safe_session_id(self.header.get("id"), self.path)

    @property
    def started_t(self) -> float:
        return finite_time(self.header.get("t"), 0.0)

    @property
    def symptom(self) -> str:
        return str(self.header.get("symptom", "auto"))

    @property
    def target_json(self) -> dict[str, Any]:
        target = self.header.get("target")
        return target if isinstance(target, dict) else {}

    @property
    def latest(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    @property
    def pasted_error(self) -> PastedError | None:
        """The error the person brought, as the header kept it (redacted)."""
        return PastedError.from_json(self.header.get("error"))

    @property
    def plan(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.header.get("plan") or ())

    @property
    def diagnosed(self) -> RunRecord | None:
        """The last run that reached a diagnosis (a retest cut short has none yet)."""
        return next((r for r in reversed(self.runs) if r.diagnosis_json is not None), None)

    @property
    def last_complete(self) -> RunRecord | None:
        """The last run that finished: the only kind before/after comparisons use."""
        return next((r for r in reversed(self.runs) if r.complete), None)

    @property
    def findings_run(self) -> RunRecord | None:
        """The run whose findings a face shows: the last run when it finished; after a
        run cut short, the last run that finished (where the person's marks and notes
        were made), else the cut run's partial findings."""
        latest = self.latest
        if latest is not None and latest.complete:
            return latest
        return self.last_complete or self.diagnosed

    @property
    def complete(self) -> bool:
        """The last run finished (a session with no run at all is not complete)."""
        return self.latest is not None and self.latest.complete

    @property
    def verdict(self) -> str:
        """The last run's verdict: ``incomplete`` when it was cut short."""
        return self.latest.verdict if self.latest else INCOMPLETE

    @property
    def verdict_text(self) -> str:
        """The verdict as told to a person: ``incomplete (N of M probes finished)``."""
        if self.latest is None:
            return f"{INCOMPLETE} (0 of {len(self.plan)} probes finished)"
        return self.latest.verdict_text

    @property
    def next_run_number(self) -> int:
        return (self.runs[-1].number + 1) if self.runs else 1

    @property
    def step_states(self) -> dict[tuple[str, int], StepState]:
        states: dict[tuple[str, int], StepState] = {}
        for mark in self.steps:
            states[(mark.finding_id, mark.step_index)] = mark.state
        return states

    def diagnosis(self) -> Diagnosis:
        """The findings of :attr:`findings_run` (its verdict as that run journaled it)."""
        run = self.findings_run
        return run.diagnosis() if run else Diagnosis((), INCOMPLETE)

    def target(self) -> Target:
        """The target as recorded (credentials were never journaled)."""
        raw = self.target_json
        path = str(raw.get("path") or "/")
        fields: dict[str, Any] = {
            "input": str(raw.get("input", "")),
            "host": str(raw.get("host", "")),
            "port": _small_int(raw.get("port")),
            "scheme": str(raw.get("scheme", "tcp")),
            "path": path,
            "host_unicode": str(raw.get("host_unicode", "")),
            "ip_version": _small_int(raw.get("ip_version")),
            "zone": str(raw.get("zone", "")),
            "port_explicit": bool(raw.get("port_explicit", False)),
        }
        return Target(**fields)

    def reopen_journal(self) -> Journal:
        """A :class:`Journal` that appends to this session (for a resumed TUI)."""
        run = self.latest.number if self.latest else 1
        return Journal.reopen(self.path, last_seq=self.last_seq, run=run)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    id: str
    path: Path
    started_t: float
    target: str
    symptom: str
    verdict: str
    runs: int
    ended: bool
    error: str = ""  # set when the journal could not be read
    verdict_text: str = ""  # "incomplete (3 of 8 probes finished)" for a run cut short
    origin: str = ""  # "exporter" for a scrape's journal; "" for a person's session


# -- reading ---------------------------------------------------------------------------


def read_journal(path: str | os.PathLike[str]) -> Session:
    """Parse a journal file into a :class:`Session`, streaming it line by line.

    Only a regular file is read (a FIFO or a device would block or never end); a
    symbolic link named explicitly is followed, as ``cat`` would.  Memory stays
    bounded whatever the file holds (see the ``MAX_*`` limits)."""
    p = Path(path)
    with open_journal_file(p) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= MAX_JOURNAL_BYTES:
            return parse_lines(fh, p)
        gap: list[int] = []
        session = parse_lines(fh, p, _head_and_tail(fh, size, gap))
        session.gap_bytes = sum(gap)
        return session


def _head_and_tail(
    fh: io.BufferedReader, size: int, gap: list[int]
) -> Iterator[tuple[bytes | None, bool]]:
    """The whole lines of an oversized journal's first :data:`HEAD_BYTES` and last
    :data:`TAIL_BYTES`; the bytes between them are never read (*gap* gets their count)."""
    for item in _lines(fh):
        yield item
        if fh.tell() >= HEAD_BYTES:
            break
    head_end = fh.tell()
    start = max(head_end, size - TAIL_BYTES)
    if start > head_end:
        fh.seek(start - 1)
        if fh.read(1) != b"\n":  # mid-line: that line's start is in the gap
            for _partial in _lines_up_to_newline(fh):
                pass
        gap.append(fh.tell() - head_end)
    yield from _lines(fh)


def _lines_up_to_newline(fh: io.BufferedIOBase) -> Iterator[bytes]:
    while chunk := fh.readline(1 << 20):
        yield chunk
        if chunk.endswith(b"\n"):
            return


def open_journal_file(p: Path) -> io.BufferedReader:
    """Open *p* for reading if it is a regular file of a sane size (never blocks)."""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except IsADirectoryError:
        raise JournalError(f"{p} is a directory, not a session journal") from None
    except OSError as exc:
        raise JournalError(f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise JournalError(f"{p} is a directory, not a session journal")
        if not stat.S_ISREG(st.st_mode):
            raise JournalError(f"{p} is not a regular file (a FIFO, socket or device?)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def journal_session(journal: Journal) -> Session:
    """What *journal* holds so far, read back (file or in-memory alike)."""
    try:
        data = journal.contents()
    except OSError as exc:
        raise JournalError(f"cannot read {journal.path}: {exc.strerror or exc}") from None
    return parse_journal(data, journal.path)


def parse_journal(data: bytes, path: Path) -> Session:
    return parse_lines(io.BytesIO(data), path)


def _lines(fh: io.BufferedIOBase) -> Iterator[tuple[bytes | None, bool]]:
    """``(line, has_newline)``; ``line`` is None for one longer than MAX_LINE_BYTES
    (its bytes are read and dropped, never kept)."""
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 20)
            yield None, bool(line)
            continue
        yield line, line.endswith(b"\n")


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return record if isinstance(record, dict) else None


def parse_lines(
    fh: io.BufferedIOBase,
    path: Path,
    lines: Iterator[tuple[bytes | None, bool]] | None = None,
) -> Session:
    """Build a :class:`Session` from journal lines (*lines*, default every line of
    *fh*), keeping only what is bounded."""
    session: Session | None = None
    first = True
    skipped = 0
    torn = False
    for line, has_newline in _lines(fh) if lines is None else lines:
        if line is not None and not line.strip():
            continue
        record = None if line is None else _record(line)
        if record is None:
            if not has_newline:
                torn = True  # the last line, cut off mid-write
            elif first:
                raise JournalError(f"{path} is not a netmedic session journal")
            else:
                skipped += 1
            continue
        if first:
            session = _session_from_header(record, path)
            first = False
            continue
        assert session is not None and line is not None
        if not has_newline:
            torn = True  # complete JSON but no newline: still the last write, keep it
        try:
            _apply(session, _cleaned(record, line))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            skipped += 1
    if session is None:
        raise JournalError(f"{path} is not a netmedic session journal (no session header)")
    session.torn_tail = torn
    session.skipped_lines = skipped
    plan = session.plan
    for run in session.runs:
        run.plan = plan
    session.verdict_changes = _verdict_changes(session)
    return session


# What in a line's bytes can put a character clean_tree would escape into its record:
# an ASCII control (raw, or the JSON escapes \b \f \r), a \uXXXX escape, or DEL.
_ASCII_UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\\[bfru]")


def _cleaned(record: dict[str, Any], line: bytes) -> dict[str, Any]:
    """*record* as :func:`clean_tree` makes it, without walking it when its line can
    hold nothing to clean (most lines: a journal's own writes).  Walking every
    record was most of a full parse."""
    if _ASCII_UNSAFE.search(line):
        return clean_tree(record)
    if line.isascii():
        return record
    try:
        text = line.decode("utf-8", "surrogatepass")  # as json.loads decoded it
    except UnicodeDecodeError:  # json.loads found it in another encoding
        return clean_tree(record)
    return record if is_clean(text) else clean_tree(record)


def _session_from_header(record: dict[str, Any], path: Path) -> Session:
    if record.get("type") != "session":
        raise JournalError(f"{path} is not a netmedic session journal (no session header)")
    if record.get("schema") != SCHEMA:
        schema = clean_text(repr(record.get("schema")), 80)
        raise JournalError(f"{path} is not a netmedic session journal (schema {schema})")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise JournalError(f"{path} has an invalid journal version {clean_text(repr(version), 40)}")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer netmedic (journal version {version}; "
            f"this netmedic reads up to {SCHEMA_VERSION}): upgrade netmedic to read it"
        )
    header = clean_tree(record)
    header["t"] = finite_time(header.get("t"), 0.0)
    if not isinstance(header.get("plan"), list):
        header["plan"] = []
    # Once each: a face makes one panel per planned probe.
    header["plan"] = list(dict.fromkeys(str(p) for p in header["plan"][:MAX_PROBES_PER_RUN]))
    if not isinstance(header.get("target"), dict):
        header["target"] = {}
    session = Session(path=path, header=header)
    session.last_t = session.started_t
    return session


def finite_time(value: Any, default: float) -> float:
    """An epoch time from a journal: a number between 1970 and 9999, else *default*."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    t = float(value)
    return t if math.isfinite(t) and 0.0 <= t <= MAX_T else default


def _duration(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    d = float(value)
    return d if math.isfinite(d) and 0.0 <= d <= MAX_T else None


def _small_int(value: Any, default: int = 0) -> int:
    """An int field of a forged journal: anything odd becomes *default*."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value if abs(value) < 1 << 31 else default
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 1 << 31:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value)
    return default


def safe_session_id(value: Any, path: Path) -> str:
    """The header's id when it is a plain name, else the file's name (also checked)."""
    for candidate in (value, path.name.removesuffix(SUFFIX)):
        if (
            isinstance(candidate, str)
            and _SESSION_ID.fullmatch(candidate)
            and ".." not in candidate
        ):
            return candidate
    return "unnamed-session"


def _verdict_changes(session: Session) -> list[VerdictChange]:
    """Run by run: each run's outcome (``incomplete`` for one cut short), when it moved.

    Verdicts seen mid-run are not outcomes and are not listed."""
    changes: list[VerdictChange] = []
    before = ""
    for run in session.runs:
        after = run.verdict
        if after == before:
            continue
        if run.complete:
            t = run.finished_t if run.finished_t is not None else run.started_t
        else:
            t = max([run.started_t, *(t for t, _ in run.arrivals)])
        changes.append(VerdictChange(t, run.number, before, after))
        before = after
    return changes


def _live_answer(result: dict[str, Any]) -> bool:
    """A live probe's journaled result: its first answer or a checkpoint of its window."""
    data = result.get("data")
    return isinstance(data, dict) and _small_int(data.get("window")) > 0


def _run(session: Session, number: int, t: float) -> RunRecord:
    run = _find_run(session, number, t)
    run.last_t = max(run.last_t, t)
    return run


def _find_run(session: Session, number: int, t: float) -> RunRecord:
    if session.runs and session.runs[-1].number == number:
        return session.runs[-1]
    for run in session.runs:
        if run.number == number:
            return run
    if len(session.runs) >= MAX_RUNS:
        raise ValueError("too many runs")
    run = RunRecord(number=number, started_t=t)
    session.runs.append(run)
    return run


def _apply(session: Session, record: dict[str, Any]) -> None:
    kind = record.get("type")
    t = finite_time(record.get("t"), session.last_t)
    session.last_t = max(session.last_t, t)
    seq = record.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 < seq < 1 << 53:
        session.last_seq = max(session.last_seq, seq)
    if kind == "probe":
        result = _result_json(record["result"])
        run = _run(session, _small_int(record.get("run"), 1), t)
        name = result["probe"]
        if name not in run.results and len(run.results) >= MAX_PROBES_PER_RUN:
            raise ValueError("too many probes")
        run.results[name] = result
        if result["final"] and len(run.arrivals) < MAX_ARRIVALS_PER_RUN:
            run.arrivals.append((t, result))
    elif kind in ("diagnosis", "finished"):
        diagnosis = _diagnosis_json(record["diagnosis"])
        run = _run(session, _small_int(record.get("run"), 1), t)
        run.diagnosis_json = diagnosis
        if kind == "finished":
            run.finished = True
            run.finished_t = t
            run.duration_s = _duration(record.get("duration_s")) or 0.0
            run.stopped = record.get("stopped") is True
    elif kind == "retest":
        _run(session, _small_int(record["run"], 1), t)
    elif kind == "step":
        state = StepState(record["state"])
        index = _small_int(record["step_index"], -1)
        if index < 0 or len(session.steps) >= MAX_MARKS:
            raise ValueError("bad step mark")
        session.steps.append(StepMark(t, str(record["finding_id"]), index, state))
    elif kind == "note":
        if len(session.notes) >= MAX_MARKS:
            raise ValueError("too many notes")
        session.notes.append(Note(t, str(record.get("finding_id", "")), str(record["text"])))
    elif kind == "finding":
        change = str(record.get("change", ""))
        if change in ("raised", "cleared") and len(session.finding_moves) < MAX_MARKS:
            session.finding_moves.append(
                FindingMove(
                    t,
                    _small_int(record.get("run"), 1),
                    str(record.get("finding_id", "")),
                    change,
                    str(record.get("severity", "")),
                    str(record.get("title", "")),
                    record.get("first") is True,
                )
            )
    elif kind == "limit":
        run_number = _small_int(record.get("run"), 1)
        if run_number not in session.limited_runs and len(session.limited_runs) < MAX_RUNS:
            session.limited_runs.append(run_number)
    elif kind == "resumed":
        session.resumed += 1
        session.ended = False
    elif kind == "end":
        session.ended = True
    # unknown types: written by a compatible newer netmedic; ignore


def _result_json(raw: Any) -> dict[str, Any]:
    """A probe result with its common fields of the right types (``data`` as is)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("probe"), str) or not raw["probe"]:
        raise ValueError("bad probe result")
    err = raw.get("error")
    error = None
    if isinstance(err, dict):
        error = {
            "errno_name": str(err.get("errno_name", "")),
            "explanation": str(err.get("explanation", "")),
            "answered_by": str(err.get("answered_by", "")),
            "elapsed_s": _duration(err.get("elapsed_s")) or 0.0,
        }
    data = raw.get("data")
    return {
        **raw,
        "probe": raw["probe"],
        "status": str(raw.get("status", "error")),
        "duration_s": _duration(raw.get("duration_s")) or 0.0,
        "summary": str(raw.get("summary", "")),
        "final": bool(raw.get("final", True)),
        "error": error,
        "data": data if isinstance(data, dict) else None,
    }


def _diagnosis_json(raw: Any) -> dict[str, Any]:
    """Findings and verdict with the shapes every face expects; odd entries dropped."""
    if not isinstance(raw, dict):
        raise ValueError("bad diagnosis")
    findings = []
    for f in raw.get("findings") or ():
        if not isinstance(f, dict):
            continue
        evidence = f.get("evidence")
        steps = f.get("next_steps")
        findings.append(
            {
                **f,
                "id": str(f.get("id", "")),
                "severity": str(f.get("severity", "info")),
                "title": str(f.get("title", "")),
                "rank": _small_int(f.get("rank")),
                "evidence": [str(e) for e in evidence] if isinstance(evidence, list) else [],
                "next_steps": [
                    {"text": str(s.get("text", "")), "command": _command(s.get("command"))}
                    for s in (steps if isinstance(steps, list) else ())
                    if isinstance(s, dict)
                ],
            }
        )
    if not isinstance(raw.get("findings") or [], list):
        findings = []
    return {**raw, "findings": findings, "verdict": str(raw.get("verdict", "ok"))}


def _command(value: Any) -> str | None:
    return str(value) if value else None


# -- rebuilding model objects ------------------------------------------------------------


def diagnosis_from_json(raw: dict[str, Any]) -> Diagnosis:
    findings = []
    for f in raw.get("findings", ()):
        try:
            severity = Severity(f.get("severity", "info"))
        except ValueError:
            severity = Severity.INFO
        findings.append(
            Finding(
                id=str(f.get("id", "")),
                severity=severity,
                title=str(f.get("title", "")),
                evidence=tuple(str(e) for e in f.get("evidence", ())),
                next_steps=tuple(
                    NextStep(str(s.get("text", "")), s.get("command") or None)
                    for s in f.get("next_steps", ())
                ),
                rank=_small_int(f.get("rank")),
            )
        )
    return Diagnosis(tuple(findings), str(raw.get("verdict", "ok")))


def result_from_json(raw: dict[str, Any]) -> ProbeResult:
    try:
        status = Status(raw.get("status", "error"))
    except ValueError:
        status = Status.ERROR
    err = raw.get("error")
    error = (
        ProbeError(
            str(err.get("errno_name", "")),
            str(err.get("explanation", "")),
            str(err.get("answered_by", "")),
            _duration(err.get("elapsed_s")) or 0.0,
        )
        if isinstance(err, dict)
        else None
    )
    return ProbeResult(
        probe=str(raw.get("probe", "")),
        status=status,
        duration_s=_duration(raw.get("duration_s")) or 0.0,
        summary=str(raw.get("summary", "")),
        data=raw.get("data"),
        error=error,
        final=bool(raw.get("final", True)),
    )


# -- finding and listing ---------------------------------------------------------------


def _journals(directory: Path, newest_first: bool = False) -> Iterator[Path]:
    """The journals in *directory* that this user may trust (see :func:`_journal_stats`)."""
    return (path for path, _st in _journal_stats(directory, newest_first))


def _journal_stats(
    directory: Path, newest_first: bool = False
) -> Iterator[tuple[Path, os.stat_result]]:
    """The journals in *directory* that this user may trust, with their ``lstat``, in
    name order (a session id starts with its UTC start time): regular files (not
    symlinks) owned by this user and writable by nobody else.  An empty file (a
    journal whose first write failed) holds nothing and is not listed."""
    try:
        names = sorted(os.listdir(directory), reverse=newest_first)
    except OSError:
        return
    uid = os.getuid()
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        entry = directory / name
        try:
            st = os.lstat(entry)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
            continue
        if st.st_size == 0:
            continue
        yield entry, st


def find_session(ref: str | None = None, directory: Path | None = None) -> Path:
    """Resolve ``None``/``"latest"``, a session id, an id prefix or a journal path."""
    directory = sessions_dir() if directory is None else directory
    if ref and (os.sep in ref or ref.endswith(SUFFIX) or os.path.exists(ref)):
        return Path(ref)
    check_state_dir(directory)
    journals = list(_journals(directory))
    if not ref or ref == "latest":
        if not journals:
            raise JournalError(f"no saved sessions in {directory}")
        return max(journals, key=lambda p: (p.name, p.stat().st_mtime))
    exact = directory / f"{ref}{SUFFIX}"
    if exact in journals:
        return exact
    matches = [p for p in journals if p.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JournalError(f"no session {ref!r} in {directory} (see 'netmedic sessions')")
    raise JournalError(f"{ref!r} matches {len(matches)} sessions; give more of the id")


def load_session(ref: str | None = None, directory: Path | None = None) -> Session:
    """Find (see :func:`find_session`) and read a session."""
    return read_journal(find_session(ref, directory))


def list_sessions(directory: Path | None = None) -> list[SessionSummary]:
    """Every saved session, oldest first; unreadable journals are listed with an error.

    Each summary is :func:`summarize`'s; those of journals unchanged since an earlier
    listing come from its :class:`~probes.record.summary_cache.SummaryCache`."""
    directory = sessions_dir() if directory is None else directory
    check_state_dir(directory)
    cache = SummaryCache.load(directory, listed_at_ns=time.time_ns())
    out: list[SessionSummary] = []
    for path, st in _journal_stats(directory):
        summary = summary_from_entry(path, cache.lookup(path.name, st))
        if summary is None:
            summary = summarize(path)
            entry = summary_entry(summary)
            if entry is not None:
                cache.remember(path.name, st, entry)
            else:
                cache.forget(path.name)
        out.append(summary)
    cache.save()
    out.sort(key=lambda x: x.path.name)  # ids start with the UTC start time
    return out


def summarize(path: Path) -> SessionSummary:
    """The listing's summary of one journal, from its full parse (:func:`read_journal`).

    What it says is remembered (:mod:`probes.record.summary_cache`): a change to what
    it, or the reader behind it, makes of a journal bumps ``summary_cache.VERSION``."""
    try:
        s = read_journal(path)
    except JournalError as exc:
        sid = path.name.removesuffix(SUFFIX)
        return SessionSummary(sid, path, 0.0, "", "", "", 0, False, str(exc))
    return SessionSummary(
        s.id,
        path,
        s.started_t,
        str(s.target_json.get("input", "")),
        s.symptom,
        s.verdict,
        len(s.runs),
        s.ended,
        verdict_text=s.verdict_text,
        origin=str(s.header.get("origin", "")),
    )


# -- the listing's cache entries -----------------------------------------------------------

MAX_CACHED_TEXT = 4096  # longer summary fields are parsed again, never remembered


def summary_entry(summary: SessionSummary) -> list[Any] | None:
    """*summary* as the cache keeps it, or None when it is not to be kept: an error
    (the journal may become readable) or what would not read back the same."""
    if summary.error:
        return None
    entry = [
        summary.id,
        summary.started_t,
        summary.target,
        summary.symptom,
        summary.verdict,
        summary.runs,
        summary.ended,
        summary.verdict_text,
        summary.origin,
    ]
    return entry if summary_from_entry(summary.path, entry) == summary else None


def summary_from_entry(path: Path, entry: Any) -> SessionSummary | None:
    """The summary a cache *entry* gives for the journal at *path*, or None when the
    entry is missing or is not one :func:`summary_entry` could have written (the
    journal is then parsed): text clean and bounded, a safe id, a time between 1970
    and 9999, a run count the reader could have counted."""
    if not isinstance(entry, list) or len(entry) != 9:
        return None
    sid, started_t, target, symptom, verdict, runs, ended, verdict_text, origin = entry
    texts = (sid, target, symptom, verdict, verdict_text, origin)
    if not all(isinstance(t, str) and len(t) <= MAX_CACHED_TEXT and is_clean(t) for t in texts):
        return None
    if safe_session_id(sid, path) != sid or not isinstance(started_t, float):
        return None
    if finite_time(started_t, -1.0) != started_t or not isinstance(ended, bool):
        return None
    if isinstance(runs, bool) or not isinstance(runs, int) or not 0 <= runs <= MAX_RUNS:
        return None
    return SessionSummary(
        sid,
        path,
        started_t,
        target,
        symptom,
        verdict,
        runs,
        ended,
        verdict_text=verdict_text,
        origin=origin,
    )
