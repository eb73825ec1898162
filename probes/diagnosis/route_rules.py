"""Routing rules: this host has no way to send packets to the address."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.path.route import RouteData


def no_route(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("route", RouteData)
    if data is None:
        return
    bad = [r for r in data.routes if not r.routable]
    if not bad:
        return
    routed = [r for r in data.routes if r.routable]
    severity = Severity.WARNING if routed else Severity.ERROR
    evidence = [f"{r.address}: {r.explanation} ({r.errno_name})" for r in bad]
    evidence += [
        f"{r.address}: routed via {r.gateway or 'direct'} dev {r.device or '?'}" for r in routed
    ]
    first = bad[0].address
    yield Finding(
        "route.none",
        severity,
        f"this host has no usable route to {first}",
        tuple(evidence),
        (
            NextStep("See the route the kernel picks", f"ip route get {q(first)}"),
            NextStep(
                "List the routing table and look for a default route", "ip route show table all"
            ),
            NextStep(
                "If a VPN or a second interface should carry this traffic, check that it is up",
                "ip -br addr",
            ),
        ),
    )


RULES = (no_route,)
