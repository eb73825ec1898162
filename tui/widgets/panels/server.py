"""The server's side (``--server``): what listens there, its input rules, the unit."""

from __future__ import annotations

from rich.console import Group, RenderableType

from probes.core.model import ProbeResult
from probes.remote.serverdata import ServerData
from probes.remote.ssh import EXPLAIN
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.local import aggregate, states_text
from tui.widgets.plain import plain

MAX_LOG = 4


class ServerPanel(ProbePanel):
    HELP = """\
## Server side
Read on the server over your ssh (`--server DEST`, or the target screen's
*other hosts* field): who listens on the port and on which address, the
connection states there, input-side firewall rules that drop the port, the
unit or container that should serve it with its last log lines (OOM kills and
memory pressure there are findings).
"""
    DATA = ServerData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, ServerData):
            return super().render_data(result)
        if data.local is None:
            return Group(
                plain(EXPLAIN.get(data.status, data.status), "bold red"), plain(data.detail, "dim")
            )
        view = data.local.target
        lines: list[RenderableType] = []
        groups = aggregate(view.tcp_listeners)
        if not groups:
            lines.append(plain(f"nothing listens on port {view.port}", "bold red"))
        for owner, items in groups[:4]:
            row = plain(owner, "bold")
            row.append_text(plain("  " + ", ".join(x.endpoint for x in items[:4])))
            lines.append(row)
        if view.server is not None:
            lines.append(states_text(view.server.total, view.server.states))
        for rule in data.input_rules[:2]:
            lines.append(plain(f"input {rule.verdict}: {rule.where}", "bold red"))
            lines.append(plain(f"  {rule.text}", "dim"))
        for unit in data.units[:2]:
            state = unit.state or "state unknown"
            lines.append(plain(f"{unit.name}: {state} {unit.result}".rstrip(), "yellow"))
            lines += [plain(f"  {line}", "dim") for line in unit.log[-MAX_LOG:]]
        if data.status != "ok":
            lines.append(plain(EXPLAIN.get(data.status, data.status), "dim"))
        return Group(*lines)
