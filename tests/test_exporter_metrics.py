"""A real check as metric families: blackbox names, the verdict's id, bounded labels,
both exposition formats accepted by promtool."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.core.model import Diagnosis, Finding, Severity
from probes.core.target import parse_target
from probes.record.exposition import render, wants_openmetrics
from probes.record.metrics import COUNTER, Family, Sample, check_families, gauge
from probes.record.session import list_sessions
from tests.exporter_lab import Targets, loopback_targets, promtool_check, samples
from tui.exporter.checks import journaled_check


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    with loopback_targets(Path(tmp_path_factory.mktemp("pki"))) as found:
        yield found


def _check(target: str, ca_file: Path | None = None, budget: float = 8.0) -> str:
    config = ProbeConfig(timeout=5.0, ca_file=str(ca_file) if ca_file else None, proxy_env=())
    outcome = asyncio.run(journaled_check(parse_target(target), "auto", config, budget))
    return render(outcome.families)


def test_a_healthy_http_target_reads_as_blackbox_would(targets: Targets) -> None:
    text = _check(targets.healthy)
    assert samples(text, "probe_success") == {"": 1.0}
    assert samples(text, "probe_http_status_code") == {"": 200.0}
    assert samples(text, "probe_ip_protocol") == {"": 4.0}
    assert samples(text, "probe_duration_seconds")[""] > 0
    phases = samples(text, "probe_http_duration_seconds")
    assert {'{phase="connect"}', '{phase="processing"}'} <= set(phases)
    assert samples(text, "netmedic_verdict") == {'{id="ok",severity="ok"}': 1.0}
    assert '{id="http.ok",severity="ok"}' in samples(text, "netmedic_finding")
    assert promtool_check(text).returncode == 0, promtool_check(text).stdout


def test_a_refused_port_names_why_and_is_journaled(targets: Targets) -> None:
    text = _check(targets.refused)
    assert samples(text, "probe_success") == {"": 0.0}
    (verdict,) = samples(text, "netmedic_verdict")
    assert verdict == '{id="local.not_listening",severity="error"}'
    assert '{id="tcp.refused",severity="error"}' in samples(text, "netmedic_finding")
    (session,) = [s for s in list_sessions() if s.target == targets.refused]
    assert session.verdict == "local.not_listening" and session.ended


def test_an_expired_certificate_in_openmetrics(targets: Targets) -> None:
    config = ProbeConfig(timeout=5.0, ca_file=str(targets.ca_file), proxy_env=())
    outcome = asyncio.run(journaled_check(parse_target(targets.expired), "tls", config, 8.0))
    text = render(outcome.families, openmetrics=True)
    assert text.endswith("# EOF\n")
    assert samples(text, "netmedic_verdict") == {'{id="tls.expired",severity="error"}': 1.0}
    (expiry,) = samples(text, "probe_ssl_earliest_cert_expiry").values()
    assert expiry < outcome.families[0].samples[0].value + 10**10  # a Unix time, not days
    assert samples(text, "probe_success") == {"": 0.0}
    checked = promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_deadline_keeps_an_error_found_in_time_and_never_reads_ok(targets: Targets) -> None:
    config = ProbeConfig(timeout=5.0, proxy_env=())
    outcome = asyncio.run(journaled_check(parse_target(targets.healthy), "auto", config, 0.2))
    assert outcome.cut_short
    assert outcome.diagnosis.verdict == "incomplete"
    assert samples(render(outcome.families), "probe_success") == {"": 0.0}


def test_label_values_only_from_the_vocabulary() -> None:
    planted = 'x"} 1\nevil_metric{a="'
    diagnosis = Diagnosis(
        (
            Finding(planted, Severity.ERROR, "from a server"),
            Finding("tcp.refused", Severity.ERROR, "refused"),
        ),
        planted,
    )
    text = render(check_families({}, diagnosis, 0.5))
    assert "evil_metric" not in text and planted not in text
    assert samples(text, "netmedic_finding") == {'{id="tcp.refused",severity="error"}': 1.0}
    assert samples(text, "netmedic_verdict") == {}
    assert promtool_check(text).returncode == 0


def test_formats_differ_in_counter_names_and_eof() -> None:
    families = (
        Family("jobs", COUNTER, 'done "jobs"\nall', (Sample((("k", 'a"b\\c\nd'),), 3.0),)),
        gauge("ratio", "a share", 0.25),
    )
    text = render(families)
    assert "# TYPE jobs_total counter" in text and 'jobs_total{k="a\\"b\\\\c\\nd"} 3' in text
    assert "ratio 0.25" in text and "# EOF" not in text
    om = render(families, openmetrics=True)
    assert "# TYPE jobs counter" in om and om.endswith("# EOF\n")
    assert '# HELP jobs done \\"jobs\\"\\nall' in om
    assert promtool_check(text).returncode == 0


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            True,
        ),
        ("text/plain;version=0.0.4", False),
        ("application/openmetrics-text; q=0", False),
        ("", False),
    ],
)
def test_openmetrics_when_accept_asks(accept: str, wanted: bool) -> None:
    assert wants_openmetrics(accept) is wanted
