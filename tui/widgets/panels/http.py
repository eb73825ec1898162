from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.clocks import KERNEL, clocked
from probes.core.model import ProbeResult
from probes.proto.http import HttpData, HttpTimings
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain

KEY_HEADERS = (
    "server",
    "content-type",
    "location",
    "www-authenticate",
    "retry-after",
    "via",
    "x-cache",
    "cache-control",
    "content-length",
)
PHASES = (("dns", "cyan"), ("connect", "blue"), ("tls", "magenta"), ("ttfb", "yellow"))


def status_style(status: int) -> str:
    if 200 <= status < 300:
        return "bold green"
    if 300 <= status < 400:
        return "bold cyan"
    return "bold red"


def waterfall(t: HttpTimings, width: int) -> list[Text]:
    """curl -w timings as bars proportional to the total, each starting where the last
    ended; a phase that did not happen has no row.  Our clock's marks, and the kernel's
    round trip of the connection below them when it has one."""
    marks = (t.dns_s, t.connect_s, t.tls_s, t.ttfb_s, t.total_s)
    seen = [m for m in marks if m is not None]
    total = t.total_s if t.total_s else max(seen, default=0.0)
    if total <= 0:
        return []
    bar_width = max(10, width - 22)
    rows: list[Text] = []
    prev = 0.0
    names = (*PHASES, ("total", "green"))
    for (name, style), mark in zip(names, marks, strict=True):
        if mark is None:
            continue
        start = 0.0 if name == "total" else min(prev, mark)
        lo = round(start / total * bar_width)
        hi = max(lo + 1, round(mark / total * bar_width))
        row = Text(f"{name:<8}", style="bold")
        row.append(" " * lo)
        row.append("█" * (hi - lo), style=style)
        row.append(" " * max(0, bar_width - hi + 1))
        row.append(f"{mark * 1000:7.1f} ms")
        rows.append(row)
        if name != "total":
            prev = mark
    if t.kernel_rtt_s is not None:
        rows.append(Text(f"rtt      {clocked(t.kernel_rtt_s, KERNEL)}", style="dim"))
    if t.kernel_think_s is not None:
        rows.append(Text(f"think    {t.kernel_think_s * 1000:.0f} ms (kernel)", style="dim"))
    return rows


class HttpPanel(ProbePanel):
    HELP = """\
## HTTP
The status, a timing waterfall (DNS, connect, TLS, time to first byte, total;
bars proportional to the total), the headers that explain failures, and the
redirect chain.
"""
    DATA = HttpData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, HttpData):
            return super().render_data(result)
        width = self.content_size.width or 40
        head = Text()
        if data.status:
            head.append(str(data.status), style=status_style(data.status))
            head.append_text(plain(f" {data.reason}  {data.http_version}"))
        else:
            head.append_text(plain(f"{data.state} at {data.phase or '?'}", "bold red"))
        head.append_text(plain(f"  {data.method} {data.url}", "dim"))
        lines: list[RenderableType] = [head]
        if data.detail:
            lines.append(plain(data.detail, "yellow"))
        if data.peer_protocol:
            lines.append(plain(f"port speaks {data.peer_protocol}: {data.peer_banner}", "yellow"))
        lines.extend(waterfall(data.timings, width))
        wanted = {name: value for name, value in data.headers if name.lower() in KEY_HEADERS}
        for name, value in wanted.items():
            row = plain(f"{name}: ", "bold")
            row.append_text(plain(value))
            lines.append(row)
        if len(data.hops) > 1:
            lines.append(
                Text("redirects" + (" (loop)" if data.redirect_loop else ""), style="bold")
            )
            for hop in data.hops:
                row = Text("  ")
                row.append(str(hop.status), style=status_style(hop.status))
                row.append_text(plain(f" {hop.url}"))
                lines.append(row)
        return Group(*lines)
