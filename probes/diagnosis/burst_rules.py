"""Burst rules: where the service started refusing when many connections came at once.

Connections the burst counted starved (this process could not run) are not failures: its
first_failure is the first judged one, and a burst that judged nothing is an error result
the rules do not read.

These run after the local and service rules: a reading of the listener's own accept
queue, or the service's own "too many clients", says the same thing more directly
and wins (the first rule to speak about an id wins).  A burst's limit is a warning:
netmedic itself brought the connections, so it says where the limit is, not that
real clients hit it — the sampler and the other probes say that.
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.core.target import endpoint
from probes.diagnosis.evidence import Evidence, q
from probes.proto.burst import FD_LIMIT, BurstResult
from probes.proto.sampler import REFUSED, RESET, SERVICE_ERROR, TIMEOUT


def burst_limit(ev: Evidence) -> Iterator[Finding]:
    b = ev.data("burst", BurstResult)
    if b is None or not b.first_failure:
        return
    if not b.opened and b.failure != FD_LIMIT:
        return  # not one accepted: no limit was found (tcp, ping and trace say why)
    where = endpoint(b.address, b.port)
    evidence = [f"burst to {where}: {b.line}"]
    if b.said:
        evidence.append(f"the service said: {b.said}")
    port = b.port
    if b.failure in (TIMEOUT, REFUSED):
        how = "stops answering new connections" if b.failure == TIMEOUT else "refuses new ones"
        yield Finding(
            "tcp.backlog_full",
            Severity.WARNING,
            f"{where} holds {b.opened} connections at once, then {how}: its accept queue is full",
            tuple(evidence),
            (
                NextStep(
                    "Compare the listener's accept queue (Recv-Q) with its backlog (Send-Q)",
                    f"ss -ltn 'sport = :{port}'",
                ),
                NextStep(
                    "Check the kernel's caps on the listen backlog",
                    "sysctl net.core.somaxconn net.ipv4.tcp_max_syn_backlog",
                ),
                NextStep(
                    "Make the service accept faster (more workers) or listen with a larger "
                    "backlog; count who holds the connections",
                    f"ss -tn state established '( sport = :{port} )' | wc -l",
                ),
            ),
        )
    elif b.failure in (SERVICE_ERROR, RESET):
        yield Finding(
            "service.too_many_connections",
            Severity.WARNING,
            f"{where} accepts {b.opened} connections at once, then turns new clients away"
            + (f" ({b.said})" if b.said else " (accepted, then closed)"),
            tuple(evidence),
            (
                NextStep(
                    "Check the service's client limit (maxclients, max_connections, "
                    "worker_connections) against what its clients open"
                ),
                NextStep(
                    "Count the connections it holds now",
                    f"ss -tn state established '( sport = :{port} )' | wc -l",
                ),
                NextStep("Put a pool in front of it, or make the clients share their connections"),
            ),
        )
    elif b.failure == FD_LIMIT:
        yield Finding(
            "local.client_exhausted",
            Severity.WARNING,
            f"this host ran out of open files after {b.opened} connections to {where}: "
            "the burst could not reach the service's limit",
            tuple(evidence),
            (
                NextStep("See this shell's open-files limit", "ulimit -n"),
                NextStep(
                    "Raise it for the burst and try again",
                    f"ulimit -n 4096 && netmedic watch {q(ev.target.input)} --connections "
                    f"{b.asked} --count 1",
                ),
            ),
        )


RULES = (burst_limit,)
