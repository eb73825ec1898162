"""The client — router — server topology most lab tests use.

    client 10.1.0.2/24 fd00:1::2/64 ── router ── 10.2.0.1/24 fd00:2::1/64 server
                       (10.1.0.1, fd00:1::1)          10.2.0.2, .3, .53, .54
                                                      fd00:2::2

The client has routes to 10.2.0.0/24 and fd00:2::/64 via the router and no
default route (so any other address has no route).  The router forwards and
has an empty nftables ``inet lab forward`` chain that tests fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.lab.netns import Lab

ROUTER_RULES_HEAD = (
    "table inet lab {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n"
)


@dataclass
class Topology:
    lab: Lab
    client: str
    router: str
    server: str

    def set_router_rules(self, *rules: str) -> None:
        """Replace the router's forward-chain rules (nft syntax, one per item)."""
        self.lab.ns(self.router, "nft", "flush", "ruleset")
        body = "".join(f"  {rule}\n" for rule in rules)
        self.lab.nft(self.router, ROUTER_RULES_HEAD + body + " }\n}\n")


def build(lab: Lab) -> Topology:
    client = lab.add_host("c")
    router = lab.add_host("r", forwarding=True)
    server = lab.add_host("s")
    lab.link(
        client,
        "eth0",
        ["10.1.0.2/24", "fd00:1::2/64"],
        router,
        "eth0",
        ["10.1.0.1/24", "fd00:1::1/64"],
    )
    lab.link(
        router,
        "eth1",
        ["10.2.0.1/24", "fd00:2::1/64"],
        server,
        "eth0",
        ["10.2.0.2/24", "10.2.0.3/24", "10.2.0.53/24", "10.2.0.54/24", "fd00:2::2/64"],
    )
    lab.route(client, "10.2.0.0/24", "via", "10.1.0.1")
    lab.route(client, "fd00:2::/64", "via", "fd00:1::1")
    lab.route(server, "default", "via", "10.2.0.1")
    lab.route(server, "default", "via", "fd00:2::1")
    topo = Topology(lab, client, router, server)
    topo.set_router_rules()
    return topo
