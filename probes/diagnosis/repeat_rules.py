"""Repeat rules: a refusal among repeated connects to one address is evidence.

The TCP probe connects to an open port more than once (probes/net/tcp.py; a run about
drops or refusals sizes the repeats to see one dead member of three).  A load balancer
with one dead backend, or a listener that comes and goes, accepts most of them and
refuses some: that is ``tcp.refused`` for the share refused, never ``ok`` because the
first connect happened to succeed.  Registered right after tcp_rules (the first rule
to speak about an id wins, ranking.rank).
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.core.target import endpoint
from probes.diagnosis.evidence import Evidence, ms, q
from probes.net.tcp import OPEN, REFUSED, TcpAttempt, TcpData


def _outcomes(a: TcpAttempt) -> tuple[str, ...]:
    """Every connect to the address: the first, then the repeats."""
    return (a.closed_by_peer or "ok", *a.repeats)


def _counts(outcomes: tuple[str, ...]) -> str:
    seen: dict[str, int] = {}
    for o in outcomes:
        seen[o] = seen.get(o, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(seen.items(), key=lambda kv: -kv[1]))


def refused_among_repeats(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("tcp", TcpData)
    if data is None:
        return
    for a in data.attempts:
        outcomes = _outcomes(a)
        refused = outcomes.count(REFUSED)
        if a.state != OPEN or not refused:
            continue
        where = endpoint(a.address, a.port)
        n = len(outcomes)
        yield Finding(
            "tcp.refused",
            Severity.WARNING,
            f"{where} refused {refused} of {n} connects (intermittent: a member of a pool "
            "down, or a listener that comes and goes)",
            (
                f"{n} connects to {where} one after the other: {_counts(outcomes)}",
                f"the first was accepted in {ms(a.elapsed_s)}; in order: {' '.join(outcomes)}",
                "a reset in answer to a SYN means nothing listened there for that connect",
            ),
            (
                NextStep(
                    "If a load balancer is in front, check its members' health: one member "
                    "down refuses its share of the connections"
                ),
                NextStep(
                    f"On {ev.target.host}: does the listener come and go (a service restarting)?",
                    f"ss -ltn 'sport = :{a.port}'",
                ),
                NextStep(
                    "Count the outcomes over many connects",
                    f"for i in $(seq 30); do nc -z -w 2 {q(a.address)} {a.port} && echo ok "
                    "|| echo refused; done | sort | uniq -c",
                ),
            ),
        )
        return


RULES = (refused_among_repeats,)
