"""The demo's listeners live in netmedic's own process: the owner shown is
"netmedic (the demo)", in the TUI's panel, the finding and the exported report,
never "another PID namespace".  The demo leaves no recent targets behind, and a
hang-up (SIGHUP) leaves no temporary directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.run.runner import RunFinished
from tests.lab.netns import Lab, lab_unavailable_reason
from tests.tui.helpers import RecordingSink, until
from tui.app import NetmedicApp
from tui.demo.addresses import SECOND_LOOPBACK
from tui.demo.cases import DEMO_NAME
from tui.demo.servers import DemoLab
from tui.screens.diagnosis import DiagnosisScreen

REPO = Path(__file__).resolve().parents[2]
NS_ADDR = "10.9.8.1"


async def test_demo_owner_is_netmedic_in_panel_finding_and_report(tmp_path: Path) -> None:
    sink = RecordingSink()
    recent = tmp_path / "state" / "recent.json"
    with DemoLab(other_address=SECOND_LOOPBACK) as demo:
        index = [c.id for c in demo.cases].index("bound-elsewhere")
        app = NetmedicApp(
            config=ProbeConfig(ca_file=demo.ca_file, self_name=DEMO_NAME),
            demo=demo.cases,
            sink=sink,
            recent_path=recent,
            export_dir=tmp_path,
            blink=False,
            privileged=True,
            live=False,
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press(*["down"] * index, "enter")
            await until(lambda: any(isinstance(e, RunFinished) for e in sink.events))
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, DiagnosisScreen)
            (finished,) = [e for e in sink.events if isinstance(e, RunFinished)]
            verdict = next(
                f for f in finished.diagnosis.findings if f.id == "local.bound_elsewhere"
            )
            evidence = " ".join(verdict.evidence)
            assert f"← {DEMO_NAME} (pid {os.getpid()}" in evidence
            assert "PID namespace" not in evidence
            assert DEMO_NAME in _panel_text(screen)
            await pilot.press("e")
            await until(lambda: hasattr(screen, "last_export"))
            report = screen.last_export.read_text()
            await pilot.press("q")
    assert DEMO_NAME in report and "PID namespace" not in report
    assert "owner hidden" not in report
    assert not recent.exists()  # the demo's ports die with it: not a recent target


def _panel_text(screen: DiagnosisScreen) -> str:
    panel = screen.query_one("#panel-local")
    return "\n".join(panel.render_line(y).text for y in range(panel.size.height))


SCRIPT = """
import asyncio, json
from probes.core.target import parse_target
from probes.run.runner import Run, run_to_end
from tui.demo.selftest import case_config
from tui.demo.servers import DemoLab

async def main(case, ca):
    run = Run(parse_target(case.target), case.symptom, case_config(case, ca))
    diagnosis = await run_to_end(run, settle=True)
    return {"verdict": diagnosis.verdict,
            "evidence": [e for f in diagnosis.findings for e in f.evidence]}

with DemoLab() as lab:
    print(json.dumps(asyncio.run(main(lab.case("loopback-only"), lab.ca_file))))
"""


@pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason()))
def test_loopback_only_case_names_the_demo_as_owner_in_a_namespace() -> None:
    """Seen through a real interface address (a namespace's veth), as a person sees it."""
    with Lab("demoown") as lab:
        ns = lab.add_host("own")
        lab.ns(ns, "ip", "link", "add", "o0", "type", "veth", "peer", "name", "o1")
        lab.ns(ns, "ip", "addr", "add", f"{NS_ADDR}/24", "dev", "o0")
        lab.ns(ns, "ip", "link", "set", "o1", "up")
        lab.ns(ns, "ip", "link", "set", "o0", "up")
        done = lab.run(ns, [sys.executable, "-c", SCRIPT])
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "local.loopback_only"
    owned = [e for e in doc["evidence"] if DEMO_NAME in e]
    assert owned and not any("PID namespace" in e for e in doc["evidence"])


def test_demo_hang_up_leaves_no_temp_directory(tmp_path: Path) -> None:
    """``netmedic demo --check`` hung up mid-run: the certificates' directory goes."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "demo", "--check", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(400):  # the lab made its directory: the demo is running
            if list(tmp_path.glob("netmedic-demo-*")) or proc.poll() is not None:
                break
            time.sleep(0.025)
        assert list(tmp_path.glob("netmedic-demo-*")), "the demo never started"
        proc.send_signal(signal.SIGHUP)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGHUP
    assert not list(tmp_path.glob("netmedic-demo-*"))
