"""Hosts named with ``--server`` / ``--from`` that could not be asked: one finding
naming each of them with why (host key unknown or changed, password wanted, no route,
timeout), so a verdict never rests silently on fewer places than the person asked."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity, Status
from probes.diagnosis.evidence import Evidence
from probes.remote.serverdata import ServerData
from probes.remote.ssh import EXPLAIN, HOST_KEY_CHANGED, HOST_KEY_UNKNOWN
from probes.remote.vantage import VantagesData

MAX_NAMED = 10


def unreachable(ev: Evidence) -> Iterator[Finding]:
    failed: list[tuple[str, str, str, str]] = []  # (role, destination, status, ssh's words)
    server = ev.results.get("server")
    data = ev.data("server", ServerData)
    if server is not None and server.status is Status.FAILED and data is not None:
        failed.append(("the server", data.dest, data.status, data.detail))
    vantages = ev.data("vantages", VantagesData)
    if vantages is not None:
        failed += [("vantage", v.dest, v.status, v.detail) for v in vantages.unreached]
    if not failed:
        return
    if len(failed) == 1:
        role, dest, status, _ = failed[0]
        title = f"{role} {dest} could not be asked over ssh: {EXPLAIN.get(status, status)}"
    else:
        names = ", ".join(dest for _r, dest, _s, _d in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        title = f"{len(failed)} hosts could not be asked over ssh: {names}{more}"
    evidence = tuple(
        f"{dest} ({role}): {EXPLAIN.get(status, status)} — {detail}"
        for role, dest, status, detail in failed[:MAX_NAMED]
    )
    steps = [
        NextStep(f"Try {dest} by hand", shlex.join(["ssh", dest, "true"]))
        for _r, dest, _s, _d in failed[:3]
    ]
    if any(status in (HOST_KEY_UNKNOWN, HOST_KEY_CHANGED) for _r, _d, status, _x in failed):
        steps.append(
            NextStep(
                "Check a host key against the one its owner publishes before accepting it "
                "(netmedic never accepts one for you)",
                "ssh-keygen -F HOST",
            )
        )
    yield Finding("remote.unreachable", Severity.WARNING, title, evidence, tuple(steps))


RULES = (unreachable,)
