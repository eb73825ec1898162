"""Who served a port in earlier runs: the process the local probe saw listening, as
the journals kept it.

When a service dies, nothing listens any more and the kernel log only names the
killed process (its pid and short name).  An earlier check of the same port saw the
process that served it: its pid, name and unit.  An OOM kill of that pid or name is
then the service's own death, whatever the name (``python3``, ``java``, ``node``).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from probes.record.journal import sessions_dir
from probes.record.session import _journals, read_journal

RECENT_JOURNALS = 30  # the newest sessions looked at (a session id sorts by time)


def seen_owners(
    host: str, port: int, directory: Path | None = None
) -> tuple[tuple[int, str, str], ...]:
    """(pid, name, unit) of each process earlier runs saw listening on *host*:*port*,
    newest first, each once."""
    where = directory if directory is not None else sessions_dir()
    found: dict[int, tuple[int, str, str]] = {}
    for path in itertools.islice(_journals(where, newest_first=True), RECENT_JOURNALS):
        if not _same_target(path, host, port):
            continue
        try:
            session = read_journal(path)
        except Exception:  # a journal that does not parse holds no owner
            continue
        for run in reversed(session.runs):
            for owner in _owners(run.results.get("local"), port):
                found.setdefault(owner[0], owner)
    return tuple(found.values())


def _same_target(path: Path, host: str, port: int) -> bool:
    """The journal's header (its first line) names *host*:*port*: only then is the
    whole journal read."""
    try:
        with path.open("rb") as fh:
            header = json.loads(fh.readline(65536))
    except (OSError, ValueError):
        return False
    target = header.get("target") if isinstance(header, dict) else None
    return isinstance(target, dict) and target.get("host") == host and target.get("port") == port


def _owners(result: Any, port: int) -> list[tuple[int, str, str]]:
    data = result.get("data") if isinstance(result, dict) else None
    if not isinstance(data, dict) or not isinstance(view := data.get("target"), dict):
        return []
    processes = {p.get("pid"): p for p in data.get("processes", ()) if isinstance(p, dict)}
    owners = []
    for listener in view.get("listeners", ()):
        if not isinstance(listener, dict) or listener.get("port") != port:
            continue
        pids = listener.get("pids")
        for pid in pids[:3] if isinstance(pids, list) else ():
            if not isinstance(pid, int):
                continue
            proc = processes.get(pid, {})
            name = str(proc.get("name") or listener.get("process") or "")[:64]
            owners.append((pid, name, str(proc.get("unit") or "")[:128]))
    return owners
