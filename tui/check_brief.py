"""The default human output of ``netmedic check``: short enough to read at once.

The verdict with its evidence and next steps, one line per other finding that is
a problem (error or warning), the probes on one line, and a pointer to
``--verbose`` (:func:`tui.check_view.print_check`) for everything else: the
info findings, every finding's evidence and steps, the probe table and what the
evidence changed in the plan.  Remote text stays plain :class:`~rich.text.Text`.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from probes.core.model import Severity, Status
from probes.run.runner import Run
from probes.triage.pasted import PastedError
from tui.check_view import SEVERITY_STYLE, STATUS_STYLE, print_head, print_verdict

ICON = {Severity.ERROR: "✘", Severity.WARNING: "▲", Severity.INFO: "ℹ", Severity.OK: "✔"}
PROBLEMS = (Severity.ERROR, Severity.WARNING)


def print_brief(
    run: Run,
    privileged: bool,
    duration_s: float,
    console: Console | None = None,
    error: PastedError | None = None,
) -> None:
    console = console or Console(highlight=False, soft_wrap=False)
    print_head(run, privileged, duration_s, console, error)
    verdict = print_verdict(run, console)
    others = [f for f in run.diagnosis.findings if f is not verdict]
    problems = [f for f in others if f.severity in PROBLEMS]
    if verdict is None and run.diagnosis.verdict == "ok":  # what passed is the news
        problems = [f for f in others if f.severity is Severity.OK]
    if problems:
        console.print(Text("Other findings" if verdict else "Checked", style="bold"))
        for finding in problems:
            line = Text("  ")
            line.append(f"{ICON[finding.severity]} ", style=SEVERITY_STYLE[finding.severity])
            line.append(finding.id, style="bold")
            line.append("  ")
            line.append(finding.title)
            if verdict is None:  # what passed (an ssh:// check's banner, key, methods): whole
                console.print(line)
                continue
            line.no_wrap = True
            line.overflow = "ellipsis"
            console.print(line, no_wrap=True, overflow="ellipsis")
    console.print(_probes_line(run))
    hidden = len(others) - len(problems)
    more = f" {hidden} more finding{'s' if hidden != 1 else ''}," if hidden else ""
    console.print(Text(f"--verbose:{more} all evidence and steps, each probe's result", "dim"))


def _probes_line(run: Run) -> Text:
    """The probes that ran, with their status; the skipped ones only counted."""
    line = Text("Probes  ", style="bold")
    skipped = 0
    first = True
    for name in run.probe_names:
        result = run.results.get(name)
        if result is not None and result.status is Status.SKIPPED:
            skipped += 1
            continue
        line.append("" if first else " · ")
        first = False
        line.append(f"{name} ")
        if result is None:
            line.append("not run", style="dim")
        else:
            line.append(result.status.value, style=STATUS_STYLE[result.status])
    if skipped:
        line.append(f" ({skipped} skipped)", style="dim")
    return line
