"""The report document: one plain-JSON description of a session that every
report format renders (the JSON report *is* this document).

Schema ``netmedic.report`` version 1 (``"schema"`` and ``"version"`` fields).
Times are ISO 8601 in UTC (``"at"``) plus seconds since the session started
(``"offset_s"``).  Fields are only ever added within a version::

    {
      "schema": "netmedic.report", "version": 1,
      "session":  {"id", "started_at", "last_event_at", "runs", "ended", "interrupted_write",
                   "unread_bytes" (the middle of an oversized journal),
                   "limited_runs" (runs whose journal reached its bound)},
      "context":  {"host", "user", "privileged", "privilege_mode", "netmedic_version",
                   "timezone", "utc_offset_s"},
      "target":   {"input", "host", "host_unicode", "port", "scheme", "path", "addresses": [..]},
      "symptom":  {"id", "label"},
      "verdict":  {"id", "text", "severity", "title", "complete",
                   # when the last run was cut short: id "incomplete", text
                   # "incomplete (N of M probes finished)", and:
                   "so_far", "probes_finished", "probes_planned"},
                                                          # id "ok" when nothing is wrong
      "findings_from": null | {"run", "complete"},       # the run the findings come from
      "findings": [{"id", "severity", "title", "rank", "partial", "evidence": [str],
                    "next_steps": [{"index", "text", "command" | null,
                                    "state": "todo" | "done" | "did_not_help"}],
                    "notes": [str]}],                      # of the last run
      "steps_marked": [{"at", "offset_s", "finding_id", "step_index", "text", "state"}],
      "notes":    [{"at", "offset_s", "finding_id", "text"}],   # finding_id "" = session
      "runs":     [{"number", "started_at", "duration_s" | null, "finished", "stopped", "complete",
                    "verdict", "verdict_text", "verdict_so_far", "probes_finished",
                    "probes_planned",
                    "probes": [{"probe", "title", "status", "duration_s", "summary",
                                "error": {"errno_name", "explanation", "answered_by",
                                          "elapsed_s"} | null,
                                "facts": [[label, value]], "data": {...probe-specific}}]}],
      "timeline": [{"at", "offset_s", "run", "kind", "text"}],
                    # kind: start | probe | verdict | retest | step | note | finished
                    #       | incomplete | end
      "verdict_changes": [{"at", "offset_s", "run", "from", "to"}],
      "finding_story": [{"at", "offset_s", "run", "change", "finding_id", "severity",
                         "title", "first"}],   # a live run: findings raised and cleared
                    # (change raised | cleared; first: raised by the run's first
                    # diagnosis), from the journal's finding events
      "error": {"text", "line", "symptom", "said"},   # only when the person pasted the
                    # app's error: redacted text, its telling line, and "your app said:
                    # <line>; netmedic sees: <verdict title>"
      "before_after": null | {"before": {"run", "verdict", "findings": [{"id","severity","title"}]},
                             "after": {...same...}, "resolved": [id], "new": [id]}
                    # compares finished runs only: a run cut short resolves nothing
    }

Everything in it comes from the journal, which holds redacted data only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from probes.core.sanitize import clean_tree
from probes.record.session import INCOMPLETE, RunRecord, Session
from probes.run.plans import PROBES, SYMPTOMS
from probes.triage.pasted import said_line
from tui.report.facts import ms, probe_facts

SCHEMA = "netmedic.report"
VERSION = 1
_SYMPTOM_LABELS = {s.id: s.label for s in SYMPTOMS}


def utc_offset(seconds: Any) -> str:
    """``UTC+01:00`` from an offset in seconds (``UTC`` when unknown)."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return "UTC"
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"UTC{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


# A report renders a journal, a file anyone could have edited: its commands are
# shown as recorded, never vouched for as netmedic's suggestion of now.
RECORDED_COMMANDS = (
    "Commands as the session journal recorded them (netmedic did not derive them again "
    "for this report): read one before you run it."
)


def unread_note(unread_bytes: Any) -> str:
    """What a report says of an oversized journal read from both ends."""
    mib = (unread_bytes if isinstance(unread_bytes, int) else 0) / (1 << 20)
    return (
        f"The journal is larger than netmedic reads whole: its beginning and end were read, "
        f"{mib:.1f} MiB in the middle were not."
    )


