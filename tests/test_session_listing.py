"""Listing sessions at scale: the summary cache lists exactly what the full parse
does, parses only journals that are new or changed, and trusts nothing a forged
journal could not already claim."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.core.events import NoteAdded, RetestStarted
from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
from probes.core.sanitize import clean_tree
from probes.core.target import parse_target
from probes.path.pathstats import window_stats
from probes.path.ping import PingData, PingHost, PingSample
from probes.record import session as session_module
from probes.record import summary_cache
from probes.record.journal import Journal
from probes.record.session import (
    SessionSummary,
    _journals,
    list_sessions,
    summarize,
    summary_entry,
)
from probes.record.summary_cache import CACHE_NAME
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, RunFinished
from tests.data.make_session import FACTS
from tests.reliability.forge import EVIL, RAW_MARKERS, evil_events, header, write
from tui.cli import main

REFUSED = Finding("tcp.refused", Severity.ERROR, "nothing listens", ("RST from 10.0.0.5",))


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    folder = state / "netmedic" / "sessions"
    folder.mkdir(parents=True)
    for p in (state, state / "netmedic", folder):
        p.chmod(0o700)
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return folder


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Journals written a moment ago count as settled (the real rule wants 2 s)."""
    monkeypatch.setattr(summary_cache, "SETTLED_NS", 0)


def _journal(
    directory: Path, sid: str, origin: str = "", plan: tuple[str, ...] = ("tcp",)
) -> Journal:
    t = [1795428000.0 + len(sid)]

    def clock() -> float:
        t[0] += 0.5
        return t[0]

    return Journal.create(
        parse_target("db.internal:5432"),
        "refused",
        plan=plan,
        directory=directory,
        clock=clock,
        facts=FACTS,
        session_id=sid,
        origin=origin,
    )


def _finished(journal: Journal, verdict: Finding | None = REFUSED) -> None:
    journal.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.1, "refused")))
    diagnosis = Diagnosis((verdict,), verdict.id) if verdict else Diagnosis((), "ok")
    journal.emit(DiagnosisUpdate(diagnosis))
    journal.emit(RunFinished(diagnosis, 0.2))


def _ping(round_: int) -> ProbeResult:
    outcomes: list[float | None] = [0.001 if (round_ + k) % 7 else None for k in range(60)]
    samples = tuple(PingSample(k, "reply" if r else "timeout", r) for k, r in enumerate(outcomes))
    host = PingHost("10.0.0.5", 4, "raw-icmp", window_stats(outcomes), samples)
    data = PingData("raw-icmp", True, "", 1.0, 84, (host,), 60)
    return ProbeResult("ping", Status.OK, 1.0, f"round {round_}", data, final=False)


