"""A check as Prometheus metric families: what ``netmedic exporter`` and
``watch --openmetrics`` publish.

blackbox_exporter's names where the meaning is the same (``probe_success``,
``probe_duration_seconds``, ``probe_http_status_code``, ...), so dashboards and
alerts written for it keep working; ``netmedic_verdict`` and ``netmedic_finding``
say why.  Every label value comes from a closed set (finding ids from the
vocabulary, severities, probe names, HTTP phases, TLS versions): a scrape can never
grow the series count with text a remote server chose.

Rendering the families in a wire format is :mod:`probes.record.exposition`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from probes.core.clocks import KERNEL, WALL
from probes.core.model import Diagnosis, ProbeResult, Severity, Status
from probes.diagnosis.ranking import INCOMPLETE, OK
from probes.diagnosis.vocabulary import VOCABULARY
from probes.net.dns import DnsData
from probes.net.tcp import TcpData
from probes.path.ping import PingData
from probes.proto.http import HttpData, HttpTimings
from probes.proto.tls import VERSIONS, TlsData
from probes.run.plans import PROBES

GAUGE, COUNTER = "gauge", "counter"
SEVERITIES = frozenset(s.value for s in Severity)
# blackbox_exporter's phases of probe_http_duration_seconds.
HTTP_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
PROBE_STATUSES = frozenset(s.value for s in Status)
PHASES_HELP = (
    "Duration of http request by phase (the last request of any redirects); connect is "
    "the kernel's handshake RTT and processing the server's think time by the kernel's "
    "clock (TCP_INFO) where the socket gave them, netmedic's monotonic clock otherwise "
    "(netmedic_http_phase_clock says which)"
)

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family.  A counter's *name* has no ``_total``: the format adds it."""

    name: str
    kind: str  # gauge | counter
    help: str
    samples: tuple[Sample, ...]


def gauge(name: str, help_text: str, value: float, labels: Labels = ()) -> Family:
    return Family(name, GAUGE, help_text, (Sample(labels, value),))


def check_families(
    results: Mapping[str, ProbeResult], diagnosis: Diagnosis, duration_s: float | None
) -> tuple[Family, ...]:
    """The metric families of one check: its results (redacted, as the run keeps
    them), its diagnosis and how long it took (None for a live run, which goes on)."""
    success = 1.0 if succeeded(diagnosis) else 0.0
    families = [gauge("probe_success", "Whether the probe succeeded", success)]
    if duration_s is not None:
        families.append(
            gauge("probe_duration_seconds", "How long the probe took", round(duration_s, 6))
        )
    families += _dns(results.get("dns"), results.get("http"))
    families += _ip_protocol(results.get("tcp"))
    families += _http(results.get("http"))
    families += _tls(results.get("tls"))
    families += _ping(results.get("ping"))
    families += _diagnosis(diagnosis)
    families.append(_probes(results.values()))
    return tuple(families)


def succeeded(diagnosis: Diagnosis) -> bool:
    """blackbox's probe_success: no error found, and the check finished."""
    return not diagnosis.has_errors and diagnosis.verdict != INCOMPLETE


def _data(result: ProbeResult | None, kind: type) -> object | None:
    if result is None or not isinstance(result.data, kind):
        return None
    return result.data


def _dns(dns: ProbeResult | None, http: ProbeResult | None) -> list[Family]:
    data = _data(dns, DnsData)
    seconds: float | None = None
    if isinstance(data, DnsData):
        seconds = data.system.elapsed_s
    else:
        web = _data(http, HttpData)
        if isinstance(web, HttpData) and web.timings.dns_s is not None:
            seconds = web.timings.dns_s
    if seconds is None:
        return []
    return [
        gauge(
            "probe_dns_lookup_time_seconds",
            "Returns the time taken for probe dns lookup in seconds",
            round(seconds, 6),
        )
    ]


def _ip_protocol(tcp: ProbeResult | None) -> list[Family]:
    data = _data(tcp, TcpData)
    if not isinstance(data, TcpData) or not data.attempts:
        return []
    used = next((a for a in data.attempts if a.ok), data.attempts[0])
    return [
        gauge(
            "probe_ip_protocol",
            "Specifies whether probe ip protocol is IP4 or IP6",
            float(used.family),
        )
    ]


def _http(http: ProbeResult | None) -> list[Family]:
    data = _data(http, HttpData)
    if not isinstance(data, HttpData):
        return []
    t = data.timings
    timed = http_phases(t)
    phases = tuple(
        Sample((("phase", phase),), round(seconds, 6)) for phase, (seconds, _c) in timed.items()
    )
    families = [
        gauge("probe_http_status_code", "Response HTTP status code", float(data.status)),
        gauge(
            "probe_http_ssl",
            "Indicates if SSL was used for the final redirect",
            1.0 if (data.hops[-1].url if data.hops else data.url).startswith("https:") else 0.0,
        ),
    ]
    if phases:
        families.append(
            Family(
                "probe_http_duration_seconds",
                GAUGE,
                PHASES_HELP,
                phases,
            )
        )
        clocks = tuple(
            Sample((("phase", phase), ("clock", clock)), 1.0)
            for phase, (_s, clock) in timed.items()
        )
        families.append(
            Family(
                "netmedic_http_phase_clock",
                GAUGE,
                "Which clock timed each phase of probe_http_duration_seconds "
                "(kernel: TCP_INFO; wall: netmedic's monotonic clock): always 1",
                clocks,
            )
        )
    return families


