"""Symptoms and the probe plan each one runs.

A symptom only chooses which probes run and in which order panels appear; the
verdict always comes from the evidence.  Probe modules are named here, not
imported, so that start-up never pays for a probe that is not in the plan.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult

ProbeFn = Callable[[ProbeContext], AsyncIterator[ProbeResult]]


@dataclass(frozen=True, slots=True)
class Symptom:
    id: str
    label: str  # the words people use
    description: str  # when to pick it


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("refused", "Connection refused", "The client says 'connection refused' at once."),
    Symptom("timeout", "Times out / hangs", "Connecting hangs, then times out."),
    Symptom("dns", "Host not found", "'Name or service not known', NXDOMAIN, wrong address."),
    Symptom("tls", "Certificate / SSL error", "Handshake failures, expired or untrusted certs."),
    Symptom("auth", "401 / 403", "The server answers, but refuses the request."),
    Symptom("slow", "Slow", "It works, but takes far too long."),
    Symptom("intermittent", "Drops now and then", "Works sometimes; resets, loss, jitter."),
    Symptom(
        "too-many-connections",
        "Too many connections",
        "Connection limits, fd limits, accept backlog, TIME_WAIT piles.",
    ),
    Symptom("proxy", "Proxy", "Requests go through a proxy that fails or intercepts."),
    Symptom("websocket", "WebSocket fails", "The upgrade to a WebSocket does not happen."),
    Symptom("cors", "CORS error in the browser", "The browser blocks a cross-origin request."),
    Symptom("service-down", "Service keeps dying", "The service crashes or is OOM-killed."),
    Symptom("auto", "Not sure — check everything", "Run the broad plan; the evidence decides."),
)
SYMPTOM_IDS = tuple(s.id for s in SYMPTOMS)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    name: str
    title: str
    entry: str  # "module:function" of an async-iterator probe
    # Name of a ProbeConfig field holding this probe's run time (streaming
    # probes): None there means "fit in the timeout", 0 means "until cancelled".
    duration_field: str = ""
    # Fields of a count-bounded streaming probe (duration 0 with a round count): its
    # rounds and the seconds between them, so a bounded run knows how long it takes.
    rounds_field: str = ""
    interval_field: str = ""

    def load(self) -> ProbeFn:
        module_name, _, attr = self.entry.partition(":")
        fn: ProbeFn = getattr(importlib.import_module(module_name), attr)
        return fn


PROBES: dict[str, ProbeSpec] = {
    spec.name: spec
    for spec in (
        ProbeSpec("dns", "DNS", "probes.net.dns:probe_dns"),
        ProbeSpec("route", "Route", "probes.path.route:probe_route"),
        ProbeSpec("tcp", "TCP connect", "probes.net.tcp:probe_tcp"),
        ProbeSpec(
            "ping",
            "Ping",
            "probes.path.ping:probe_ping",
            "ping_duration",
            "ping_count",
            "ping_interval",
        ),
        ProbeSpec(
            "trace",
            "Traceroute",
            "probes.path.trace:probe_trace",
            "trace_duration",
            "trace_rounds",
            "trace_interval",
        ),
        ProbeSpec("mtu", "Path MTU", "probes.path.mtu:probe_mtu"),
        ProbeSpec("local", "Local sockets", "probes.host.local:probe_local", "local_duration"),
        ProbeSpec("firewall", "Local firewall", "probes.host.firewall:probe_firewall"),
        ProbeSpec("tls", "TLS certificate", "probes.proto.tls:probe_tls"),
        ProbeSpec("http", "HTTP", "probes.proto.http:probe_http"),
        ProbeSpec("proxy", "Proxy", "probes.proto.proxy:probe_proxy"),
        ProbeSpec("ws", "WebSocket upgrade", "probes.proto.ws:probe_ws", "ws_hold"),
        ProbeSpec("cors", "CORS preflight", "probes.proto.cors:probe_cors"),
        ProbeSpec("service", "Service protocol", "probes.proto.service:probe_service"),
        ProbeSpec("identify", "Protocol identification", "probes.proto.identify:probe_identify"),
        # Live runs and `watch` only (no symptom's plan names it: `check` stays as it is).
        ProbeSpec(
            "connections",
            "Connections",
            "probes.proto.sampler:probe_connections",
            "sample_duration",
        ),
        # When asked for: `watch --connections N`, the TUI's b key (Run.request).
        ProbeSpec("burst", "Connection burst", "probes.proto.burst:probe_burst"),
        # Over SSH, when asked for (--server, --from): probes.remote.plan adds them.
        ProbeSpec("server", "Server side", "probes.remote.server:probe_server", "remote_budget"),
        ProbeSpec(
            "vantages", "Other vantages", "probes.remote.vantage:probe_vantages", "remote_budget"
        ),
    )
}

# Every probe a symptom would like, in panel order.  Names without an entry in
# PROBES are skipped, so a plan can name a probe before it exists.
_REACH = ("dns", "route", "tcp", "local", "ping", "trace")
PLANS: dict[str, tuple[str, ...]] = {
    "refused": (*_REACH, "service"),
    "timeout": (*_REACH, "mtu", "tls", "http"),
    "dns": ("dns", "route", "tcp"),
    "tls": ("dns", "tcp", "tls", "http", "proxy"),
    "auth": ("dns", "tcp", "tls", "http", "proxy", "service"),
    "slow": (*_REACH, "tls", "http"),
    "intermittent": (*_REACH, "mtu", "tls", "http"),
    "too-many-connections": ("dns", "route", "tcp", "local"),
    "proxy": ("dns", "tcp", "proxy", "tls", "http"),
    "websocket": ("dns", "tcp", "tls", "ws", "http", "proxy"),
    "cors": ("dns", "tcp", "tls", "cors", "http"),
    "service-down": ("dns", "tcp", "local", "service"),
    "auto": (*_REACH, "mtu", "tls", "http", "proxy", "ws", "cors", "service"),
}


def plan_for(symptom: str) -> tuple[str, ...]:
    """Probe names for *symptom*, in panel order (only probes that exist)."""
    if symptom not in PLANS:
        raise KeyError(symptom)
    return tuple(name for name in PLANS[symptom] if name in PROBES)
