"""The command-line contract: exit codes, one-line errors, JSON shape."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from probes import __version__
from probes.run.plans import SYMPTOM_IDS
from tests.probe_helpers import closed_port

REPO = Path(__file__).resolve().parents[1]


def netmedic(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_version() -> None:
    done = netmedic("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"netmedic {__version__}"


def test_symptoms_lists_every_id() -> None:
    done = netmedic("symptoms")
    assert done.returncode == 0
    ids = [line.split()[0] for line in done.stdout.splitlines()]
    assert ids == list(SYMPTOM_IDS)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "example.com:65536"),
        ("check", "example.com:0"),
        ("check", "bad\nhost:80"),
        ("check", "host;id:80"),
        ("check", "$(reboot):80"),
        ("check", "ftp://x"),
        ("check", "--", "-x:80"),
        ("check", "-x"),
        ("check",),
        ("check", "127.0.0.1:80", "--symptom", "nope"),
        ("check", "127.0.0.1:80", "--timeout", "abc"),
        ("check", "127.0.0.1:80", "--timeout", "-1"),
        ("check", "127.0.0.1:80", "--timeout", "nan"),
        ("check", "127.0.0.1:80", "--ca-file", "/nonexistent.pem"),
        ("check", "ws://127.0.0.1:80/", "--hold", "0"),
        ("watch", "127.0.0.1:80", "--interval", "nan"),
        ("watch", "127.0.0.1:80", "--interval", "-1"),
        ("watch", "127.0.0.1:80", "--count", "1.5"),
        ("watch", "127.0.0.1:80", "--connections", "-3"),
        ("watch", "127.0.0.1:80", "--max-loss", "inf"),
        ("watch", "127.0.0.1:80", "--timeout", "0"),
        ("watch", "127.0.0.1:80", "--window", "9"),
        ("127.0.0.1:80", "--interval", "0"),
        ("127.0.0.1:80", "--window", "1e9"),
        ("frobnicate",),
        ("a" * 300 + ":80",),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    done = netmedic(*args)
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("netmedic: error:")
    assert "Traceback" not in done.stderr


def test_check_json_on_closed_port() -> None:
    port = closed_port()
    done = netmedic("check", "--json", f"127.0.0.1:{port}", "--symptom", "timeout")
    assert done.returncode == 1
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["schema"] == "netmedic.check/1"
    # Evidence beats the symptom picked: the port refuses, and since the target is
    # this host the local listener table says why.
    assert doc["verdict"] == "local.not_listening"
    ids = [f["id"] for f in doc["findings"]]
    assert "tcp.refused" in ids
    assert doc["symptom"] == "timeout"
    assert doc["target"] == {
        "input": f"127.0.0.1:{port}",
        "host": "127.0.0.1",
        "host_unicode": "127.0.0.1",
        "port": port,
        "scheme": "tcp",
        "path": "/",
        "addresses": ["127.0.0.1"],
    }
    assert isinstance(doc["privileged"], bool)
    assert {p["probe"] for p in doc["probes"]} >= {"dns", "route", "tcp"}
    for p in doc["probes"]:
        assert p["status"] in ("ok", "failed", "skipped", "error")
        assert isinstance(p["duration_s"], float)
    refused = next(f for f in doc["findings"] if f["id"] == "tcp.refused")
    assert refused["severity"] == "error"
    assert any(s["command"] == f"ss -tlnp 'sport = :{port}'" for s in refused["next_steps"])


def test_check_human_output_leads_with_verdict() -> None:
    port = closed_port()
    done = netmedic("check", f"127.0.0.1:{port}")
    assert done.returncode == 1
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    verdict_line = next(i for i, line in enumerate(lines) if "Verdict" in line)
    probes_line = next(i for i, line in enumerate(lines) if line.startswith("Probes"))
    assert verdict_line < probes_line
    assert "local.not_listening" in lines[verdict_line]


def test_check_ok_exit_0() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        done = netmedic("check", "--json", f"127.0.0.1:{port}")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["verdict"] == "ok"


def test_credentials_never_printed() -> None:
    port = closed_port()
    for extra in ((), ("--json",)):
        done = netmedic(
            "check", *extra, f"http://alice:CanaryPw123@127.0.0.1:{port}/?token=CanaryTok9"
        )
        assert "CanaryPw123" not in done.stdout + done.stderr
        assert "CanaryTok9" not in done.stdout + done.stderr
        assert "alice" not in done.stdout + done.stderr


def test_help_tells_how_to_start_the_tui_and_resume() -> None:
    done = netmedic("--help")
    assert done.returncode == 0
    for said in ("--resume", "open the TUI", "netmedic TARGET"):
        assert said in done.stdout


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """``netmedic sessions | head -1``: the reader goes away; no traceback, no
    "internal error", the status a shell gives a tool killed by SIGPIPE."""
    import os

    from probes.core.target import parse_target
    from probes.record.journal import Journal
    from tests.data.make_session import FACTS

    sessions = tmp_path / "netmedic" / "sessions"
    for i in range(3):
        Journal.create(
            parse_target(f"127.0.0.1:{1000 + i}"), "auto", directory=sessions, facts=FACTS
        ).close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "sessions"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 141
    assert err == b""


def test_a_bare_host_is_refused_with_a_hint() -> None:
    """README: a bare host names no service; say what to write instead."""
    done = netmedic("check", "127.0.0.1")
    assert done.returncode == 2 and done.stdout == ""
    assert "no port given" in done.stderr and "host:port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
