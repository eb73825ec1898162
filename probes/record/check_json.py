"""The ``netmedic.check/1`` JSON document (DESIGN.md's command-line contract)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from probes.core.model import ProbeResult, to_jsonable
from probes.run.runner import Run

SCHEMA = "netmedic.check/1"


def check_document(run: Run, privileged: bool, duration_s: float) -> dict[str, Any]:
    target = run.target
    addresses = list(run.addresses)
    return {
        "schema": SCHEMA,
        "target": {
            "input": target.input,
            "host": target.host,
            "host_unicode": target.host_unicode,
            "port": target.port,
            "scheme": target.scheme,
            "path": target.shown_path,
            "addresses": addresses,
        },
        "symptom": run.symptom,
        "privileged": privileged,
        "started_at": dt.datetime.fromtimestamp(run.started_at, dt.UTC).isoformat(),
        "duration_s": round(duration_s, 6),
        "probes": [
            _probe_json(run.results[name]) for name in run.probe_names if name in run.results
        ],
        "findings": [to_jsonable(f) for f in run.diagnosis.findings],
        "verdict": run.diagnosis.verdict,
        # Why each probe ran: the first plan, then what the evidence asked for.
        "plan": [{"probe": s.probe, "reason": s.reason} for s in run.steps if not s.trigger],
        "followups": [
            {"probe": s.probe, "reason": s.reason, "trigger": s.trigger, "after_s": s.at_s}
            for s in run.follow_ups
        ],
        "cut_short": [{"probe": name, "reason": why} for name, why in run.cut_short.items()],
    }


def _probe_json(result: ProbeResult) -> dict[str, Any]:
    return {
        "probe": result.probe,
        "status": result.status.value,
        "duration_s": round(result.duration_s, 6),
        "summary": result.summary,
        "error": to_jsonable(result.error),
        "data": to_jsonable(result.data) if result.data is not None else {},
    }
