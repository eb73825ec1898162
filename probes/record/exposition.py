"""Metric families in Prometheus' text exposition format 0.0.4 or OpenMetrics 1.0.

The two differ in little: OpenMetrics names a counter family without ``_total``
(its samples keep it), and ends with ``# EOF``.  Label values are escaped as both
formats require (backslash, double quote, newline).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from probes.record.metrics import COUNTER, Family, Labels

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def wants_openmetrics(accept: str) -> bool:
    """Whether an ``Accept`` header asks for OpenMetrics (and does not refuse it with q=0)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() != "application/openmetrics-text":
            continue
        q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def render(families: Iterable[Family], openmetrics: bool = False) -> str:
    lines: list[str] = []
    for family in families:
        total = family.name + "_total" if family.kind == COUNTER else family.name
        head = family.name if openmetrics else total
        lines.append(f"# HELP {head} {_escape_help(family.help, openmetrics)}")
        lines.append(f"# TYPE {head} {family.kind}")
        for sample in family.samples:
            lines.append(f"{total}{_labels(sample.labels)} {_value(sample.value)}")
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def content_type(openmetrics: bool) -> str:
    return OPENMETRICS_TYPE if openmetrics else TEXT_TYPE


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape_value(value)}"' for name, value in labels)
    return "{" + inner + "}"


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text  # OpenMetrics escapes quotes too


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
