"""Issue 22 follow-up, end to end: another client's CLOSE_WAIT sockets are still a leak.

``netmedic check`` in a namespace of the test's own, against :mod:`tests.lab.localserver`
whose own clients hung up twelve times and which never closes: the leak is told, with
netmedic's own connects (which wait in the same state) left out of the count.  The
loopback tests of the own-connection rule itself are in tests/test_own_connections.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from probes.host.connends import parse_endpoint
from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

CHECK = (sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", "2")
ADDR = "10.9.2.1"  # this namespace's own address (on a veth)


@dataclass
class Box:
    lab: Lab
    ns: str

    def check(self, target: str) -> dict[str, Any]:
        # "refused" asks the TCP probe for repeats sized to see one dead pool member:
        # some twenty connects of its own that end in CLOSE_WAIT too.
        done = self.lab.run(
            self.ns,
            [*CHECK, "--symptom", "refused", target],
        )
        assert done.returncode in (0, 1, 4), done.stderr
        doc: dict[str, Any] = json.loads(done.stdout)
        return doc


@pytest.fixture
def box(lab: Lab) -> Iterator[Box]:
    ns = lab.add_host("own")
    lab.ns(ns, "ip", "link", "add", "o0", "type", "veth", "peer", "name", "o1")
    lab.ns(ns, "ip", "addr", "add", f"{ADDR}/24", "dev", "o0")
    lab.ns(ns, "ip", "link", "set", "o1", "up")
    lab.ns(ns, "ip", "link", "set", "o0", "up")
    yield Box(lab, ns)


def _probe(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(p for p in doc["probes"] if p["probe"] == name))


def _finding(doc: dict[str, Any], fid: str) -> dict[str, Any] | None:
    return next((f for f in doc["findings"] if f["id"] == fid), None)


def _own(doc: dict[str, Any]) -> set[tuple[str, int]]:
    """The local ends the TCP probe recorded for its connects (first and repeats)."""
    ends = set()
    for a in _probe(doc, "tcp")["data"]["attempts"]:
        for text in (a["source"], *a["repeat_sources"]):
            parsed = parse_endpoint(text)
            if parsed:
                ends.add(parsed)
    return ends


def _close_wait_ends(doc: dict[str, Any]) -> set[tuple[str, int]]:
    local = _probe(doc, "local")
    assert local["status"] == "ok", local
    ends = local["data"]["target"]["close_wait_ends"]
    return {(e["address"], e["port"]) for e in ends}


def test_another_clients_close_wait_sockets_are_still_a_leak(box: Box) -> None:
    # The server's own clients connect 12 times and hang up; it never closes its side
    # (nor accepts anything after them: netmedic's connects wait in the accept queue).
    box.lab.python(box.ns, "tests.lab.localserver", "closewait", f"{ADDR}:7500", "12")
    doc = box.check(f"{ADDR}:7500")
    seen = _close_wait_ends(doc)
    ours = len(_own(doc) & seen)
    assert len(seen) == 12 + ours
    f = _finding(doc, "local.close_wait")
    assert f is not None, [x["id"] for x in doc["findings"]]
    assert f["severity"] == "warning"
    # Counted: the other client's twelve, never netmedic's own connects among them.
    assert f["title"].startswith("12 connections on port 7500 are stuck in CLOSE_WAIT"), f["title"]
    if ours:
        line = f"{ours} of them {'is' if ours == 1 else 'are'} netmedic's own connection"
        assert any(e.startswith(line) for e in f["evidence"]), f["evidence"]
