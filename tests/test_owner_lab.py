"""Issue 17 item 4, end to end in a namespace: a port forwarded (DNAT) to an
address where nothing answers is `local.forwarded` with the rule and "no
container has that address", not a plain "nothing listens"."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

ADDR = "10.9.0.1"  # this namespace's address, on a veth
GONE = "10.9.0.77"  # on the veth's subnet; no host has it (ARP goes unanswered)


def _check(lab: Lab, ns: str, target: str) -> dict[str, Any]:
    done = lab.run(
        ns,
        [
            sys.executable,
            "-m",
            "tui.cli",
            "check",
            "--json",
            "--timeout",
            "1.5",
            "--symptom",
            "refused",
            target,
        ],
    )
    assert done.returncode in (0, 1), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


@pytest.mark.parametrize("backend", ["nft", "iptables"])
def test_forward_to_an_address_nobody_has(lab: Lab, backend: str) -> None:
    ns = lab.add_host("fwd")
    lab.ns(ns, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    lab.ns(ns, "ip", "addr", "add", f"{ADDR}/24", "dev", "d0")
    lab.ns(ns, "ip", "link", "set", "d1", "up")
    lab.ns(ns, "ip", "link", "set", "d0", "up")
    if backend == "nft":
        lab.nft(
            ns,
            "table ip nmgone {\n chain output {\n  type nat hook output priority -100;\n"
            f"  ip daddr {ADDR} tcp dport 8080 dnat to {GONE}:80\n }}\n}}\n",
        )
        rule = f"dnat to {GONE}:80"
    else:  # iptables-nft: nft -j shows the target as "xt", only iptables-save reads it
        done = lab.ns(
            ns,
            *("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", ADDR),
            *("--dport", "8080", "-j", "DNAT", "--to-destination", f"{GONE}:80"),
        )
        assert done.returncode == 0, done.stderr
        rule = f"--to-destination {GONE}:80"
    doc = _check(lab, ns, f"{ADDR}:8080")
    ids = [f["id"] for f in doc["findings"]]
    assert doc["verdict"] == "local.forwarded", ids
    assert "local.not_listening" not in ids
    f = next(f for f in doc["findings"] if f["id"] == "local.forwarded")
    assert f["severity"] == "error"
    assert f"forwarded to {GONE}:80" in f["title"]
    assert "no container has that address" in f["title"]
    assert any(rule in e for e in f["evidence"]), f["evidence"]
    commands = [s["command"] for s in f["next_steps"] if s["command"]]
    assert f"ip neigh show to {GONE}" in commands
    local = next(p for p in doc["probes"] if p["probe"] == "local")
    (forward,) = local["data"]["forwards"]
    assert (forward["to_address"], forward["to_port"], forward["container"]) == (GONE, 80, "")
