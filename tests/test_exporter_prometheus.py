"""A real Prometheus (Debian's package) scrapes ``netmedic exporter`` the blackbox way:
a healthy HTTP target, a refused port and an expired certificate; its HTTP API then
holds probe_success and netmedic_verdict with the ids that say why."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.record.session import list_sessions
from tests.exporter_lab import Targets, exporter_toml, loopback_targets
from tests.probe_helpers import closed_port

SCRAPE_S = 2  # interval and timeout: a check of a healthy loopback target takes ~1 s
DEADLINE_S = 90.0

PROMETHEUS_YML = """\
global:
  scrape_interval: {scrape}s
  scrape_timeout: {scrape}s
scrape_configs:
  - job_name: netmedic
    metrics_path: /probe
    static_configs:
      - targets: ["{healthy}", "{refused}"]
        labels: {{module: http}}
      - targets: ["{expired}"]
        labels: {{module: tls}}
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [module]
        target_label: __param_module
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{exporter}
  - job_name: netmedic_exporter
    static_configs:
      - targets: ["127.0.0.1:{exporter}"]
"""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


@contextlib.contextmanager
def _process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _query(port: int, expr: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(url, timeout=10) as answer:
        doc = json.load(answer)
    assert doc["status"] == "success", doc
    result: list[dict[str, object]] = doc["data"]["result"]
    return result


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Targets]:
    with loopback_targets(tmp_path) as found:
        yield found


def test_prometheus_scrapes_the_reason(targets: Targets, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus missing: tests/run.sh installs the Debian package"
    exporter_port, prometheus_port = closed_port(), closed_port()
    config = tmp_path / "exporter.toml"
    config.write_text(exporter_toml(targets.ca_file, listen=f"127.0.0.1:{exporter_port}"))
    yml = tmp_path / "prometheus.yml"
    yml.write_text(
        PROMETHEUS_YML.format(
            scrape=SCRAPE_S,
            healthy=targets.healthy,
            refused=targets.refused,
            expired=targets.expired,
            exporter=exporter_port,
        )
    )
    exporter_cmd = [sys.executable, "-m", "tui.cli", "exporter", "--config", str(config)]
    prometheus_cmd = [
        prometheus,
        f"--config.file={yml}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
        "--log.level=warn",
    ]
    want = {
        (targets.healthy, "ok", 1.0),
        (targets.refused, "local.not_listening", 0.0),
        (targets.expired, "tls.expired", 0.0),
    }
    seen: set[tuple[str, str, float]] = set()
    with (
        _process(exporter_cmd, tmp_path / "exporter.log") as exporter,
        _process(prometheus_cmd, tmp_path / "prometheus.log") as server,
    ):
        _wait_for_port(exporter_port, exporter, tmp_path / "exporter.log")
        _wait_for_port(prometheus_port, server, tmp_path / "prometheus.log")
        deadline = time.monotonic() + DEADLINE_S
        own_up = False
        counted = 0.0  # checks the exporter's own counters say it ran, as Prometheus holds them
        while not (want <= seen and own_up and counted >= 3) and time.monotonic() < deadline:
            success = {
                str(s["metric"]["instance"]): float(s["value"][1])  # type: ignore[index]
                for s in _query(prometheus_port, 'probe_success{job="netmedic"}')
            }
            for s in _query(prometheus_port, 'netmedic_verdict{job="netmedic"}'):
                instance = str(s["metric"]["instance"])  # type: ignore[index]
                if instance in success:
                    seen.add((instance, str(s["metric"]["id"]), success[instance]))  # type: ignore[index]
            own = _query(prometheus_port, 'up{job="netmedic_exporter"}')
            own_up = bool(own) and own[0]["value"][1] == "1"  # type: ignore[index]
            total = _query(prometheus_port, "sum(netmedic_exporter_checks_total)")
            counted = float(total[0]["value"][1]) if total else 0.0  # type: ignore[index]
            time.sleep(0.5)
        findings = _query(prometheus_port, 'netmedic_finding{id="tcp.refused"}')
    assert want <= seen, f"seen {sorted(seen)}; exporter: {(tmp_path / 'exporter.log').read_text()}"
    assert own_up, "Prometheus could not scrape the exporter's own /metrics"
    assert {f["metric"]["instance"] for f in findings} == {targets.refused}  # type: ignore[index]
    assert counted >= 3, f"the exporter's own counters reached Prometheus with {counted} checks"
    journaled = {s.target for s in list_sessions()}
    assert {targets.healthy, targets.refused, targets.expired} <= journaled
    assert os.path.isdir(tmp_path / "tsdb")
