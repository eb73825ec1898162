"""``netmedic watch TARGET``: the live probes headless, one line per interval.

For people without a screen to sit at: ping, trace and the connection sampler run
as on the diagnosis screen (a live run, journaled like any session); every
interval prints one line (or, with ``--json``, one ``netmedic.watch/1`` object):
loss and RTT over the rolling window, the connection outcomes, hops that changed,
findings raised or cleared.  ``--max-loss`` / ``--max-rtt`` make it exit 1 when
crossed; Ctrl-C ends it with a summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from probes.core.context import ProbeConfig
from probes.core.events import FindingChanged
from probes.core.live import LiveControl
from probes.core.model import ProbeResult
from probes.core.target import Target
from probes.proto.burst import BurstResult
from tui.args import LivePace, add_live_arguments, bounded, timeout, whole
from tui.live_status import live_config

PLAN = ("ping", "trace", "connections")
SCHEMA = "netmedic.watch/1"


def add_watch_parser(sub: Any, target_help: str, symptom: Callable[[str], str]) -> None:
    watch = sub.add_parser("watch", help="run the live probes headless, one line per interval")
    watch.add_argument("target", help=target_help)
    add_live_arguments(watch)
    watch.add_argument(
        "--count", type=whole(0, 10**9), default=0, help="stop after N lines (0: Ctrl-C)"
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per interval")
    watch.add_argument(
        "--max-loss", type=bounded(0, 100, "%"), metavar="PCT", help="exit 1 above this loss"
    )
    watch.add_argument(
        "--max-rtt", type=bounded(0, 600_000, "ms"), metavar="MS", help="exit 1 above this avg RTT"
    )
    watch.add_argument(
        "--connections",
        type=whole(0, 1024),
        default=0,
        metavar="N",
        help="also open N connections at once: where does the service refuse?",
    )
    watch.add_argument("--timeout", type=timeout, default=2.0, help="per-probe reply wait")
    watch.add_argument("--symptom", type=symptom, default="intermittent")


@dataclass
class Tick:
    """What one interval saw, from the latest results of the live run."""

    n: int
    t: float
    loss_pct: float | None = None
    rtt_ms: dict[str, float | None] = field(default_factory=dict)
    connections: dict[str, Any] = field(default_factory=dict)
    hops: list[str] = field(default_factory=list)
    hops_changed: list[dict[str, Any]] = field(default_factory=list)
    raised: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""
    crossed: list[str] = field(default_factory=list)
    burst_line: str = ""  # the burst's result, on the line of the interval it arrived in

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "interval": self.n,
            "t": round(self.t, 3),
            "loss_pct": self.loss_pct,
            "rtt_ms": self.rtt_ms,
            "connections": self.connections,
            "hops": self.hops,
            "hops_changed": self.hops_changed,
            "findings_raised": self.raised,
            "findings_cleared": self.cleared,
            "verdict": self.verdict,
            "thresholds_crossed": self.crossed,
        }

    def line(self) -> str:
        """One line per interval, its columns at fixed widths (as mtr keeps its table):
        the eye follows a figure down the lines instead of hunting for it."""
        parts = [f"#{self.n:<4d}"]
        if self.loss_pct is not None:
            parts.append(f"loss {self.loss_pct:5.1f}%")
        if self.rtt_ms.get("avg") is not None:
            r = self.rtt_ms
            parts.append(f"rtt {r['min']:7.1f}/{r['avg']:7.1f}/{r['max']:7.1f} ms")
        if self.connections:
            c = self.connections
            rates = ", ".join(f"{k} {v:5.1f}%" for k, v in c.get("rates", {}).items())
            parts.append(f"conn {c.get('sent', 0):5d} ({rates})")
        if self.hops:
            parts.append(f"hops {len(self.hops)}")
        if self.burst_line:
            parts.append(f"BURST {self.burst_line}")
        for change in self.hops_changed:
            parts.append(f"hop {change['ttl']} {change['from'] or '*'}→{change['to'] or '*'}")
        parts += [f"RAISED {f['id']}" for f in self.raised]
        parts += [f"CLEARED {f['id']}" for f in self.cleared]
        parts += [f"CROSSED {c}" for c in self.crossed]
        return "  ".join(parts)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def tick(
    n: int,
    t: float,
    results: dict[str, ProbeResult],
    changes: list[FindingChanged],
    last_hops: list[str],
    verdict: str,
) -> Tick:
    out = Tick(n, t, verdict=verdict)
    ping = results.get("ping")
    reduce = getattr(ping.data, "windowed", None) if ping else None
    if reduce is not None:
        hosts = reduce().hosts
        if hosts:
            s = hosts[0].stats
            out.loss_pct = s.loss_pct
            out.rtt_ms = {
                "last": _ms(s.last_s),
                "min": _ms(s.min_s),
                "avg": _ms(s.avg_s),
                "max": _ms(s.max_s),
                "mdev": _ms(s.mdev_s),
            }
    trace = results.get("trace")
    hops = getattr(trace.data, "hops", ()) if trace else ()
    out.hops = [h.address for h in hops]
    for i, address in enumerate(out.hops):
        before = last_hops[i] if i < len(last_hops) else ""
        if last_hops and address != before:
            out.hops_changed.append({"ttl": i + 1, "from": before, "to": address})
    conn = results.get("connections")
    data = conn.data if conn else None
    if data is not None and hasattr(data, "rate"):
        total = sum(k for _o, k in data.kinds)
        out.connections = {
            "sent": data.sent,
            "window": total,
            "rates": {o: round(100.0 * k / total, 1) for o, k in data.kinds} if total else {},
            "connect_ms": {
                "p50": _ms(data.connect.p50_s),
                "p95": _ms(data.connect.p95_s),
                "max": _ms(data.connect.max_s),
            },
            "first_byte_ms": {
                "p50": _ms(data.first_byte.p50_s),
                "p95": _ms(data.first_byte.p95_s),
                "max": _ms(data.first_byte.max_s),
            },
        }
    burst = results.get("burst")
    b = burst.data if burst is not None and burst.final else None
    if isinstance(b, BurstResult):
        out.burst_line = b.line
        out.connections["burst"] = {
            "asked": b.asked,
            "opened": b.opened,
            "first_failure": b.first_failure,
            "failure": b.failure,
            "limit": b.limit,
        }
    for change in changes:
        entry = {"id": change.finding_id, "title": change.title, "at_s": round(change.at_s, 3)}
        (out.raised if change.change == "raised" else out.cleared).append(entry)
    return out


async def watch(
    target: Target, ns: argparse.Namespace, emit: Callable[[object], None] | None
) -> int:
    from probes.run.runner import Run

    config = live_config(
        ProbeConfig(timeout=ns.timeout, burst=ns.connections), LivePace(ns.interval, ns.window)
    )
    plan = (*PLAN, "burst") if ns.connections else PLAN
    run = Run(target, ns.symptom, config, plan=plan, live=LiveControl(), on_event=emit)
    changes: list[FindingChanged] = []

    async def drive() -> None:
        async for event in run.events():
            if isinstance(event, FindingChanged):
                changes.append(event)

    task = asyncio.create_task(drive())
    started = time.monotonic()
    crossed_any = False
    hops: list[str] = []
    burst_told = False
    n = 0
    worst_loss = 0.0
    kinds: list[str] = []  # connection outcomes in first-seen order: stable columns
    rates: dict[str, float] = {}  # the last interval's connection outcomes
    try:
        while not task.done():
            await asyncio.sleep(max(0.05, ns.interval))
            n += 1
            seen, changes[:] = list(changes), []
            now = tick(
                n, time.monotonic() - started, run.results, seen, hops, run.diagnosis.verdict
            )
            hops = now.hops or hops
            _keep_order(now, kinds)
            if now.connections.get("rates"):
                rates = now.connections["rates"]
            if burst_told:
                now.burst_line = ""
            burst_told = burst_told or bool(now.burst_line)
            if now.loss_pct is not None:
                worst_loss = max(worst_loss, now.loss_pct)
            if ns.max_loss is not None and (now.loss_pct or 0) > ns.max_loss:
                now.crossed.append(f"loss {now.loss_pct:g}% > {ns.max_loss:g}%")
            avg = now.rtt_ms.get("avg")
            if ns.max_rtt is not None and avg is not None and avg > ns.max_rtt:
                now.crossed.append(f"rtt {avg:.1f} ms > {ns.max_rtt:g} ms")
            print(json.dumps(now.document()) if ns.json else now.line(), flush=True)
            if now.crossed:
                crossed_any = True
                break
            if ns.count and n >= ns.count:
                break
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        run.stop()  # every probe answered: the journal records the run finished, stopped
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    seen_rates = ", ".join(f"{k} {v:g}%" for k, v in rates.items())
    summary = (
        f"watched {target.host_port} for {n} intervals; worst loss {worst_loss:g}%; "
        + (f"connections {seen_rates}; " if seen_rates else "")
        + f"verdict {run.diagnosis.verdict}"
    )
    if ns.json:
        last = {"schema": SCHEMA, "summary": summary, "intervals": n, "connections": rates}
        print(json.dumps(last), flush=True)
    else:
        print(summary, flush=True)
    return 1 if crossed_any else 0


def _keep_order(now: Tick, kinds: list[str]) -> None:
    """The connection outcomes in the order they were first seen (ok, reset, ...), so a
    rate stays in its column when another outcome becomes more frequent."""
    rates = now.connections.get("rates")
    if not rates:
        return
    kinds.extend(k for k in rates if k not in kinds)
    now.connections["rates"] = {k: rates.get(k, 0.0) for k in kinds}


def run_watch(target: Target, ns: argparse.Namespace) -> int:
    """The `watch` command: journaled like any session; Ctrl-C ends with a summary."""
    from probes.record.journal import Journal, JournalError

    journal: Journal | None = None
    try:
        journal = Journal.create(target, ns.symptom, plan=PLAN)
    except JournalError as exc:
        print(f"netmedic: warning: {exc}; this watch is not saved", file=sys.stderr)
    try:
        code = asyncio.run(watch(target, ns, journal.emit if journal else None))
    except KeyboardInterrupt:
        code = 0
    finally:
        if journal is not None:
            journal.close()
    return code
