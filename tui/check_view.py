"""Human output of ``netmedic check`` with Rich: verdict, findings, probe details.

Every string that may carry remote text goes into a :class:`rich.text.Text`
(never parsed as markup), so a certificate name or banner cannot style or
escape the terminal.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from probes.core.model import Finding, ProbeResult, Severity, Status
from probes.run.runner import Run
from probes.triage.pasted import PastedError, said_line

SEVERITY_STYLE = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "cyan",
    Severity.OK: "green",
}
STATUS_STYLE = {
    Status.OK: "green",
    Status.FAILED: "red",
    Status.SKIPPED: "dim",
    Status.ERROR: "magenta",
}


def sees(run: Run) -> str:
    """What netmedic sees, in the words of the verdict (for "your app said ...")."""
    diagnosis = run.diagnosis
    verdict = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
    if verdict is not None:
        return verdict.title
    if diagnosis.verdict == "ok":
        return "no problem found: every probe passed"
    return f"{diagnosis.verdict}: the run was cut short, the verdict so far is not an answer"


def said(error: PastedError, run: Run) -> str:
    return said_line(error, sees(run))


def print_check(
    run: Run,
    privileged: bool,
    duration_s: float,
    console: Console | None = None,
    error: PastedError | None = None,
) -> None:
    """``check --verbose``: every finding with its evidence and steps, the probe table
    and what the evidence changed in the plan."""
    console = console or Console(highlight=False, soft_wrap=False)
    print_head(run, privileged, duration_s, console, error)
    verdict = print_verdict(run, console)
    others = [f for f in run.diagnosis.findings if f is not verdict]
    if others:
        console.print(Text("Other findings", style="bold"))
        for finding in others:
            console.print(_finding_panel(finding))
    console.print(_probe_table(run))
    why = _plan_changes(run)
    if why.plain:
        console.print(why)


def print_head(
    run: Run,
    privileged: bool,
    duration_s: float,
    console: Console,
    error: PastedError | None = None,
) -> None:
    """The target, what it resolved to, the symptom and how long the probes took."""
    target = run.target
    head = Text()
    head.append("Target  ", style="bold")
    head.append(f"{target.input}  →  {target.host_port}")
    if target.host_unicode and target.host_unicode != target.host:
        head.append(f"  ({target.host_unicode})")
    if run.addresses and not target.is_ip:
        head.append(f"\nResolved {', '.join(run.addresses)}")
    head.append(f"\nSymptom {run.symptom}   probes {duration_s:.2f}s   ")
    head.append("privileged" if privileged else "unprivileged", style="dim")
    console.print(head)
    if error is not None:
        console.print(_said_text(error, sees(run)))


def print_verdict(run: Run, console: Console) -> Finding | None:
    """The verdict panel (its evidence and steps); returns the verdict's finding."""
    diagnosis = run.diagnosis
    verdict = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
    if verdict is None and diagnosis.verdict == "incomplete":
        done = sum(1 for r in run.results.values() if r.final)
        planned = len(dict.fromkeys([*run.probe_names, *run.results]))
        console.print(
            Panel(
                Text(
                    "The run was cut short: the verdict so far is not an answer. "
                    "The findings below are partial.",
                    style="bold yellow",
                ),
                title=f"Verdict: incomplete ({done} of {planned} probes finished)",
                border_style="yellow",
            )
        )
    elif verdict is None and diagnosis.verdict != "ok":
        console.print(Panel(Text(diagnosis.verdict), title=f"Verdict: {diagnosis.verdict}"))
    elif verdict is None:
        console.print(
            Panel(
                Text("No problem found: every probe passed.", style="bold green"),
                title="Verdict: ok",
                border_style="green",
            )
        )
    else:
        console.print(_finding_panel(verdict, title=f"Verdict: {verdict.id}"))
    return verdict


def _plan_changes(run: Run) -> Text:
    """What the evidence changed in the plan: probes it added, probes it made moot."""
    text = Text()
    for step in run.follow_ups:
        text.append("+ ", style="bold cyan")
        text.append(f"{step.probe}", style="bold")
        text.append(f" after {step.at_s:.2f}s: {step.reason}\n")
    for name, reason in run.cut_short.items():
        text.append("- ", style="bold dim")
        text.append(name, style="bold")
        text.append(f" cut short: {reason}\n", style="dim")
    text.rstrip()
    return text


def _said_text(error: PastedError, seen: str) -> Text:
    """``your app said: ...; netmedic sees: ...`` with the two voices told apart."""
    text = Text()
    text.append("your app said: ", style="bold")
    text.append(error.said, style="yellow")
    text.append("; netmedic sees: ", style="bold")
    text.append(seen)
    return text


def _finding_panel(finding: Finding, title: str | None = None) -> Panel:
    style = SEVERITY_STYLE[finding.severity]
    parts: list[RenderableType] = [Text(finding.title, style=style)]
    if finding.evidence:
        parts.append(Text("Evidence", style="bold"))
        parts.append(_hanging([("•", Text(line)) for line in finding.evidence]))
    if finding.next_steps:
        parts.append(Text("Next steps", style="bold"))
        rows: list[tuple[str, Text]] = []
        for i, step in enumerate(finding.next_steps, 1):
            body = Text(step.text)
            if step.command:
                body.append("\n$ " + step.command, style="cyan")
            rows.append((f"{i}.", body))
        parts.append(_hanging(rows))
    return Panel(
        Group(*parts),
        title=Text(title or f"{finding.id} ({finding.severity.value})"),
        title_align="left",
        border_style=style.replace("bold ", ""),
    )


def _hanging(rows: list[tuple[str, Text]]) -> Table:
    """A list whose wrapped lines hang under their text, not under the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=2, justify="right")
    grid.add_column(overflow="fold")
    for marker, body in rows:
        grid.add_row(marker, body)
    return grid


def _probe_table(run: Run) -> Table:
    table = Table(title="Probes", title_justify="left", expand=False, show_lines=False)
    table.add_column("probe")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("result", overflow="fold")
    for name in run.probe_names:
        result: ProbeResult | None = run.results.get(name)
        if result is None:
            table.add_row(name, Text("not run", style="dim"), "", "")
            continue
        table.add_row(
            Text(name),
            Text(result.status.value, style=STATUS_STYLE[result.status]),
            f"{result.duration_s * 1000:.0f} ms",
            Text(result.summary),
        )
    return table
