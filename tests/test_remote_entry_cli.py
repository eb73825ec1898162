"""The remote options and saved services on every entry point, through the real CLI
(in-process ``main``): the TUI entry (``netmedic TARGET --server DEST``) and ``watch``
take what ``check`` takes, with the same one-line exit-2 refusals; the help shows how."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.tui.helpers import launched
from tui import app as app_module
from tui.cli import main
from tui.remote import parse_field
from tui.watch_options import NO_VANTAGES

INVENTORY = {"web": {"hosts": ["web1", "web2"]}, "_meta": {"hostvars": {}}}


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line on stderr of a command line refused with exit 2, nothing on stdout."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_the_tui_entry_takes_server_and_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = launched(monkeypatch, "db.internal:5432", "--server", "user@host", "--from", "a,b")
    remote = given["remote"]
    assert given["target"].host_port == "db.internal:5432" and given["symptom"] is None
    assert remote.server == "user@host" and remote.vantages == (("a", "a"), ("b", "b"))
    assert remote.field == "--server user@host --from a,b"
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps(INVENTORY))
    monkeypatch.chdir(tmp_path)
    given = launched(monkeypatch, "api:443", "--from", "@web", "--inventory", "inv.json")
    remote = given["remote"]
    assert [name for name, _dest in remote.vantages] == ["web1", "web2"]
    # Remembered for the target: the inventory is named so it means the same file anywhere.
    assert shlex.split(remote.field) == ["--from", "@web", "--inventory", str(inventory)]
    (tmp_path / "ssh_config").write_text("Host db1\n  HostName 10.0.0.5\n")
    given = launched(
        monkeypatch, "api:443", "--server", "db1", "--ssh-config", "ssh_config",
        "--concurrency", "3", "--remote-timeout", "4.5",
    )  # fmt: skip
    remote = given["remote"]
    assert (remote.ssh_config, remote.concurrency, remote.timeout) == ("ssh_config", 3, 4.5)
    assert shlex.split(remote.field) == [
        "--server", "db1", "--ssh-config", str(tmp_path / "ssh_config"),
        "--remote-timeout", "4.5", "--concurrency", "3",
    ]  # fmt: skip
    again = parse_field(remote.field)  # what the target screen runs with, from its field
    assert (again.server, again.concurrency, again.timeout) == ("db1", 3, 4.5)
    assert again.ssh_config == str(tmp_path / "ssh_config")
    assert launched(monkeypatch, "api:443")["remote"] is None  # none asked: none made


def test_the_tui_entry_takes_them_with_a_saved_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text('[services.db]\nurl = "postgres://10.0.0.5:5432"\n')
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(tmp_path))
    given = launched(monkeypatch, "@db", "--server", "db1")
    assert given["service"].service.name == "db" and given["target"].host == "10.0.0.5"
    assert given["remote"].server == "db1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["db:5432", "--server=-oProxyCommand=x"], "may not start with '-'"),
        (["db:5432", "--server", "two words"], "no spaces or control characters"),
        (["db:5432", "--from", " , "], "names no host"),
        (["db:5432", "--from", "@web", "--inventory", "/nonexistent/inv.json"], "no such file"),
        (["db:5432", "--server", "db1", "--ssh-config", "/nonexistent/cfg"], "no such file"),
        (["db:5432", "--server", "db1", "--concurrency", "0"], "outside 1..100"),
        (["db:5432", "--server", "db1", "--remote-timeout", "nan"], "outside 1..600"),
        (["db:99999", "--server", "db1"], "bad target"),
        (["--resume", "--server", "db1"], "--server and --from go with a TARGET"),
        (["@nope", "--server", "db1"], "no saved service 'nope'"),
    ],
)
def test_bad_remote_options_on_the_tui_entry_are_one_line_and_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(app_module, "run_app", lambda *a, **k: pytest.fail("the TUI started"))
    assert message in _refused(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "bastion"], NO_VANTAGES),
        (["--server=-x"], "may not start with '-'"),
        (["--server", "db", "--ssh-config", "/nonexistent/cfg"], "no such file"),
        (["--ssh-config", "/etc/hostname"], "--ssh-config goes with --server"),
        (["--server", "db", "--server-every", "0"], "outside 1..100000"),
        (["--server", "db", "--remote-timeout", "0.5"], "outside 1..600"),
    ],
)
def test_bad_server_options_on_watch_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _refused(capsys, "watch", "127.0.0.1:9", *argv)


def test_bad_saved_services_on_watch_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text(
        '[services.vectors]\nurl = "http://127.0.0.1:6333"\nheaders = { "api-key" = "$QK" }\n'
    )
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("QK", raising=False)
    assert "no saved service 'nope'" in _refused(capsys, "watch", "@nope")
    assert "$QK, which is not set" in _refused(capsys, "watch", "@vectors")


def test_help_shows_examples_for_the_remote_options_and_saved_services(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, wanted in (
        (["check", "--help"], ("--server db1", "--from bastion,app2", "--from @web")),
        (["watch", "--help"], ("netmedic watch @api", "--server db1", "--server-every")),
        (["db.internal:5432", "--help"], ("--server db1", "--from @web", "netmedic @api")),
        (["--help"], ("netmedic TARGET --server DEST", "netmedic TARGET --help")),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        out, _err = capsys.readouterr()
        assert exit_.value.code == 0
        assert all(w in out for w in wanted), (argv, out)
