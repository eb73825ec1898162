"""The exporter's own figures, for ``/metrics``: counters with closed label sets."""

from __future__ import annotations

import os
import time
from collections import Counter

from probes.record.metrics import COUNTER, Family, Sample, gauge

HANDLERS = ("/probe", "/metrics", "/alert", "/", "other")
RESULTS = ("success", "failure", "cut_short")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Stats:
    def __init__(self, modules: tuple[str, ...] = ()) -> None:
        self.started = time.time()
        self.requests: Counter[tuple[str, str]] = Counter()  # (handler, code)
        # The configured modules' series exist at 0 from the first scrape, as Prometheus
        # advises: rate() and alerts then see the first check instead of a new series.
        self.checks: Counter[tuple[str, str]] = Counter(
            {(m, r): 0 for m in modules for r in RESULTS}
        )  # (module, result)
        self.check_seconds: dict[str, float] = dict.fromkeys(modules, 0.0)  # module
        self.rejected: Counter[str] = Counter()  # reason
        self.alerts: Counter[str] = Counter()  # outcome
        self.in_flight = 0
        self.connections = 0

    def request(self, path: str, status: int) -> None:
        handler = path if path in HANDLERS else "other"
        self.requests[(handler, str(status))] += 1

    def check(self, module: str, result: str, seconds: float) -> None:
        self.checks[(module, result)] += 1
        self.check_seconds[module] = self.check_seconds.get(module, 0.0) + seconds

    def families(self) -> tuple[Family, ...]:
        return (
            _counter(
                "netmedic_exporter_requests",
                "HTTP requests answered, by handler and status code",
                {(("handler", h), ("code", c)): n for (h, c), n in self.requests.items()},
            ),
            _counter(
                "netmedic_exporter_checks",
                "Checks run for scrapes, by module and result (success, failure, cut_short)",
                {(("module", m), ("result", r)): n for (m, r), n in self.checks.items()},
            ),
            _counter(
                "netmedic_exporter_check_seconds",
                "Seconds spent in checks for scrapes, by module",
                {(("module", m),): s for m, s in self.check_seconds.items()},
            ),
            _counter(
                "netmedic_exporter_rejected",
                "Requests refused by a bound (rate, busy, connections, not_allowed, bad_request)",
                {(("reason", r),): n for r, n in self.rejected.items()},
            ),
            _counter(
                "netmedic_exporter_alert_diagnoses",
                "Firing alerts received, by what was done (started, recent, unknown_target, busy)",
                {(("outcome", o),): n for o, n in self.alerts.items()},
            ),
            gauge("netmedic_exporter_checks_in_flight", "Checks running now", self.in_flight),
            gauge("netmedic_exporter_connections", "Open HTTP connections", self.connections),
            gauge("process_resident_memory_bytes", "Resident memory size in bytes", _rss_bytes()),
            gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                round(self.started, 3),
            ),
        )


def _counter(name: str, help_text: str, values: dict[tuple[tuple[str, str], ...], float]) -> Family:
    samples = tuple(Sample(labels, value) for labels, value in sorted(values.items()))
    return Family(name, COUNTER, help_text, samples)


def _rss_bytes() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return float(int(f.read().split()[1]) * _PAGE)
    except (OSError, ValueError, IndexError):
        return float("nan")