def http_phases(t: HttpTimings) -> dict[str, tuple[float, str]]:
    """Each phase that happened: (seconds, the clock that timed it).

    Our marks are seconds from the request's start (after the name was resolved), as
    this process noticed each step: they grow with this host's load.  So the connect
    is the kernel's handshake RTT and processing the server's think time by the
    kernel's clock (TCP_INFO: our request's last byte out to its answer's last byte
    in, in jiffies) wherever the socket gave them; ours stands in only where the
    kernel has no figure (a reused connection, a retransmitted SYN)."""
    after_connect = next((m for m in (t.tls_s, t.connect_s) if m is not None), 0.0)
    spans: dict[str, tuple[float | None, float | None]] = {
        "resolve": (0.0, t.dns_s),
        "connect": (0.0, t.connect_s),
        "tls": (t.connect_s, t.tls_s),
        "processing": (after_connect, t.ttfb_s),
        "transfer": (t.ttfb_s, t.total_s),
    }
    phases = {
        phase: (max(0.0, end - start), WALL)
        for phase, (start, end) in spans.items()
        if start is not None and end is not None
    }
    if "connect" in phases and t.kernel_rtt_s is not None:
        phases["connect"] = (t.kernel_rtt_s, KERNEL)
    if "processing" in phases and t.kernel_think_s is not None:
        phases["processing"] = (t.kernel_think_s, KERNEL)
    return phases


def _tls(tls: ProbeResult | None) -> list[Family]:
    data = _data(tls, TlsData)
    if not isinstance(data, TlsData):
        return []
    families = []
    expiries = [_timestamp(c.not_after) for c in data.chain]
    known = [e for e in expiries if e is not None]
    if known:
        families.append(
            gauge(
                "probe_ssl_earliest_cert_expiry",
                "Returns earliest SSL cert expiry in unixtime",
                min(known),
            )
        )
    if data.protocol in VERSIONS:
        families.append(
            gauge(
                "probe_tls_version_info",
                "Returns the TLS version used or NaN when unknown",
                1.0,
                (("version", data.protocol.replace("TLSv", "TLS ")),),
            )
        )
    return families


def _ping(ping: ProbeResult | None) -> list[Family]:
    """A live run's ping, over its rolling window: the first address's RTT (as
    blackbox's ICMP module reports it) and loss."""
    data = _data(ping, PingData)
    if not isinstance(data, PingData) or not data.hosts:
        return []
    stats = data.windowed().hosts[0].stats
    if not stats.sent:
        return []
    families = [
        gauge(
            "netmedic_ping_loss_ratio",
            "Share of pings unanswered over the rolling window (0..1)",
            round(stats.loss_pct / 100.0, 6),
        )
    ]
    if stats.avg_s is not None:
        families.append(
            gauge(
                "probe_icmp_duration_seconds",
                "Average round trip of the pings over the rolling window, seconds",
                round(stats.avg_s, 6),
                (("phase", "rtt"),),
            )
        )
    return families


def _timestamp(iso: str) -> float | None:
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def finding_id(fid: str) -> str | None:
    """*fid* when the vocabulary has it; None otherwise (never a label)."""
    return fid if fid in VOCABULARY else None


def _diagnosis(diagnosis: Diagnosis) -> list[Family]:
    findings = [
        Sample((("id", f.id), ("severity", f.severity.value)), 1.0)
        for f in diagnosis.findings
        if finding_id(f.id) and f.severity.value in SEVERITIES
    ]
    verdict = diagnosis.verdict
    severity = next((f.severity.value for f in diagnosis.findings if f.id == verdict), "")
    if verdict == OK:
        severity = "ok"
    elif verdict == INCOMPLETE:
        severity = "warning"
    verdicts: tuple[Sample, ...] = ()
    if verdict in (OK, INCOMPLETE) or (finding_id(verdict) and severity in SEVERITIES):
        verdicts = (Sample((("id", verdict), ("severity", severity)), 1.0),)
    return [
        Family(
            "netmedic_verdict",
            GAUGE,
            "The most likely root cause (a finding id, ok or incomplete): always 1",
            verdicts,
        ),
        Family(
            "netmedic_finding",
            GAUGE,
            "One series per finding of the check (ids from netmedic's vocabulary): always 1",
            tuple(findings),
        ),
    ]


def _probes(results: Iterable[ProbeResult]) -> Family:
    samples = tuple(
        Sample((("probe", r.probe), ("status", r.status.value)), round(r.duration_s, 6))
        for r in sorted(results, key=lambda r: r.probe)
        if r.probe in PROBES and r.status.value in PROBE_STATUSES
    )
    return Family(
        "netmedic_probe_duration_seconds",
        GAUGE,
        "How long each of netmedic's probes took, by outcome",
        samples,
    )
