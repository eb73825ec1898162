"""How long the exporter's journals are kept: failures for a while, one healthy run per
target, and never more than a count and a size in all.

``netmedic exporter`` journals every scrape (10 targets every 15 s is 58,000 journals
a day), so that ``netmedic report`` can show the evidence behind a failed one.  What
is worth keeping is that evidence, not a day of identical healthy runs:

- a run whose verdict was not ``ok`` (a fault, or a check cut short) is kept for
  ``keep_days``;
- of the runs that were ``ok``, only the latest ``keep_ok`` per target and symptom
  (the baseline "what it looked like when it worked"), whatever their age;
- and of all that, no more than ``keep_sessions`` journals and ``keep_mb`` MiB: the
  oldest go first, repeats before changes.  A run whose verdict differs from the
  target's run before it (the first failure of an outage, the recovery) is a change;
  the rest repeat it.  So an outage longer than the bounds still shows how it began
  next to how it is now.

Only the exporter's own journals are ever removed: their session id ends in
``-exporter`` *and* their header says ``"origin": "exporter"`` (:data:`ORIGIN`).  The
sessions of the TUI, ``check`` and ``watch`` are not even opened.  A journal another
process is still writing (it holds the journal's ``flock``) is left for the next pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from probes.record.journal import SCHEMA, SUFFIX, JournalError, check_state_dir
from probes.record.session import INCOMPLETE, finite_time, open_journal_file, read_journal

ORIGIN = "exporter"  # the header's "origin", and the tail of the session id
NAME_TAIL = f"-{ORIGIN}{SUFFIX}"
DAY_S = 86400.0
MIB = 1 << 20
OK = "ok"
GLANCE_MAX_BYTES = 1 << 20  # larger journals are read in full (session.read_journal)
FINISHED = b'{"type":"finished",'  # how the journal writes that event's line


@dataclass(frozen=True, slots=True)
class Retention:
    """What the exporter keeps of its journals (``[exporter]`` in exporter.toml)."""

    keep_days: float = 7.0  # runs whose verdict was not ok
    keep_ok: int = 1  # latest ok runs per target and symptom
    keep_sessions: int = 5000  # exporter journals in all
    keep_mb: float = 256.0  # their total size, MiB

    @property
    def keep_bytes(self) -> int:
        return int(self.keep_mb * MIB)

    def describe(self) -> str:
        ok_runs = "run" if self.keep_ok == 1 else "runs"
        return (
            f"runs not ok kept {self.keep_days:g} days, the latest {self.keep_ok} ok {ok_runs} "
            f"per target; at most {self.keep_sessions} journals, {self.keep_mb:g} MiB"
        )


@dataclass(frozen=True, slots=True)
class ExporterJournal:
    """What retention needs to know of one exporter journal."""

    path: Path
    started_t: float  # epoch seconds (the header's)
    key: str  # the target and symptom: ok runs are kept per key
    verdict: str  # the run's verdict: "ok", a finding id, or "incomplete"
    size: int

    @property
    def ok(self) -> bool:
        return self.verdict == OK


@dataclass(frozen=True, slots=True)
class PruneReport:
    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    busy: int = 0  # due to go, but still being written: left for the next pass


def to_remove(
    journals: Iterable[ExporterJournal], policy: Retention, now: float
) -> list[ExporterJournal]:
    """The journals *policy* does not keep at epoch time *now*, oldest first."""
    newest_first = sorted(journals, key=_age, reverse=True)
    oldest_failure = now - policy.keep_days * DAY_S
    ok_runs: Counter[str] = Counter()
    kept: list[ExporterJournal] = []
    gone: list[ExporterJournal] = []
    for journal in newest_first:
        if journal.ok:
            ok_runs[journal.key] += 1
            wanted = ok_runs[journal.key] <= policy.keep_ok
        else:
            wanted = journal.started_t >= oldest_failure
        (kept if wanted else gone).append(journal)
    gone.extend(_over_bounds(kept, policy, _changes(kept)))
    return sorted(gone, key=_age)


def _age(journal: ExporterJournal) -> tuple[float, str]:
    return journal.started_t, journal.path.name


def _changes(newest_first: list[ExporterJournal]) -> set[Path]:
    """The journals whose verdict differs from their target's journal kept before
    them (the oldest of each target counts as one: the earliest evidence there is)."""
    before: dict[str, str] = {}
    changes: set[Path] = set()
    for journal in reversed(newest_first):
        if before.get(journal.key) != journal.verdict:
            changes.add(journal.path)
        before[journal.key] = journal.verdict
    return changes


def _over_bounds(
    kept: list[ExporterJournal], policy: Retention, changes: set[Path]
) -> list[ExporterJournal]:
    """What goes for *kept* to fit the count and size bounds: the oldest repeats
    first, then the oldest changes."""
    count, size = len(kept), sum(j.size for j in kept)
    repeats = sorted((j for j in kept if j.path not in changes), key=_age)
    firsts = sorted((j for j in kept if j.path in changes), key=_age)
    gone = []
    for journal in (*repeats, *firsts):
        if count <= policy.keep_sessions and size <= policy.keep_bytes:
            break
        gone.append(journal)
        count -= 1
        size -= journal.size
    return gone


@dataclass
class JournalIndex:
    """What was read of each exporter journal, so a pass reads only new or changed
    files (a journal is parsed once, not once a minute)."""

    known: dict[str, tuple[int, int, ExporterJournal | None]] = field(default_factory=dict)

    def scan(self, directory: Path) -> list[ExporterJournal]:
        """The exporter journals in *directory* this user owns and may trust."""
        found: list[ExporterJournal] = []
        seen: set[str] = set()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return []
        uid = os.getuid()
        for entry in entries:
            if not entry.name.endswith(NAME_TAIL):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
                continue
            seen.add(entry.name)
            cached = self.known.get(entry.name)
            if cached is not None and cached[:2] == (st.st_size, st.st_mtime_ns):
                journal = cached[2]
            else:
                journal = _read(Path(entry.path), st.st_size)
                self.known[entry.name] = (st.st_size, st.st_mtime_ns, journal)
            if journal is not None:
                found.append(journal)
        for name in set(self.known) - seen:
            del self.known[name]
        return found

    def forget(self, path: Path) -> None:
        self.known.pop(path.name, None)


def _read(path: Path, size: int) -> ExporterJournal | None:
    """The journal's facts, or None when it is not the exporter's (never removed).

    A small journal is glanced at: its header, and its ``finished`` events (an
    exporter run is one bounded run: it is ok when its last ``finished`` says so),
    without parsing the probe results between them; a large one is read in full."""
    if size > GLANCE_MAX_BYTES:
        return _read_fully(path, size)
    try:
        with open_journal_file(path) as fh:
            data = fh.read(GLANCE_MAX_BYTES + 1)
        head, _, rest = data.partition(b"\n")
        header = json.loads(head)
        last = rest.rfind(FINISHED)
        verdict = INCOMPLETE  # no finished event: the exporter was stopped mid-check
        if last == 0 or (last > 0 and rest[last - 1 : last] == b"\n"):
            verdict = json.loads(rest[last:].partition(b"\n")[0])["diagnosis"]["verdict"]
    except (JournalError, OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("origin") != ORIGIN:
        return None
    if header.get("type") != "session" or header.get("schema") != SCHEMA:
        return None
    target = header.get("target")
    shown = target.get("input", "") if isinstance(target, dict) else ""
    key = f"{shown} {header.get('symptom', '')}"
    if not isinstance(verdict, str) or not verdict:
        verdict = INCOMPLETE
    return ExporterJournal(path, finite_time(header.get("t"), 0.0), key, verdict, size)


def _read_fully(path: Path, size: int) -> ExporterJournal | None:
    try:
        session = read_journal(path)
    except (JournalError, OSError):
        return None
    if session.header.get("origin") != ORIGIN:
        return None
    key = f"{session.target_json.get('input', '')} {session.symptom}"
    return ExporterJournal(path, session.started_t, key, session.verdict, size)


def prune(directory: Path, policy: Retention, now: float, index: JournalIndex) -> PruneReport:
    """Remove the exporter journals in *directory* that *policy* does not keep.

    Blocking (it reads and unlinks files): the exporter calls it on a worker thread."""
    check_state_dir(directory)
    journals = index.scan(directory)
    gone = to_remove(journals, policy, now)
    removed = removed_bytes = busy = 0
    for journal in gone:
        if _unlink_unless_busy(journal.path):
            removed += 1
            removed_bytes += journal.size
            index.forget(journal.path)
        else:
            busy += 1
    kept = len(journals) - removed
    kept_bytes = sum(j.size for j in journals) - removed_bytes
    return PruneReport(removed, removed_bytes, kept, kept_bytes, busy)


def _unlink_unless_busy(path: Path) -> bool:
    """Unlink *path* unless a netmedic holds its lock (it is writing it); True when
    it is gone.  The lock is held across the unlink, so nobody reopens it meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return True
