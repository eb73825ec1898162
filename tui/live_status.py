"""The live status line and the config of a live run (no Textual here).

The status line says what is running and what has answered, per streaming probe:
``ping: 1/1 answering, round 41 · trace: 3/8 hops answering, round 41``.  It says
"live" only when something answered; a paused run says so first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from probes.core.context import ProbeConfig
from probes.core.live import LiveControl
from probes.core.model import ProbeResult
from tui.args import DEFAULT_PACE, LivePace


def live_config(config: ProbeConfig, pace: LivePace = DEFAULT_PACE) -> ProbeConfig:
    """*config* for a live run: ping, trace and the connection sampler run until
    cancelled, one round per ``pace.interval``, their findings read the last
    ``pace.window`` rounds, trace hops get their names, and a local target's sockets
    are looked at again every few seconds."""
    interval = pace.interval
    return dataclasses.replace(
        config,
        live_window=pace.window,
        ping_interval=interval,
        ping_duration=0,
        trace_interval=interval,
        trace_duration=0,
        sample_interval=interval,
        sample_duration=0,
        local_duration=0,
        resolve_names=True,
    )


def _ping(data: object) -> str:
    hosts = getattr(data, "hosts", ())
    answering = sum(1 for h in hosts if h.recent and h.recent[-1].rtt_s is not None)
    rounds = max((h.stats.sent for h in hosts), default=0)
    return f"ping: {answering}/{len(hosts)} answering, round {rounds}"


def _trace(data: object) -> str:
    hops = getattr(data, "hops", ())
    answering = sum(1 for h in hops if h.received)
    reached = " (reached)" if getattr(data, "reached", False) else ""  # the panel says more
    rounds = getattr(data, "rounds", 0)
    return f"trace: {answering}/{len(hops)} hops answering, round {rounds}{reached}"


def _sampler(data: object) -> str:
    summary = getattr(data, "status_line", None)
    return str(summary()) if callable(summary) else ""


DESCRIBE = {"ping": _ping, "trace": _trace, "connections": _sampler}


def live_status(
    results: Mapping[str, ProbeResult], live: LiveControl | None, finished: bool
) -> str:
    """One line for the streaming probes of the run ("" when there are none)."""
    parts = []
    answered = False
    for name, describe in DESCRIBE.items():
        result = results.get(name)
        if result is None or result.data is None or isinstance(result.data, dict):
            continue
        text = describe(result.data)
        if not text:
            continue
        parts.append(text)
        answered = answered or " 0/" not in f" {text.split(': ', 1)[-1]}"
    if not parts or finished:  # a finished run's banner says it all
        return ""
    if live is not None and live.paused:
        state = "⏸ paused (p resumes)"
    elif answered:
        state = "● live"
    else:
        state = "○ waiting for answers"
    return " · ".join([state, *parts])
