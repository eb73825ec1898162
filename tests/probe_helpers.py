"""Run probes in-process against loopback servers and read the diagnosis."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from probes.core.context import ProbeConfig
from probes.core.model import Diagnosis, Finding
from probes.core.target import parse_target
from probes.run.runner import Run, run_to_end

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(
    target: str, plan: tuple[str, ...], symptom: str = "auto", **config: Any
) -> tuple[Run, Diagnosis]:
    config.setdefault("timeout", 3.0)
    config.setdefault("proxy_env", ())  # never the machine's proxy settings
    the_run = Run(parse_target(target), symptom, ProbeConfig(**config), plan=plan)
    diagnosis = asyncio.run(run_to_end(the_run))
    return the_run, diagnosis


def finding(diagnosis: Diagnosis, fid: str) -> Finding:
    for f in diagnosis.findings:
        if f.id == fid:
            return f
    raise AssertionError(f"no {fid} in {[f.id for f in diagnosis.findings]}")


def evidence(diagnosis: Diagnosis, fid: str) -> str:
    f = finding(diagnosis, fid)
    return "\n".join((f.title, *f.evidence))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus every proxy variable, plus *extra*."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def check_cli(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str, str]:
    """``netmedic check --json ...`` as a subprocess; returns (doc, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--json", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1, 4), done.stderr
    assert done.stderr == ""
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["schema"] == "netmedic.check/1"
    assert done.returncode == status_for(doc)
    return doc, done.stdout, done.stderr


def status_for(doc: dict[str, Any]) -> int:
    """``check``'s exit status for its JSON *doc*: 4 when the verdict is incomplete, 1
    for an error finding, 4 when a probe could not finish and nothing is an error,
    else 0."""
    findings = doc.get("findings", ())
    if doc.get("verdict") == "incomplete":
        return 4
    if any(f.get("severity") == "error" for f in findings):
        return 1
    return 4 if any(f.get("id") == "probe.incomplete" for f in findings) else 0


def cli_recorder(
    capsys: pytest.CaptureFixture[bytes], outputs: dict[str, bytes]
) -> Callable[..., int]:
    """``run(label, *argv)``: netmedic's main in-process; its stdout and stderr are kept
    in *outputs* under "LABEL stdout" / "LABEL stderr" (for the canary greps)."""
    from tui.cli import main

    def run(label: str, *argv: str) -> int:
        code = main(list(argv))
        captured = capsys.readouterr()
        outputs[f"{label} stdout"] = captured.out
        outputs[f"{label} stderr"] = captured.err
        return code

    return run


def icmp_unavailable_reason() -> str | None:
    """Why ICMP probes cannot run here (no raw socket, no ICMP datagram socket), or None."""
    from probes.core.privileges import has_raw_socket

    if has_raw_socket():
        return None
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
    except OSError:
        return "needs root, CAP_NET_RAW or net.ipv4.ping_group_range covering this user"
    return None
