"""What listing already knows of each journal, so ``netmedic sessions`` reads only
the journals that are new or changed.

A listing summary (target, verdict, runs, ...) takes a journal's full parse
(:func:`probes.record.session.summarize`): with the exporter keeping 5,000 journals
that is seconds.  A journal only ever grows by appends, and any write changes its
file facts, so a summary is remembered in one file beside the journals
(:data:`CACHE_NAME`) under the journal's name and those facts: size, ``mtime_ns``,
``ctime_ns``, inode and device.  An entry is used only while all of them still
match; any other journal is parsed again, and what is remembered of journals that
are gone is dropped.

Nothing here is trusted more than a journal:

- the file is read only when it is a regular file this user owns and nobody else may
  write (the journals' own rule), in a directory :func:`check_state_dir` accepted,
  and only up to :data:`MAX_CACHE_BYTES`; anything odd about it and it is rebuilt;
- an entry speaks only for a journal the listing found by its own checks, and the
  reader of an entry (:func:`probes.record.session.summary_from_entry`) checks it
  field by field as it would a journal's header, so a forged entry says no more than a
  forged journal could;
- a journal is remembered only when it was last written or changed at least
  :data:`SETTLED_NS` before the listing began (git's "racily clean" rule).  File
  times come from a coarse clock: a write in the same tick as the listing's look
  could leave the facts as they were.  Any write after the look is stamped no earlier
  than a tick before the listing began, so a settled journal's facts always show it.
  Journals still being written are parsed on every listing.

Writes go through :func:`probes.record.safefile.replace_whole` (a temporary file,
then ``rename``): two listings at once each leave a whole, valid file.  A state
directory that cannot be written only costs the speed.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes import __version__
from probes.record.safefile import FILE_MODE, OutputError, replace_whole

CACHE_NAME = ".summaries.json"  # hidden, and not a journal's SUFFIX: never listed itself
SCHEMA = "netmedic.summaries"
VERSION = 1  # bump when a summary's fields, or what the reader makes of a journal, change
MAX_CACHE_BYTES = 64 << 20  # ~200,000 journals; a larger file is not read
SETTLED_NS = 2_000_000_000  # coarse file clocks tick every few ms; 2 s is ample

FileKey = tuple[int, int, int, int, int]


def file_key(st: os.stat_result) -> FileKey:
    """The facts any write to a journal changes (ctime even when mtime is set back)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass
class SummaryCache:
    """Journal name -> (its file key, the summary entry as JSON)."""

    directory: Path
    entries: dict[str, tuple[FileKey, list[Any]]] = field(default_factory=dict)
    listed_at_ns: int = 0  # wall clock when the listing began (the racy-clean rule)
    _seen: set[str] = field(default_factory=set)
    _changed: bool = False

    @classmethod
    def load(cls, directory: Path, listed_at_ns: int) -> SummaryCache:
        """The cache of *directory* (empty when it is missing, untrusted or corrupt)."""
        return cls(directory, _read(directory / CACHE_NAME), listed_at_ns)

    def lookup(self, name: str, st: os.stat_result) -> list[Any] | None:
        """The entry remembered for journal *name*, if its file facts still match."""
        self._seen.add(name)
        known = self.entries.get(name)
        if known is None or known[0] != file_key(st):
            return None
        return known[1]

    def remember(self, name: str, st: os.stat_result, entry: list[Any]) -> None:
        """Keep *entry* for journal *name* as *st* describes it, unless that journal was
        written too recently for its file facts to be sure to show the next write."""
        self._seen.add(name)
        settled = self.listed_at_ns - SETTLED_NS
        if st.st_mtime_ns >= settled or st.st_ctime_ns >= settled:
            self.forget(name)
            return
        self.entries[name] = (file_key(st), entry)
        self._changed = True

    def forget(self, name: str) -> None:
        if self.entries.pop(name, None) is not None:
            self._changed = True

    def save(self) -> None:
        """Write the cache back when it changed, without the journals no longer listed."""
        for name in set(self.entries) - self._seen:
            self.forget(name)
        if not self._changed:
            return
        journals = {name: [*key, *entry] for name, (key, entry) in sorted(self.entries.items())}
        doc = {"schema": SCHEMA, "version": VERSION, "netmedic": __version__, "journals": journals}
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_CACHE_BYTES:
            return  # it would not be read back: every listing parses, as without a cache
        try:
            replace_whole(self.directory / CACHE_NAME, data, FILE_MODE)
        except OutputError:
            return  # a read-only state dir: the next listing parses again
        self._changed = False


def _read(path: Path) -> dict[str, tuple[FileKey, list[Any]]]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.getuid()
            or st.st_mode & 0o022
            or st.st_size > MAX_CACHE_BYTES
        ):
            return {}
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_CACHE_BYTES + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    if (
        not isinstance(doc, dict)
        or doc.get("schema") != SCHEMA
        or doc.get("version") != VERSION
        or doc.get("netmedic") != __version__  # another netmedic may summarise otherwise
        or not isinstance(doc.get("journals"), dict)
    ):
        return {}
    entries: dict[str, tuple[FileKey, list[Any]]] = {}
    for name, row in doc["journals"].items():
        if isinstance(row, list) and len(row) > 5 and all(_plain_int(v) for v in row[:5]):
            key: FileKey = (row[0], row[1], row[2], row[3], row[4])
            entries[name] = (key, row[5:])
    return entries


def _plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
