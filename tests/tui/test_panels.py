"""Dedicated panels render the real probe data as plain text that fits 80 columns."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from tests.fake_engine import FakeNetwork
from tui.widgets.panels import make_panel, panel_class
from tui.widgets.panels.base import GenericPanel

DEDICATED = ("ping", "trace", "mtu", "local", "tls", "http")


async def _last(probe: str, target: str) -> ProbeResult:
    fn = FakeNetwork(listening=True).overrides()[probe]
    results = [r async for r in fn(ProbeContext(parse_target(target)))]
    return results[-1]


@pytest.mark.parametrize("probe", DEDICATED)
def test_panel_renders_real_data_plain_within_80_columns(probe: str) -> None:
    assert panel_class(probe) is not GenericPanel
    result = asyncio.run(_last(probe, "https://api.example.com:5432/health"))
    body = make_panel(probe).render_data(result)
    assert body is not None
    console = Console(width=76, record=True, color_system=None)
    console.print(body)
    text = console.export_text()
    assert "\x1b" not in text
    assert all(len(line) <= 76 for line in text.splitlines())
    assert text.count("\n") < 30  # compact


def test_remote_strings_are_not_markup() -> None:
    result = asyncio.run(_last("http", "https://api.example.com/"))
    console = Console(width=76, record=True, color_system=None)
    console.print(make_panel("http").render_data(result))
    text = console.export_text()
    assert "[b]x[/b]" in text and "\\x1b" in text


def test_generic_panel_is_compact_and_plain() -> None:
    data = {
        "status_code": 403,
        "empty": "",
        "none": None,
        "banner": "evil\x1b]0;pwn\x07[red]x[/red]",
        "origins": [f"https://o{i}.example" for i in range(20)],
        "nested": {"allow_origin": "", "max_age": 600},
    }
    result = ProbeResult("cors", Status.FAILED, 0.1, "preflight rejected", data)
    console = Console(width=76, record=True, color_system=None)
    console.print(make_panel("cors").render_data(result))
    text = console.export_text()
    assert "status code: 403" in text and "max age: 600" in text
    assert "empty" not in text and "none" not in text and "allow origin" not in text
    assert "… 12 more" in text and "o19" not in text
    assert "\x1b" not in text and "\x07" not in text and "[red]x[/red]" in text
