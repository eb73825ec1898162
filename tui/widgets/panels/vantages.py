"""The same check from other places (``--from``): one row per vantage, layer by layer."""

from __future__ import annotations

from rich.console import Group, RenderableType

from probes.core.model import ProbeResult
from probes.remote.compare import LAYERS, arrives, cell, shown_path
from probes.remote.ssh import EXPLAIN
from probes.remote.vantage import VantagesData, VantageView
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import grid, plain

MAX_ROWS = 12


class VantagesPanel(ProbePanel):
    HELP = """\
## Other vantages
The client side of the check run on other hosts over your ssh (`--from`):
what the name resolves to, whether the port answers, the TLS leaf's
fingerprint, the HTTP status and the path (hops to the address, traced
there with UDP probes as tracepath does), one row per host.  The findings
name the first layer where a place differs from this host.
"""
    DATA = VantagesData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, VantagesData):
            return super().render_data(result)
        notes = []
        if data.unreached:
            notes.append(plain(f"{len(data.unreached)} not reached", "bold yellow"))
        if data.answered < data.asked:
            notes.append(plain(f"{data.asked - data.answered} waiting", "dim"))
        table = grid("host", *LAYERS)
        for view in data.views[:MAX_ROWS]:
            if not view.reached:
                table.add_row(
                    plain(view.name), plain(EXPLAIN.get(view.status, view.status)[:40], "yellow")
                )
                continue
            cells = [plain(cell(view, layer) or "-", _style(view, layer)) for layer in LAYERS]
            table.add_row(plain(view.name), *cells)
        more = len(data.views) - MAX_ROWS
        rows: list[RenderableType] = [*notes, table]
        if more > 0:
            rows.append(plain(f"… {more} more (the report and --json hold them all)", "dim"))
        return Group(*rows)


def _style(view: VantageView, layer: str) -> str:
    if layer == "tcp":
        return "green" if view.tcp_state == "open" else ""
    if layer == "path":
        path = shown_path(view)
        return "" if path is None else "green" if arrives(view, path) else "yellow"
    return ""
