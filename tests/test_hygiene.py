"""The engine never loads the UI, and start-up does not pay for scapy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import sys, pkgutil, importlib, probes
for mod in pkgutil.walk_packages(probes.__path__, "probes."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich", "tui"))
print(",".join(bad))
"""


def test_probes_never_import_the_ui() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_cli_startup_does_not_import_scapy_or_textual() -> None:
    code = "import tui.cli, probes.run.plans, probes.run.runner, sys; print([m for m in sys.modules if m.startswith(('scapy', 'textual'))])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_picker_does_not_pay_for_the_diagnosis() -> None:
    """The first frame shows the symptom picker: rules, resolvers, packets, HTTP, the
    journal and the error reading load when a diagnosis starts (or an error is typed),
    not before (issue 14: start-up)."""
    heavy = ("probes.diagnosis", "probes.run.runner", "probes.triage", "probes.record.journal",
             "dns", "scapy", "httpx", "psutil", "cryptography")  # fmt: skip
    code = (
        "import sys, tui.app; "
        f"print([m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in {heavy!r})])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
