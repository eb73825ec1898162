from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.model import ProbeResult
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.standins import as_ping
from tui.widgets.plain import plain

BARS = "▁▂▃▄▅▆▇█"


def sparkline(rtts: tuple[float | None, ...], width: int) -> Text:
    """Latest *width* round trips as bars; a lost probe is a red cross."""
    shown = rtts[-width:]
    got = [r for r in shown if r is not None]
    top = max(got) if got else 1.0
    line = Text()
    run: list[str] = []
    run_style = ""
    for rtt in shown:
        if rtt is None:
            char, style = "×", "bold red"
        else:
            char = BARS[min(len(BARS) - 1, int(rtt / top * (len(BARS) - 1))) if top else 0]
            style = "green"
        if style != run_style and run:
            line.append("".join(run), style=run_style)  # one span per run: fewer bytes
            run = []
        run.append(char)
        run_style = style
    if run:
        line.append("".join(run), style=run_style)
    return line


class PingPanel(ProbePanel):
    HELP = """\
## Ping
Round-trip times as a sparkline (newest right; × is a lost probe), with loss,
min/avg/max and jitter.  The mode says whether raw ICMP, unprivileged ICMP
datagram sockets or TCP-connect timing was used.
"""

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = as_ping(result.data)
        if data is None:
            return super().render_data(result)
        width = max(10, self.content_size.width - 2 if self.content_size.width else 40)
        stats = data.stats()
        line = Text()
        line.append_text(plain(f"{data.address} ({data.mode})  "))
        loss_style = "bold red" if data.loss_pct else "green"
        line.append(f"loss {data.loss_pct:.0f}% ", style=loss_style)
        line.append(f"({len(data.received)}/{data.sent})")
        if stats:
            lo, avg, hi, jitter = stats
            line.append(f"\nmin {lo:.1f}  avg {avg:.1f}  max {hi:.1f}  jitter {jitter:.1f} ms")
        return Group(sparkline(data.rtts_ms, width), line)
