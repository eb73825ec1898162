from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.model import ProbeResult
from probes.net.dns import DnsData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import grid, ms, plain


class DnsPanel(ProbePanel):
    HELP = """\
## DNS
What the system resolver (getaddrinfo, honouring /etc/hosts) answered, what the
hosts file says, and what each nameserver in resolv.conf answers for A and AAAA.
Disagreements between them are the usual cause of "works here, not there".
"""
    DATA = DnsData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, DnsData):
            return super().render_data(result)
        head = Text()
        head.append("system  ", style="bold")
        if data.system.addresses:
            head.append_text(plain(", ".join(data.system.addresses)))
        elif data.system.error is not None:
            head.append_text(plain(data.system.error.errno_name, "red"))
        head.append(f"  ({ms(data.system.elapsed_s)})", style="dim")
        head.append("\nhosts   ", style="bold")
        head.append_text(plain(", ".join(data.hosts_addresses) or "no entry"))
        if data.search:
            head.append("\nsearch  ", style="bold")
            head.append_text(plain(" ".join(data.search)))
        if data.resolv_conf_error:
            head.append("\n")
            head.append_text(plain(data.resolv_conf_error, "yellow"))
        table = grid("resolver", "type", "rcode", "answer", "time")
        for answer in data.resolvers:
            rcode_style = "green" if answer.answered and answer.addresses else "red"
            shown = ", ".join(answer.addresses) or answer.detail or "—"
            if answer.truncated:
                shown += f" (truncated; TCP {answer.tcp_retry or '?'})"
            table.add_row(
                plain(answer.server),
                plain(answer.rdtype),
                plain(answer.rcode, rcode_style),
                plain(shown),
                plain(ms(answer.elapsed_s)),
            )
        return Group(head, table) if data.resolvers else head
