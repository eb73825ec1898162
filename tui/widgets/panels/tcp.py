from __future__ import annotations

from rich.console import RenderableType

from probes.core.model import ProbeResult
from probes.net.tcp import OPEN, REFUSED, TcpData
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
                plain(a.connect_text if a.ok else ms(a.elapsed_s)),
                plain(detail),
            )
        return table
