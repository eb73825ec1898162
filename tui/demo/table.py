"""The ``demo --check`` table with Rich: service, expected, actual, ✓/✗."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tui.demo.selftest import CaseResult


def print_results(results: Sequence[CaseResult], duration_s: float, console: Console) -> None:
    table = Table(
        title="netmedic demo --check", title_justify="left", box=box.SIMPLE_HEAD, expand=False
    )
    table.add_column("service", no_wrap=True)
    table.add_column("expected", no_wrap=True)
    table.add_column("actual", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=1)
    table.add_column("time", justify="right", no_wrap=True, min_width=5)
    for r in results:
        mark = Text("✓", style="bold green") if r.matched else Text("✗", style="bold red")
        actual = Text(r.verdict, style="" if r.matched else "bold red")
        table.add_row(Text(r.case.id), Text(r.case.expected), actual, mark, f"{r.duration_s:.1f} s")
    console.print(table)
    wrong = [r for r in results if not r.matched]
    summary = Text()
    if wrong:
        summary.append(f"{len(wrong)} of {len(results)} verdicts differ", style="bold red")
        for r in wrong:
            summary.append(f"\n  {r.case.id}: {r.case.title}; got {r.verdict}")
            if r.title:
                summary.append(f" ({r.title})")
    else:
        summary.append(f"all {len(results)} verdicts as expected", style="bold green")
    summary.append(f" in {duration_s:.1f} s", style="dim")
    console.print(summary)
