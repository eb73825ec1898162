"""A chain of four routers for the path probes (traceroute, loss, MTU).

    client ── r1 ── r2 ── r3 ── r4 ── server           (5 hops)
            link0  link1  link2  link3  link4
    link k: 10.10.k.0/24 and fd00:10:k::/64; left end .1 / ::1, right end .2 / ::2
    (so the client is 10.10.0.1 and router k answers from 10.10.(k-1).2)

With ``ecmp=True`` a second router r2b sits beside r2 (r1 ── r2b ── r3 over
10.10.11.0/24 and 10.10.12.0/24) and r1 load-balances across both.

r1 and r2 have default routes towards the server; r3 and r4 know the chain's
subnets only, so an address like 10.10.99.5 / fd00:99::5 makes r3 answer
"net unreachable" (the router with no route).  Every router has an nftables
``inet lab`` table with empty ``forward`` and ``output`` chains tests fill,
and the kernel's own ICMP rate limits are off so that tests control them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.lab.netns import Lab

ROUTERS = ("r1", "r2", "r3", "r4")
UNROUTED_V4 = "10.10.99.5"
UNROUTED_V6 = "fd00:99::5"


def v4(link: int, end: int) -> str:
    return f"10.10.{link}.{end}"


def v6(link: int, end: int) -> str:
    return f"fd00:10:{link}::{end}" if link else f"fd00:10::{end}"  # canonical form


SERVER_V4 = v4(4, 2)
SERVER_V6 = v6(4, 2)
# The address each hop answers from (its interface towards the client).
HOPS_V4 = [v4(0, 2), v4(1, 2), v4(2, 2), v4(3, 2), SERVER_V4]
HOPS_V6 = [v6(0, 2), v6(1, 2), v6(2, 2), v6(3, 2), SERVER_V6]


@dataclass
class Chain:
    lab: Lab
    client: str
    server: str
    routers: dict[str, str] = field(default_factory=dict)

    def rules(self, router: str, forward: str = "", output: str = "") -> None:
        """Replace *router*'s forward and output chain rules (nft syntax, ';' separated)."""
        ns = self.routers[router]
        self.lab.ns(ns, "nft", "flush", "ruleset")
        self.lab.nft(ns, _table(forward, output))

    def clear(self) -> None:
        for name in self.routers:
            self.rules(name)


def _table(forward: str = "", output: str = "") -> str:
    def body(rules: str) -> str:
        return "".join(f"  {r.strip()}\n" for r in rules.split(";") if r.strip())

    return (
        "table inet lab {\n"
        " chain forward {\n  type filter hook forward priority 0; policy accept;\n"
        f"{body(forward)} }}\n"
        " chain output {\n  type filter hook output priority 0; policy accept;\n"
        f"{body(output)} }}\n"
        "}\n"
    )


def _quiet_icmp_limits(lab: Lab, ns: str) -> None:
    for setting in (
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv4.icmp_msgs_per_sec=100000",
        "net.ipv6.icmp.ratelimit=0",
    ):
        lab.ns(ns, "sysctl", "-qw", setting)


def build(lab: Lab, mtu3: int | None = None, ecmp: bool = False) -> Chain:
    """The chain; *mtu3* sets the MTU of the r3 ── r4 link."""
    client = lab.add_host("c")
    server = lab.add_host("s")
    chain = Chain(lab, client, server)
    nodes = [client]
    for name in ROUTERS:
        ns = lab.add_host(name, forwarding=True)
        chain.routers[name] = ns
        nodes.append(ns)
    nodes.append(server)
    for ns in nodes:
        _quiet_icmp_limits(lab, ns)
    for k in range(5):
        left, right = nodes[k], nodes[k + 1]
        lab.link(
            left,
            f"r{k}",
            [f"{v4(k, 1)}/24", f"{v6(k, 1)}/64"],
            right,
            f"l{k}",
            [f"{v4(k, 2)}/24", f"{v6(k, 2)}/64"],
            mtu=mtu3 if k == 3 else None,
        )
    lab.route(client, "default", "via", v4(0, 2))
    lab.route(client, "default", "via", v6(0, 2))
    lab.route(server, "default", "via", v4(4, 1))
    lab.route(server, "default", "via", v6(4, 1))
    for i, name in enumerate(ROUTERS, start=1):
        ns = chain.routers[name]
        for k in range(5):
            if k in (i - 1, i):
                continue  # directly connected
            # Left of us: via the left neighbour; right of us: via the right one.
            link, end = (i - 1, 1) if k < i - 1 else (i, 2)
            lab.route(ns, f"10.10.{k}.0/24", "via", v4(link, end))
            lab.route(ns, f"{v6(k, 0).removesuffix('0')}/64", "via", v6(link, end))
        if name in ("r1", "r2"):
            lab.route(ns, "default", "via", v4(i, 2))
            lab.route(ns, "default", "via", v6(i, 2))
    if ecmp:
        _add_ecmp(lab, chain)
    chain.clear()
    return chain


def _add_ecmp(lab: Lab, chain: Chain) -> None:
    r1, r3 = chain.routers["r1"], chain.routers["r3"]
    r2b = lab.add_host("r2b", forwarding=True)
    _quiet_icmp_limits(lab, r2b)
    chain.routers["r2b"] = r2b
    lab.link(r1, "b1", ["10.10.11.1/24"], r2b, "a1", ["10.10.11.2/24"])
    lab.link(r2b, "b2", ["10.10.12.1/24"], r3, "a2", ["10.10.12.2/24"])
    lab.route(r2b, "10.10.0.0/16", "via", "10.10.12.2")
    lab.route(r2b, "10.10.0.0/24", "via", "10.10.11.1")
    lab.route(r2b, "10.10.1.0/24", "via", "10.10.11.1")
    lab.ns(r1, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")
    for subnet in ("10.10.2.0/24", "10.10.3.0/24", "10.10.4.0/24"):
        lab.ns(r1, "ip", "route", "del", subnet)
        lab.ns(
            r1,
            "ip",
            "route",
            "add",
            subnet,
            "nexthop",
            "via",
            v4(1, 2),
            "nexthop",
            "via",
            "10.10.11.2",
        )
    # Per-packet balancing (what makes a hop answer from two addresses) when a
    # test sets mark 1 on half the packets: those take r2b.
    lab.ns(r1, "ip", "rule", "add", "fwmark", "1", "table", "101")
    lab.ns(r1, "ip", "route", "add", "10.10.0.0/16", "via", "10.10.11.2", "table", "101")
    lab.ns(r1, "ip", "route", "add", "10.10.0.0/24", "dev", "l0", "table", "101")


def per_packet_balancing(chain: Chain) -> None:
    """Make r1 alternate packets between r2 and r2b (nft numgen sets the mark)."""
    ns = chain.routers["r1"]
    chain.lab.ns(ns, "nft", "flush", "ruleset")
    chain.lab.nft(
        ns,
        "table inet lab {\n chain pre {\n  type filter hook prerouting priority -150;\n"
        '  iifname "l0" meta mark set numgen inc mod 2\n }\n}\n',
    )
