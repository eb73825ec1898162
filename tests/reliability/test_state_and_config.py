"""Sessions saved under any umask; services.toml trusted only when it is yours; a
bad entry costs that entry with file:line; invisible characters never reach output."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe_helpers import cli_recorder
from tui.cli import main

GOOD = """\
[services.cache]
url = "redis://127.0.0.1:6379"

[services.api]
url = "http://127.0.0.1:8080"
health = "/healthz"
"""


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o002, 0o000])
def test_sessions_are_saved_whatever_the_umask(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    closed_port: int,
    umask: None,
    mask: int,
) -> None:
    state = tmp_path / "home" / ".local" / "state"  # nothing of it exists yet
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    os.umask(mask)
    for _ in range(2):  # the second run must accept what the first made
        code = main(["check", "--json", "--timeout", "1", f"127.0.0.1:{closed_port}"])
        assert code == 1
        assert "not saved" not in capsys.readouterr().err
    made = [state, state / "netmedic", state / "netmedic" / "sessions"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in made)
    journals = list((state / "netmedic" / "sessions").iterdir())
    assert len(journals) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in journals)
    assert main(["sessions"]) == 0
    assert main(["report", "latest"]) == 0


def test_a_group_writable_dir_an_earlier_run_made_is_tightened(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    closed_port: int,
) -> None:
    """umask 002 made ~/.local/state 0775 (another program's) and netmedic's own dir
    0775 (an earlier netmedic's): the first is judged as OpenSSH judges a user-private
    group's directory, the second is netmedic's and made 0700 again."""
    state = tmp_path / "state"
    (state / "netmedic").mkdir(parents=True)
    state.chmod(0o775)
    (state / "netmedic").chmod(0o775)
    os.chown(state, os.getuid(), os.getgid())  # this user's own (private) group
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    assert main(["check", "--json", "--timeout", "1", f"127.0.0.1:{closed_port}"]) == 1
    assert "not saved" not in capsys.readouterr().err
    assert stat.S_IMODE((state / "netmedic").stat().st_mode) == 0o700
    assert stat.S_IMODE(state.stat().st_mode) == 0o775  # not ours to change
    assert main(["sessions"]) == 0


def _config(tmp_path: Path, text: str = GOOD) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "services.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("kind", ["foreign-file", "foreign-folder", "world-writable", "symlink"])
def test_a_services_file_someone_else_could_write_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    path = _config(tmp_path)
    if kind == "foreign-file":
        os.chown(path, 12345, 12345)
    elif kind == "foreign-folder":
        os.chown(path.parent, 12345, 12345)
    elif kind == "world-writable":
        path.parent.chmod(0o777)
    else:  # ours is a symlink to a file another user owns, in a folder they own
        elsewhere = tmp_path / "other"
        elsewhere.mkdir()
        planted = elsewhere / "services.toml"
        planted.write_text(GOOD)
        os.chown(planted, 12345, 12345)
        path.unlink()
        path.symlink_to(planted)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(path.parent))
    assert main(["services"]) == 2
    err = capsys.readouterr().err
    assert "refusing to use saved services" in err and len(err.strip().splitlines()) == 1
    assert main(["check", "@cache", "--timeout", "1"]) == 2
    assert "refusing to use saved services" in capsys.readouterr().err


def test_a_symlink_to_your_own_file_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _config(tmp_path)
    linked = tmp_path / "linked"
    linked.mkdir(mode=0o700)
    (linked / "services.toml").symlink_to(real)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(linked))
    assert main(["services"]) == 0
    assert "@cache" in capsys.readouterr().out


BAD_ENTRIES = (
    GOOD
    + """
[services.leaky]
url = "http://127.0.0.1:8080/?access_token=abc123def456"

[services.leakyhealth]
url = "http://127.0.0.1:8080"
health = "/health?token=abc123def456"

[services.badhealth]
url = "http://127.0.0.1:8080"
health = "/he alth"
"""
)


def test_a_bad_entry_is_disabled_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, BAD_ENTRIES)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(path.parent))
    assert main(["services"]) == 2
    out, err = capsys.readouterr()
    assert "@cache" in out and "@api" in out  # the good ones stay usable
    assert "leaky" not in out and "abc123def456" not in out + err
    lines = err.strip().splitlines()
    assert [line.split(": ", 2)[1].rsplit(":", 1)[1] for line in lines] == ["9", "13", "17"]
    assert "[services.leaky] url carries a secret (access_token=...)" in lines[0]
    assert "[services.leakyhealth] health carries a secret (token=...)" in lines[1]
    assert "[services.badhealth] health is not a usable path" in lines[2]
    assert main(["check", "@badhealth"]) == 2
    assert f"{path}:17:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = " + "[" * 10_000 + "]" * 10_000 + "\n", ":1: nested more than 32 levels deep"),
        ("# pad\n" * 60_000, "larger than 256 KiB"),
    ],
)
def test_a_hostile_services_file_is_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    path = _config(tmp_path, text)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(path.parent))
    assert main(["services"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_thousands_of_services_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from probes.record import services

    text = "".join(f'[services.s{i}]\nurl = "http://127.0.0.1:{1000 + i}"\n' for i in range(2000))
    text += '[services.last]\nurl = "http://127.0.0.1:80"\nkind = "nope"\n'
    path = _config(tmp_path, text)
    scans = 0
    real = services._Locator.__init__

    def counting(self: services._Locator, text: str, source: str) -> None:
        nonlocal scans
        scans += 1
        real(self, text, source)

    monkeypatch.setattr(services._Locator, "__init__", counting)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(path.parent))
    assert main(["services"]) == 2
    out, err = capsys.readouterr()
    assert out.count("\n  @s") == 2000 and f"{path}:4003:" in err
    assert scans == 1  # the file is indexed once, not rescanned per service


def test_invisible_characters_in_a_url_never_reach_output_raw(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    closed_port: int,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    outputs: dict[str, bytes] = {}
    run = cli_recorder(capsysbinary, outputs)
    url = f"http://127.0.0.1:{closed_port}/admin\u202etxt.exe\u200b?q=\u2066x"
    assert run("json", "check", "--json", "--timeout", "1", url) == 1
    assert run("text", "check", "--timeout", "1", url) == 1
    doc = json.loads(outputs["json stdout"])
    assert doc["target"]["path"] == "/admin%E2%80%AEtxt.exe%E2%80%8B?q=%E2%81%A6x"
    journals = list((tmp_path / "state").rglob("*.jsonl"))
    assert len(journals) == 2
    for label, data in [*outputs.items(), *((str(p), p.read_bytes()) for p in journals)]:
        text = data.decode("utf-8")
        for char in "\u202e\u200b\u2066":
            assert char not in text and json.dumps(char)[1:-1] not in text, label
