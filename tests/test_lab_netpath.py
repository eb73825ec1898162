"""Real faults where netmedic used to say "ok" or blame the wrong thing (namespace lab).

Each test runs the probes through ``Run`` + ``run_to_end`` inside a client
namespace (``tests.lab.pathcheck``) and asserts the verdict.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.netns import Lab
from tests.lab.topology import Topology, build

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def topo(module_lab: Lab) -> Iterator[Topology]:
    topo = build(module_lab)
    module_lab.python(topo.server, "tests.lab.tcpserver", "", "10.2.0.2:8080", "[fd00:2::2]:8080")
    yield topo


@pytest.fixture
def rules(topo: Topology) -> Iterator[Topology]:
    yield topo
    topo.set_router_rules()


def run(
    lab: Lab, ns: str, target: str, plan: str, prefix: tuple[str, ...] = (), **config: Any
) -> dict[str, Any]:
    config.setdefault("timeout", 2)
    done = lab.run(
        ns,
        [*prefix, sys.executable, "-m", "tests.lab.pathcheck", target, plan, json.dumps(config)],
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def probe(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["probes"] if p["probe"] == name)


def ids(doc: dict[str, Any]) -> list[str]:
    return [f["id"] for f in doc["findings"]]


def finding(doc: dict[str, Any], fid: str) -> dict[str, Any]:
    for f in doc["findings"]:
        if f["id"] == fid:
            return f
    raise AssertionError(f"no {fid} in {ids(doc)}")
