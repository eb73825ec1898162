"""The findings list follows the verdict as it changes, unless the person moved."""

from __future__ import annotations

from textual.app import App, ComposeResult

from probes.core.model import Diagnosis, Finding, Severity
from tui.widgets.findings import FindingsList


def _finding(fid: str, rank: int) -> Finding:
    return Finding(fid, Severity.ERROR, f"title of {fid}", rank=rank)


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield FindingsList()


async def test_highlight_follows_the_verdict_but_keeps_a_pick() -> None:
    refused, local, slow = _finding("tcp.refused", 2), _finding("local.x", 1), _finding("s", 3)
    app = _Host()
    async with app.run_test() as pilot:
        findings = app.query_one(FindingsList)
        findings.show(Diagnosis((refused,), "tcp.refused"))
        assert findings.highlighted_finding == refused
        findings.show(Diagnosis((refused, local), "local.x"))  # a better root cause arrives
        assert findings.highlighted_finding == local
        findings.focus()
        await pilot.press("down")  # the person picks another finding
        assert findings.highlighted_finding == refused
        findings.show(Diagnosis((refused, local, slow), "local.x"))
        assert findings.highlighted_finding == refused
