from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from probes.core.clocks import clock_label
from probes.core.model import ProbeResult
from probes.path.trace import Hop, TraceData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.spark import page
from tui.widgets.plain import plain

# (header, minimum width): 52 cells with the gaps, so the table fits an 80x24 split.
COLUMNS = (
    ("#", 2),
    ("host", 15),
    ("loss", 4),
    ("snt", 3),
    ("last", 4),
    ("avg", 4),
    ("best", 4),
    ("wrst", 4),
    ("sd", 4),
)
TABLE_WIDTH = 52  # the columns above with their gaps
SPARK_WIDTH = 12  # RTT history per hop (live runs), newest right
BARS = "▁▂▃▄▅▆▇█"


def hop_spark(
    recent: tuple[float | None, ...], width: int = SPARK_WIDTH, count: int | None = None
) -> Text:
    """A hop's current page of outcomes (see :mod:`spark`): bars scaled to the
    page's worst RTT, a cross for no answer."""
    shown = page(recent, len(recent) if count is None else count, width)
    got = [r for r in shown if r is not None]
    top = max(got) if got else 0.0
    chars = []
    for rtt in shown:
        if rtt is None:
            chars.append("×")
        else:
            chars.append(BARS[min(len(BARS) - 1, int(rtt / top * (len(BARS) - 1))) if top else 0])
    return Text("".join(chars), style="cyan")


def _num(value: float | None) -> Text:
    if value is None:
        return Text("—", justify="right")
    msec = value * 1000
    return Text(f"{msec:.1f}" if msec < 100 else f"{msec:.0f}", justify="right")


def _who(address: str, name: str) -> str:
    return f"{name} ({address})" if name else address


def _host(hop: Hop) -> Text:
    if not hop.responders:
        return Text("??? (silent: no ICMP, not loss)", style="dim")
    first = hop.responders[0]
    host = plain(_who(first.address, first.name), "green" if hop.status == "destination" else "")
    if len(hop.responders) > 1:
        host.append(f" +{len(hop.responders) - 1} ECMP", style="cyan")
    if hop.note:
        host.append_text(plain(f" {hop.note}", "bold red"))
    return host


class TracePanel(ProbePanel):
    HELP = """\
## Trace
An mtr-style hop table updated every round: loss, sent, and
last/avg/best/worst/stdev round trip (ms) per hop.  **???** is a silent hop (no
answer: often a router that does not send ICMP); *rate-limited* marks loss at a
hop that does not carry on to later hops, which is harmless.  The last line
says whether the destination was reached or where the path stops.
"""
    DATA = TraceData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, TraceData):
            return super().render_data(result)
        head = plain(
            f"{data.address}  {data.protocol}"
            + (f"/{data.port}" if data.protocol != "icmp" else "")
            + f"  mode {data.mode}  round {data.rounds}  rtt: {clock_label(data.clock)}",
            "" if data.privileged else "yellow",
        )
        table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
        for header, width in COLUMNS:
            table.add_column(
                Text(header, style="bold"),
                justify="left" if header == "host" else "right",
                min_width=width,
                no_wrap=True,
                overflow="ellipsis",
            )
        live = any(h.recent for h in data.hops)
        # The page fits the room left of the history column: a page wider than the
        # column would be cropped and show its oldest cells (a narrow split: 3 cells).
        room = self.content_size.width - TABLE_WIDTH - 1
        spark_width = max(3, min(SPARK_WIDTH, room)) if self.content_size.width else SPARK_WIDTH
        if live:
            table.add_column(Text("history", style="bold"), no_wrap=True, overflow="crop")
        hops = data.hops
        limited: list[str] = []
        for i, hop in enumerate(hops):
            # Loss that does not carry on to the next answering hop is ICMP rate limiting.
            later_ok = any(h.received and h.loss_pct < hop.loss_pct for h in hops[i + 1 :])
            if hop.loss_pct and hop.received and later_ok:
                limited.append(str(hop.ttl))
            if hop.loss_pct and not later_ok:
                loss_style = "bold red"
            else:
                loss_style = "dim" if hop.loss_pct else ""
            silent = not hop.received and hop.sent
            cells = [
                Text(str(hop.ttl), justify="right"),
                _host(hop),
                Text("—" if silent else f"{hop.loss_pct:.0f}", style=loss_style, justify="right"),
                Text(str(hop.sent), justify="right"),
                _num(hop.last_s),
                _num(hop.avg_s),
                _num(hop.best_s),
                _num(hop.worst_s),
                _num(hop.stdev_s),
            ]
            if live:
                cells.append(hop_spark(hop.recent, spark_width, hop.sent))
            table.add_row(*cells)
            for other in hop.responders[1:]:  # ECMP: every address that answers this hop
                extra = [Text(""), plain(f"  {_who(other.address, other.name)}", "cyan")]
                extra += [Text("") for _ in range(len(cells) - 2)]
                table.add_row(*extra)
        parts: list[RenderableType] = [head]
        if data.hint:
            parts.append(plain(data.hint, "dim italic"))
        parts.append(table)
        if limited:
            parts.append(
                Text(
                    f"rate-limited (loss does not carry on): hop {', '.join(limited)}",
                    style="dim italic",
                )
            )
        if data.reached:
            parts.append(Text("destination reached", style="green"))
        elif data.stopped_at:
            parts.append(
                plain(f"path stops after hop {data.stopped_at}: {data.stop_reason}", "bold red")
            )
        elif data.stop_reason:
            parts.append(plain(data.stop_reason, "bold red"))
        return Group(*parts)
