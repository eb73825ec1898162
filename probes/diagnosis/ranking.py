"""Order findings from root cause to consequence, and pick the verdict.

Errors come before warnings before info; within a severity the layer closest to
the cause comes first (no route explains a failed connect, a missing name
explains everything above it, a listener bound to loopback explains a refusal).
"""

from __future__ import annotations

from collections.abc import Iterable

from probes.core.model import Diagnosis, Finding, Severity

# Lower = closer to the root cause.  Ids not listed rank after the listed ones.
CAUSAL_ORDER: tuple[str, ...] = (
    "local.client_exhausted",
    "local.ephemeral_exhausted",
    "local.firewall_blocked",
    "route.none",
    "dns.nxdomain",
    "dns.nodata",
    "dns.servfail",
    "dns.refused",
    "dns.timeout",
    "dns.tcp_blocked",
    "dns.hosts_override",
    "dns.resolvers_disagree",
    "dns.differs_by_vantage",
    "proxy.unreachable",
    "proxy.auth_required",
    "proxy.upstream_failed",
    "proxy.failed",
    "server.firewall_blocked",
    "path.blocked_from_here",
    "path.admin_prohibited",
    "path.unreachable",
    "path.host_down",
    "path.send_failed",
    "path.mtu_blackhole",
    "system.oom_killed",
    "server.unit_failed",
    "local.port_conflict",
    "local.loopback_only",
    "local.bound_elsewhere",
    "local.forwarded",
    "local.not_listening",
    "local.fd_exhausted",
    "tcp.backlog_full",
    "local.syn_flood",
    "local.close_wait",
    "system.memory_pressure",
    "tcp.ipv6_broken",
    "tcp.refused",
    "tcp.filtered",
    "tcp.reset_after_connect",
    "tcp.connect_error",
    "path.blocked_from_vantage",
    "path.differs_by_vantage",
    "tls.not_tls",
    "tls.starttls_refused",
    "tls.handshake_timeout",
    "proxy.tls_intercepted",
    "tls.differs_by_vantage",
    "tls.protocol_mismatch",
    "tls.no_shared_cipher",
    # One certificate can have several problems (tls_rules reports each).  The
    # verdict is the most actionable: a name mismatch first (the client reaches
    # the wrong server or virtual host, or the wrong certificate is installed:
    # renewing or trusting that certificate fixes nothing), then its dates
    # (every client fails, trusting it or not, and the fix is to reissue), then
    # trust (self-signed / unknown root / missing intermediate: clients that pin
    # or carry the CA work, so that is the narrower problem).
    "tls.hostname_mismatch",
    "tls.expired",
    "tls.not_yet_valid",
    "tls.self_signed",
    "tls.untrusted_root",
    "tls.incomplete_chain",
    "tls.client_cert_required",
    "tls.handshake_failed",
    "http.not_http",
    "http.differs_by_vantage",
    "service.wrong_protocol",
    "http.invalid_response",
    "http.timeout",
    "http.redirect_broken",
    "http.redirect_loop",
    "http.bad_gateway",
    "http.gateway_timeout",
    "http.unavailable",
    "http.server_error",
    "http.rate_limited",
    "http.unauthorized",
    "http.forbidden",
    "http.client_error",
    "http.request_failed",
    "service.unavailable",
    "service.persistence_failed",
    "service.memory_full",
    "service.too_many_connections",
    "service.no_database",
    "service.auth_required",
    "service.auth_failed",
    "ws.upgrade_rejected",
    "ws.closed_after_upgrade",
    "ws.idle_timeout",
    "cors.preflight_rejected",
    "http.unexpected_status",
    "service.read_only",
    "service.connections_near_limit",
    "ws.no_pong",
    "cors.origin_needed",
    "path.loss",
    "path.latency",
    "http.slow_response",
    "path.icmp_limited",
    "tls.expiring_soon",
    "tls.cn_only",
    "remote.unreachable",
    # Last of all: a failure no rule explains, a check that could not finish.
    "probe.unexplained",
    "probe.incomplete",
)
_POSITION = {fid: i for i, fid in enumerate(CAUSAL_ORDER)}

# The most specific explanation that fits all the evidence comes first: a consequence
# ranks right after a finding present that explains it, wherever it stands above.
# A port that speaks another protocol than the URL names explains the client's timeout,
# hang-up or refused upgrade (probes/diagnosis/mismatch_rules.py).
_WRONG_PROTOCOL = ("http.not_http", "tls.not_tls", "service.wrong_protocol")
EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "tcp.reset_after_connect": ("tls.client_cert_required", *_WRONG_PROTOCOL),
    "tls.handshake_timeout": _WRONG_PROTOCOL,
    "tls.starttls_refused": _WRONG_PROTOCOL,
    "tls.handshake_failed": _WRONG_PROTOCOL,
}

# Verdicts beyond finding ids (DESIGN.md): nothing wrong, or not an answer yet.
OK = "ok"
INCOMPLETE = "incomplete"


def position(finding_id: str) -> int:
    """Where *finding_id* stands in the causal order (unlisted ids after the listed)."""
    return _POSITION.get(finding_id, len(_POSITION))


def _place(finding: Finding, present: dict[str, Finding]) -> float:
    """Its causal position, or just after the explanation present at its severity."""
    causes = [
        position(c)
        for c in EXPLAINED_BY.get(finding.id, ())
        if c in present and present[c].severity is finding.severity
    ]
    return min(causes) + 0.5 if causes else float(position(finding.id))


def rank(findings: Iterable[Finding], pending: Iterable[str] = ()) -> Diagnosis:
    """Findings from root cause to consequence, and the verdict.

    The verdict is the first error or warning; ``incomplete`` when that is a probe that
    could not finish, or when nothing is wrong so far but probes in *pending* have not
    reported (``ok`` promises that every probe finished)."""
    unique: dict[str, Finding] = {}
    for finding in findings:
        unique.setdefault(finding.id, finding)  # first rule to speak about an id wins
    ordered = sorted(
        unique.values(),
        key=lambda f: (f.severity.weight, _place(f, unique), f.id),
    )
    ranked = tuple(
        Finding(f.id, f.severity, f.title, f.evidence, f.next_steps, rank=i + 1)
        for i, f in enumerate(ordered)
    )
    verdict = next((f.id for f in ranked if f.severity in (Severity.ERROR, Severity.WARNING)), OK)
    if verdict == "probe.incomplete" or (verdict == OK and any(True for _ in pending)):
        verdict = INCOMPLETE
    return Diagnosis(ranked, verdict)
