from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.model import ProbeResult
from probes.path.mtu import MtuData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain

OUTCOME_STYLE = {"reply": "green", "timeout": "bold red", "frag_needed": "yellow"}


class MtuPanel(ProbePanel):
    HELP = """\
## Path MTU
Packets of growing size towards the target: the largest that got through, the
smallest that vanished, and any router that answered "fragmentation needed".
Small packets passing while large ones vanish is a PMTUD black hole.
"""
    DATA = MtuData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, MtuData):
            return super().render_data(result)
        head = plain(f"{data.address}  mode {data.mode}", "" if data.privileged else "yellow")
        head.append(f"  local MTU {data.local_mtu}", style="dim")
        lines: list[RenderableType] = [head]
        if data.hint:
            lines.append(plain(data.hint, "dim italic"))
        row = Text("path MTU ", style="bold")
        row.append(str(data.path_mtu) if data.path_mtu else "—", style="green")
        if data.smallest_lost:
            row.append(f"  lost from {data.smallest_lost}", style="bold red")
        if data.blackhole:
            row.append("  black hole", style="bold red reverse")
        lines.append(row)
        if data.frag_needed_from:
            lines.append(
                plain(f"frag needed from {data.frag_needed_from} (MTU {data.frag_needed_mtu})")
            )
        sizes = Text()
        for probe in data.probes[-12:]:
            sizes.append(f"{probe.size}", style=OUTCOME_STYLE.get(probe.outcome, "magenta"))
            sizes.append(" ")
        if data.probes:
            lines.append(sizes)
        if data.explanation:
            lines.append(plain(data.explanation))
        return Group(*lines)
