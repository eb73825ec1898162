"""``netmedic demo``: the broken services are real, stop cleanly, and
``demo --check`` gives each its honest verdict.

The full self-test runs as the command a person types, inside a network
namespace this test makes (its own loopback and one non-loopback address on a
veth), so the loopback-only case is seen through a real interface address and
nothing touches the host's own addresses.  Without root it runs in-process with
127.0.0.2 as the other local address (then that case is ``bound-elsewhere``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from probes.diagnosis.vocabulary import VOCABULARY
from tests.lab.netns import Lab, lab_unavailable_reason
from tui.cli import main
from tui.demo.addresses import SECOND_LOOPBACK
from tui.demo.selftest import SCHEMA, CaseResult, check_all, check_case, document
from tui.demo.servers import DemoLab
from tui.demo.table import print_results

ADDR = "10.9.7.1"  # the namespace's own non-loopback address

CASE_IDS = (
    "refused",
    "loopback-only",
    "bound-elsewhere",
    "tls-expired",
    "tls-wrong-name",
    "http-503",
    "slow-first-byte",
    "reset",
    "ws-no-upgrade",
    "cors-no-origin",
    "wrong-protocol",
)


def _in_namespace(lab: Lab) -> tuple[int, dict[str, Any], str]:
    ns = lab.add_host("demo")
    lab.ns(ns, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    lab.ns(ns, "ip", "addr", "add", f"{ADDR}/24", "dev", "d0")
    lab.ns(ns, "ip", "link", "set", "d1", "up")
    lab.ns(ns, "ip", "link", "set", "d0", "up")
    done = lab.run(ns, [sys.executable, "-m", "tui.cli", "demo", "--check", "--json"])
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def _in_process() -> tuple[int, dict[str, Any], str]:
    with DemoLab(other_address=SECOND_LOOPBACK) as demo:
        started = time.monotonic()
        results = asyncio.run(check_all(demo.cases, demo.ca_file))
        doc = document(results, time.monotonic() - started)
    return (0 if doc["passed"] else 1), doc, ""


@pytest.fixture(scope="module")
def demo_check() -> Iterator[tuple[int, dict[str, Any], str]]:
    if os.environ.get("NETMEDIC_DEMO_IN_PROCESS") == "1" or lab_unavailable_reason():
        yield _in_process()
        return
    with Lab("demo") as lab:
        yield _in_namespace(lab)


def test_demo_check_exit_status_says_whether_all_match(
    demo_check: tuple[int, dict[str, Any], str],
) -> None:
    code, doc, _ = demo_check
    assert doc["schema"] == SCHEMA
    assert len(doc["cases"]) == 10
    assert doc["passed"] == all(c["match"] for c in doc["cases"])
    assert code == (0 if doc["passed"] else 1)
    for case in doc["cases"]:
        assert case["expected"] in VOCABULARY, case
        assert case["match"] == (case["actual"] == case["expected"])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_demo_case_gets_its_verdict(
    demo_check: tuple[int, dict[str, Any], str], case_id: str, request: pytest.FixtureRequest
) -> None:
    _, doc, _ = demo_check
    cases = {c["id"]: c for c in doc["cases"]}
    if case_id not in cases:
        pytest.skip(f"{case_id} is not part of this setup (it depends on the other address)")
    case = cases[case_id]
    assert case["actual"] == case["expected"], case


def test_loopback_only_is_seen_through_a_real_interface_address(
    demo_check: tuple[int, dict[str, Any], str],
) -> None:
    _, doc, _ = demo_check
    cases = {c["id"]: c for c in doc["cases"]}
    if "loopback-only" not in cases:
        pytest.skip("no namespace lab here: the in-process run uses 127.0.0.2")
    assert cases["loopback-only"]["target"].startswith(f"{ADDR}:")


def test_bound_elsewhere_without_a_non_loopback_address() -> None:
    """A host with loopback only: 127.0.0.2 is honestly 'listens on another local address'."""
    with DemoLab(other_address=SECOND_LOOPBACK) as demo:
        case = demo.case("bound-elsewhere")
        assert case.target.startswith(f"{SECOND_LOOPBACK}:")
        result = asyncio.run(check_case(case, demo.ca_file))
    assert result.verdict == "local.bound_elsewhere", result


def test_lab_stops_everything_and_leaves_no_files() -> None:
    before = {t.ident for t in threading.enumerate()}
    demo = DemoLab(other_address=SECOND_LOOPBACK)
    demo.start()
    ca_dir = Path(demo.ca_file).parent
    assert sorted(p.name for p in ca_dir.iterdir()) == ["demo-ca.pem"]  # no key on disk
    assert ca_dir.stat().st_mode & 0o777 == 0o700
    assert Path(demo.ca_file).stat().st_mode & 0o777 == 0o600
    ports = [int(c.target.rsplit(":", 1)[1].split("/")[0]) for c in demo.cases]
    open_port = next(p for c, p in zip(demo.cases, ports, strict=True) if c.id == "http-503")
    with socket.create_connection(("127.0.0.1", open_port), timeout=2):
        pass
    demo.close()
    assert not ca_dir.exists()
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", open_port), timeout=2).close()
    demo.close()  # twice is harmless


def test_demo_json_needs_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--json goes with --check" in captured.err


def test_table_shows_expected_actual_and_marks() -> None:
    from tui.demo.cases import DemoCase

    good = DemoCase("http-503", "HTTP 503", "http://127.0.0.1:1/", "auto", "http.unavailable")
    bad = DemoCase("slow", "slow", "http://127.0.0.1:2/", "slow", "http.slow_response")
    results = [
        CaseResult(good, "http.unavailable", "503", ("http.unavailable",), 0.4),
        CaseResult(bad, "ok", "", ("http.ok",), 3.6),
    ]
    out = io.StringIO()
    print_results(results, 3.7, Console(file=out, width=100, force_terminal=False))
    text = out.getvalue()
    assert "expected" in text and "actual" in text
    row = next(line for line in text.splitlines() if "http-503" in line)
    assert "http.unavailable" in row and "✓" in row
    row = next(line for line in text.splitlines() if line.strip().startswith("slow "))
    assert "http.slow_response" in row and "✗" in row
    assert "1 of 2 verdicts differ" in text
