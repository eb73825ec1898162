"""Items 4, 7 and 8: someone else's state directory, narrow encodings, no terminal,
odd output names and CA files, the TUI's target line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.forge import evil_events, header, write
from tests.servers.base import ServerThread, close_at_once
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]


def _env(state: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(state), "PYTHONPATH": str(REPO), **extra}


def _netmedic(
    args: list[str], env: dict[str, str], **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
        **kw,
    )


@pytest.fixture
def port() -> Iterator[int]:
    server = ServerThread()
    try:
        yield server.serve(close_at_once)
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["world-writable", "other-owner", "group-writable-parent"])
def test_someone_elses_state_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    state = tmp_path / "state"
    sessions = state / "netmedic" / "sessions"
    sessions.mkdir(parents=True)
    for p in (state, state / "netmedic", sessions):
        p.chmod(0o700)
    if kind == "world-writable":
        state.chmod(0o1777)
    elif kind == "other-owner":
        if os.geteuid() != 0:
            pytest.skip("giving a directory to another user needs root")
        os.chown(state, 12345, 12345)
    else:  # a group other than this user's private group (umask 002 makes those)
        os.chown(state / "netmedic", os.getuid(), 12345)
        (state / "netmedic").chmod(0o770)
    planted = write(
        sessions / "20990101-000000-aaaaaa.jsonl",
        [header(sid="20990101-000000-aaaaaa"), *evil_events()],
    )
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    code = main(["check", "--json", "--timeout", "2", "--symptom", "dns", "127.0.0.1:1"])
    out, err = capsys.readouterr()
    assert code in (0, 1) and json.loads(out)["verdict"] != "ok"
    assert "refusing to keep sessions there" in err and "not saved" in err
    assert [p.name for p in sessions.iterdir()] == [planted.name]  # nothing written
    assert main(["sessions"]) == 2
    assert "refusing" in capsys.readouterr().err
    assert main(["report", "latest"]) == 2
    assert main(["report", planted.name.removesuffix(".jsonl")]) == 2


def test_narrow_encoding_falls_back_to_ascii(tmp_path: Path, port: int) -> None:
    env = _env(tmp_path, PYTHONIOENCODING="ascii")
    for extra in ([], ["--json"]):
        done = _netmedic(["check", "--timeout", "2", *extra, "--", f"127.0.0.1:{port}"], env)
        assert done.returncode in (0, 1), done.stderr
        assert done.stdout.isascii() and done.stderr.isascii()
        if extra:
            json.loads(done.stdout)
    done = _netmedic(["report", "latest"], env)
    assert done.returncode == 0 and done.stdout.isascii()
    done = _netmedic(["report", "latest", "--format", "json"], env)
    assert done.returncode == 0 and json.loads(done.stdout)


def test_tui_without_a_terminal_refuses(tmp_path: Path) -> None:
    out = tmp_path / "f"
    with open(os.devnull, "rb") as stdin, open(out, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "127.0.0.1:1"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=_env(tmp_path),
            cwd=REPO,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and b"terminal" in done.stderr
    assert b"\x1b" not in out.read_bytes()


@pytest.mark.parametrize("name", ["x.pdf", "report.txt"])
def test_unknown_report_extension_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    target = tmp_path / name
    assert main(["check", "--report", str(target), "--timeout", "1", "127.0.0.1:1"]) == 2
    assert "unknown extension" in capsys.readouterr().err and not target.exists()
    journal = write(tmp_path / "j.jsonl", [header(), *evil_events()])
    assert main(["report", str(journal), "-o", str(target)]) == 2
    assert not target.exists()
    assert main(["report", str(journal), "-o", str(target), "--format", "md"]) == 0


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a certificate\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_ca_file_without_a_certificate_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(content)
    assert main(["check", "--ca-file", str(ca), "https://127.0.0.1:1/"]) == 2
    assert "holds no PEM certificate" in capsys.readouterr().err
    assert main(["check", "--ca-file", str(tmp_path), "https://127.0.0.1:1/"]) == 2


async def test_tui_target_line_masks_the_url_password() -> None:
    from textual.app import App
    from textual.widgets import Input, Static

    from tui.screens.target_entry import TargetEntryScreen

    class Host(App[None]):
        blink = False

        def on_mount(self) -> None:
            self.push_screen(TargetEntryScreen("refused", []))

    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        field = app.screen.query_one("#target", Input)
        field.value = "https://bob:s3cretPW@ho st/"
        await pilot.pause()
        shown = str(app.screen.query_one("#target-error", Static).render())
    assert "whitespace" in shown and "s3cretPW" not in shown
