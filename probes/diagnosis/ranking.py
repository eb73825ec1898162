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
    "proxy.unreachable",
    "proxy.auth_required",
    "proxy.upstream_failed",
    "path.admin_prohibited",
    "path.unreachable",
    "path.host_down",
    "path.send_failed",
    "path.mtu_blackhole",
    "system.oom_killed",
    "local.port_conflict",
    "local.loopback_only",
    "local.bound_elsewhere",
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
    "tls.not_tls",
    "tls.starttls_refused",
    "tls.handshake_timeout",
    "proxy.tls_intercepted",
    "tls.protocol_mismatch",
    "tls.no_shared_cipher",
    "tls.expired",
    "tls.not_yet_valid",
    "tls.hostname_mismatch",
    "tls.self_signed",
    "tls.untrusted_root",
    "tls.incomplete_chain",
    "tls.client_cert_required",
    "tls.handshake_failed",
    "http.not_http",
    "service.wrong_protocol",
    "http.timeout",
    "http.empty_reply",
    "http.redirect_loop",
    "http.bad_gateway",
    "http.gateway_timeout",
    "http.unavailable",
    "http.server_error",
    "http.rate_limited",
    "http.unauthorized",
    "http.forbidden",
    "http.client_error",
    "service.unavailable",
    "service.too_many_connections",
    "service.auth_required",
    "service.auth_failed",
    "ws.upgrade_rejected",
    "cors.preflight_rejected",
    "path.loss",
    "path.latency",
    "path.icmp_limited",
    "tls.expiring_soon",
    "tls.cn_only",
)
_POSITION = {fid: i for i, fid in enumerate(CAUSAL_ORDER)}


def rank(findings: Iterable[Finding]) -> Diagnosis:
    unique: dict[str, Finding] = {}
    for finding in findings:
        unique.setdefault(finding.id, finding)  # first rule to speak about an id wins
    ordered = sorted(
        unique.values(),
        key=lambda f: (f.severity.weight, _POSITION.get(f.id, len(_POSITION)), f.id),
    )
    ranked = tuple(
        Finding(f.id, f.severity, f.title, f.evidence, f.next_steps, rank=i + 1)
        for i, f in enumerate(ordered)
    )
    verdict = next((f.id for f in ranked if f.severity in (Severity.ERROR, Severity.WARNING)), "ok")
    return Diagnosis(ranked, verdict)
