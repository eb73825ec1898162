"""``check`` journals its run; ``sessions`` lists; ``report`` renders; JSON stays clean."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from probes.core.target import parse_target
from probes.record.journal import Journal
from probes.record.session import list_sessions, load_session
from tests.data.make_session import FACTS
from tui.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_json_writes_a_journal_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    port = _free_port()
    report = tmp_path / "r.json"
    # The "dns" runbook is dns, route, tcp; a loopback target adds the local sockets.
    code = main(
        [
            "check",
            f"127.0.0.1:{port}",
            "--symptom",
            "dns",
            "--json",
            "--timeout",
            "3",  # the local-sockets walk must finish even on a loaded machine
            "--report",
            str(report),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    doc = json.loads(out)
    assert doc["schema"] == "netmedic.check/1" and doc["verdict"] == "local.not_listening"
    (summary,) = list_sessions()
    assert summary.verdict == "local.not_listening" and summary.ended and summary.symptom == "dns"
    session = load_session(summary.id)
    assert session.header["netmedic_version"] and "privileged" in session.header
    # The refused connect asks for this host's firewall rules (a follow-up).
    assert session.latest is not None and set(session.latest.results) == {
        "dns",
        "route",
        "tcp",
        "local",
        "firewall",
    }
    written = json.loads(report.read_text())
    assert (
        written["schema"] == "netmedic.report" and written["verdict"]["id"] == "local.not_listening"
    )

    assert main(["sessions"]) == 0
    out, _ = capsys.readouterr()
    assert summary.id in out and "local.not_listening" in out and f"127.0.0.1:{port}" in out

    assert main(["report", summary.id[:10]]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("# netmedic report") and "local.not_listening" in out


def test_check_human_names_the_session_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert main(["check", f"127.0.0.1:{_free_port()}", "--timeout", "1"]) == 1
    out, err = capsys.readouterr()
    (summary,) = list_sessions()
    assert summary.id in err and summary.id not in out


def test_unwritable_state_dir_warns_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state dir should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    args = ["check", f"127.0.0.1:{_free_port()}", "--symptom", "dns", "--json", "--timeout", "3"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"] == "local.not_listening"
    assert err.startswith("netmedic: warning: cannot create a session journal")
    assert err.count("\n") == 1


def test_no_sessions_and_bad_refs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert main(["sessions"]) == 0
    assert "no saved sessions" in capsys.readouterr().out
    assert main(["report"]) == 2
    assert main(["report", "nosuch"]) == 2
    assert main(["--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "no saved sessions" in err


def test_probes_stay_free_of_faces() -> None:
    code = (
        "import sys, probes.record.journal, probes.record.session, probes.core.redact, probes.record.safefile, "
        "probes.host.localcontext, probes.run.runner\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'tui')]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_resume_refuses_a_session_another_netmedic_has_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    journal = Journal.create(parse_target("127.0.0.1:9"), "refused", facts=FACTS)
    try:
        assert main(["--resume"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"session {journal.session_id} is open in another netmedic" in err
    finally:
        journal.close()


def test_resume_refuses_a_session_without_a_usable_symptom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    journal = Journal.create(parse_target("127.0.0.1:9"), "no-such-symptom", facts=FACTS)
    journal.close()
    assert main(["--resume", journal.session_id]) == 2
    assert "cannot resume it" in capsys.readouterr().err
