from __future__ import annotations

from rich.console import RenderableType

from probes.core.clocks import fine_ms
from probes.core.model import ProbeResult
from probes.net.tcp import OPEN, REFUSED, TcpAttempt, TcpData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import grid, ms, plain

STATE_STYLE = {OPEN: "green", REFUSED: "bold red"}


class TcpPanel(ProbePanel):
    HELP = """\
## TCP connect
One connection attempt per resolved address, IPv4 and IPv6 separately.
**open**: something accepted; **refused**: the address answered with a reset
(nothing listens); **filtered**: no answer at all (a firewall drops it);
**unreachable**: a router or firewall answered with ICMP (named when known).
On an open port the server's first bytes (banner) name the protocol.
**time** of an open port is the kernel's handshake round trip (TCP_INFO), marked
**k**; without one (a retransmitted SYN) it is our clock's, which includes any wait
for this busy process to run.
"""
    DATA = TcpData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, TcpData):
            return super().render_data(result)
        table = grid("address", "state", "time", "detail")
        for a in data.attempts:
            where = f"[{a.address}]:{a.port}" if a.family == 6 else f"{a.address}:{a.port}"
            if a.ok:
                detail = a.protocol or "no banner"
                if a.banner:
                    detail += f" · {a.banner}"
                if a.closed_by_peer:
                    detail += f" · closed ({a.closed_by_peer})"
            else:
                detail = a.errno_name
                if a.icmp is not None:
                    detail += f" · ICMP {a.icmp.name} from {a.icmp.sender}"
            table.add_row(
                plain(where),
                plain(a.state, STATE_STYLE.get(a.state, "yellow")),
                plain(_time(a)),
                plain(detail),
            )
        return table


def _time(a: TcpAttempt) -> str:
    """The kernel's connect time (``0.029 ms k``) when it has one, else our clock's."""
    if a.ok and a.kernel_connect_s is not None:
        return f"{fine_ms(a.kernel_connect_s)} k"
    return ms(a.elapsed_s)