def limited_note(runs: Any) -> str:
    """What a report says of runs that reached their journal bound."""
    numbers = ", ".join(str(r) for r in runs) if isinstance(runs, list) else ""
    return (
        f"Run {numbers} reached the journal's bound for one run: after it only what ends "
        "the run was recorded (its findings may have moved since)."
    )


def iso(t: float) -> str:
    try:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a forged time: no date to show
        return "?"


def build_document(session: Session) -> dict[str, Any]:
    t0 = session.started_t

    def when(t: float) -> dict[str, Any]:
        return {"at": iso(t), "offset_s": round(max(0.0, t - t0), 3)}

    header = session.header
    latest = session.latest
    diagnosed = session.findings_run
    diagnosis = diagnosed.diagnosis_json if diagnosed and diagnosed.diagnosis_json else {}
    findings_raw = list(diagnosis.get("findings") or ())
    states = session.step_states
    notes_by_finding: dict[str, list[str]] = {}
    for note in session.notes:
        notes_by_finding.setdefault(note.finding_id, []).append(note.text)

    findings = []
    for f in findings_raw:
        fid = str(f.get("id", ""))
        findings.append(
            {
                "id": fid,
                "severity": str(f.get("severity", "info")),
                "title": str(f.get("title", "")),
                "rank": int(f.get("rank", 0) or 0),
                "evidence": [str(e) for e in f.get("evidence") or ()],
                "next_steps": [
                    {
                        "index": i,
                        "text": str(s.get("text", "")),
                        "command": s.get("command") or None,
                        "state": str(states.get((fid, i), "todo")),
                    }
                    for i, s in enumerate(f.get("next_steps") or ())
                ],
                "notes": notes_by_finding.get(fid, []),
            }
        )
    partial = diagnosed is not None and not diagnosed.complete
    for finding in findings:
        finding["partial"] = partial
    verdict = _verdict(session, findings)
    steps_marked = []
    for mark in session.steps:
        steps_marked.append(
            {
                **when(mark.t),
                "finding_id": mark.finding_id,
                "step_index": mark.step_index,
                "text": _step_text(session, mark.finding_id, mark.step_index),
                "state": mark.state.value,
            }
        )
    notes = [{**when(n.t), "finding_id": n.finding_id, "text": n.text} for n in session.notes]

    plan = [str(p) for p in header.get("plan") or ()]
    runs = [_run_json(run, t0, plan) for run in session.runs]
    target = dict(session.target_json)
    doc_target = {
        "input": target.get("input", ""),
        "host": target.get("host", ""),
        "host_unicode": target.get("host_unicode", ""),
        "port": target.get("port"),
        "scheme": target.get("scheme", ""),
        "path": target.get("path", "/"),
        "addresses": _addresses(latest),
    }

    changes = [
        {**when(c.t), "run": c.run, "from": c.before, "to": c.after}
        for c in session.verdict_changes
    ]
    doc = {
        "schema": SCHEMA,
        "version": VERSION,
        "session": {
            "id": session.id,
            "started_at": iso(t0),
            "last_event_at": iso(session.last_t),
            "runs": len(session.runs),
            "ended": session.ended,
            "interrupted_write": session.torn_tail,
            "unread_bytes": session.gap_bytes,
            "limited_runs": list(session.limited_runs),
        },
        "context": {
            k: header.get(k)
            for k in (
                "host",
                "user",
                "privileged",
                "privilege_mode",
                "netmedic_version",
                "timezone",
                "utc_offset_s",
            )
        },
        "target": doc_target,
        "symptom": {"id": session.symptom, "label": _SYMPTOM_LABELS.get(session.symptom, "")},
        "verdict": verdict,
        "findings_from": {"run": diagnosed.number, "complete": diagnosed.complete}
        if diagnosed
        else None,
        "findings": findings,
        "steps_marked": steps_marked,
        "notes": notes,
        "runs": runs,
        "timeline": _timeline(session, when),
        "finding_story": [
            {
                **when(m.t),
                "run": m.run,
                "change": m.change,
                "finding_id": m.finding_id,
                "severity": m.severity,
                "title": m.title,
                "first": m.first,
            }
            for m in session.finding_moves
        ],
        "verdict_changes": changes,
        "before_after": _before_after(session),
    }
    error = session.pasted_error
    if error is not None:
        doc["error"] = {**error.to_json(), "said": said_line(error, verdict["title"])}
    # The journal may come from anyone (a bundle sent by a colleague, a shared state
    # dir): every format renders this document, so nothing unsafe gets past here.
    cleaned: dict[str, Any] = clean_tree(doc)
    return cleaned


