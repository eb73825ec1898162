"""Journaled probe data comes back as the data classes the panels draw."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json

import pytest

from probes.core.context import ProbeContext
from probes.core.model import to_jsonable
from probes.core.redact import Redactor
from probes.core.target import parse_target
from probes.record.revive import ReviveError, revive
from tests.fake_engine import FakeNetwork
from tui.widgets.panels import PANELS, panel_class


async def _final(probe: str, target: str) -> object:
    fn = FakeNetwork(listening=True).overrides()[probe]
    results = [r async for r in fn(ProbeContext(parse_target(target)))]
    return results[-1].data


# The fake engine has no connection sampler: tests/tui/test_connections_panel.py
# revives the real sampler's data instead.
@pytest.mark.parametrize("probe", sorted(set(PANELS) & set(FakeNetwork().overrides())))
def test_every_panel_data_class_survives_the_journal(probe: str) -> None:
    data = asyncio.run(_final(probe, "https://api.example.com/health"))
    cls = panel_class(probe).DATA
    assert cls is not None and isinstance(data, cls)
    # What the journal holds: JSON text, after redaction.
    stored = json.loads(json.dumps(Redactor().json(to_jsonable(data))))
    back: object = revive(cls, stored)
    assert type(back) is cls
    assert to_jsonable(back) == to_jsonable(data)


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Inner:
    n: int
    ratio: float = 0.0


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    inners: tuple[Inner, ...]
    color: Color
    maybe: Inner | None = None
    pair: tuple[str, int] = ("", 0)
    extra: dict[str, int] = dataclasses.field(default_factory=dict)


def test_nested_unions_enums_tuples_and_defaults() -> None:
    raw = {"name": "x", "inners": [{"n": 1, "ratio": 2}], "color": "red", "pair": ["a", 3]}
    back = revive(Outer, raw)
    assert back == Outer("x", (Inner(1, 2.0),), Color.RED, None, ("a", 3), {})
    assert isinstance(back.inners[0].ratio, float)


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "x", "inners": [], "color": "blue"},  # not a Color
        {"name": "x", "inners": [{"n": "***"}], "color": "red"},  # masked by redaction
        {"name": "x", "color": "red"},  # a required field is missing
        {"name": "x", "inners": {}, "color": "red"},  # wrong shape
        {"name": "x", "inners": [], "color": "red", "pair": ["a"]},
    ],
)
def test_data_that_does_not_fit_is_an_error_not_a_guess(raw: dict[str, object]) -> None:
    with pytest.raises(ReviveError):
        revive(Outer, raw)
