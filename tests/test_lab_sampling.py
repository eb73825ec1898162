"""Samples sized to the question, in the namespace lab: random loss, a pool with a dead member."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import chain as C
from tests.lab.chain import Chain
from tests.lab.checkdoc import finding, ids
from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

HTTP_PORT = 8094
POOL_PORT = 9000  # the server's nftables spreads it round-robin over three ports
POOL = (9001, 9002, 9003)  # 9003: nothing listens (the dead member)


@pytest.fixture(scope="module")
def chain(module_lab: Lab) -> Iterator[Chain]:
    ch = C.build(module_lab)
    module_lab.python(ch.server, "tests.lab.httpstatus", f"{C.SERVER_V4}:{HTTP_PORT}=200")
    module_lab.python(
        ch.server, "tests.lab.tcpserver", "", *(f"{C.SERVER_V4}:{p}" for p in POOL[:2])
    )
    members = ", ".join(f"{i} : {p}" for i, p in enumerate(POOL))
    module_lab.nft(
        ch.server,
        "table ip pool {\n chain pre {\n  type nat hook prerouting priority -100;\n"
        f"  tcp dport {POOL_PORT} redirect to numgen inc mod 3 map {{ {members} }}\n }}\n}}\n",
    )
    module_lab.run(ch.client, ["ping", "-c", "1", "-W", "2", "--", C.SERVER_V4])
    yield ch


@pytest.fixture
def faults(chain: Chain) -> Iterator[Chain]:
    yield chain
    chain.clear()


def check(ch: Chain, target: str, symptom: str = "intermittent") -> dict[str, Any]:
    done = ch.lab.run(
        ch.client,
        [sys.executable, "-m", "tui.cli", "check", "--json", "--symptom", symptom, "--", target],
    )
    assert done.returncode in (0, 1, 4), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    # 4 is the exit status of an incomplete run (README "check exit codes") and only that:
    # its verdict, or a probe that could not finish behind no error (a warning such as
    # path.loss from a sample the run's bound cut).
    errors = any(f["severity"] == "error" for f in doc["findings"])
    unfinished = doc["verdict"] == "incomplete" or (
        not errors and "probe.incomplete" in {f["id"] for f in doc["findings"]}
    )
    assert (done.returncode == 4) == unfinished, (doc["verdict"], ids(doc))
    return doc


def test_random_loss_never_reads_ok(faults: Chain) -> None:
    """30% of packets to the server vanish at r2: nine pings came back whole one time in 25; the
    sized sample says loss, or that it could not tell — never ok."""
    faults.rules("r2", forward='oifname "r2" numgen random mod 100 < 30 drop')  # towards the server
    for _ in range(2):
        doc = check(faults, f"http://{C.SERVER_V4}:{HTTP_PORT}/")
        print(doc["verdict"], [(f["id"], f["title"]) for f in doc["findings"]])
        assert doc["verdict"] != "ok"
        assert doc["verdict"] in ("path.loss", "incomplete"), ids(doc)
        ping = next(p for p in doc["probes"] if p["probe"] == "ping")["data"]
        assert ping["sized"] and ping["hosts"][0]["stats"]["sent"] >= 9


def test_a_clean_path_is_ok_with_a_sized_sample(chain: Chain) -> None:
    doc = check(chain, f"http://{C.SERVER_V4}:{HTTP_PORT}/")
    print(doc["verdict"], [(f["id"], f["title"]) for f in doc["findings"]])
    assert doc["verdict"] == "ok", ids(doc)
    stats = next(p for p in doc["probes"] if p["probe"] == "ping")["data"]["hosts"][0]["stats"]
    assert stats["received"] == stats["sent"] >= 52  # enough to say "under 5%" at 95%


def test_a_pool_with_one_dead_member_is_refused_with_its_share(chain: Chain) -> None:
    """Round-robin over three ports, one closed: the repeats see the refusals."""
    doc = check(chain, f"{C.SERVER_V4}:{POOL_PORT}")
    print(doc["verdict"], [(f["id"], f["title"]) for f in doc["findings"]])
    assert doc["verdict"] == "tcp.refused", ids(doc)
    title = finding(doc, "tcp.refused")["title"]
    # About a third of 18 (other probes' connects take their turns of the rotation too).
    refused = int(re.search(r"refused (\d+) of 18 connects", title)[1])  # type: ignore[index]
    assert 3 <= refused <= 9, title
    assert "tcp.open" not in ids(doc)


def test_watch_max_loss_exits_1_soon_after_loss_starts(faults: Chain, tmp_path: Path) -> None:
    """Clean rounds, then 50% loss at r2: CROSSED within a bounded number of rounds,
    exit 1, and the process ends (no hang after CROSSED)."""
    proc = faults.lab.spawn(
        faults.client,
        ["env", f"XDG_STATE_HOME={tmp_path}", sys.executable, "-m", "tui.cli", "watch",
         "--interval", "0.2", "--window", "10", "--max-loss", "10", "--count", "300",
         "--", f"{C.SERVER_V4}:{HTTP_PORT}"],
        ready=None,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = [proc.stdout.readline().decode() for _ in range(8)]
    assert not any("CROSSED" in line for line in lines), lines
    assert re.search(r"loss +0% \(0/", lines[-1])  # the interval's own figures, totals beside
    faults.rules("r2", forward='oifname "r2" numgen random mod 100 < 50 drop')
    after: list[str] = []
    for line in iter(proc.stdout.readline, b""):
        after.append(line.decode())
        if "CROSSED" in after[-1]:
            break
    assert after and "CROSSED loss" in after[-1], after[-3:]
    assert len(after) <= 40  # ~2 lost of 10 pings: a few rounds, far fewer than 40
    assert proc.wait(timeout=15) == 1  # ends at once with exit 1
    rest = proc.stdout.read().decode().splitlines()
    assert rest and rest[-1].startswith("watched "), rest
