"""``netmedic watch TARGET``: the live probes headless, one line per interval.

For people without a screen to sit at: ping, trace and the connection sampler run
as on the diagnosis screen (a live run, journaled like any session); every
interval prints one line (or, with ``--json``, one ``netmedic.watch/1`` object):
that interval's pings, RTT and connection outcomes with the run's totals and the
rolling window's loss beside them, hops that changed, findings raised or cleared.
A saved service (``@NAME``) and the server's side (``--server``): tui/watch_options.py.
``--max-loss`` (the rolling window's loss) and ``--max-rtt`` (the interval's average)
end the run with exit 1 the first time they are crossed; Ctrl-C ends it with a
summary line.  Ending never waits on a probe for long: the summary is printed first.
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
from typing import TYPE_CHECKING, Any

from probes.core.clocks import clock_label, ms_number
from probes.core.context import ProbeConfig
from probes.core.events import FindingChanged
from probes.core.live import LiveControl
from probes.core.model import ProbeResult
from probes.core.target import Target
from probes.path.ping import PingData
from probes.proto.burst import BurstResult
from probes.proto.sampler import Percentiles
from tui.args import LivePace, add_live_arguments, bounded, timeout, whole
from tui.headless_journal import journal_or_warn
from tui.live_status import live_config
from tui.watch_options import (
    ServerLooks,
    WatchExtras,
    add_watch_remote_arguments,
    server_entry,
)

if TYPE_CHECKING:
    from probes.run.runner import Run

PLAN = ("ping", "trace", "connections")
SCHEMA = "netmedic.watch/1"
# Ending the run (cancel the probes, journal the end) waits at most this long.
TEARDOWN_S = 3.0


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
    watch.add_argument(
        "--openmetrics",
        metavar="FILE",
        type=_metrics_file,
        help="also write the metrics to FILE each interval, atomically (for node_exporter's "
        "textfile collector: name it *.prom)",
    )
    watch.add_argument("--symptom", type=symptom, default="intermittent")
    add_watch_remote_arguments(watch)


@dataclass
class Tick:
    """What one interval saw, from the latest results of the live run."""

    n: int
    t: float
    loss_pct: float | None = None  # this interval's pings (None: no outcome in it)
    pings: dict[str, int] = field(default_factory=dict)  # this interval: sent, lost
    totals: dict[str, Any] = field(default_factory=dict)  # the run so far, and the window
    rtt_ms: dict[str, float | None] = field(default_factory=dict)  # this interval's answers
    rtt_clock: str = ""  # which clock timed the round trips (probes.core.clocks)
    connections: dict[str, Any] = field(default_factory=dict)
    hops: list[str] = field(default_factory=list)
    hops_changed: list[dict[str, Any]] = field(default_factory=list)
    raised: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""
    crossed: list[str] = field(default_factory=list)
    burst_line: str = ""  # the burst's result, on the line of the interval it arrived in
    server: dict[str, str] = field(default_factory=dict)  # a look at the server's side in it

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "interval": self.n,
            "t": round(self.t, 3),
            "loss_pct": self.loss_pct,
            "pings": self.pings,
            "totals": self.totals,
            "rtt_ms": self.rtt_ms,
            "rtt_clock": self.rtt_clock,
            "connections": self.connections,
            "hops": self.hops,
            "hops_changed": self.hops_changed,
            "findings_raised": self.raised,
            "findings_cleared": self.cleared,
            "verdict": self.verdict,
            "thresholds_crossed": self.crossed,
            "server": self.server or None,
        }

    def line(self) -> str:
        """One line per interval, its columns at fixed widths (as mtr keeps its table):
        this interval's own figures, with the run's totals and the rolling window beside."""
        parts = [f"#{self.n:<4d}"]
        if self.pings:
            p, t = self.pings, self.totals
            parts.append(
                f"loss {_pct(self.loss_pct):>6} ({p['lost']}/{p['sent']}), "
                f"total {_pct(t.get('loss_pct')):>6} ({t.get('lost', 0)}/{t.get('sent', 0)}), "
                f"window {_pct(t.get('window_loss_pct')):>6}"
            )
        elif self.loss_pct is not None:
            parts.append(f"loss {_pct(self.loss_pct):>6}")
        if self.rtt_ms.get("avg") is not None:
            r = self.rtt_ms
            figures = "/".join(f"{ms_number(r[k] or 0.0):>7}" for k in ("min", "avg", "max"))
            parts.append(f"rtt {figures} ms ({clock_label(self.rtt_clock)})")
        if self.connections:
            c = self.connections
            now = ", ".join(f"{k} {v}" for k, v in c.get("interval", {}).items()) or "none"
            rates = ", ".join(f"{k} {v:5.1f}%" for k, v in c.get("rates", {}).items())
            parts.append(f"conn {now} (total {c.get('sent', 0):5d}; window {rates})")
        if self.hops:
            parts.append(f"hops {len(self.hops)}")
        if self.burst_line:
            parts.append(f"BURST {self.burst_line}")
        if self.server:
            parts.append(f"SERVER {self.server['summary']}")
        for change in self.hops_changed:
            parts.append(f"hop {change['ttl']} {change['from'] or '*'}→{change['to'] or '*'}")
        parts += [f"RAISED {f['id']}" for f in self.raised]
        parts += [f"CLEARED {f['id']}" for f in self.cleared]
        parts += [f"CROSSED {c}" for c in self.crossed]
        return "  ".join(parts)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


@dataclass
class SoFar:
    """What the previous interval had seen, so each interval reports only its own."""

    ping_sent: int = 0
    ping_received: int = 0
    ping_seq: int = -1
    conn_sent: int = 0


def _ping_figures(out: Tick, ping: PingData, so_far: SoFar) -> None:
    """This interval's pings and RTTs (since *so_far*), the run's totals and the window."""
    if not ping.hosts:
        return
    h = ping.hosts[0]
    s = h.stats
    out.rtt_clock = h.clock
    sent, lost = (
        s.sent - so_far.ping_sent,
        (s.sent - s.received) - (so_far.ping_sent - so_far.ping_received),
    )
    fresh = [x.rtt_s for x in h.recent if x.seq > so_far.ping_seq and x.rtt_s is not None]
    window = ping.windowed().hosts[0].stats
    out.pings = {"sent": sent, "lost": lost}
    out.loss_pct = round(100.0 * lost / sent, 2) if sent else None
    out.totals = {
        "sent": s.sent,
        "lost": s.sent - s.received,
        "loss_pct": s.loss_pct,
        "window": window.sent,
        "window_loss_pct": window.loss_pct if window.sent else None,
        "rtt_ms": {"min": _ms(s.min_s), "avg": _ms(s.avg_s), "max": _ms(s.max_s)},
    }
    if fresh:
        out.rtt_ms = {
            "last": _ms(fresh[-1]),
            "min": _ms(min(fresh)),
            "avg": _ms(sum(fresh) / len(fresh)),
            "max": _ms(max(fresh)),
        }
    so_far.ping_sent, so_far.ping_received = s.sent, s.received
    so_far.ping_seq = max((x.seq for x in h.recent), default=so_far.ping_seq)


def tick(
    n: int,
    t: float,
    results: dict[str, ProbeResult],
    changes: list[FindingChanged],
    last_hops: list[str],
    verdict: str,
    so_far: SoFar | None = None,
) -> Tick:
    out = Tick(n, t, verdict=verdict)
    seen = so_far if so_far is not None else SoFar()
    ping = results.get("ping")
    if ping is not None and isinstance(ping.data, PingData):
        _ping_figures(out, ping.data, seen)
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
        fresh = data.recent[len(data.recent) - min(len(data.recent), data.sent - seen.conn_sent) :]
        now: dict[str, int] = {}
        for a in fresh:
            now[a.outcome] = now.get(a.outcome, 0) + 1
        seen.conn_sent = data.sent
        out.connections = {
            "interval": now,
            "sent": data.sent,
            "window": total,
            "rates": {o: round(100.0 * k / total, 1) for o, k in data.kinds} if total else {},
            "connect_ms": {
                "p50": _ms(data.connect.p50_s),
                "p95": _ms(data.connect.p95_s),
                "max": _ms(data.connect.max_s),
                "clock": data.connect.clock,
            },
            "first_byte_ms": {
                "p50": _ms(data.first_byte.p50_s),
                "p95": _ms(data.first_byte.p95_s),
                "max": _ms(data.first_byte.max_s),
                "clock": data.first_byte.clock,
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
            "starved": b.starved,
            "connect_ms": _burst_ms(b.connect),
            "first_byte_ms": _burst_ms(b.first_byte),
        }
    for change in changes:
        entry = {"id": change.finding_id, "title": change.title, "at_s": round(change.at_s, 3)}
        (out.raised if change.change == "raised" else out.cleared).append(entry)
    return out


def _burst_ms(figures: Percentiles) -> dict[str, object]:
    return {
        "p50": _ms(figures.p50_s),
        "p95": _ms(figures.p95_s),
        "max": _ms(figures.max_s),
        "clock": figures.clock,
    }


def watch_plan(ns: argparse.Namespace, extras: WatchExtras) -> tuple[str, ...]:
    """The live probes, the burst with ``--connections``, the server with ``--server``."""
    burst = ("burst",) if ns.connections else ()
    server = ("server",) if extras.server is not None else ()
    return (*PLAN, *burst, *server)


async def watch(
    target: Target,
    ns: argparse.Namespace,
    emit: Callable[[object], None] | None,
    extras: WatchExtras | None = None,
) -> int:
    from probes.run.runner import Run

    extras = extras or WatchExtras()
    config = live_config(
        ProbeConfig(timeout=ns.timeout, burst=ns.connections), LivePace(ns.interval, ns.window)
    )
    config = extras.configure(config, ns.interval)
    plan = watch_plan(ns, extras)
    run = Run(target, ns.symptom, config, plan=plan, live=LiveControl(), on_event=emit)
    looks = ServerLooks()
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
    so_far = SoFar()
    kinds: list[str] = []  # connection outcomes in first-seen order: stable columns
    rates: dict[str, float] = {}  # the last interval's connection outcomes
    try:
        while not task.done():
            await asyncio.sleep(max(0.05, ns.interval))
            n += 1
            seen, changes[:] = list(changes), []
            now = tick(
                n,
                time.monotonic() - started,
                run.results,
                seen,
                hops,
                run.diagnosis.verdict,
                so_far,
            )
            hops = now.hops or hops
            look = looks.fresh(run.results)
            if look is not None:
                now.server = server_entry(look)
            _keep_order(now, kinds)
            if now.connections.get("rates"):
                rates = now.connections["rates"]
            if burst_told:
                now.burst_line = ""
            burst_told = burst_told or bool(now.burst_line)
            window_loss = now.totals.get("window_loss_pct")
            if window_loss is not None:
                worst_loss = max(worst_loss, window_loss)
            now.crossed = crossed(now, ns.max_loss, ns.max_rtt)
            print(json.dumps(now.document()) if ns.json else now.line(), flush=True)
            if getattr(ns, "openmetrics", None):
                _publish(ns.openmetrics, run)
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
    seen_rates = ", ".join(f"{k} {v:g}%" for k, v in rates.items())
    watched = target.host_port
    if extras.service is not None:  # the name the person gave, then where it points
        watched = f"@{extras.service.service.name} ({watched})"
    summary = (
        f"watched {watched} for {n} intervals; worst window loss {worst_loss:g}%; "
        + (f"connections {seen_rates}; " if seen_rates else "")
        + f"verdict {run.diagnosis.verdict}"
    )
    if ns.json:
        last = {"schema": SCHEMA, "summary": summary, "intervals": n, "connections": rates}
        print(json.dumps(last), flush=True)
    else:
        print(summary, flush=True)
    # The answer is out: a probe slow to unwind must not hold the exit (run_watch leaves
    # it behind rather than wait).
    await asyncio.wait({task}, timeout=TEARDOWN_S)
    if task.done() and not task.cancelled():
        with contextlib.suppress(BaseException):
            task.result()
    return 1 if crossed_any else 0


def crossed(now: Tick, max_loss: float | None, max_rtt: float | None) -> list[str]:
    """The thresholds this interval crosses: loss over the rolling window (one interval
    holds one ping: 0 or 100%), RTT as this interval's average."""
    out = []
    loss, sent = now.totals.get("window_loss_pct"), now.totals.get("window", 0)
    if max_loss is not None and loss is not None and loss > max_loss:
        out.append(f"loss {loss:g}% over the last {sent} pings > {max_loss:g}%")
    avg = now.rtt_ms.get("avg")
    if max_rtt is not None and avg is not None and avg > max_rtt:
        out.append(f"rtt {avg:.1f} ms > {max_rtt:g} ms")
    return out


