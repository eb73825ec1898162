"""Sample rules: a sample too small to answer its question is said so, never ``ok``.

``check --symptom intermittent`` pings a sized sample (probes/path/ping.py): it runs
until the loss rate is clearly above or below the bar ``path.loss`` sets, or until
its time is up.  When time ran out first and ``path.loss`` has not spoken, the loss
seen (even none) cannot be told from intermittent loss: that is ``probe.incomplete``
("inconclusive: k of n lost"), a warning that makes the verdict ``incomplete`` and
points at ``netmedic watch``, which samples for as long as a person wants.
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.core.proportion import wilson
from probes.diagnosis.coverage import INCOMPLETE
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.path_rules import LOSS_PCT
from probes.path.ping import PingData, PingHost, sample_clear


def _loss_found(h: PingHost) -> bool:
    """What path_rules.loss raises path.loss for (it says the rest)."""
    lost = h.stats.sent - h.stats.received
    return bool(h.stats.received) and lost >= 2 and h.stats.loss_pct >= LOSS_PCT


def inconclusive_loss(ev: Evidence) -> Iterator[Finding]:
    ping = ev.data("ping", PingData)
    if ping is None or not ping.sized:
        return
    for h in ping.hosts:
        s = h.stats
        lost = s.sent - s.received
        if not s.sent or not s.received or _loss_found(h) or sample_clear(lost, s.sent):
            continue  # nothing sent, nothing back (other rules), or an answer
        interval = wilson(lost, s.sent)
        yield Finding(
            INCOMPLETE,
            Severity.WARNING,
            f"inconclusive: {lost} of {s.sent} pings to {h.address} lost; "
            "run `netmedic watch` to sample longer",
            (
                f"ping {h.address}: {s.received}/{s.sent} answered, {s.loss_pct:g}% loss "
                f"in {ping.interval_s * s.sent:.1f} s (a sample sized to the question, "
                "cut by the time allowed)",
                f"the loss rate lies in {interval.text()} (95%): it cannot be told apart "
                f"from the {LOSS_PCT:g}% at which loss is a finding",
            ),
            (
                NextStep(
                    "Sample for minutes and stop when loss crosses the bar",
                    f"netmedic watch {q(ev.target.input)} --max-loss {LOSS_PCT:g}",
                ),
                NextStep("Or count many pings yourself", f"ping -c 200 -i 0.05 -q {q(h.address)}"),
            ),
        )
        return


RULES = (inconclusive_loss,)
