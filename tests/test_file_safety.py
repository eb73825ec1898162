"""Exported files: 0600, never through a symlink, never over a file without --force,
one-line errors for a directory or an unwritable path."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from probes.record.safefile import OutputError, write_private
from tests.data.make_session import FIXTURE
from tui.cli import main


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_file_is_private(tmp_path: Path) -> None:
    os.umask(0o022)
    path = write_private(tmp_path / "r.md", b"x")
    assert path.read_bytes() == b"x" and _mode(path) == 0o600


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_bytes(b"old")
    path.chmod(0o644)
    with pytest.raises(OutputError, match="already exists; use --force"):
        write_private(path, b"new")
    assert path.read_bytes() == b"old"
    write_private(path, b"new", force=True)
    assert path.read_bytes() == b"new" and _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]  # no temp file left


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("dangling", [False, True])
def test_never_writes_through_a_symlink(tmp_path: Path, force: bool, dangling: bool) -> None:
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_bytes(b"keep")
    link = tmp_path / "r.md"
    link.symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_private(link, b"evil", force=force)
    assert link.is_symlink()
    assert (victim.read_bytes() == b"keep") if not dangling else not victim.exists()


@pytest.mark.parametrize("force", [False, True])
def test_directory_is_refused(tmp_path: Path, force: bool) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        write_private(tmp_path, b"x", force=force)


def test_unwritable_paths(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_bytes(b"")
    with pytest.raises(OutputError, match=r"(?i)not a directory"):
        write_private(afile / "r.md", b"x")
    with pytest.raises(OutputError, match="is not a directory"):
        write_private(tmp_path / "missing" / "r.md", b"x")
    with pytest.raises(OutputError):
        write_private("/proc/netmedic-report.md", b"x")
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="not writable"):
            write_private(ro / "r.md", b"x")


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_report_file_safety(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    code, stdout, err = _cli(["report", str(FIXTURE), "-o", str(out)], capsys)
    assert code == 0 and stdout == "" and _mode(out) == 0o600
    assert out.read_text().startswith("<!DOCTYPE html>")  # format from the extension
    for argv, message in [
        (["report", str(FIXTURE), "-o", str(out)], "already exists; use --force"),
        (["report", str(FIXTURE), "-o", str(tmp_path)], "is a directory"),
        (["report", str(FIXTURE), "--bundle", str(out)], "already exists"),
        (["report", str(tmp_path / "nope.jsonl")], "cannot read"),
        (["report", str(tmp_path)], "is a directory, not a session journal"),
        (["report", str(FIXTURE), "--format", "pdf"], "invalid choice"),
    ]:
        code, stdout, err = _cli(argv, capsys)
        assert code == 2 and stdout == "", argv
        assert err.count("\n") == 1 and message in err, (argv, err)
    code, _, _ = _cli(["report", str(FIXTURE), "-o", str(out), "--force"], capsys)
    assert code == 0


def test_cli_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "b.zip"
    code, stdout, _ = _cli(["report", str(FIXTURE), "--bundle", str(bundle)], capsys)
    assert code == 0 and stdout == "" and _mode(bundle) == 0o600
    with zipfile.ZipFile(bundle) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
        assert "report.md" in names and "journal.jsonl" in names
        assert "context/listeners.txt" in names
        hosts = zf.read(next(n for n in zf.namelist() if n.endswith("hosts.txt")))
        assert b"db.internal" in hosts


def test_check_report_path_is_checked_before_probing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "r.md"
    existing.write_text("x")
    code, stdout, err = _cli(["check", "127.0.0.1:9", "--report", str(existing)], capsys)
    assert code == 2 and stdout == "" and "--report" in err and err.count("\n") == 1


def test_local_context_for_the_bundle(tmp_path: Path) -> None:
    import socket

    from probes.host.localcontext import collect, hosts_lines

    hosts = "127.0.0.1 localhost\n10.0.0.5 db.internal db # the database\n10.0.0.6 dbx\n"
    assert hosts_lines(hosts, "db.internal") == ["10.0.0.5 db.internal db # the database"]
    assert hosts_lines(hosts, "10.0.0.6") == ["10.0.0.6 dbx"]
    (tmp_path / "hosts").write_text(hosts)
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        files = {
            f.name: f.text
            for f in collect(
                "db.internal",
                port,
                ["127.0.0.1", "--help"],  # an option-looking "address" never reaches ip
                resolv_conf=str(tmp_path / "resolv.conf"),
                hosts_file=str(tmp_path / "hosts"),
                env={"HTTPS_PROXY": "http://u:pw1234@proxy:3128", "NO_PROXY": ".internal"},
            )
        }
    assert "192.0.2.53" in files["resolv.conf"]
    assert "10.0.0.5 db.internal" in files["hosts.txt"] and "dbx" not in files["hosts.txt"]
    assert "--help" not in files["route.txt"]
    assert (
        f"127.0.0.1:{port}" in files["listeners.txt"] or "not installed" in files["listeners.txt"]
    )
    assert "pw1234" not in files["proxy-env.txt"] and "NO_PROXY=.internal" in files["proxy-env.txt"]


def test_export_helper_for_the_tui(tmp_path: Path) -> None:
    from probes.record.session import read_journal
    from tui.report import export

    session = read_journal(FIXTURE)
    path = export(session, tmp_path / "r.json")
    assert _mode(path) == 0o600 and path.read_text().startswith("{")
    with pytest.raises(OutputError, match="already exists"):
        export(session, path)
