from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.model import ProbeResult
from probes.host.local import Listener, LocalData, StateCount
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain

MAX_ROWS = 6


def states_text(total: int, states: tuple[StateCount, ...]) -> Text:
    if not total:
        return Text("no TCP connections")
    line = Text(f"{total}: ")
    for i, item in enumerate(states[:6]):
        style = "yellow" if item.state in ("CLOSE_WAIT", "SYN_RECV") else ""
        line.append_text(plain(f"{'  ' if i else ''}{item.state} {item.count}", style))
    return line


def aggregate(listeners: tuple[Listener, ...]) -> list[tuple[str, list[Listener]]]:
    """Listeners grouped by owner (process and pids), in first-seen order."""
    groups: dict[str, list[Listener]] = {}
    for item in listeners:
        owner = (
            f"{item.process or '?'}[{','.join(map(str, item.pids[:3]))}]"
            if item.pids
            else f"uid {item.uid} (owner hidden)"
        )
        groups.setdefault(f"{item.proto} {owner}", []).append(item)
    return list(groups.items())


class LocalPanel(ProbePanel):
    HELP = """\
## Local sockets
What listens on the target's port on this host, grouped by owning process,
with the accept queue (waiting/backlog), the connection states on the port, and
the owners' open files against their limit.
"""
    DATA = LocalData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, LocalData):
            return super().render_data(result)
        view = data.target
        head = Text(f"port {view.port}", style="bold")
        if view.service:
            head.append_text(plain(f" ({view.service})"))
        head.append_text(plain(f"  on {data.hostname}" if view.local else "  remote target", "dim"))
        lines: list[RenderableType] = [head]
        groups = aggregate(view.listeners)
        if not groups:
            lines.append(Text("nothing listens on this port here", style="bold red"))
        for owner, items in groups[:MAX_ROWS]:
            row = plain(owner, "bold")
            where = plain("  " + " ".join(x.endpoint for x in items[:4]))
            if len(items) > 4:
                where.append(f" +{len(items) - 4}", style="dim")
            tcp = [x for x in items if x.proto == "tcp"]
            if tcp:
                queue = sum(x.queue for x in tcp)
                backlog = max(x.backlog for x in tcp)
                full = backlog > 0 and queue >= backlog
                row.append(
                    f"  queue {queue}/{backlog if backlog >= 0 else '?'}",
                    style="bold red" if full else "dim",
                )
            lines.append(row)
            lines.append(where)
        if len(groups) > MAX_ROWS:
            lines.append(Text(f"+{len(groups) - MAX_ROWS} more owners", style="dim"))
        if view.not_accepted_on:
            lines.append(
                plain(f"no listener accepts on {', '.join(view.not_accepted_on)}", "bold red")
            )
        if view.server is not None:
            row = Text("conns ", style="bold")
            row.append_text(states_text(view.server.total, view.server.states))
            lines.append(row)
        owners = {pid for x in view.listeners for pid in x.pids}
        for proc in data.processes:
            if proc.pid not in owners or proc.open_files < 0:
                continue
            use = proc.fd_use
            row = plain(f"{proc.name}[{proc.pid}] fds ", "bold")
            limit = str(proc.fd_limit) if proc.fd_limit > 0 else "∞"
            style = "bold red" if use >= 0.9 else ("yellow" if use >= 0.7 else "green")
            row.append(f"{proc.open_files}/{limit} ({use * 100:.0f}%)", style=style)
            lines.append(row)
        row = Text("host  ", style="bold")
        row.append_text(states_text(data.total, data.states))
        lines.append(row)
        return Group(*lines)
