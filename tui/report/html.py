"""HTML report: one self-contained file that works offline and prints well.

Inline CSS only, no scripts, no external resources (a Content-Security-Policy
forbids loading any); every value is escaped with :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from tui.report.document import RECORDED_COMMANDS, limited_note, unread_note, utc_offset

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --soft:#f6f8fa;
  --error:#cf222e; --warning:#bc4c00; --info:#0969da; --ok:#1a7f37; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; max-width: 980px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid var(--line); padding-bottom: .2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.1em 0 .4em; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--soft); padding: .1em .3em; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--soft); padding: 8px 12px; border-radius: 6px; overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0 .6em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: var(--soft); font-weight: 600; }
table.meta th { width: 11em; }
.verdict { border-left: 6px solid var(--muted); background: var(--soft); padding: 10px 14px;
  border-radius: 6px; margin: 1em 0; }
.sev-error { border-color: var(--error); } .sev-warning { border-color: var(--warning); }
.sev-info { border-color: var(--info); } .sev-ok { border-color: var(--ok); }
.badge { display: inline-block; font-size: .8em; font-weight: 600; padding: 0 .5em;
  border-radius: 1em; color: #fff; background: var(--muted); vertical-align: middle; }
.badge.error { background: var(--error); } .badge.warning { background: var(--warning); }
.badge.info { background: var(--info); } .badge.ok, .badge.done { background: var(--ok); }
.badge.did_not_help { background: var(--warning); } .badge.todo { background: var(--muted); }
.badge.failed { background: var(--error); } .badge.skipped { background: var(--muted); }
.finding { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 6px;
  padding: 4px 14px 8px; margin: .8em 0; break-inside: avoid; }
.finding h3 { margin-top: .5em; }
ol.steps li { margin: .3em 0; }
.muted { color: var(--muted); }
blockquote { margin: .4em 0; padding: 0 1em; color: var(--muted); border-left: 4px solid var(--line); }
.num { text-align: right; white-space: nowrap; }
footer { margin-top: 2em; font-size: .85em; color: var(--muted); }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; } .finding, tr { break-inside: avoid; }
  pre, code { background: none; border: 1px solid var(--line); }
  .badge { color: #000; background: none !important; border: 1px solid #000; }
  a { color: inherit; text-decoration: none; }
}
"""


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def _badge(kind: str, text: str | None = None) -> str:
    cls = "".join(ch for ch in kind if ch.isalnum() or ch == "_")
    return f'<span class="badge {cls}">{e(text or kind.replace("_", " "))}</span>'