def _verdict(session: Session, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The session's verdict: the last run's, or ``incomplete`` when it was cut short."""
    latest = session.latest
    if latest is not None and latest.complete:
        found = next((f for f in findings if f["id"] == latest.verdict), None)
        if found is not None:
            title = found["title"]
        elif latest.verdict == "ok":
            title = "No problem found: every probe passed."
        else:
            title = f"Verdict {latest.verdict}."
        return {
            "id": latest.verdict,
            "text": latest.verdict,
            "severity": found["severity"] if found else "ok" if latest.verdict == "ok" else "info",
            "title": title,
            "complete": True,
        }
    so_far = latest.verdict_so_far if latest else ""
    finished = latest.probes_finished if latest else 0
    planned = latest.probes_planned if latest else len(session.plan)
    number = latest.number if latest else 1
    title = (
        f"Run {number} was cut short: {finished} of {planned} probes finished, "
        "so the verdict so far is not an answer. Run the check again (or retest) to finish it."
    )
    if so_far and so_far not in ("ok", INCOMPLETE):
        title += f" Seen so far: {so_far}."
    return {
        "id": INCOMPLETE,
        "text": session.verdict_text,
        "severity": "warning",
        "title": title,
        "complete": False,
        "so_far": so_far,
        "probes_finished": finished,
        "probes_planned": planned,
    }


def _step_text(session: Session, finding_id: str, index: int) -> str:
    for run in reversed(session.runs):
        for f in (run.diagnosis_json or {}).get("findings") or ():
            if f.get("id") == finding_id:
                steps = f.get("next_steps") or ()
                if 0 <= index < len(steps):
                    return str(steps[index].get("text", ""))
    return f"step {index + 1}"


def _addresses(run: RunRecord | None) -> list[str]:
    if run is None:
        return []
    dns = _dict(_dict(run.results.get("dns")).get("data"))
    found = _dict(dns.get("system")).get("addresses")
    if isinstance(found, list) and found:
        return [str(a) for a in found]
    for probe, key in (("tcp", "attempts"), ("route", "routes")):
        items = _dict(_dict(run.results.get(probe)).get("data")).get(key)
        if not isinstance(items, list):
            continue
        seen = [str(i.get("address")) for i in items if isinstance(i, dict) and i.get("address")]
        if seen:
            return list(dict.fromkeys(seen))
    return []


def _dict(value: Any) -> dict[str, Any]:
    """A journal's value where a record is expected: anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def _run_json(run: RunRecord, t0: float, plan: list[str]) -> dict[str, Any]:
    order = [name for name in plan if name in run.results]
    order += [str(r.get("probe")) for _, r in run.arrivals]
    order += [name for name in run.results if name not in order]
    probes = []
    for name in dict.fromkeys(order):
        raw = run.results.get(str(name))
        if raw is None:
            continue
        probe = str(raw.get("probe", name))
        spec = PROBES.get(probe)
        data = raw.get("data")
        probes.append(
            {
                "probe": probe,
                "title": spec.title if spec else probe,
                "status": str(raw.get("status", "")),
                "duration_s": raw.get("duration_s"),
                "summary": str(raw.get("summary", "")),
                "final": bool(raw.get("final", True)),
                "error": raw.get("error"),
                "facts": [list(row) for row in _facts(probe, data)],
                "data": data if isinstance(data, dict) else {},
            }
        )
    return {
        "number": run.number,
        "started_at": iso(run.started_t),
        "offset_s": round(max(0.0, run.started_t - t0), 3),
        "duration_s": run.duration_s,
        "finished": run.finished,
        "stopped": run.stopped,
        "complete": run.complete,
        "verdict": run.verdict,
        "verdict_text": run.verdict_text,
        "verdict_so_far": run.verdict_so_far,
        "probes_finished": run.probes_finished,
        "probes_planned": run.probes_planned,
        "probes": probes,
    }


def _facts(probe: str, data: Any) -> list[tuple[str, str]]:
    try:
        return probe_facts(probe, data)
    except (RecursionError, ArithmeticError, LookupError, TypeError, ValueError):
        return []  # data no netmedic wrote: the report shows the rest


def _timeline(session: Session, when: Any) -> list[dict[str, Any]]:
    items: list[tuple[float, int, dict[str, Any]]] = []
    order = 0

    def add(t: float, run: int, kind: str, text: str) -> None:
        nonlocal order
        order += 1
        items.append((t, order, {**when(t), "run": run, "kind": kind, "text": text}))

    add(session.started_t, 1, "start", f"session started (symptom {session.symptom})")
    for run in session.runs:
        if run.number > 1:
            add(run.started_t, run.number, "retest", f"retest: run {run.number} started")
        for t, raw in run.arrivals:
            status = raw.get("status", "")
            summary = raw.get("summary", "")
            took = ms(raw.get("duration_s"))
            add(t, run.number, "probe", f"{raw.get('probe')} {status} in {took}: {summary}")
    for change in session.verdict_changes:
        before = change.before or "(none)"
        add(change.t, change.run, "verdict", f"verdict {before} → {change.after}")
    for mark in session.steps:
        text = _step_text(session, mark.finding_id, mark.step_index)
        add(
            mark.t,
            _run_at(session, mark.t),
            "step",
            f"{mark.finding_id} step {mark.step_index + 1} marked {mark.state.value}: {text}",
        )
    for note in session.notes:
        about = f" on {note.finding_id}" if note.finding_id else ""
        add(note.t, _run_at(session, note.t), "note", f"note{about}: {note.text}")
    for run in session.runs:
        if not run.complete:
            last = max([run.started_t, *(t for t, _ in run.arrivals)])
            add(last, run.number, "incomplete", f"run {run.number} cut short: {run.verdict_text}")
        elif run.dropped_with_answer:
            add(run.last_t, run.number, "finished", f"run {run.number} live: {run.verdict_text}")
        elif run.duration_s is not None:
            end_t = max([t for t, _ in run.arrivals] or [run.started_t])
            how = "live, stopped after" if run.stopped else "finished in"
            add(
                end_t,
                run.number,
                "finished",
                f"run {run.number} {how} {ms(run.duration_s)}: verdict {run.verdict}",
            )
    if session.ended:
        add(session.last_t, session.runs[-1].number if session.runs else 1, "end", "session closed")
    items.sort(key=lambda x: (x[0], x[1]))
    return [item for _, _, item in items]


def _run_at(session: Session, t: float) -> int:
    number = 1
    for run in session.runs:
        if run.started_t <= t:
            number = run.number
    return number


def _before_after(session: Session) -> dict[str, Any] | None:
    finished = [r for r in session.runs if r.complete]  # a run cut short proves nothing
    if len(finished) < 2:
        return None
    first, last = finished[0], finished[-1]
    if first.verdict == last.verdict:
        return None

    def side(run: RunRecord) -> dict[str, Any]:
        return {
            "run": run.number,
            "verdict": run.verdict,
            "findings": [
                {"id": f.get("id"), "severity": f.get("severity"), "title": f.get("title")}
                for f in (run.diagnosis_json or {}).get("findings") or ()
            ],
        }

    before_ids = {f.get("id") for f in (first.diagnosis_json or {}).get("findings") or ()}
    after_ids = {f.get("id") for f in (last.diagnosis_json or {}).get("findings") or ()}
    return {
        "before": side(first),
        "after": side(last),
        "resolved": sorted(str(i) for i in before_ids - after_ids),
        "new": sorted(str(i) for i in after_ids - before_ids),
    }
