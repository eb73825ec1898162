"""SIGKILL and SIGHUP mid-run, a full disk and a read-only state directory.

A check killed mid-run leaves a journal that reads back and is told as
incomplete; a disk that fills up leaves no empty journal behind; a state
directory that cannot be written costs the journal, never the check.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.record.session import list_sessions, read_journal
from tests.servers.base import ServerThread, silent
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hanging_port() -> Iterator[int]:
    server = ServerThread()
    try:
        yield server.serve(silent)
    finally:
        server.close()


def _sessions(state: Path) -> Path:
    return state / "netmedic" / "sessions"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_killed_check_leaves_a_readable_incomplete_journal(
    tmp_path: Path, hanging_port: int, sig: signal.Signals
) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tui.cli", "check", "--timeout", "30"]
    proc = subprocess.Popen(
        [*cmd, "--", f"http://127.0.0.1:{hanging_port}/"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        journal = None
        while time.monotonic() < deadline:  # wait for a few events on disk
            found = list(_sessions(tmp_path).glob("*.jsonl"))
            if found and found[0].read_bytes().count(b"\n") >= 3:
                journal = found[0]
                break
            time.sleep(0.05)
        assert journal is not None, "no journal appeared"
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode in (-sig, 128 + sig)
    session = read_journal(journal)
    assert session.verdict == "incomplete" and not session.complete
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "report", str(journal), "--format", "json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"]["id"] == "incomplete"


def _tmpfs(path: Path, *options: str) -> None:
    path.mkdir()
    opts = ",".join(("size=64k", "mode=0700", *options))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "--", "netmedic-test", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    _tmpfs(disk)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", "--", str(disk)], capture_output=True)


def _fill(disk: Path, leave: int) -> None:
    sessions = _sessions(disk)
    sessions.mkdir(parents=True, mode=0o700)
    (disk / "netmedic").chmod(0o700)
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(disk / "filler", max(0, os.path.getsize(disk / "filler") - leave))


def test_full_disk_costs_the_journal_not_the_check(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tiny_disk, leave=0)
    monkeypatch.setenv("XDG_STATE_HOME", str(tiny_disk))
    code = main(["check", "--json", "--timeout", "2", "--symptom", "dns", "127.0.0.1:1"])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    assert json.loads(out)["verdict"] != "ok"
    assert "not saved" in err
    assert not list(_sessions(tiny_disk).glob("*.jsonl"))  # no empty journal left
    assert main(["sessions"]) == 0
    assert "unreadable" not in capsys.readouterr().out


def test_disk_filling_mid_run_leaves_a_journal_told_incomplete(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tiny_disk, leave=4096)  # room for the header, not for the whole run
    monkeypatch.setenv("XDG_STATE_HOME", str(tiny_disk))
    code = main(["check", "--json", "--timeout", "2", "127.0.0.1:1"])
    _, err = capsys.readouterr()
    assert code in (0, 1)
    journals = list(_sessions(tiny_disk).glob("*.jsonl"))
    assert journals, err
    for journal in journals:
        session = read_journal(journal)
        assert session.verdict == "incomplete" or session.complete
        if not session.complete:
            assert "incomplete" in err
    summaries = list_sessions(_sessions(tiny_disk))
    assert all(not s.error for s in summaries)


def test_read_only_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    ro = tmp_path / "ro"
    _tmpfs(ro, "ro")
    try:
        monkeypatch.setenv("XDG_STATE_HOME", str(ro))
        code = main(["check", "--json", "--timeout", "2", "--symptom", "dns", "127.0.0.1:1"])
        out, err = capsys.readouterr()
        assert code in (0, 1) and json.loads(out)["verdict"] != "ok"
        assert "not saved" in err
        assert main(["sessions"]) == 0
    finally:
        subprocess.run(["umount", "-l", "--", str(ro)], capture_output=True)
