"""Helper programs run by absolute path: a fake ``ip`` early in PATH never runs.

netmedic runs as root.  A writable directory early in root's PATH must not let
anyone run code as uid 0 by naming a program ``ip``, ``nft`` or ``ss``.  And
nothing in the faces runs a program at all: a command in a journal or a
finding is text to show, never to execute.
"""

from __future__ import annotations

import ast
import asyncio
import os
from pathlib import Path

import pytest

from probes.core.programs import SAFE_DIRS, SAFE_PATH, find_program, safe_env
from probes.host import firewall, local, localcontext
from probes.path import route

ROOT = Path(__file__).resolve().parents[2]
FAKES = ("ip", "ss", "nft", "iptables-save", "ip6tables-save", "env", "systemctl", "docker")
# The modules allowed to start a helper program (each through probes.core.programs).
SPAWNERS = {
    "probes/path/route.py",
    "probes/host/firewall.py",
    "probes/host/localcontext.py",
    "probes/remote/ssh.py",  # the person's own ssh (find_user_program)
    "probes/remote/inventory.py",  # ansible-inventory --list, when installed
}
# Scripts sent to another host as text (over ssh's standard input) and run there: never
# imported or run here, so the programs they start are the other host's.
REMOTE_SCRIPTS = {"probes/remote/collector.py"}


@pytest.fixture
def hostile_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first in PATH whose programs leave a mark when run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marks = tmp_path / "ran"
    for name in FAKES:
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho {name} >> {marks}\necho FAKE-{name}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:.:{os.environ.get('PATH', '')}")
    monkeypatch.chdir(bin_dir)  # "." in PATH too
    return marks


def test_find_program_looks_only_in_the_system_directories(hostile_path: Path) -> None:
    for name in FAKES:
        found = find_program(name)
        assert found is None or os.path.dirname(found) in SAFE_DIRS, found
    assert find_program("ip") is not None, "iproute2 is a test dependency"
    assert find_program("./ip") is None
    assert find_program("/tmp/ip") is None
    assert find_program("") is None


def test_helper_programs_get_the_fixed_path(hostile_path: Path) -> None:
    assert safe_env()["PATH"] == SAFE_PATH
    text = localcontext.run_command(["env"])
    assert f"PATH={SAFE_PATH}\n" in text
    assert "FAKE-" not in text


def test_no_probe_runs_a_fake_program_from_path(hostile_path: Path) -> None:
    routed = asyncio.run(route._ip_route_get("127.0.0.1"))
    assert routed.get("dev") == "lo"

    files = localcontext.collect("localhost", 22, ["127.0.0.1"], env={})
    text = "".join(f.text for f in files)
    assert "FAKE-" not in text
    assert "dev lo" in text  # the real ip answered

    nft = firewall.find_tool("nft")
    if nft is not None:
        _code, out, _err = asyncio.run(firewall.run_tool([nft, "-j", "list", "ruleset"]))
        assert "FAKE-" not in out
    assert all(tool != "FAKE" for tool in local.available_tools())
    assert not hostile_path.exists(), hostile_path.read_text()


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.append(ast.unparse(node.func))
            for kw in node.keywords:
                if kw.arg == "shell":
                    names.append("shell=")
    return names


SPAWN = (
    "subprocess.",
    "asyncio.create_subprocess",
    "os.system",
    "os.popen",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "pty.spawn",
    "shutil.which",
    "shell=",
)


def test_only_the_helper_modules_start_programs_and_no_face_does() -> None:
    """Commands in journals and findings are shown, never run: tui/ starts no process."""
    offenders = []
    for folder in ("probes", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            source = path.read_text()
            if rel in REMOTE_SCRIPTS:
                continue
            calls = _calls(ast.parse(source))
            spawning = [c for c in calls if c.startswith(SPAWN)]
            spawning = [c for c in spawning if c not in ("subprocess.TimeoutExpired",)]
            if "shell=" in calls or "shutil.which" in calls:
                offenders.append(f"{rel}: shell= or shutil.which")
            elif spawning and rel not in SPAWNERS:
                offenders.append(f"{rel}: {sorted(set(spawning))}")
            if rel in SPAWNERS:
                assert (
                    "find_program" in source
                    or "find_tool" in source
                    or "find_user_program" in source
                ), rel
    assert not offenders, offenders


def test_remote_scripts_are_never_imported_here() -> None:
    """The collector is read as text and sent; importing it would run its code here."""
    for folder in ("probes", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for script in REMOTE_SCRIPTS:
                    dotted = script.removesuffix(".py").replace("/", ".")
                    assert dotted not in names, f"{path}: imports {dotted}"
