"""Items 3 and 7: everything read from disk is untrusted.

Forged and corrupt journals — terminal escapes in every field, fuzzed values, huge,
truncated, a FIFO, a symlink, another owner's — through every output: ``report`` in
md/html/json to the terminal and to files, the bundle, ``sessions``.  Nothing raw
gets out, nothing crashes (exit 3), memory stays bounded.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from probes.core.sanitize import clean_text
from tests.reliability.forge import EVIL, RAW_MARKERS, evil_events, evil_header, header, write
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "state" / "netmedic" / "sessions"
    folder.mkdir(parents=True, mode=0o700)
    for p in (tmp_path / "state", tmp_path / "state" / "netmedic"):
        p.chmod(0o700)
    return folder


def _assert_inert(text: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in text, repr(marker)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def test_u202e_reads_as_u202e() -> None:
    assert clean_text("a\u202eb") == "a\\u202eb"
    assert clean_text("\x1b") == "\\x1b"
    assert clean_text("\U000e0041") == "\\U000e0041"


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_escapes_in_every_field_are_inert_in_every_format(
    sessions: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    journal = write(sessions / "20260101-000000-abcdef.jsonl", [evil_header(), *evil_events()])
    assert main(["report", str(journal), "--format", fmt]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "\\x1b]52" in out or "\\\\x1b]52" in out  # shown, escaped
    out_file = sessions.parent / f"r.{fmt}"
    assert main(["report", str(journal), "-o", str(out_file)]) == 0
    _assert_inert(out_file.read_text("utf-8"))


def test_sessions_and_bundle_are_inert(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        sessions / "20260101-000000-abcdef.jsonl",
        [evil_header(sid=f"../../x{EVIL}"), *evil_events()],
    )
    assert main(["sessions"]) == 0
    _assert_inert(capsys.readouterr().out)
    bundle = sessions.parent / "b.zip"
    assert main(["report", "latest", "--bundle", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            assert ".." not in name and not name.startswith("/") and name.isascii()
            if name.split("/")[-1].startswith("report."):
                _assert_inert(zf.read(name).decode("utf-8"))


FUZZ: list[dict[str, Any]] = [
    {"t": 1e308},
    {"t": float("nan")},
    {"t": float("inf")},
    {"t": -1e308},
    {"t": "yesterday"},
    {"run": 1e308},
    {"run": float("nan")},
    {"run": "one"},
    {"seq": float("inf")},
    {"duration_s": float("nan")},
    {"duration_s": 1e308},
]


def _fuzzed_journals() -> list[list[object]]:
    base = evil_events()
    out: list[list[object]] = []
    for change in FUZZ:
        out.append([header(), *({**e, **change} for e in base)])
    out.append([header(t=1e308), *base])
    out.append([header(t=float("nan"), plan="dns", target=[1, 2]), *base])
    out.append([header(id=12, utc_offset_s=1e308, symptom=None), *base])
    diag_variants: list[object] = [
        {"findings": [1, "x", None, {"id": None, "rank": 1e308, "evidence": "str"}]},
        {"findings": {"a": 1}, "verdict": None},
        {"findings": [{"next_steps": ["a", 1, {"text": None, "command": 7}]}]},
        [],
        "diagnosis",
    ]
    for d in diag_variants:
        out.append(
            [header(), {"type": "finished", "seq": 1, "t": 1767225604.0, "run": 1, "diagnosis": d}]
        )
    results: list[object] = [
        {"probe": "tcp", "data": {"attempts": "x"}},
        {"probe": "tcp", "data": {"attempts": [1, None, {"address": 5}]}},
        {"probe": "dns", "data": {"system": {"addresses": 5}}},
        {"probe": 5},
        {"probe": "route", "data": [1, 2], "error": "x", "duration_s": "slow"},
        {"probe": "x" * 10_000, "status": None, "final": "no"},
    ]
    for r in results:
        out.append(
            [header(), {"type": "probe", "seq": 1, "t": 1767225601.0, "run": 1, "result": r}]
        )
    out.append([header(), "[" * 100_000 + "]" * 100_000])  # deep nesting
    out.append(
        [
            header(),
            {
                "type": "step",
                "seq": 1,
                "t": 1.0,
                "finding_id": "a",
                "step_index": 1e308,
                "state": "done",
            },
        ]
    )
    return out


@pytest.mark.parametrize("index", range(len(_fuzzed_journals())))
def test_fuzzed_values_never_crash(
    sessions: Path, capsys: pytest.CaptureFixture[str], index: int
) -> None:
    records = _fuzzed_journals()[index]
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path = sessions / "20260101-000000-abcdef.jsonl"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    for args in (
        ["sessions"],
        *(["report", str(path), "--format", f] for f in ("md", "html", "json")),
    ):
        code = main(list(args))
        out, err = capsys.readouterr()
        assert code in (0, 2), (args, err)
        _assert_inert(out + err)
    bundle = sessions.parent / f"b{index}.zip"
    assert main(["report", str(path), "--bundle", str(bundle)]) in (0, 2)
    assert "internal error" not in capsys.readouterr().err


def test_truncated_journal_is_told_interrupted(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [header(), *evil_events()[:2]]
    path = write(
        sessions / "20260101-000000-abcdef.jsonl", records, raw_tail=b'{"type":"probe","se'
    )
    assert main(["report", str(path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["session"]["interrupted_write"] and doc["verdict"]["id"] == "incomplete"


def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "journal.jsonl"
    os.mkfifo(fifo)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "report", str(fifo)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_symlinked_and_foreign_journals_are_not_listed(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = write(
        tmp_path / "planted.jsonl", [header(sid="20990101-000000-aaaaaa"), *evil_events()]
    )
    (sessions / "20990101-000000-aaaaaa.jsonl").symlink_to(elsewhere)
    foreign = write(
        sessions / "20990101-000000-bbbbbb.jsonl", [header(sid="20990101-000000-bbbbbb")]
    )
    os.chown(foreign, 12345, 12345)
    shared = write(
        sessions / "20990101-000000-cccccc.jsonl", [header(sid="20990101-000000-cccccc")]
    )
    shared.chmod(0o622)
    mine = write(sessions / "20260101-000000-abcdef.jsonl", [header(), *evil_events()])
    assert main(["sessions"]) == 0
    out = capsys.readouterr().out
    assert "20260101-000000-abcdef" in out
    assert "aaaaaa" not in out and "bbbbbb" not in out and "cccccc" not in out
    assert main(["report", "latest", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["session"]["id"] == "20260101-000000-abcdef"
    assert main(["report", "20990101-000000-bbbbbb"]) == 2
    assert mine.exists()


def test_huge_journal_is_read_in_bounded_memory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    folder = state / "netmedic" / "sessions"
    folder.mkdir(parents=True, mode=0o700)
    for p in (state, state / "netmedic"):
        p.chmod(0o700)
    result = {"probe": "tcp", "status": "ok", "summary": "x" * 900, "final": True, "data": {}}
    line = json.dumps({"type": "probe", "seq": 1, "t": 1767225601.0, "run": 1, "result": result})
    giant = json.dumps({"type": "note", "seq": 2, "t": 1767225602.0, "text": "y" * (8 << 20)})
    with open(folder / "20260101-000000-abcdef.jsonl", "w") as fh:
        fh.write(json.dumps(header()) + "\n")
        for _ in range(3):
            fh.write(giant + "\n")
        body = (line + "\n") * 1000
        while fh.tell() < 60 << 20:
            fh.write(body)
    env = {**os.environ, "XDG_STATE_HOME": str(state), "PYTHONPATH": str(REPO)}
    # The child reports its own peak RSS: VmHWM, the high-water mark of its own memory.
    # Not ru_maxrss: RUSAGE_CHILDREN would be the largest of every child this test
    # process ever waited for, and the child's RUSAGE_SELF keeps, across exec, the peak
    # of the memory it was forked (vforked) from: this pytest process's own size.
    measure = (
        "import re, sys\n"
        "from tui.cli import main\n"
        "code = main(['sessions'])\n"
        "status = open('/proc/self/status').read()\n"
        "print('maxrss', re.search(r'VmHWM:\\s*(\\d+)', status).group(1), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", measure],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b"20260101-000000-abcdef" in out
    maxrss_kib = int(err.decode().rsplit("maxrss", 1)[1].split()[0])
    assert maxrss_kib < 64 * 1024  # KiB: the file is 60 MiB, the reader keeps a few


def test_not_a_number_never_reaches_a_format() -> None:
    from probes.record.session import finite_time

    assert finite_time(math.nan, 1.0) == 1.0 and finite_time(1e308, 2.0) == 2.0
    assert isinstance(io.BytesIO, type)
