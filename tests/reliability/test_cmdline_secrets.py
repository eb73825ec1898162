"""Other processes' command lines: their secrets never reach an output.

Real listeners are started with passwords on their command lines: as a short
option (``-p CANARY``, ``-pCANARY``), as a long one, after a secret option, and
as a bare positional argument.  netmedic checks one of them (whose masked
command line it may show) and every output is grepped for the canaries.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.host.procinfo import redact_argv
from tests.probe_helpers import cli_recorder

LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "s.listen(8)\n"
    "print(s.getsockname()[1], flush=True)\n"
    "time.sleep(300)\n"
)
# argv after the script; the target's own listener, then the others.
TARGET_ARGS = ["-p", "CanaryTargetShort61", "--verbose"]
OTHERS = [
    ["-p", "CanaryShortOpt62"],
    ["-pCanaryAttached63", "--port", "1"],
    ["--requirepass", "CanaryLongOpt64", "CanaryAfterFlag65"],
    ["--db-password=CanaryEquals66"],
    ["CanaryPositional67"],  # nothing marks it: only leaving the line out hides it
]
CANARIES = [a for args in [TARGET_ARGS, *OTHERS] for a in args if "Canary" in a]
CANARY_WORDS = [c.split("Canary", 1)[1] for c in CANARIES]


def _start(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTEN, *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


@pytest.fixture
def listeners() -> Iterator[tuple[int, list[int], list[int]]]:
    """(target port, target pids, other pids): the others at least 11 ports away."""
    procs: list[subprocess.Popen[str]] = []
    try:
        target, port = _start(TARGET_ARGS)
        procs.append(target)
        others = []
        for args in OTHERS:
            for _ in range(20):
                proc, other_port = _start(args)
                procs.append(proc)
                if abs(other_port - port) > 10:
                    others.append(proc.pid)
                    break
                proc.kill()  # too close: it would count as "nearby", try another port
        assert len(others) == len(OTHERS)
        yield port, [target.pid], others
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


def test_no_other_process_secret_reaches_any_output(
    tmp_path: Path,
    listeners: tuple[int, list[int], list[int]],
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    port, target_pids, other_pids = listeners
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    out = tmp_path / "out"
    out.mkdir()
    outputs: dict[str, bytes] = {}

    run = cli_recorder(capsysbinary, outputs)

    target = f"127.0.0.1:{port}"
    run("check --json", "check", target, "--json", "--timeout", "2", "--report",
        str(out / "check.md"))  # fmt: skip
    document = json.loads(outputs["check --json stdout"])
    local = next(p for p in document["probes"] if p["probe"] == "local")
    processes = {p["pid"]: p for p in local["data"]["processes"]}
    # Not vacuous: netmedic saw every listener, showed the target's masked line
    # and left the others' lines out.
    assert set(target_pids) | set(other_pids) <= set(processes)
    assert "-p *** --verbose" in processes[target_pids[0]]["cmdline"]
    assert all(processes[pid]["cmdline"] == "" for pid in other_pids)

    run("check human", "check", target, "--timeout", "2", "--report", str(out / "check.html"))
    for fmt in ("md", "html", "json"):
        assert run(f"report {fmt}", "report", "latest", "--format", fmt) == 0
        assert run(f"report -o {fmt}", "report", "--format", fmt, "-o", str(out / f"r.{fmt}")) == 0
    assert run("bundle", "report", "latest", "--bundle", str(out / "bundle.zip")) == 0

    files = [*(tmp_path / "state").rglob("*.jsonl"), *out.iterdir()]
    assert any(p.suffix == ".jsonl" for p in files)
    for path in files:
        outputs[str(path)] = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO((out / "bundle.zip").read_bytes())) as zf:
        for name in zf.namelist():
            outputs[f"bundle:{name}"] = zf.read(name)
    for label, data in outputs.items():
        for word in CANARY_WORDS:
            assert word.encode() not in data, f"{word} leaked into {label}"


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["redis-cli", "-a", "s3cr3t", "ping"], "redis-cli -a *** ***"),
        (["mysql", "-uroot", "-ps3cr3t", "db"], "mysql -uroot -p*** ***"),
        (["srv", "--requirepass", "s3cr3t", "--maxclients", "9"], "srv --requirepass *** --maxclients ***"),
        (["srv", "--api-key=s3cr3t", "-v"], "srv --api-key=*** -v"),
        (["srv", "--password", "--looks-like-an-option"], "srv --password ***"),
        (["app", "postgres://u:s3cr3t@db/x"], "app postgres://***@db/x"),
        (["env", "DB_PASSWORD=s3cr3t", "app"], "env DB_PASSWORD=*** app"),
        (["nginx", "-g", "daemon off;"], "nginx -g daemon off;"),
        # Bare positional tokens: only their look (detect-secrets' plugins) tells.
        (["app", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "serve"], "app *** serve"),
        (["app", "AKIAIOSFODNN7EXAMPLE", "eu-west-1"], "app *** eu-west-1"),
        (["bot", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"], "bot ***"),
        (["app", "--name=sk-notakey", "skip-this"], "app --name=sk-notakey skip-this"),
    ],
)  # fmt: skip
def test_redact_argv(argv: list[str], shown: str) -> None:
    assert " ".join(redact_argv(argv)) == shown
