"""Human output of ``netmedic check`` with Rich: verdict, findings, probe details.

Every string that may carry remote text goes into a :class:`rich.text.Text`
(never parsed as markup), so a certificate name or banner cannot style or
escape the terminal.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from probes.model import Finding, ProbeResult, Severity, Status
from probes.runner import Run

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


def print_check(
    run: Run, privileged: bool, duration_s: float, console: Console | None = None
) -> None:
    console = console or Console(highlight=False, soft_wrap=False)
    diagnosis = run.diagnosis
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

    verdict = next((f for f in diagnosis.findings if f.id == diagnosis.verdict), None)
    if verdict is None:
        console.print(
            Panel(
                Text("No problem found: every probe passed.", style="bold green"),
                title="Verdict: ok",
                border_style="green",
            )
        )
    else:
        console.print(_finding_panel(verdict, title=f"Verdict: {verdict.id}"))
    others = [f for f in diagnosis.findings if f is not verdict]
    if others:
        console.print(Text("Other findings", style="bold"))
        for finding in others:
            console.print(_finding_panel(finding))
    console.print(_probe_table(run))


def _finding_panel(finding: Finding, title: str | None = None) -> Panel:
    style = SEVERITY_STYLE[finding.severity]
    parts: list[Text] = [Text(finding.title, style=style)]
    if finding.evidence:
        ev = Text("\nEvidence\n", style="bold")
        for line in finding.evidence:
            ev.append(f"  • {line}\n")
        parts.append(ev)
    if finding.next_steps:
        steps = Text("Next steps\n", style="bold")
        for i, step in enumerate(finding.next_steps, 1):
            steps.append(f"  {i}. {step.text}\n")
            if step.command:
                steps.append(f"     $ {step.command}\n", style="cyan")
        parts.append(steps)
    return Panel(
        Group(*parts),
        title=Text(title or f"{finding.id} ({finding.severity.value})"),
        title_align="left",
        border_style=style.replace("bold ", ""),
    )


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
