"""Which probes run, and why: the first plan, then follow-ups the evidence asks for.

An engineer does not run the same runbook whatever they hear: they start from what
the person said (the symptom), what the target names (``https://`` means TLS and
HTTP, ``redis://`` means Redis), and what the environment says (a proxy that applies),
then read the first answers and decide what to look at next. This module is that
judgement, written down as small pure functions of (symptom, target, environment,
evidence so far), each decision with the reason the JSON and the report show.

Follow-ups (:func:`follow_ups`):

* an open port whose banner names a protocol netmedic speaks → that protocol's probe;
* a connect that gets no answer, or an ICMP error → ping and traceroute, to say where
  the path stops (also when the SYN is still unanswered after ``PATH_AFTER_S``);
* a connect that fails in any way → this host's own firewall rules;
* the target turns out to be this host → the local sockets probe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from probes.core.events import PlanStep
from probes.core.model import ProbeResult
from probes.core.target import Target
from probes.net.tcp import TcpData
from probes.run.identify_plan import SPEAKER, identify_reason

# A SYN unanswered this long is evidence enough to start looking at the path.
PATH_AFTER_S = 1.0

# What a banner (probes.wire.banner.identify) names -> the probe that speaks it.
PROTOCOL_PROBES: dict[str, tuple[str, ...]] = {
    "HTTP": ("http",),
    "TLS": ("tls",),
    "TLS (alert)": ("tls",),
    "Redis": ("service",),
    "PostgreSQL": ("service",),
    "SSH": ("service",),
}

# What a scheme names -> the probes that speak it (besides dns, route, tcp).
SCHEME_PROBES: dict[str, tuple[str, ...]] = {
    "http": ("http",),
    "https": ("tls", "http"),
    "ws": ("ws", "http"),
    "wss": ("tls", "ws", "http"),
    "tls": ("tls",),
    "postgres": ("service", "tls"),
    "postgresql": ("service", "tls"),
    "redis": ("service",),
    "rediss": ("service", "tls"),
    "smtp": ("tls",),
    "ssh": ("service",),
}

_PATH = ("ping", "trace")
# Symptoms a live run answers by sampling connections, not only packets.
SAMPLED_SYMPTOMS = ("intermittent", "too-many-connections")


def initial_plan(
    symptom_plan: Sequence[str],
    symptom: str,
    target: Target,
    env: Mapping[str, str],
    known: Sequence[str] = (),
    live: bool = False,
) -> list[PlanStep]:
    """The probes to start with: the symptom's, plus what the target and environment name.
    A *live* run (the TUI, ``watch``) that chases drops or connection limits also samples
    connections over time: packets can be fine while connections fail.

    *known* limits the plan to registered probe names (all names when empty).
    """
    steps: dict[str, PlanStep] = {}

    def add(name: str, reason: str) -> None:
        if name not in steps and (not known or name in known):
            steps[name] = PlanStep(name, reason)

    loopback = _is_loopback(target)
    for name in symptom_plan:
        if loopback and name in (*_PATH, "mtu"):
            continue  # nothing to measure between a host and itself
        add(name, f"the '{symptom}' runbook")
    for name in SCHEME_PROBES.get(target.scheme, ()):
        add(name, f"the target is a {target.scheme}:// URL")
    if loopback:
        add("local", "the target is this host (loopback)")
    if live and symptom in SAMPLED_SYMPTOMS:
        add("connections", f"'{symptom}' shows over time: open a connection every interval")
    proxy = applicable_proxy(target, env)
    if proxy:
        add("proxy", f"{proxy} applies to this target")
        if target.scheme in ("http", "https", "ws", "wss"):
            add("http", f"requests to the target go through {proxy}")
        if target.scheme in ("https", "wss"):
            add("tls", f"compare the certificate seen through {proxy} with the site's own")
    return list(steps.values())


def follow_ups(
    target: Target,
    results: Mapping[str, ProbeResult],
    planned: Sequence[str],
    elapsed_s: float,
    known: Sequence[str] = (),
) -> list[PlanStep]:
    """Probes the evidence so far asks for that are not planned yet.

    *planned* names every probe started so far, once per start: a probe rerun after
    its skip appears twice and is never rerun again (its second skip must not ask
    for it a third time)."""
    steps: dict[str, PlanStep] = {}

    def add(name: str, reason: str, trigger: str) -> None:
        if name in steps or (known and name not in known):
            return
        if name in planned and not _may_rerun(name, results, planned):
            return
        steps[name] = PlanStep(name, reason, trigger, round(elapsed_s, 3))

    http = results.get("http")
    if http is not None and http.final and getattr(http.data, "state", "") == "tls_error":
        add("tls", "the HTTP exchange failed in TLS: read the whole chain", "http")
    tcp = results.get("tcp")
    if tcp is not None and tcp.final:
        for state, address, protocol in _attempts(tcp):
            if state == "open" and protocol in PROTOCOL_PROBES:
                for name in PROTOCOL_PROBES[protocol]:
                    add(name, f"{address} answers in {protocol}", "tcp")
            if state in ("filtered", "unreachable") and not _is_loopback(target):
                for name in _PATH:
                    add(
                        name,
                        f"{address} gave no TCP answer ({state}): where does the path stop?",
                        "tcp",
                    )
            if state in ("refused", "filtered", "unreachable"):
                add(
                    "firewall",
                    f"the connect to {address} failed ({state}): this host's own rules?",
                    "tcp",
                )
        if any(_is_local_address(a) for _s, a, _p in _attempts(tcp)):
            add("local", "the target is this host", "tcp")
        if target.scheme == "tcp" and _silent(tcp):
            add("identify", _IDENTIFY_REASON, "tcp")
    elif "tcp" in planned and elapsed_s >= PATH_AFTER_S and not _is_loopback(target):
        for name in _PATH:
            add(
                name,
                f"no answer to the SYN after {PATH_AFTER_S:g} s: where does the path stop?",
                "tcp",
            )
    if target.scheme == "tcp":
        for name, reason in _identified(results):
            add(name, reason, "identify")
    if target.scheme in ("ws", "http") and _hung_up_on(results.get(target.scheme)):
        add(
            "identify",
            "the port hangs up on a plaintext request: does it speak TLS?",
            target.scheme,
        )
    if asked := identify_reason(target, results):
        add("identify", asked, SPEAKER[target.scheme])
    return list(steps.values())


def _hung_up_on(result: ProbeResult | None) -> bool:
    """A plaintext WebSocket upgrade or HTTP request the server dropped unanswered."""
    if result is None or not result.final or result.status != "failed":
        return False
    detail = str(getattr(result.data, "detail", "")).lower()
    state = str(getattr(result.data, "state", ""))
    return state in ("reset", "closed") or "closed the connection" in detail or "reset" in detail


_IDENTIFY_REASON = (
    "the port says nothing first: ask its well-known protocol, then HTTP, "
    "a Redis PING, a PostgreSQL SSLRequest, a TLS ClientHello"
)


def _silent(tcp: ProbeResult) -> bool:
    """An open port that sent nothing, even after the nudge, and did not hang up."""
    data = tcp.data
    return isinstance(data, TcpData) and any(
        a.state == "open" and not a.banner and not a.protocol and not a.closed_by_peer
        for a in data.attempts
    )


def _identified(results: Mapping[str, ProbeResult]) -> list[tuple[str, str]]:
    """The probes for the protocol the identify probe heard, each with what was sent."""
    from probes.proto.identify import IdentifyData

    result = results.get("identify")
    data = result.data if result is not None and result.final else None
    answered = data.answered if isinstance(data, IdentifyData) else None
    if answered is None:
        return []
    reason = f"{answered.sent} was answered in {answered.protocol} ({answered.reply[:40]})"
    return [(name, reason) for name in PROTOCOL_PROBES.get(answered.protocol, ())]


def _may_rerun(name: str, results: Mapping[str, ProbeResult], planned: Sequence[str]) -> bool:
    """A probe of the first plan that skipped before the banner named its protocol runs
    once more now that the evidence says it applies."""
    result = results.get(name)
    return (
        result is not None
        and result.final
        and result.status == "skipped"
        and planned.count(name) == 1
        and name in ("http", "tls", "service")
    )


def next_check_s(results: Mapping[str, ProbeResult], planned: Sequence[str]) -> float | None:
    """When the time-based follow-up is due (seconds into the run), or None."""
    tcp = results.get("tcp")
    if "tcp" in planned and (tcp is None or not tcp.final) and not all(p in planned for p in _PATH):
        return PATH_AFTER_S
    return None


def applicable_proxy(target: Target, env: Mapping[str, str]) -> str:
    """The proxy variable a client would use for *target* ("" when none or bypassed)."""
    from probes.proto.proxy import no_proxy_match, select_proxy

    var, _value = select_proxy(target, env)
    if not var or no_proxy_match(target, env):
        return ""
    return var


def _attempts(result: ProbeResult) -> list[tuple[str, str, str]]:
    """(state, address, protocol) of each TCP attempt."""
    data = result.data
    if not isinstance(data, TcpData):
        return []
    return [(a.state, a.address, a.protocol) for a in data.attempts]


def _is_loopback(target: Target) -> bool:
    if target.host.lower() in (
        "localhost",
        "localhost.localdomain",
    ) or target.host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(target.host).is_loopback
    except ValueError:
        return False


def _is_local_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    from probes.host.local import local_addresses

    return str(ip) in local_addresses()


def heard_protocol(results: Mapping[str, ProbeResult]) -> str:
    """The protocol an open port's banner named in the TCP result, or ""."""
    tcp = results.get("tcp")
    if tcp is None or not tcp.final:
        return ""
    heard = next((p for s, _a, p in _attempts(tcp) if s == "open" and p), "")
    if not heard:
        from probes.proto.identify import IdentifyData

        found = results.get("identify")
        if found is not None and found.final and isinstance(found.data, IdentifyData):
            heard = found.data.protocol
    return heard
