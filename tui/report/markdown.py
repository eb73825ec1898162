"""Markdown report: renders well on GitHub/GitLab and pasted into a ticket.

Every value comes from the report document and is escaped here: remote text
cannot open a link, an HTML tag, a table cell or a code block.
"""

from __future__ import annotations

import re
from typing import Any

from tui.report.document import RECORDED_COMMANDS, limited_note, unread_note, utc_offset

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_SEVERITY_MARK = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info", "ok": "🟢 ok"}
_STATE_BOX = {"done": "[x]", "did_not_help": "[x]", "todo": "[ ]"}


def esc(text: Any) -> str:
    """Inline Markdown text: one line, no markup, no HTML."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    # Callers never put escaped text at column 0, so "1." or "-" cannot start a list.
    return s


def code(text: Any, cell: bool = False) -> str:
    """An inline code span that no backtick in *text* can close.

    In a table *cell*, ``|`` is escaped too (GFM splits cells before code spans).
    """
    s = " ".join(str(text).split())
    if cell:
        s = s.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def code_block(text: str, lang: str = "sh") -> list[str]:
    s = " ".join(str(text).split())
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", s, fence]


def _sev(severity: str) -> str:
    return _SEVERITY_MARK.get(severity, esc(severity))


def _offset(seconds: Any) -> str:
    try:
        return f"+{float(seconds):.1f}s"
    except (TypeError, ValueError):
        return ""


def _app_said(error: dict[str, Any], verdict: dict[str, Any]) -> list[str]:
    """The error the person brought, tied to the verdict; the whole text in a fence
    that no backtick run in it can close."""
    text = str(error.get("text", ""))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [
        "## Your app said",
        "",
        f"> {esc(error.get('line') or (text.splitlines() or [''])[-1])}",
        "",
        f"**netmedic sees:** {esc(verdict['title'])}",
        "",
        "The error as pasted (redacted):",
        "",
        f"{fence}text",
        *text.splitlines(),
        fence,
        "",
    ]


def render_markdown(doc: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    target = doc["target"]
    ctx = doc["context"]
    session = doc["session"]
    verdict = doc["verdict"]

    add(f"# netmedic report: {code(target['input'] or target['host'])}")
    add("")
    if verdict["id"] == "ok":
        add(f"**Verdict: ok** — {esc(verdict['title'])}")
    elif not verdict.get("complete", True):
        add(f"**Verdict: {esc(verdict['text'])}** ({_sev('warning')}) — {esc(verdict['title'])}")
    else:
        add(
            f"**Verdict: {code(verdict['id'])}** ({_sev(verdict['severity'])}) — {esc(verdict['title'])}"
        )
    add("")
    add("| | |")
    add("|---|---|")
    where = f"{target['host']}:{target['port']}" if target.get("port") else target["host"]
    addresses = ", ".join(target.get("addresses") or ()) or "—"
    symptom = doc["symptom"]
    label = f" ({esc(symptom['label'])})" if symptom.get("label") else ""
    state = "closed cleanly" if session["ended"] else "not closed (interrupted or still open)"
    rows = [
        ("Target", f"{code(target['input'], True)} → {code(where, True)}"),
        ("Resolved", esc(addresses)),
        ("Symptom", f"{code(symptom['id'], True)}{label}"),
        ("Session", f"{code(session['id'], True)}, {session['runs']} run(s), {state}"),
        ("Started", esc(session["started_at"])),
        ("Last event", esc(session["last_event_at"])),
        ("Host / user", f"{esc(ctx.get('host'))} / {esc(ctx.get('user'))}"),
        ("Privileges", esc(ctx.get("privilege_mode"))),
        ("netmedic", esc(ctx.get("netmedic_version"))),
        ("Time zone", f"{esc(ctx.get('timezone'))} ({utc_offset(ctx.get('utc_offset_s'))})"),
    ]
    for name, value in rows:
        add(f"| **{name}** | {value} |")
    if session.get("interrupted_write"):
        add("")
        add(
            "> The journal's last line was cut off (the session was killed mid-write); it was ignored."
        )
    if session.get("unread_bytes"):
        add("")
        add(f"> {unread_note(session['unread_bytes'])}")
    if session.get("limited_runs"):
        add("")
        add(f"> {limited_note(session['limited_runs'])}")
    add("")

    if doc.get("error"):
        out.extend(_app_said(doc["error"], verdict))

    ba = doc.get("before_after")
    if ba:
        add("## Before and after the retest")
        add("")
        before, after = ba["before"], ba["after"]
        add(f"- **Before** (run {before['run']}): verdict {code(before['verdict'])}")
        add(f"- **After** (run {after['run']}): verdict {code(after['verdict'])}")
        if ba["resolved"]:
            add(f"- Resolved: {', '.join(code(i) for i in ba['resolved'])}")
        if ba["new"]:
            add(f"- New: {', '.join(code(i) for i in ba['new'])}")
        add("")

    source = doc.get("findings_from")
    if source and not source["complete"]:
        add("## Findings so far (partial)")
        add("")
        add(f"Run {source['run']} did not finish: these findings are not a verdict.")
        add("")
    elif source and not verdict.get("complete", True):
        add(f"## Findings of run {source['run']} (the last run that finished)")
        add("")
    else:
        add("## Findings")
        add("")
    if not doc["findings"]:
        add("No findings." if verdict.get("complete", True) else "No findings yet.")
        add("")
    for f in doc["findings"]:
        partial = " (partial)" if f.get("partial") else ""
        add(f"### {f['rank']}. {code(f['id'])} — {esc(f['title'])}{partial}")
        add("")
        add(f"Severity: {_sev(f['severity'])}")
        add("")
        if f["evidence"]:
            add("**Evidence**")
            add("")
            for line in f["evidence"]:
                add(f"- {esc(line)}")
            add("")
        if f["next_steps"]:
            add("**Next steps**")
            add("")
            if any(step.get("command") for step in f["next_steps"]):
                add(f"_{RECORDED_COMMANDS}_")
                add("")
            for step in f["next_steps"]:
                box = _STATE_BOX.get(step["state"], "[ ]")
                text = esc(step["text"])
                if step["state"] == "did_not_help":
                    text = f"~~{text}~~ (did not help)"
                add(f"- {box} {step['index'] + 1}. {text}")
                if step.get("command"):
                    add("")
                    out.extend("  " + line for line in code_block(step["command"]))
            add("")
        if f["notes"]:
            add("**Notes**")
            add("")
            for note in f["notes"]:
                add(f"> {esc(note)}")
                add(">")
            out.pop()
            add("")

    session_notes = [n for n in doc["notes"] if not n["finding_id"]]
    if doc["steps_marked"] or doc["notes"]:
        add("## Steps marked and notes")
        add("")
        if doc["steps_marked"]:
            add("| time | finding | step | marked |")
            add("|---|---|---|---|")
            for m in doc["steps_marked"]:
                add(
                    f"| {esc(m['at'])} | {code(m['finding_id'], True)} | {m['step_index'] + 1}. "
                    f"{esc(m['text'])} | {esc(m['state'].replace('_', ' '))} |"
                )
            add("")
        for n in session_notes:
            add(f"- {esc(n['at'])}: {esc(n['text'])}")
        if session_notes:
            add("")
        for n in doc["notes"]:
            if n["finding_id"]:
                add(f"- {esc(n['at'])} on {code(n['finding_id'])}: {esc(n['text'])}")
        if len(session_notes) != len(doc["notes"]):
            add("")

    add("## Timeline")
    add("")
    add("| time | since start | run | event |")
    add("|---|---:|---:|---|")
    for item in doc["timeline"]:
        add(
            f"| {esc(item['at'])} | {_offset(item['offset_s'])} | {item['run']} | "
            f"**{esc(item['kind'])}** {esc(item['text'])} |"
        )
    add("")

    for run in doc["runs"]:
        title = "Probes" if len(doc["runs"]) == 1 else f"Probes, run {run['number']}"
        add(f"## {title}")
        add("")
        if run.get("complete", run["finished"]):
            add(f"Started {esc(run['started_at'])}, finished; verdict {code(run['verdict'])}.")
        else:
            so_far = run.get("verdict_so_far") or ""
            seen = f" (seen so far: {code(so_far)})" if so_far else ""
            add(
                f"Started {esc(run['started_at'])}, did not finish; verdict "
                f"{esc(run.get('verdict_text') or run['verdict'])}{seen}."
            )
        add("")
        for p in run["probes"]:
            took = f"{float(p['duration_s'] or 0) * 1000:.0f} ms"
            partial = "" if p.get("final", True) else ", partial: interrupted"
            add(f"### {esc(p['title'])} — {esc(p['status'])} ({took}{partial})")
            add("")
            add(f"Result: {esc(p['summary']) or '—'}")
            add("")
            err = p.get("error")
            if isinstance(err, dict) and err.get("errno_name"):
                who = f" (from {esc(err.get('answered_by'))})" if err.get("answered_by") else ""
                add(f"Error: {code(err['errno_name'])} {esc(err.get('explanation', ''))}{who}")
                add("")
            if p["facts"]:
                add("| | |")
                add("|---|---|")
                for label, value in p["facts"]:
                    add(f"| {esc(label)} | {esc(value)} |")
                add("")

    story = doc.get("finding_story") or []
    if story:
        add("## Findings raised and cleared")
        add("")
        for m in story:
            change = "raised (from the start)" if m.get("first") else m["change"]
            add(
                f"- {esc(m['at'])} ({_offset(m['offset_s'])}, run {m['run']}): "
                f"{code(m['finding_id'])} {esc(change)}: {esc(m['title'])}"
            )
        add("")
    if doc["verdict_changes"]:
        add("## Verdict history")
        add("")
        for c in doc["verdict_changes"]:
            before = code(c["from"]) if c["from"] else "(none)"
            add(f"- {esc(c['at'])} (run {c['run']}): {before} → {code(c['to'])}")
        add("")
    add(
        f"<sub>netmedic {esc(ctx.get('netmedic_version'))} · report schema "
        f"{esc(doc['schema'])}/{doc['version']}</sub>"
    )
    return "\n".join(out).rstrip("\n") + "\n"
