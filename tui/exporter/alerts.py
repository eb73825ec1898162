"""Alertmanager's webhook (payload version 4): which firing alerts name a target.

A blackbox-style scrape config puts the probed target in the ``instance`` label;
rules may also carry it as ``target`` or ``netmedic_target`` (checked first), and
the module as ``module`` or ``netmedic_module``.  Resolved alerts are ignored: the
diagnosis is for the person paged now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

TARGET_LABELS = ("netmedic_target", "target", "instance")
MODULE_LABELS = ("netmedic_module", "module")
MAX_ALERTS = 200  # per payload; Alertmanager's own max_alerts caps what it sends


class PayloadError(ValueError):
    """Not an Alertmanager v4 payload: ``str()`` is one line."""


@dataclass(frozen=True, slots=True)
class FiringAlert:
    name: str  # alertname, for the answer
    target: str  # the label's text; parsed and allow-listed by the caller
    module: str  # "" when the alert names none


def firing_alerts(body: bytes) -> list[FiringAlert]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON") from None
    if not isinstance(doc, dict) or str(doc.get("version")) != "4":
        raise PayloadError('not an Alertmanager webhook payload (want "version": "4")')
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("the payload has no alerts list")
    out = []
    for alert in alerts[:MAX_ALERTS]:
        if not isinstance(alert, dict) or alert.get("status") != "firing":
            continue
        labels = alert.get("labels")
        if not isinstance(labels, dict):
            continue
        target = _first(labels, TARGET_LABELS)
        if target:
            out.append(
                FiringAlert(_first(labels, ("alertname",)), target, _first(labels, MODULE_LABELS))
            )
    return out


def _first(labels: dict[str, object], names: tuple[str, ...]) -> str:
    for name in names:
        value = labels.get(name)
        if isinstance(value, str) and value:
            return value[:2048]
    return ""


class AlertGate:
    """At most one diagnosis per target per *interval* seconds, in bounded memory."""

    def __init__(
        self, interval_s: float, clock: Callable[[], float] = time.monotonic, size: int = 4096
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.size = size
        self._last: dict[str, float] = {}

    def admit(self, key: str) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        if len(self._last) >= self.size:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval_s}
            if len(self._last) >= self.size:
                return False  # every slot is a target diagnosed within the interval
        self._last[key] = now
        return True