def _metrics_file(text: str) -> str:
    from probes.record.safefile import OutputError
    from probes.record.textfile import check_textfile_path

    try:
        check_textfile_path(text)
    except OutputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _publish(path: str, run: Run) -> None:
    """The run's metrics as they stand, replacing *path* whole (OpenMetrics)."""
    from probes.record.exposition import render
    from probes.record.metrics import check_families
    from probes.record.safefile import OutputError
    from probes.record.textfile import replace_atomically

    text = render(check_families(run.results, run.diagnosis, None), openmetrics=True)
    try:
        replace_atomically(path, text.encode("utf-8"))
    except OutputError as exc:
        print(f"netmedic: warning: --openmetrics: {exc}", file=sys.stderr, flush=True)


def _keep_order(now: Tick, kinds: list[str]) -> None:
    """The connection outcomes in the order they were first seen (ok, reset, ...), so a
    rate stays in its column when another outcome becomes more frequent."""
    rates = now.connections.get("rates")
    if not rates:
        return
    kinds.extend(k for k in rates if k not in kinds)
    now.connections["rates"] = {k: rates.get(k, 0.0) for k in kinds}


def run_watch(target: Target, ns: argparse.Namespace, extras: WatchExtras | None = None) -> int:
    """The `watch` command: journaled like any session; Ctrl-C ends with a summary."""

    extras = extras or WatchExtras()
    journal = journal_or_warn(target, ns.symptom, watch_plan(ns, extras), what="watch")
    runner = asyncio.Runner()
    try:
        code = runner.run(watch(target, ns, journal.emit if journal else None, extras))
    except KeyboardInterrupt:
        code = 0
    finally:
        if journal is not None:
            journal.close()
        _close_unless_stuck(runner)
    return code


def _close_unless_stuck(runner: asyncio.Runner) -> None:
    """Close the loop unless a task still runs (a probe that ignored its cancel):
    closing would wait for it, and the person has their answer already."""
    loop = runner.get_loop()
    if all(t.done() for t in asyncio.all_tasks(loop)):
        runner.close()
    else:
        print("netmedic: warning: a probe did not stop in time; leaving it", file=sys.stderr)
