from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from probes.model import ProbeResult
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.standins import as_trace
from tui.widgets.plain import grid, plain


def _num(value: float | None) -> Text:
    return Text("—" if value is None else f"{value:.1f}", justify="right")


class TracePanel(ProbePanel):
    HELP = """\
## Trace
An mtr-style hop table updated every round: loss, sent, and last/avg/best/worst
round trip per hop.  **???** is a silent hop (no answer: often a router that
does not send ICMP); *rate-limited* marks loss at a hop that does not carry on
to later hops, which is harmless.
"""

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = as_trace(result.data)
        if data is None:
            return super().render_data(result)
        table = grid("#", "host", "loss%", "snt", "last", "avg", "best", "wrst")
        for hop in data.hops:
            host = plain(" ".join(hop.responders)) if hop.responders else Text("???", style="dim")
            if hop.rate_limited:
                host.append(" rate-limited", style="dim italic")
            loss_style = "dim" if hop.rate_limited else ("bold red" if hop.loss_pct else "")
            table.add_row(
                Text(str(hop.ttl), justify="right"),
                host,
                Text(f"{hop.loss_pct:.0f}", style=loss_style, justify="right"),
                Text(str(hop.sent), justify="right"),
                _num(hop.last_ms),
                _num(hop.avg_ms),
                _num(hop.best_ms),
                _num(hop.worst_ms),
            )
        return table
