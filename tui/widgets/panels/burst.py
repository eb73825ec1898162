"""The connection burst's panel: how many connections were held at once, and what
turned the next one away (accept backlog, the service's client limit, open files)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.model import ProbeResult
from probes.proto.burst import BurstResult
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain


class BurstPanel(ProbePanel):
    HELP = """\
## Connection burst
Many connections opened at once and held (the **b** key asks for one): how many
the service took, and what turned the next one away — a full accept queue (SYNs
unanswered or refused), the service's client limit (it accepts, then says "max
clients" or hangs up), or this host's open-files limit.  A connection cut short while netmedic itself could
not run (a busy machine) is **starved**: counted apart, never taken for a limit.
Connect and first-byte times are the kernel's where it has them (TCP_INFO).
"""
    DATA = BurstResult

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        b = result.data
        if not isinstance(b, BurstResult):
            return super().render_data(result)
        head = plain(f"{b.address}:{b.port}  ", "bold")
        head.append(f"{b.opened}/{b.asked} held at once")
        lines: list[RenderableType] = [head]
        if b.first_failure:
            row = plain(f"#{b.first_failure}: {b.failure}", "bold red")
            if b.limit:
                row.append_text(plain(f" → {b.limit}"))
            lines.append(row)
        elif b.starved:
            lines.append(Text("no limit judged", style="yellow"))
        else:
            lines.append(Text("no limit reached", style="green"))
        if b.starved:
            lines.append(
                plain(
                    f"{b.starved} starved: cut short while this process could not run "
                    "(not counted)",
                    "yellow",
                )
            )
        if b.said:
            lines.append(plain(f"the service said: {b.said}", "italic"))
        if b.times:
            lines.append(plain(b.times, "dim"))
        return Group(*lines)
