"""The session journal: every event of a session, on disk as it happens.

A journal is a JSON-lines file under ``$XDG_STATE_HOME/netmedic/sessions/``
(platformdirs' user state dir), one file per session, mode 0600 in a 0700
directory.  Each event is one ``write(2)`` of one line followed by ``fsync``,
so a dropped SSH link (SIGHUP), SIGTERM, SIGKILL or a crash loses at most the
event being written; the reader ignores a torn last line.

Line 1 is the header::

    {"type": "session", "schema": "netmedic.journal", "version": 1, "id": ...,
     "t": 1795000000.0, "started_at": "2026-11-23T13:24:51+00:00",
     "target": {...Target without credentials...}, "symptom": "auto",
     "plan": ["dns", "route", "tcp"], "host": "box", "user": "alice",
     "privileged": false, "privilege_mode": "unprivileged",
     "netmedic_version": "0.1.0", "timezone": "CET", "utc_offset_s": 3600}

plus ``"error": {"text", "line", "symptom"}`` when the session started from an error
the person pasted (:class:`probes.triage.pasted.PastedError`, already redacted), and
``"origin": "exporter"`` in a journal ``netmedic exporter`` wrote (its id ends in
``-exporter``; :mod:`probes.record.retention` prunes those, and only those).

Every later line has ``type``, ``seq`` (1, 2, ...) and ``t`` (epoch seconds):

=============  ==========================================================
``probe``      ``run``, ``result`` (a ProbeResult as JSON)
``diagnosis``  ``run``, ``diagnosis`` ({findings, verdict})
``finished``   ``run``, ``duration_s``, ``diagnosis``
``retest``     ``run`` (the run this retest starts)
``step``       ``finding_id``, ``step_index``, ``state`` (todo|done|did_not_help)
``note``       ``finding_id`` ("" for the whole session), ``text``
``followup``   ``run``, ``probe``, ``reason``, ``trigger``, ``after_s``: evidence asked for a probe
``finding``    ``run``, ``finding_id``, ``change`` (raised|cleared), ``severity``, ``title``,
               ``at_s``, ``window``, ``evidence``: a live run's finding came or went
``resumed``    a face reopened the session to continue it
``limit``      ``run``, ``events``, ``bytes``: this run reached its journal bound (below)
``end``        the session was closed cleanly
=============  ==========================================================

One run's journal is bounded (:class:`RunBudget`): past half of :data:`RUN_MAX_BYTES`
a live run's checkpoints are rolled (one per probe per :data:`ROLLED_CHECKPOINT_S`;
its first results and every change are still written); at :data:`RUN_MAX_BYTES` or
:data:`RUN_MAX_EVENTS` one ``limit`` event is written and, until the next run, only
what ends or marks the session (``finished``, ``end``, steps, notes).

Everything it receives is already redacted: the run (:mod:`probes.run.runner`) is
the secrets boundary, and faces redact what a person types before emitting it.  Readers
(:mod:`probes.record.session`) skip unknown event types, so adding one is compatible;
changing the meaning of a field bumps ``version``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from probes import __version__
from probes.core.events import (
    DiagnosisUpdate,
    FindingChanged,
    FollowUp,
    NoteAdded,
    ProbeUpdate,
    RetestStarted,
    RunFinished,
    StepMarked,
)
from probes.core.model import to_jsonable
from probes.core.target import Target
from probes.record.safefile import FILE_MODE, OutputError, ensure_private_dir, writable_by_others
from probes.triage.pasted import PastedError

# One run's bound in the journal (a retest starts a new run, with a new budget).
RUN_MAX_BYTES = 32 << 20
RUN_MAX_EVENTS = 50_000
# Past half the bytes, a live run keeps one checkpoint per probe this often.
ROLLED_CHECKPOINT_S = 3600.0
# Events written whatever the budget: they end a run or mark the session.
_ALWAYS = frozenset({"finished", "retest", "step", "note", "resumed", "end"})

SCHEMA = "netmedic.journal"
SCHEMA_VERSION = 1
SUFFIX = ".jsonl"


def sessions_dir() -> Path:
    """Where journals live: ``$XDG_STATE_HOME/netmedic/sessions`` on Linux."""
    return platformdirs.user_state_path("netmedic", appauthor=False) / "sessions"


def state_root() -> Path:
    """``$XDG_STATE_HOME`` (or ``~/.local/state``): where the trusted chain starts."""
    return platformdirs.user_state_path(appauthor=False)


def check_state_dir(directory: Path) -> None:
    """Refuse a state directory someone else could tamper with, as OpenSSH does.

    Every existing directory from the state root (``$XDG_STATE_HOME``) down to
    *directory* — or *directory* alone when it lies elsewhere — must be a real
    directory owned by this user (or root) and writable by nobody else: not by
    others, and by its group only when that group is this user's private group (as
    Debian's OpenSSH allows under ``umask 002``).  Otherwise another user could plant
    a journal for us to list and report, or move ours away (``sudo -E`` keeps the
    invoking user's ``XDG_STATE_HOME``).  Raises :class:`UnsafeStateDir`."""
    root = state_root()
    try:
        relative = directory.relative_to(root)
        chain = [root, *(root / Path(*relative.parts[: i + 1]) for i in range(len(relative.parts)))]
    except ValueError:
        chain = [directory]
    uid = os.getuid()
    for path in chain:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UnsafeStateDir(f"cannot check {path}: {exc.strerror or exc}") from None
        if stat.S_ISLNK(st.st_mode) and path == root:
            try:
                st = os.stat(path)  # $XDG_STATE_HOME itself may be a link the user made
            except OSError as exc:
                raise UnsafeStateDir(f"cannot check {path}: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeStateDir(f"{path} is not a directory")
        if st.st_uid not in (uid, 0):
            raise UnsafeStateDir(
                f"{path} belongs to uid {st.st_uid}, not to you (uid {uid}); "
                "refusing to keep sessions there (is XDG_STATE_HOME another user's?)"
            )
        if writable_by_others(st):
            raise UnsafeStateDir(
                f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                "refusing to keep sessions there"
            )


def new_session_id(now: float | None = None) -> str:
    """Sortable, unique: ``20261123-132451-3f9a1c``."""
    stamp = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    return f"{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def environment_facts(privileged: bool | None = None) -> dict[str, Any]:
    """Who/where: host name, user, privilege mode, version, time zone."""
    if privileged is None:
        from probes.core.privileges import has_raw_socket

        privileged = has_raw_socket()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    local = dt.datetime.now().astimezone()
    offset = local.utcoffset()
    return {
        "host": socket.gethostname(),
        "user": user,
        "privileged": privileged,
        "privilege_mode": "raw sockets" if privileged else "unprivileged (fallback probes)",
        "netmedic_version": __version__,
        "timezone": local.tzname() or "",
        "utc_offset_s": int(offset.total_seconds()) if offset else 0,
    }


def target_json(target: Target) -> dict[str, Any]:
    """The target as journaled: what was typed (redacted) and its parts, no credentials.

    Written field by field so the journal schema does not follow Target's internals.
    """
    return {
        "input": target.input,
        "host": target.host,
        "host_unicode": target.host_unicode,
        "port": target.port,
        "scheme": target.scheme,
        "path": target.shown_path,
        "ip_version": target.ip_version,
        "zone": target.zone,
        "port_explicit": target.port_explicit,
    }


@dataclass
class RunBudget:
    """What one run has written to its journal, and what it may still write."""

    events: int = 0
    bytes: int = 0
    spent: bool = False  # the limit event is written: only _ALWAYS events follow
    checkpoints: dict[str, float] = field(default_factory=dict)  # probe -> when written

    def admits(self, kind: str, checkpoint_of: str, now: float) -> bool:
        if kind in _ALWAYS:
            return True
        if self.spent:
            return False
        if checkpoint_of and self.bytes >= RUN_MAX_BYTES // 2:
            last = self.checkpoints.get(checkpoint_of)
            if last is not None and now - last < ROLLED_CHECKPOINT_S:
                return False
        return True

    def over(self) -> bool:
        return self.events >= RUN_MAX_EVENTS or self.bytes >= RUN_MAX_BYTES


class JournalError(Exception):
    """A journal cannot be created, written or read; ``str()`` is one line."""


class UnsafeStateDir(JournalError):
    """The state directory could be changed by another user (see :func:`check_state_dir`)."""


@dataclass
class Journal:
    """An :class:`~probes.core.events.EventSink` that appends events to a journal file.

    Create with :meth:`create` (a new session) or :meth:`reopen` (append to a
    resumed one).  ``emit`` never raises: if the disk fails, the first error is
    kept in :attr:`error` and later events are dropped (the run goes on).
    """

    path: Path
    session_id: str
    clock: Callable[[], float] = time.time
    run: int = 1
    seq: int = 0
    error: str = ""
    memory: list[bytes] | None = None  # lines of an in-memory journal
    budget: RunBudget = field(default_factory=RunBudget)  # the current run's
    _fd: int = -1
    _closed: bool = False

    @classmethod
    def create(
        cls,
        target: Target,
        symptom: str,
        *,
        plan: tuple[str, ...] = (),
        directory: Path | None = None,
        clock: Callable[[], float] = time.time,
        facts: dict[str, Any] | None = None,
        session_id: str | None = None,
        error: PastedError | None = None,
        origin: str = "",
    ) -> Journal:
        """*origin* names a writer other than a person's session ("exporter"): it ends
        the session id and is in the header, so that writer's retention finds its own."""
        directory = sessions_dir() if directory is None else directory
        now = clock()
        sid = session_id or new_session_id(now) + (f"-{origin}" if origin else "")
        path = directory / f"{sid}{SUFFIX}"
        try:
            check_state_dir(directory)
            ensure_private_dir(directory, owned_below=state_root())
            check_state_dir(directory)  # what mkdir found or made
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW
            fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
            os.fchmod(fd, FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else has it
        except (OSError, OutputError, JournalError) as exc:
            kind = UnsafeStateDir if isinstance(exc, UnsafeStateDir) else JournalError
            raise kind(f"cannot create a session journal in {directory}: {_why(exc)}") from None
        journal = cls(path, sid, clock, _fd=fd)
        header = _header(sid, now, target, symptom, plan, facts, error)
        if origin:
            header["origin"] = origin
        journal._write(header)
        if journal.error:  # a full disk: leave no empty journal behind
            journal.close(clean=False)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise JournalError(f"cannot write the session journal {path}: {journal.error}")
        with contextlib.suppress(OSError):
            dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return journal

    @classmethod
    def in_memory(
        cls,
        target: Target,
        symptom: str,
        *,
        plan: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
        facts: dict[str, Any] | None = None,
        error: PastedError | None = None,
    ) -> Journal:
        """A journal kept in memory: for when the state directory is unusable, and
        for tests.  It reads back (:meth:`contents`) exactly like a file would."""
        now = clock()
        sid = new_session_id(now)
        journal = cls(Path(f"<memory:{sid}>"), sid, clock, memory=[])
        journal._write(_header(sid, now, target, symptom, plan, facts, error))
        return journal

    @classmethod
    def reopen(
        cls,
        path: Path,
        *,
        last_seq: int,
        run: int,
        clock: Callable[[], float] = time.time,
    ) -> Journal:
        """Append to an existing journal (``--resume``); writes a ``resumed`` event."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise JournalError(f"cannot reopen the session journal {path}: {_why(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(_IN_USE.format(path.name.removesuffix(SUFFIX))) from None
        session_id = path.name.removesuffix(SUFFIX)
        journal = cls(path, session_id, clock, run, last_seq, _fd=fd)
        journal._repair_tail()
        journal._event("resumed", {})
        return journal

    # -- EventSink ---------------------------------------------------------------

    def emit(self, event: object) -> None:
        if isinstance(event, ProbeUpdate):
            checkpoint_of = event.result.probe if event.checkpoint else ""
            if not self.budget.admits("probe", checkpoint_of, self.clock()):
                return
            if checkpoint_of:
                self.budget.checkpoints[checkpoint_of] = self.clock()
            self._event("probe", {"run": self.run, "result": to_jsonable(event.result)})
        elif isinstance(event, DiagnosisUpdate):
            self._event("diagnosis", {"run": self.run, "diagnosis": to_jsonable(event.diagnosis)})
        elif isinstance(event, RunFinished):
            self._event(
                "finished",
                {
                    "run": self.run,
                    "duration_s": round(event.duration_s, 6),
                    "diagnosis": to_jsonable(event.diagnosis),
                    **({"stopped": True} if event.stopped else {}),
                },
            )
        elif isinstance(event, FollowUp):
            step = event.step
            self._event(
                "followup",
                {
                    "run": self.run,
                    "probe": step.probe,
                    "reason": step.reason,
                    "trigger": step.trigger,
                    "after_s": step.at_s,
                },
            )
        elif isinstance(event, FindingChanged):
            self._event("finding", {"run": self.run, **to_jsonable(event)})
        elif isinstance(event, RetestStarted):
            self.run = event.run_number
            self.budget = RunBudget()
            self._event("retest", {"run": event.run_number})
        elif isinstance(event, StepMarked):
            self._event(
                "step",
                {
                    "finding_id": event.finding_id,
                    "step_index": event.step_index,
                    "state": event.state.value,
                },
            )
        elif isinstance(event, NoteAdded):
            self._event("note", {"finding_id": event.finding_id, "text": event.text})

    @property
    def is_open(self) -> bool:
        return not self._closed and (self._fd >= 0 or self.memory is not None)

    def contents(self) -> bytes:
        """Everything journaled so far, as the file holds it."""
        if self.memory is not None:
            return b"".join(self.memory)
        with open(self.path, "rb") as fh:
            return fh.read()

    def close(self, clean: bool = True) -> None:
        """Write the ``end`` event (when *clean*) and close the file."""
        if not self.is_open:
            return
        if clean:
            self._event("end", {})
        self._closed = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(clean=True)

    # -- writing -------------------------------------------------------------------

    def _event(self, kind: str, body: dict[str, Any]) -> None:
        budget = self.budget
        if not budget.admits(kind, "", 0.0):
            return
        self.seq += 1
        written = self._write({"type": kind, "seq": self.seq, "t": round(self.clock(), 6), **body})
        budget.events += 1
        budget.bytes += written
        if not budget.spent and budget.over():
            budget.spent = True
            self.seq += 1
            limit = {"run": self.run, "events": budget.events, "bytes": budget.bytes}
            self._write({"type": "limit", "seq": self.seq, "t": round(self.clock(), 6), **limit})

    def _write(self, record: dict[str, Any]) -> int:
        """Append *record* as one line; the bytes written (0 when nothing was)."""
        if self.error or not self.is_open:
            return 0
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
        if self.memory is not None:
            self.memory.append(data)
            return len(data)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self.error = _why(exc)
            return 0
        return len(data)

    def _repair_tail(self) -> None:
        """A torn last line (crash mid-write) gets a newline so new events stay parseable."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() == 0:
                    return
                fh.seek(-1, os.SEEK_END)
                last = fh.read(1)
        except OSError:
            return
        if last != b"\n":
            with contextlib.suppress(OSError):
                os.write(self._fd, b"\n")


_IN_USE = "session {} is open in another netmedic; close that one first"


def check_not_in_use(path: Path) -> None:
    """Raise :class:`JournalError` when a running netmedic is writing *path*.

    Every face holds an exclusive ``flock`` on the journal it appends to (the
    kernel drops it when that process ends, even on SIGKILL), so two faces never
    interleave events in one session."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # the reader reports a missing or unreadable file
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise JournalError(_IN_USE.format(path.name.removesuffix(SUFFIX))) from None
    finally:
        os.close(fd)


def _header(
    sid: str,
    now: float,
    target: Target,
    symptom: str,
    plan: tuple[str, ...],
    facts: dict[str, Any] | None,
    error: PastedError | None = None,
) -> dict[str, Any]:
    header = {
        "type": "session",
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "id": sid,
        "t": round(now, 6),
        "started_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
        "target": target_json(target),
        "symptom": symptom,
        "plan": list(plan),
        **(facts if facts is not None else environment_facts()),
    }
    if error is not None:
        header["error"] = error.to_json()
    return header


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
