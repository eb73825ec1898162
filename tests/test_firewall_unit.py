"""The local firewall reader without a namespace: nft JSON and iptables-save text."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from probes.host import firewall
from probes.host.firewall import NftRuleset, iptables_blocking, nft_rule_texts
from tests.probe_helpers import run

IP = ipaddress.ip_address("10.2.0.2")
IP6 = ipaddress.ip_address("fd00:2::2")


def chain(
    name: str, hook: str = "", policy: str = "accept", family: str = "inet"
) -> dict[str, Any]:
    c: dict[str, Any] = {"family": family, "table": "t", "name": name, "handle": 1}
    if hook:
        c |= {"type": "filter", "hook": hook, "prio": 0, "policy": policy}
    return {"chain": c}


def rule(chain: str, handle: int, *expr: dict[str, Any], family: str = "inet") -> dict[str, Any]:
    return {"rule": {"family": family, "table": "t", "chain": chain, "handle": handle,
                     "expr": list(expr)}}  # fmt: skip


def daddr(value: Any, proto: str = "ip") -> dict[str, Any]:
    left = {"payload": {"protocol": proto, "field": "daddr"}}
    return {"match": {"op": "==", "left": left, "right": value}}


def dport(value: Any, op: str = "==") -> dict[str, Any]:
    left = {"payload": {"protocol": "tcp", "field": "dport"}}
    return {"match": {"op": op, "left": left, "right": value}}


def oif(name: str) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": name}}


DROP: dict[str, Any] = {"drop": None}
ACCEPT: dict[str, Any] = {"accept": None}


def blocking(*items: dict[str, Any], port: int = 8080) -> list[tuple[str, int, str, bool]]:
    ruleset = NftRuleset({"nftables": list(items)}, {})
    found, _chains = ruleset.blocking([IP, IP6], port)
    return [(r.chain, r.handle, r.verdict, r.certain) for r in found]


def test_output_drop_matches_prefix_and_port_set() -> None:
    items = (
        chain("out", "output"),
        rule("out", 4, daddr({"prefix": {"addr": "10.2.0.0", "len": 24}}),
             dport({"set": [22, {"range": [8000, 8100]}]}), DROP),
    )  # fmt: skip
    assert blocking(*items) == [("out", 4, "drop", True)]
    assert blocking(*items, port=9000) == []


def test_accept_before_drop_and_forward_chains_do_not_count() -> None:
    assert blocking(chain("out", "output"), rule("out", 2, dport(8080), ACCEPT),
                    rule("out", 3, DROP)) == []  # fmt: skip
    assert blocking(chain("fwd", "forward"), rule("fwd", 2, DROP)) == []


def test_jumps_policy_and_uncertain_matches() -> None:
    found = blocking(
        chain("out", "output"),
        chain("sub"),
        rule("out", 2, oif("eth0"), {"jump": {"target": "sub"}}),
        rule("sub", 5, dport(8080), {"reject": None}),
    )
    assert found[0] == ("sub", 5, "reject", False)  # oifname: cannot tell, assumed
    policy = blocking(chain("out", "output", policy="drop"), rule("out", 2, dport(22), ACCEPT))
    assert ("out", 0, "drop", True) in policy


def test_family_tables_apply_to_their_family_only() -> None:
    found = blocking(chain("out", "output", family="ip6"), rule("out", 2, DROP, family="ip6"))
    assert len(found) == 1  # IPv6 target only


def test_rule_texts_come_from_the_listing() -> None:
    listing = (
        "table inet t { # handle 1\n\tchain out { # handle 1\n"
        "\t\ttype filter hook output priority filter; policy accept;\n"
        "\t\ttcp dport 8080 drop # handle 4\n\t}\n}\n"
    )
    assert nft_rule_texts(listing) == {("inet", "t", "out", 4): "tcp dport 8080 drop"}


SAVE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:blocked - [0:0]
-A FORWARD -j DROP
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -d 10.2.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -p tcp -m multiport --dports 8000:8100,9000 -j blocked
-A blocked -d 10.2.0.2/32 -j REJECT --reject-with icmp-admin-prohibited
COMMIT
"""


def test_iptables_save_output_chain() -> None:
    found, read = iptables_blocking(SAVE, [IP], 8080, 4)
    assert read == ["iptables filter OUTPUT"]
    assert [(r.chain, r.handle, r.verdict, r.certain) for r in found] == [
        ("blocked", 1, "reject", True)
    ]
    assert "--reject-with" in found[0].text
    assert found[0].inspect_command == "iptables -t filter -L blocked -n -v --line-numbers"
    assert iptables_blocking(SAVE, [IP], 22, 4)[0] == []


def test_skips_honestly_without_root_or_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall.os, "geteuid", lambda: 1000)
    result = run("127.0.0.1:9", ("firewall",))[0].results["firewall"]
    assert (result.status.value, result.summary) == (
        "skipped",
        "skipped: reading this host's firewall rules needs root",
    )
    monkeypatch.setattr(firewall.os, "geteuid", lambda: 0)
    monkeypatch.setattr(firewall, "find_tool", lambda _name: None)
    result = run("127.0.0.1:9", ("firewall",))[0].results["firewall"]
    assert result.status.value == "skipped" and "nft" in result.summary