def _varied(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of journal the listing meets."""
    finished = _journal(directory, "20260101-000000-aaaaaa")
    _finished(finished)
    finished.close()

    exporter = _journal(directory, "20260101-000100-bbbbbb-exporter", origin="exporter")
    _finished(exporter, None)
    exporter.close()

    retested = _journal(directory, "20260101-000200-cccccc")
    _finished(retested)
    retested.emit(RetestStarted(2))
    _finished(retested, None)
    retested.emit(NoteAdded("", "restarted it"))
    retested.close()

    killed = _journal(directory, "20260101-000300-dddddd", plan=("dns", "tcp"))
    killed.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.1, "refused")))
    killed.close(clean=False)  # no finished: incomplete (1 of 2 probes finished)

    live = _journal(directory, "20260101-000400-eeeeee", plan=("tcp", "ping"))
    live.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.1, "refused")))
    live.emit(DiagnosisUpdate(Diagnosis((REFUSED,), "tcp.refused")))
    for round_ in range(100):
        live.emit(ProbeUpdate(_ping(round_), checkpoint=True))
    live.close(clean=False)  # dropped after its verdict: "stopped ..."

    # Oversized: read by its head and tail (bounds made small for the test).
    monkeypatch.setattr(session_module, "MAX_JOURNAL_BYTES", 200_000)
    monkeypatch.setattr(session_module, "HEAD_BYTES", 50_000)
    monkeypatch.setattr(session_module, "TAIL_BYTES", 50_000)
    big = _journal(directory, "20260101-000500-ffffff", plan=("tcp", "ping"))
    big.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.1, "refused")))
    for round_ in range(60):
        big.emit(ProbeUpdate(_ping(round_), checkpoint=True))
    _finished(big)
    big.close()
    assert big.path.stat().st_size > 200_000

    write(directory / "20260101-000600-forged.jsonl", [header(sid=f"x{EVIL}"), *evil_events()])
    (directory / "20260101-000700-garbage.jsonl").write_bytes(b"not json\n")
    future = header(sid="20260101-000800-future", version=99)
    write(directory / "20260101-000800-future.jsonl", [future])
    for path in directory.iterdir():
        path.chmod(0o600)


def _full_parse(directory: Path) -> list[SessionSummary]:
    return [summarize(p) for p in _journals(directory)]


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    read = session_module.read_journal

    def counting(path: Path) -> session_module.Session:
        parsed.append(Path(path).name)
        return read(path)

    monkeypatch.setattr(session_module, "read_journal", counting)
    return parsed


def test_the_listing_equals_the_full_parse_cold_and_warm(
    sessions: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _varied(sessions, monkeypatch)
    expected = _full_parse(sessions)
    by_id = {s.path.name.removesuffix(".jsonl"): s for s in expected}
    # The varied set says what each kind must say.
    assert by_id["20260101-000000-aaaaaa"].verdict == "tcp.refused"
    assert by_id["20260101-000100-bbbbbb-exporter"].origin == "exporter"
    assert by_id["20260101-000200-cccccc"].runs == 2
    assert by_id["20260101-000300-dddddd"].verdict_text == "incomplete (1 of 2 probes finished)"
    assert "(stopped " in by_id["20260101-000400-eeeeee"].verdict_text
    assert by_id["20260101-000500-ffffff"].verdict == "tcp.refused"
    assert by_id["20260101-000600-forged"].id == "20260101-000600-forged"  # the forged id unused
    assert "not a netmedic session journal" in by_id["20260101-000700-garbage"].error
    assert "newer netmedic" in by_id["20260101-000800-future"].error

    parsed = _count_parses(monkeypatch)
    assert list_sessions() == expected  # cold: every journal parsed, the cache written
    assert len(parsed) == len(expected)
    assert (sessions / CACHE_NAME).is_file()
    assert (sessions / CACHE_NAME).stat().st_mode & 0o777 == 0o600
    parsed.clear()
    assert list_sessions() == expected  # warm: only the unreadable ones are read again
    assert sorted(parsed) == ["20260101-000700-garbage.jsonl", "20260101-000800-future.jsonl"]


def test_sessions_prints_the_same_lines_from_the_cache(
    sessions: Path,
    settled: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _varied(sessions, monkeypatch)
    assert main(["sessions"]) == 0
    cold = capsys.readouterr().out
    assert (sessions / CACHE_NAME).is_file()
    assert main(["sessions"]) == 0
    warm = capsys.readouterr().out
    assert warm == cold and len(cold.splitlines()) == 1 + 9
    assert not any(marker in warm for marker in RAW_MARKERS)


def test_a_journal_appended_after_listing_is_read_again(
    sessions: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = _journal(sessions, "20260101-000000-aaaaaa")
    _finished(journal)
    journal.close(clean=False)
    (before,) = list_sessions()
    assert before.verdict == "tcp.refused" and before.runs == 1 and not before.ended

    again = Journal.reopen(journal.path, last_seq=99, run=1)  # a resumed session retests
    again.emit(RetestStarted(2))
    _finished(again, None)
    again.close()
    parsed = _count_parses(monkeypatch)
    (after,) = list_sessions()
    assert parsed == [journal.path.name]
    assert after.verdict == "ok" and after.runs == 2 and after.ended
    assert [after] == _full_parse(sessions)


def _after_the_file_clock_moves(path: Path) -> None:
    """Wait (a tick of the kernel's coarse file clock: milliseconds) until a write
    gets a later ctime than *path*'s last one."""
    marker = path.with_name("tick")
    last = path.stat().st_ctime_ns
    while True:
        marker.write_bytes(b"")
        if marker.stat().st_ctime_ns > last:
            break
        time.sleep(0.001)
    marker.unlink()


def test_a_rewrite_that_keeps_size_and_mtime_is_still_seen(sessions: Path, settled: None) -> None:
    """Same size, mtime set back: the inode's ctime still moved, so it is read again."""
    journal = _journal(sessions, "20260101-000000-aaaaaa")
    _finished(journal)
    journal.close()
    (before,) = list_sessions()
    _after_the_file_clock_moves(journal.path)
    st = journal.path.stat()
    data = journal.path.read_bytes()
    assert data.count(b'"verdict":"tcp.refused"') == 2
    journal.path.write_bytes(data.replace(b'"verdict":"tcp.refused"', b'"verdict":"tls.expired"'))
    os.utime(journal.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert journal.path.stat().st_size == st.st_size
    (after,) = list_sessions()
    assert before.verdict == "tcp.refused" and after.verdict == "tls.expired"


def test_a_journal_written_just_now_is_not_remembered(
    sessions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal written within SETTLED_NS of the listing could change again within
    the same tick of the file clock: it is parsed every time until it has settled."""
    monkeypatch.setattr(summary_cache, "SETTLED_NS", 3600 * 10**9)  # however slow this test
    journal = _journal(sessions, "20260101-000000-aaaaaa")
    _finished(journal)
    journal.close()
    (listed,) = list_sessions()
    assert listed == summarize(journal.path)
    assert not (sessions / CACHE_NAME).exists()


def _cache(sessions: Path) -> dict:
    return json.loads((sessions / CACHE_NAME).read_text())


def _rewrite_cache(sessions: Path, change: Callable[[dict], None]) -> None:
    doc = _cache(sessions)
    change(doc["journals"])
    (sessions / CACHE_NAME).write_text(json.dumps(doc))
    (sessions / CACHE_NAME).chmod(0o600)


FORGED_ENTRIES = {
    "escapes": lambda e: e.__setitem__(7, f"tcp.refused{EVIL}"),
    "id_elsewhere": lambda e: e.__setitem__(5, "../../etc/passwd"),
    "time_nan": lambda e: e.__setitem__(6, float("nan")),
    "runs_huge": lambda e: e.__setitem__(10, 10**9),
    "ended_word": lambda e: e.__setitem__(11, "yes"),
    "short": lambda e: e.__delitem__(slice(6, None)),
    "huge_text": lambda e: e.__setitem__(7, "x" * 100_000),
}


@pytest.mark.parametrize("forgery", sorted(FORGED_ENTRIES))
def test_a_forged_entry_is_ignored_and_the_journal_read(
    sessions: Path, settled: None, forgery: str
) -> None:
    journal = _journal(sessions, "20260101-000000-aaaaaa")
    _finished(journal)
    journal.close()
    expected = list_sessions()
    name = journal.path.name

    def forge(journals: dict) -> None:
        FORGED_ENTRIES[forgery](journals[name])

    _rewrite_cache(sessions, forge)
    assert list_sessions() == expected
    assert _cache(sessions)["journals"][name][5:] == summary_entry(expected[0])  # repaired


def test_the_cache_speaks_only_for_journals_the_listing_trusts(
    sessions: Path, settled: None
) -> None:
    journal = _journal(sessions, "20260101-000000-aaaaaa")
    _finished(journal)
    journal.close()
    expected = list_sessions()

    def plant(journals: dict) -> None:
        row = journals[journal.path.name]
        journals["20260102-000000-planted.jsonl"] = row
        journals["../../elsewhere.jsonl"] = row

    _rewrite_cache(sessions, plant)
    assert list_sessions() == expected
    assert list(_cache(sessions)["journals"]) == [journal.path.name]  # the others dropped
    # A journal that another user could have written is not listed, cache or not.
    journal.path.chmod(0o622)
    assert list_sessions() == []


@pytest.mark.parametrize("kind", ["garbage", "group-writable", "symlink", "directory", "version"])
def test_an_untrusted_or_corrupt_cache_is_rebuilt(
    sessions: Path, settled: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    _varied(sessions, monkeypatch)
    expected = _full_parse(sessions)
    list_sessions()
    cache = sessions / CACHE_NAME
    lie = cache.read_text().replace("tcp.refused", "ok")
    if kind == "garbage":
        cache.write_bytes(b"\x00{[" * 1000)
    elif kind == "group-writable":
        cache.write_text(lie)
        cache.chmod(0o660)
    elif kind == "symlink":
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text(lie)
        elsewhere.chmod(0o600)
        cache.unlink()
        cache.symlink_to(elsewhere)
    elif kind == "directory":  # not even writable: listing still works, parsing all
        cache.unlink()
        cache.mkdir()
    else:
        cache.write_text(lie.replace('"version":1', '"version":0'))
    parsed = _count_parses(monkeypatch)
    assert list_sessions() == expected
    assert len(parsed) == len(expected)
    if kind == "symlink":  # never followed, read or written through: left as it is
        assert cache.is_symlink() and (tmp_path / "elsewhere.json").read_text() == lie
    elif kind != "directory":
        assert cache.is_file() and not cache.is_symlink()
        assert cache.stat().st_mode & 0o777 == 0o600
        assert list_sessions() == expected


# -- the parse's shortcut: a line with nothing to clean is not walked -------------------

LINES = [
    b'{"type":"note","text":"plain ascii, tabs\\t and newlines\\n"}',
    b'{"type":"note","text":"caf\xc3\xa9 \xe2\x9c\x93"}',  # clean UTF-8
    b'{"type":"note","text":"\\u001b]52;c;x\\u0007"}',  # escapes that decode to controls
    b'{"type":"note","text":"bell\\b form\\f return\\r"}',
    b'{"type":"note","text":"\xc2\x9b2J"}',  # a raw C1 CSI
    b'{"type":"note","text":"\xe2\x80\xaeevil"}',  # a raw bidi override
    b'{"type":"note","text":"\xed\xa0\x80"}',  # a lone surrogate, as UTF-8 bytes
    b'{"type":"note","text":"del\x7f"}',
    b'{"type":"note","\\u202ekey":"value"}',  # keys are cleaned too
    b'{"type":"note","text":"\\\\u not an escape"}',
]


@pytest.mark.parametrize("line", LINES)
def test_a_record_is_cleaned_as_the_tree_walk_cleans_it(line: bytes) -> None:
    record = json.loads(line)
    assert session_module._cleaned(json.loads(line), line) == clean_tree(record)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_any_text_is_cleaned_as_the_tree_walk_cleans_it(text: str, ascii_only: bool) -> None:
    line = json.dumps({"type": "note", "text": text}, ensure_ascii=ascii_only)
    raw = line.encode("utf-8", "surrogatepass")
    assert session_module._cleaned(json.loads(raw), raw) == clean_tree(json.loads(raw))


# -- who served a port: only the newest journals are looked at ---------------------------


def test_seen_owners_reads_the_newest_journals_of_the_target_newest_first(
    sessions: Path,
) -> None:
    from probes.record.owners import RECENT_JOURNALS, seen_owners

    def local_result(pid: int) -> ProbeResult:
        data = {
            "target": {"listeners": [{"port": 5432, "pids": [pid], "process": "postgres"}]},
            "processes": [{"pid": pid, "name": f"postgres-{pid}", "unit": "postgresql.service"}],
        }
        return ProbeResult("local", Status.OK, 0.1, "", data)

    count = RECENT_JOURNALS + 2
    for i in range(count):
        journal = _journal(sessions, f"20260101-{i:06d}-aaaaaa")
        journal.emit(ProbeUpdate(local_result(1000 + i)))
        journal.close()
    elsewhere = Journal.create(
        parse_target("db.internal:6379"), "refused", directory=sessions, facts=FACTS,
        session_id="20260102-000000-zzzzzz",
    )  # fmt: skip
    elsewhere.emit(ProbeUpdate(local_result(1)))
    elsewhere.close()
    owners = seen_owners("db.internal", 5432, sessions)
    # The newest RECENT_JOURNALS journals, one of them another target's.
    expected = [1000 + i for i in range(count - 1, count - RECENT_JOURNALS, -1)]
    assert [pid for pid, _name, _unit in owners] == expected
    assert owners[0] == (1000 + count - 1, f"postgres-{1000 + count - 1}", "postgresql.service")
