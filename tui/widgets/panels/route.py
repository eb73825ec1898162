from __future__ import annotations

from rich.console import RenderableType

from probes.core.model import ProbeResult
from probes.path.route import RouteData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import grid, plain


class RoutePanel(ProbePanel):
    HELP = """\
## Route
The kernel's route to each address (as `ip route get` shows it): the gateway,
the interface and the source address.  An unreachable, prohibit or blackhole
route stops packets before they leave this host.
"""
    DATA = RouteData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, RouteData):
            return super().render_data(result)
        table = grid("address", "route", "via", "dev", "source")
        for r in data.routes:
            kind = r.route_type or ("unicast" if r.routable else r.errno_name)
            table.add_row(
                plain(r.address),
                plain(kind, "green" if r.routable else "bold red"),
                plain(r.gateway or "direct"),
                plain(r.device or "—"),
                plain(r.source or "—"),
            )
        return table
