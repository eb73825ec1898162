"""``netmedic check --json`` in-process for the service-truth tests, and what every one
of them asserts: the verdict, its severity, the exit code, and that each suggested
command parses with shlex and names this check's host and port."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

import pytest


def check(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """``netmedic check --json --timeout 3 ARGV`` with no proxy variables but *env*'s."""
    from tui.cli import main

    for name in list(os.environ):
        if "proxy" in name.lower():
            monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["check", "--json", "--timeout", "3", *argv])
    out = capsys.readouterr().out
    doc: dict[str, Any] = json.loads(out)
    return code, doc


def finding(doc: dict[str, Any], fid: str) -> dict[str, Any]:
    for f in doc["findings"]:
        if f["id"] == fid:
            return dict(f)
    raise AssertionError(f"no {fid} in {[(f['id'], f['severity']) for f in doc['findings']]}")


def expect(
    code: int,
    doc: dict[str, Any],
    verdict: str,
    severity: str,
    exit_code: int,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> dict[str, Any]:
    """The verdict, its severity and the exit code; the verdict's commands run here."""
    found = [(f["id"], f["severity"]) for f in doc["findings"]]
    assert doc["verdict"] == verdict, found
    assert code == exit_code, found
    if verdict == "ok":
        return {}
    f = finding(doc, verdict)
    assert f["severity"] == severity, found
    commands_name(f, host, port)
    return f


def commands_name(f: dict[str, Any], host: str, port: int | None) -> None:
    """Every command of finding *f* parses with shlex; those that reach a server name
    *host* and *port* (a command with no network operand, such as ``ss``, is exempt)."""
    for step in f["next_steps"]:
        command = step.get("command")
        if not command:
            continue
        words = shlex.split(command)
        if words[0] in ("redis-cli", "psql", "curl", "openssl", "nc", "netmedic"):
            joined = " ".join(words)
            assert host in joined, command
            if port is not None:
                assert str(port) in joined, command
