from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.clocks import clock_label
from probes.core.model import ProbeResult
from probes.path.ping import PingData, PingHost, PingSample
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.spark import page
from tui.widgets.plain import plain

BARS = "▁▂▃▄▅▆▇█"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f}"


def sparkline(samples: tuple[PingSample, ...], width: int, count: int | None = None) -> Text:
    """The current page of samples as bars (see :mod:`spark`); a lost probe is a
    red cross.  *count*: samples ever taken (default: those given)."""
    shown = page(samples, len(samples) if count is None else count, width)
    got = [s.rtt_s for s in shown if s.rtt_s is not None]
    top = max(got) if got else 1.0
    line = Text()
    run: list[str] = []
    run_style = ""
    for sample in shown:
        rtt = sample.rtt_s
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


def host_lines(host: PingHost, width: int) -> list[RenderableType]:
    stats = host.stats
    head = Text()
    head.append_text(plain(f"{host.address} (IPv{host.family})  ", "bold"))
    head.append(f"loss {stats.loss_pct:.0f}% ", style="bold red" if stats.loss_pct else "green")
    head.append(f"({stats.received}/{stats.sent})")
    lines: list[RenderableType] = [head]
    if host.recent:
        lines.append(sparkline(host.recent, width, stats.sent))
    if stats.received:
        lines.append(
            Text(
                f"min {_ms(stats.min_s)}  avg {_ms(stats.avg_s)}  max {_ms(stats.max_s)}"
                f"  mdev {_ms(stats.mdev_s)}  jitter {_ms(stats.jitter_s)} ms"
            )
        )
    if host.unreachable:
        lines.append(plain(f"  {host.unreachable} (×{host.unreachable_count})", "bold red"))
    if host.errors:
        lines.append(plain(f"  {host.errors} errors; last: {host.last_error}", "magenta"))
    return lines


class PingPanel(ProbePanel):
    HELP = """\
## Ping
Per address: round-trip times as a sparkline (filling left to right, then a fresh page; × is a lost probe),
loss, min/avg/max, mdev and jitter.  The mode says whether raw ICMP,
unprivileged ICMP datagram sockets or TCP-connect timing was used, and how to
get the full mode.
"""
    DATA = PingData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, PingData):
            return super().render_data(result)
        width = max(10, self.content_size.width - 2 if self.content_size.width else 40)
        mode = Text()
        mode.append_text(plain(f"mode {data.mode}", "" if data.privileged else "yellow"))
        mode.append(f"  every {data.interval_s * 1000:.0f} ms, {data.size} B", style="dim")
        clocks = {h.clock for h in data.hosts if h.stats.received}
        if clocks:  # which clock timed the round trips below
            mode.append(f"  rtt: {' / '.join(sorted(clock_label(c) for c in clocks))}", style="dim")
        lines: list[RenderableType] = [mode]
        if data.hint:
            lines.append(plain(data.hint, "dim italic"))
        for host in data.hosts:
            lines.extend(host_lines(host, width))
        return Group(*lines)
