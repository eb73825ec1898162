"""`ok` is a promise: every failed probe is explained, and a settled verdict is final.

Two questions about a diagnosis that no single rule can answer:

* **Is every failure explained?** A probe that ended ``failed`` or ``error`` must leave a
  finding that explains it. When no rule spoke for it, :func:`unexplained` adds one
  (``probe.unexplained`` for a failure no rule reads, ``probe.incomplete`` for a probe
  that could not finish), so the run can never fall back to ``ok``.
* **Can the verdict still change?** :func:`verdict_settled` says whether the probes still
  running could produce a finding that outranks the verdict; when none can, headless
  ``check`` stops them instead of waiting (a refused port on loopback does not need four
  seconds of pings).

Both read :data:`FINDS`: which finding ids each probe's evidence can lead to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from probes.core.deadline import STARVED
from probes.core.model import Diagnosis, Finding, NextStep, ProbeResult, Severity, Status
from probes.diagnosis.overruled import CONTRADICTED
from probes.diagnosis.ranking import CAUSAL_ORDER, EXPLAINED_BY, position

# What ping and trace can see of the path (only the MTU probe sees a black hole).
_PATH_SEEN = (
    "path.host_down",
    "path.unreachable",
    "path.admin_prohibited",
    "path.loss",
    "path.latency",
    "path.icmp_limited",
    "path.send_failed",
    "path.ok",
    "privilege.",
)

# Finding-id prefixes each probe's evidence can lead to (alone or with others).
FINDS: dict[str, tuple[str, ...]] = {
    "dns": ("dns.",),
    "route": ("route.",),
    "tcp": (
        "tcp.",
        "local.firewall_blocked",
        "local.client_exhausted",
        "path.unreachable",
        "path.admin_prohibited",
        "service.wrong_protocol",
        "http.not_http",
        "tls.not_tls",
    ),
    "ping": _PATH_SEEN,
    "trace": _PATH_SEEN,
    # Silence to its echo requests measures nothing: path.icmp_limited says so.
    "mtu": ("path.mtu_blackhole", "path.send_failed", "path.icmp_limited", "privilege."),
    "connections": (
        "tcp.refused",
        "tcp.filtered",
        "tcp.reset_after_connect",
        "tcp.connect_error",
        "tls.handshake_failed",
        "http.unavailable",
        "http.bad_gateway",
        "http.gateway_timeout",
        "http.rate_limited",
        "http.server_error",
        "http.client_error",
        "http.unauthorized",
        "http.forbidden",
        "http.timeout",
        "http.not_http",
        "service.too_many_connections",
        "service.unavailable",
    ),
    "burst": ("tcp.backlog_full", "service.too_many_connections", "local.client_exhausted"),
    "local": ("local.", "system.", "tcp.backlog_full"),
    "firewall": ("local.firewall_blocked",),
    "tls": ("tls.", "proxy.tls_intercepted", "tcp.reset_after_connect"),
    "http": ("http.", "tcp.", "tls.", "proxy.", "dns."),
    "proxy": ("proxy.",),
    "ws": ("ws.", "http.", "tcp.reset_after_connect"),
    "cors": ("cors.", "http."),
    "service": ("service.", "tls.starttls_refused", "tls.", "tcp.reset_after_connect"),
    # Names a protocol: the probes it starts find, and a plaintext URL to a TLS port.
    "identify": ("tcp.reset_after_connect", "tls.", "service.", "http."),
    "server": ("local.", "system.", "server.", "remote.", "tcp.backlog_full"),
    "vantages": (
        "dns.differs_by_vantage",
        "path.blocked_from_here",
        "path.blocked_from_vantage",
        "tls.differs_by_vantage",
        "http.differs_by_vantage",
        "path.differs_by_vantage",
        "remote.",
    ),
}

# A failure is also explained by a problem further down: a TLS handshake that fails
# because the host is down needs no finding of its own.
_BELOW_TRANSPORT = ("dns.", "route.", "path.", "local.", "system.")
_BELOW_APPLICATION = (*_BELOW_TRANSPORT, "tcp.", "proxy.")
BELOW: dict[str, tuple[str, ...]] = {
    "tcp": _BELOW_TRANSPORT,
    "ping": ("route.", "dns.", "path."),
    "trace": ("route.", "dns.", "path."),
    "mtu": ("route.", "dns.", "path."),
    **{
        name: _BELOW_APPLICATION
        for name in ("tls", "http", "proxy", "ws", "cors", "service", "connections", "burst")
    },
}

UNEXPLAINED = "probe.unexplained"
INCOMPLETE = "probe.incomplete"
CUT_SHORT = "CUT_SHORT"  # errno_name of a probe stopped because the verdict was settled

# An answer from the target itself (a SYN-ACK, or a RST it sent) rules these out for it.
_ANSWERED_RULES_OUT = (
    "path.host_down",
    "path.unreachable",
    "path.admin_prohibited",
    "path.send_failed",
    "route.",
)


def finds(probe: str) -> tuple[str, ...]:
    return FINDS.get(probe, ("",))  # an unknown probe may lead anywhere


def _matches(finding_id: str, prefixes: Iterable[str]) -> bool:
    return any(finding_id.startswith(p) for p in prefixes)


def unexplained(results: Mapping[str, ProbeResult], findings: Sequence[Finding]) -> list[Finding]:
    """A finding for each final result that failed or errored with no finding explaining it."""
    # The probe's own layer may explain it at any level (ICMP silence is info); a
    # problem further down explains it only when it is a problem (error or warning).
    noted = [f.id for f in findings if f.severity is not Severity.OK]
    problems = [f.id for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    out: list[Finding] = []
    for name, result in results.items():
        if not result.final:
            continue
        if result.status is Status.ERROR:
            out.append(_incomplete(name, result))
        elif result.status is Status.FAILED:
            own = any(_matches(fid, finds(name)) for fid in noted)
            below = any(_matches(fid, BELOW.get(name, ())) for fid in problems)
            if not (own or below):
                out.append(_unexplained(name, result))
    return out


def _error_line(result: ProbeResult) -> str:
    err = result.error
    if err is None:
        return result.summary
    who = f" (from {err.answered_by})" if err.answered_by else ""
    return f"{err.errno_name}{who}: {err.explanation}"


def _unexplained(name: str, result: ProbeResult) -> Finding:
    return Finding(
        UNEXPLAINED,
        Severity.ERROR,
        f"the {name} check failed and netmedic cannot say why",
        (f"{name}: {result.summary}", _error_line(result)),
        (),
    )


def _incomplete(name: str, result: ProbeResult) -> Finding:
    err = result.error
    steps: tuple[NextStep, ...] = ()
    if err is not None and err.errno_name == STARVED:  # the summary says how starved
        why = "a client that could not run is not a peer that did not answer"
        steps = (
            NextStep("See what keeps this machine busy", "uptime; top -b -n 1 | head -n 15"),
            NextStep("Run the check again when it is less busy"),
        )
    elif err is not None and err.errno_name == CONTRADICTED:  # the summary says which
        why = "a connection another probe of this run completed there outweighs its silence"
    elif err is not None and err.errno_name == "DEADLINE":
        why = "it did not finish in time (a busy machine, or a peer that never answers)"
    elif err is not None and err.errno_name not in ("NO_RESULT", ""):
        why = f"it stopped with an internal error ({err.errno_name})"
    else:
        why = "it ended without a result"
    return Finding(
        INCOMPLETE,
        Severity.WARNING,
        f"the {name} check could not finish: its evidence is missing, so this is not an all-clear",
        (f"{name}: {result.summary}", f"{why}"),
        steps,
    )


def verdict_settled(
    diagnosis: Diagnosis, results: Mapping[str, ProbeResult], pending: Iterable[str]
) -> bool:
    """True when no pending probe can produce a finding that outranks the verdict."""
    verdict = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
    if verdict is None or verdict.severity is not Severity.ERROR or verdict.id == UNEXPLAINED:
        return False  # ok needs every probe; warnings and guesses may still be outranked
    if any(probe in EVIDENCED_BY.get(verdict.id, ()) for probe in pending):
        return False  # the verdict's own evidence is still coming
    ruled_out = _ruled_out(results)
    limit = position(verdict.id)
    for probe in pending:
        for prefix in finds(probe):
            for fid in _ids_with_prefix(prefix):
                if _matches(fid, ruled_out):
                    continue
                if position(fid) < limit or fid in EXPLAINED_BY.get(verdict.id, ()):
                    return False
    return True


# Verdicts whose evidence and next steps read other probes' results: settling must
# not cut those probes, or the verdict loses what locates it (the path from here
# beside the path from the vantage).
EVIDENCED_BY: Mapping[str, tuple[str, ...]] = {
    "path.blocked_from_here": ("trace", "ping"),
    "path.blocked_from_vantage": ("trace", "ping"),
}


def _ids_with_prefix(prefix: str) -> Iterable[str]:
    return [fid for fid in CAUSAL_ORDER if fid.startswith(prefix)]


def _ruled_out(results: Mapping[str, ProbeResult]) -> tuple[str, ...]:
    """Finding ids the TCP answers rule out: when every attempt got an answer from the
    target itself (a SYN-ACK or its own RST) it is up and routed; when every attempt was
    refused that way, nothing on the path (an MTU black hole) explains the refusal."""
    tcp = results.get("tcp")
    attempts = getattr(tcp.data, "attempts", None) if tcp is not None else None
    if not attempts:
        return ()
    own_reset = [a.state == "refused" and getattr(a, "icmp", None) is None for a in attempts]
    if all(own_reset):
        return (*_ANSWERED_RULES_OUT, "path.mtu_blackhole")
    if all(a.state == "open" or reset for a, reset in zip(attempts, own_reset, strict=True)):
        return _ANSWERED_RULES_OUT
    return ()
