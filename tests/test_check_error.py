"""``netmedic check --error TEXT|-``: the error picks the symptom and the target, never
invents a host, and is kept with the diagnosis ("your app said ...; netmedic sees ...")
in the output, the JSON, the journal and the report.  Real loopback ports."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.record.session import load_session
from tui.cli import main


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_error_names_target_and_symptom(
    closed_port: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    error = (
        f'psql: error: connection to server at "127.0.0.1" (127.0.0.1), port {closed_port} '
        "failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        "connections?"
    )
    report = tmp_path / "r.md"
    code = main(["check", "--error", error, "--json", "--timeout", "2", "--report", str(report)])
    out = capsys.readouterr()
    assert code == 1, out.err
    doc = json.loads(out.out)
    assert doc["symptom"] == "refused"
    assert doc["target"]["port"] == closed_port and doc["target"]["scheme"] == "postgres"
    said = doc["error"]["said"]
    assert said.startswith("your app said: ") and "Connection refused" in said
    assert "; netmedic sees: " in said
    assert doc["error"]["line"] in said
    saved = load_session("latest")
    assert saved.pasted_error is not None and saved.pasted_error.symptom == "refused"
    text = report.read_text()
    assert "## Your app said" in text and "**netmedic sees:**" in text
    assert "Is the server running" in text  # the whole error, in a fence


def test_error_from_stdin_human_output(
    closed_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = b"starting worker\n" * 5000  # more than is kept: the end counts
    tail = f"Error: connect ECONNREFUSED 127.0.0.1:{closed_port}\n    at TCPConnectWrap\n"
    _stdin(monkeypatch, noise + tail.encode())
    code = main(["check", "--error", "-", "--timeout", "2"])
    out = capsys.readouterr()
    assert code == 1, out.err
    assert f"127.0.0.1:{closed_port}" in out.out
    assert "your app said: Error: connect ECONNREFUSED" in " ".join(out.out.split())
    assert "netmedic sees:" in out.out


@pytest.mark.parametrize(
    ("error", "missing"),
    [
        ("Error: read ECONNRESET", "names no host"),
        (
            "curl: (6) Could not resolve host: api.example.invalid",
            "api.example.invalid but no port",
        ),
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", "names no host"),
    ],
)
def test_no_host_exits_2_saying_what_is_missing(
    error: str, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--error", error]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0] and "netmedic check HOST:PORT" in lines[0]


def test_empty_stdin_and_no_target_are_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, b"\n\n")
    assert main(["check", "--error", "-"]) == 2
    assert "nothing on stdin" in capsys.readouterr().err
    assert main(["check"]) == 2
    assert "needs a TARGET" in capsys.readouterr().err


def test_target_wins_error_picks_symptom_unless_given(
    listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    error = "Could not connect to Redis at 10.9.9.9:6379: Connection refused"
    target = f"127.0.0.1:{listening_port}"
    main(["check", target, "--error", error, "--json", "--timeout", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"]["host"] == "127.0.0.1" and doc["target"]["port"] == listening_port
    assert doc["symptom"] == "refused"
    main(["check", target, "--error", error, "--symptom", "slow", "--json", "--timeout", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["symptom"] == "slow" and doc["error"]["symptom"] == "refused"
