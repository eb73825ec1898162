"""Run every rule over the evidence and rank what they find."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from probes.core.model import Diagnosis, Finding, ProbeResult, Severity
from probes.core.target import Target
from probes.diagnosis import (
    auth_path_rules,
    burst_rules,
    client_cert_rules,
    dns_rules,
    http_rules,
    local_rules,
    mismatch_rules,
    path_rules,
    proxy_rules,
    remote_rules,
    repeat_rules,
    route_rules,
    sample_rules,
    sampler_rules,
    sampler_time_rules,
    server_rules,
    service_rules,
    tcp_rules,
    tls_rules,
    vantage_rules,
    web_rules,
)
from probes.diagnosis.coverage import unexplained
from probes.diagnosis.evidence import Evidence
from probes.diagnosis.overruled import overrule
from probes.diagnosis.ranking import rank

Rule = Callable[[Evidence], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    *route_rules.RULES,
    *dns_rules.RULES,
    *tcp_rules.RULES,
    *repeat_rules.RULES,  # refusals among the tcp probe's repeated connects
    *sampler_rules.RULES,  # after the tcp probe's own connect
    *path_rules.RULES,
    *sample_rules.RULES,  # after path.loss: a sample that could not answer
    # The server's side (--server) before this host's own: both read a kernel log and
    # sockets, and for the same id the server's is the one about the target.
    *server_rules.RULES,
    *local_rules.RULES,
    *vantage_rules.RULES,  # other places (--from)
    *remote_rules.RULES,  # hosts of either that could not be asked
    *tls_rules.RULES,
    *client_cert_rules.RULES,  # before http: the hang-up it explains is its consequence
    *auth_path_rules.RULES,  # before http: its 401 is the key's, not the health path's
    *http_rules.RULES,
    *proxy_rules.RULES,
    *web_rules.RULES,
    *service_rules.RULES,
    *mismatch_rules.RULES,  # after the protocol probes: their own reading of it wins
    *sampler_rules.LATE_RULES,  # after the http/tls/service probes' own answers
    *sampler_time_rules.RULES,  # after http_rules: its own request's timing speaks first
    *burst_rules.RULES,  # last: a direct reading of the same limit wins
)


def diagnose(
    target: Target,
    results: Mapping[str, ProbeResult],
    symptom: str = "auto",
    pending: Iterable[str] = (),
    standing: Mapping[str, Severity] | None = None,
) -> Diagnosis:
    """Every rule over the evidence, ranked.  *pending* names probes of the run that
    have not reported yet: while any has not, the verdict cannot be ``ok``.
    *standing*: a live run's findings at its previous diagnosis (see Evidence)."""
    # Stronger evidence wins: silence another probe's completed connect refutes is no evidence.
    evidence = Evidence(target, overrule(results, target.port), symptom, dict(standing or {}))
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(evidence))
    findings.extend(unexplained(evidence.results, findings))
    return rank(findings, pending)
