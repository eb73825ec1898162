"""``netmedic check``: concise by default (issue 26), ``--verbose`` for today's detail;
``netmedic help`` and the examples under each subcommand's ``--help``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def netmedic(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "24"}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )


def test_closed_port_fits_in_25_lines_by_default(closed_port: int) -> None:
    done = netmedic("check", f"127.0.0.1:{closed_port}")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) + len(done.stderr.splitlines()) <= 25, done.stdout
    assert all(len(line) <= 80 for line in lines)
    text = done.stdout
    # The verdict with its evidence and its steps...
    assert "Verdict: local.not_listening" in text
    assert "Evidence" in text and "$ ss -tlnp" in text
    # ...one line for the other problem, none of its steps...
    (refused,) = [line for line in lines if "tcp.refused" in line]
    assert refused.lstrip().startswith("✘ tcp.refused")
    assert f"ss -tlnp 'sport = :{closed_port}'" not in text
    # ...the probes on one line, no table, and where the rest is.
    assert any(line.startswith("Probes  ") and "tcp failed" in line for line in lines)
    assert "┏" not in text and "--verbose" in text


def test_verbose_keeps_every_finding_and_the_probe_table(closed_port: int) -> None:
    done = netmedic("check", "--verbose", f"127.0.0.1:{closed_port}")
    assert done.returncode == 1, done.stderr
    text = done.stdout
    assert "Verdict: local.not_listening" in text
    assert "tcp.refused (error)" in text  # a panel with its evidence and steps
    assert f"ss -tlnp 'sport = :{closed_port}'" in text
    assert "┃ probe" in text and "skipped" in text  # the table, skipped probes too
    assert "+ firewall after" in text  # what the evidence added to the plan


def test_healthy_check_is_a_few_lines() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        done = netmedic("check", f"127.0.0.1:{listener.getsockname()[1]}")
    assert done.returncode == 0, done.stderr
    assert "Verdict: ok" in done.stdout
    assert "✔ tcp.open" in done.stdout  # what passed, one line each
    assert len(done.stdout.splitlines()) <= 12, done.stdout


def test_help_command_and_subcommand_examples() -> None:
    done = netmedic("help")
    assert done.returncode == 0 and "check" in done.stdout and "watch" in done.stdout
    done = netmedic("help", "check")
    assert done.returncode == 0
    assert "--verbose" in done.stdout and "examples:" in done.stdout
    assert "netmedic check db.internal:5432" in done.stdout
    for command in ("report", "watch", "demo", "sessions", "services", "symptoms"):
        done = netmedic(command, "--help")
        assert done.returncode == 0 and "example" in done.stdout, command
    done = netmedic("help", "bogus")
    assert done.returncode == 2 and not done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_config_file_is_one_line_naming_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('them = "textual-light"\n')
    env = {**os.environ, "NETMEDIC_CONFIG_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and not done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert str(tmp_path / "config.toml") in line and "unknown key 'them'" in line
    assert "did you mean 'theme'?" in line
