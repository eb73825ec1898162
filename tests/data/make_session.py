"""Build the fixed journal behind the golden report tests.

``python -m tests.data.make_session`` rewrites ``tests/data/session.jsonl``.
Fixed clock and facts, so the output is byte-for-byte reproducible.  The
session: a refused connection, the person marks steps and writes notes, starts
the service, retests, and the verdict goes from ``tcp.refused`` to ``ok``.
Remote-looking text carries markup so the goldens prove it is escaped.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from probes.core.events import NoteAdded, RetestStarted, StepMarked, StepState
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.net.tcp import TcpAttempt, TcpData
from probes.path.route import RouteData, RouteInfo
from probes.record.journal import Journal
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, RunFinished

HERE = Path(__file__).parent
FIXTURE = HERE / "session.jsonl"
SESSION_ID = "20261123-100000-abc123"
T0 = 1795428000.0  # 2026-11-23 10:00:00 UTC
FACTS = {
    "host": "app-01",
    "user": "alice",
    "privileged": False,
    "privilege_mode": "unprivileged (fallback probes)",
    "netmedic_version": "0.1.0",
    "timezone": "CET",
    "utc_offset_s": 3600,
}


def build(directory: Path) -> Path:
    ticks = itertools.count()
    now = [T0]

    def clock() -> float:
        next(ticks)
        return now[0]

    target = parse_target("db.internal:5432")
    journal = Journal.create(
        target,
        "refused",
        plan=("dns", "route", "tcp", "ping"),
        directory=directory,
        clock=clock,
        facts=FACTS,
        session_id=SESSION_ID,
    )
    route = ProbeResult(
        "route",
        Status.OK,
        0.004,
        "10.0.0.5 via 10.0.0.1 dev eth0",
        RouteData((RouteInfo("10.0.0.5", True, "10.0.0.9", "10.0.0.1", "eth0", "unicast"),)),
    )
    ping = ProbeResult(
        "ping",
        Status.OK,
        2.0,
        "3/3 replies, rtt 0.4/0.5/0.7 ms",
        {
            "sent": 3,
            "received": 3,
            "loss": 0.0,
            "rtt_avg_s": 0.0005,
            "hops": [{"ttl": 1, "address": "10.0.0.5", "rtt_s": 0.0005, "name": "<b>db|`x`</b>"}],
        },
    )

    def run(results: list[ProbeResult], start: float) -> None:
        got: dict[str, ProbeResult] = {}
        diagnosis = None
        for i, result in enumerate(results):
            now[0] = start + 0.1 * (i + 1)
            got[result.probe] = result
            journal.emit(ProbeUpdate(result))
            new = diagnose(target, got, "refused")
            if new != diagnosis:
                diagnosis = new
                journal.emit(DiagnosisUpdate(new))
        now[0] = start + 0.1 * (len(results) + 1)
        assert diagnosis is not None
        journal.emit(RunFinished(diagnosis, 0.1 * len(results)))

    dns = ProbeResult(
        "dns", Status.SKIPPED, 0.0, "db.internal is in /etc/hosts only: <script>alert(1)</script>"
    )
    refused = ProbeResult(
        "tcp",
        Status.FAILED,
        0.001,
        "10.0.0.5:5432 refused",
        TcpData(
            5432,
            (
                TcpAttempt(
                    "10.0.0.5",
                    4,
                    5432,
                    "refused",
                    0.0008,
                    "ECONNREFUSED",
                    "10.0.0.5 answered the SYN with a reset: nothing accepts connections on port 5432",
                ),
            ),
        ),
        ProbeError("ECONNREFUSED", "10.0.0.5 answered the SYN with a reset", "", 0.0008),
    )
    run([dns, route, refused], T0)

    now[0] = T0 + 30
    journal.emit(StepMarked("tcp.refused", 0, StepState.DONE))
    now[0] = T0 + 35
    journal.emit(StepMarked("tcp.refused", 2, StepState.DID_NOT_HELP))
    now[0] = T0 + 40
    journal.emit(
        NoteAdded("tcp.refused", "postgres was stopped after the 03:00 upgrade | *see* [ticket]")
    )
    now[0] = T0 + 45
    journal.emit(NoteAdded("", "ran `systemctl start postgresql`"))
    now[0] = T0 + 50
    journal.emit(StepMarked("tcp.refused", 1, StepState.DONE))

    now[0] = T0 + 60
    journal.emit(RetestStarted(2))
    opened = ProbeResult(
        "tcp",
        Status.OK,
        0.001,
        "10.0.0.5:5432 open",
        TcpData(
            5432,
            (
                TcpAttempt(
                    "10.0.0.5",
                    4,
                    5432,
                    "open",
                    0.0007,
                    protocol="postgresql",
                    source="10.0.0.9:40000",
                ),
            ),
        ),
    )
    run([dns, route, opened, ping], T0 + 60)
    now[0] = T0 + 70
    journal.close()
    return journal.path


def main() -> int:
    path = build(HERE / "_build")
    FIXTURE.write_bytes(path.read_bytes())
    path.unlink()
    (HERE / "_build").rmdir()
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