def render_html(doc: dict[str, Any]) -> str:
    target, ctx, session, verdict = doc["target"], doc["context"], doc["session"], doc["verdict"]
    o: list[str] = []
    add = o.append
    title = f"netmedic report: {target['input'] or target['host']}"
    add("<!DOCTYPE html>")
    add('<html lang="en">')
    add("<head>")
    add('<meta charset="utf-8">')
    add(
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{e(title)}</title>")
    add(f"<style>{CSS}</style>")
    add("</head>")
    add("<body>")
    add(f"<h1>netmedic report: <code>{e(target['input'] or target['host'])}</code></h1>")

    sev = verdict["severity"] if verdict["id"] != "ok" else "ok"
    add(f'<div class="verdict sev-{e(sev)}">')
    if verdict.get("complete", True):
        add(f"<strong>Verdict: <code>{e(verdict['id'])}</code></strong> {_badge(sev)}")
    else:
        add(f"<strong>Verdict: {e(verdict['text'])}</strong> {_badge(sev)}")
    add(f"<div>{e(verdict['title'])}</div>")
    add("</div>")

    where = f"{target['host']}:{target['port']}" if target.get("port") else target["host"]
    symptom = doc["symptom"]
    state = "closed cleanly" if session["ended"] else "not closed (interrupted or still open)"
    rows = [
        ("Target", f"<code>{e(target['input'])}</code> → <code>{e(where)}</code>"),
        ("Resolved", e(", ".join(target.get("addresses") or ()) or "—")),
        (
            "Symptom",
            f"<code>{e(symptom['id'])}</code>"
            + (f" ({e(symptom['label'])})" if symptom.get("label") else ""),
        ),
        ("Session", f"<code>{e(session['id'])}</code>, {e(session['runs'])} run(s), {e(state)}"),
        ("Started", e(session["started_at"])),
        ("Last event", e(session["last_event_at"])),
        ("Host / user", f"{e(ctx.get('host'))} / {e(ctx.get('user'))}"),
        ("Privileges", e(ctx.get("privilege_mode"))),
        ("netmedic", e(ctx.get("netmedic_version"))),
        ("Time zone", f"{e(ctx.get('timezone'))} ({e(utc_offset(ctx.get('utc_offset_s')))})"),
    ]
    add('<table class="meta">')
    for name, value in rows:
        add(f"<tr><th>{e(name)}</th><td>{value}</td></tr>")
    add("</table>")
    if session.get("interrupted_write"):
        add(
            '<p class="muted">The journal\'s last line was cut off (the session was killed '
            "mid-write); it was ignored.</p>"
        )
    if session.get("unread_bytes"):
        add(f'<p class="muted">{e(unread_note(session["unread_bytes"]))}</p>')
    if session.get("limited_runs"):
        add(f'<p class="muted">{e(limited_note(session["limited_runs"]))}</p>')

    error = doc.get("error")
    if error:
        add("<h2>Your app said</h2>")
        add(f"<blockquote><code>{e(error.get('line') or '')}</code></blockquote>")
        add(f"<p><strong>netmedic sees:</strong> {e(verdict['title'])}</p>")
        add(f"<p>The error as pasted (redacted):</p><pre>{e(error.get('text', ''))}</pre>")

    ba = doc.get("before_after")
    if ba:
        add("<h2>Before and after the retest</h2>")
        add("<table><tr><th></th><th>run</th><th>verdict</th><th>findings</th></tr>")
        for label, side in (("Before", ba["before"]), ("After", ba["after"])):
            ids = ", ".join(f"<code>{e(f['id'])}</code>" for f in side["findings"]) or "—"
            add(
                f'<tr><th>{label}</th><td class="num">{e(side["run"])}</td>'
                f"<td><code>{e(side['verdict'])}</code></td><td>{ids}</td></tr>"
            )
        add("</table>")
        if ba["resolved"]:
            add(
                "<p>Resolved: " + ", ".join(f"<code>{e(i)}</code>" for i in ba["resolved"]) + "</p>"
            )
        if ba["new"]:
            add("<p>New: " + ", ".join(f"<code>{e(i)}</code>" for i in ba["new"]) + "</p>")

    source = doc.get("findings_from")
    if source and not source["complete"]:
        add("<h2>Findings so far (partial)</h2>")
        add(f"<p>Run {e(source['run'])} did not finish: these findings are not a verdict.</p>")
    elif source and not verdict.get("complete", True):
        add(f"<h2>Findings of run {e(source['run'])} (the last run that finished)</h2>")
    else:
        add("<h2>Findings</h2>")
    if not doc["findings"]:
        add("<p>No findings.</p>" if verdict.get("complete", True) else "<p>No findings yet.</p>")
    for f in doc["findings"]:
        add(f'<section class="finding sev-{e(f["severity"])}">')
        partial = " " + _badge("partial") if f.get("partial") else ""
        add(
            f"<h3>{e(f['rank'])}. <code>{e(f['id'])}</code> {_badge(f['severity'])} "
            f"{e(f['title'])}{partial}</h3>"
        )
        if f["evidence"]:
            add("<p><strong>Evidence</strong></p><ul>")
            for line in f["evidence"]:
                add(f"<li>{e(line)}</li>")
            add("</ul>")
        if f["next_steps"]:
            add("<p><strong>Next steps</strong></p>")
            if any(step.get("command") for step in f["next_steps"]):
                add(f'<p class="muted">{e(RECORDED_COMMANDS)}</p>')
            add('<ol class="steps">')
            for step in f["next_steps"]:
                mark = "" if step["state"] == "todo" else " " + _badge(step["state"])
                add(f"<li>{e(step['text'])}{mark}")
                if step.get("command"):
                    add(f"<pre><code>$ {e(step['command'])}</code></pre>")
                add("</li>")
            add("</ol>")
        for note in f["notes"]:
            add(f"<blockquote>{e(note)}</blockquote>")
        add("</section>")

    if doc["steps_marked"] or doc["notes"]:
        add("<h2>Steps marked and notes</h2>")
        if doc["steps_marked"]:
            add("<table><tr><th>time</th><th>finding</th><th>step</th><th>marked</th></tr>")
            for m in doc["steps_marked"]:
                add(
                    f"<tr><td>{e(m['at'])}</td><td><code>{e(m['finding_id'])}</code></td>"
                    f"<td>{e(m['step_index'] + 1)}. {e(m['text'])}</td>"
                    f"<td>{_badge(m['state'])}</td></tr>"
                )
            add("</table>")
        if doc["notes"]:
            add("<ul>")
            for n in doc["notes"]:
                about = f" on <code>{e(n['finding_id'])}</code>" if n["finding_id"] else ""
                add(f"<li>{e(n['at'])}{about}: {e(n['text'])}</li>")
            add("</ul>")

    add("<h2>Timeline</h2>")
    add(
        '<table><tr><th>time</th><th class="num">since start</th><th class="num">run</th>'
        "<th>event</th></tr>"
    )
    for item in doc["timeline"]:
        add(
            f'<tr><td>{e(item["at"])}</td><td class="num">+{float(item["offset_s"]):.1f}s</td>'
            f'<td class="num">{e(item["run"])}</td>'
            f"<td><strong>{e(item['kind'])}</strong> {e(item['text'])}</td></tr>"
        )
    add("</table>")

    for run in doc["runs"]:
        title = "Probes" if len(doc["runs"]) == 1 else f"Probes, run {run['number']}"
        add(f"<h2>{e(title)}</h2>")
        if run.get("complete", run["finished"]):
            add(
                f'<p class="muted">Started {e(run["started_at"])}, finished; verdict '
                f"<code>{e(run['verdict'])}</code>.</p>"
            )
        else:
            so_far = run.get("verdict_so_far") or ""
            seen = f" (seen so far: <code>{e(so_far)}</code>)" if so_far else ""
            add(
                f'<p class="muted">Started {e(run["started_at"])}, did not finish; verdict '
                f"{e(run.get('verdict_text') or run['verdict'])}{seen}.</p>"
            )
        for p in run["probes"]:
            took = f"{float(p['duration_s'] or 0) * 1000:.0f} ms"
            if not p.get("final", True):
                took += ", partial: interrupted"
            add(
                f'<h3>{e(p["title"])} {_badge(p["status"])} <span class="muted">{e(took)}</span></h3>'
            )
            add(f"<p>{e(p['summary'])}</p>")
            err = p.get("error")
            if isinstance(err, dict) and err.get("errno_name"):
                who = f" (from {e(err.get('answered_by'))})" if err.get("answered_by") else ""
                add(
                    f"<p>Error: <code>{e(err['errno_name'])}</code> "
                    f"{e(err.get('explanation', ''))}{who}</p>"
                )
            if p["facts"]:
                add("<table>")
                for label, value in p["facts"]:
                    add(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>")
                add("</table>")

    story = doc.get("finding_story") or []
    if story:
        add("<h2>Findings raised and cleared</h2><ul>")
        for m in story:
            change = "raised (from the start)" if m.get("first") else m["change"]
            add(
                f"<li>{e(m['at'])} (run {e(m['run'])}): <code>{e(m['finding_id'])}</code> "
                f"{e(change)}: {e(m['title'])}</li>"
            )
        add("</ul>")
    if doc["verdict_changes"]:
        add("<h2>Verdict history</h2><ul>")
        for c in doc["verdict_changes"]:
            before = f"<code>{e(c['from'])}</code>" if c["from"] else "(none)"
            add(f"<li>{e(c['at'])} (run {e(c['run'])}): {before} → <code>{e(c['to'])}</code></li>")
        add("</ul>")
    add(
        f"<footer>netmedic {e(ctx.get('netmedic_version'))} · report schema "
        f"{e(doc['schema'])}/{e(doc['version'])}</footer>"
    )
    add("</body>")
    add("</html>")
    return "\n".join(o) + "\n"
