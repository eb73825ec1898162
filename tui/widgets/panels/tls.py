from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.model import ProbeResult
from probes.proto.certs import CertInfo
from probes.proto.tls import TlsData
from tui.widgets.panels.base import ProbePanel
from tui.widgets.plain import plain

# Failures that are about one certificate of the chain (the leaf unless noted).
LEAF_FAILURES = {"tls.expired", "tls.not_yet_valid", "tls.hostname_mismatch", "tls.expiring_soon"}


def days_style(days: int) -> str:
    if days < 0:
        return "bold red"
    if days < 30:
        return "yellow"
    return "green"


def failing_index(data: TlsData) -> int:
    """Which certificate of the chain the failure is about, or -1."""
    if not data.chain or not data.failure:
        return -1
    if data.failure in ("tls.expired", "tls.not_yet_valid"):
        for i, cert in enumerate(data.chain):
            if cert.days_left < 0 or data.failure == "tls.not_yet_valid":
                return i
    if data.failure in LEAF_FAILURES:
        return 0
    if data.failure in ("tls.self_signed", "tls.untrusted_root", "tls.incomplete_chain"):
        return len(data.chain) - 1
    return -1


def cert_line(cert: CertInfo, depth: int, last: bool, failing: bool) -> Text:
    line = Text("  " * max(0, depth - 1) + ("" if depth == 0 else ("└─ " if last else "├─ ")))
    name = cert.common_name or cert.subject
    line.append_text(plain(name, "bold red reverse" if failing else "bold"))
    days = f"  {cert.days_left}d" if cert.days_left >= 0 else f"  expired {-cert.days_left}d ago"
    line.append(days, style=days_style(cert.days_left))
    if cert.self_issued:
        line.append(" self-signed", style="yellow")
    if failing:
        line.append("  ◀ fails", style="bold red")
    return line


class TlsPanel(ProbePanel):
    HELP = """\
## TLS
The handshake (protocol, cipher, ALPN) and the certificate chain as the server
sent it, leaf first, as a tree.  Days to expiry are green, yellow under 30 days
and red once expired; the certificate the failure is about is highlighted.
"""
    DATA = TlsData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, TlsData):
            return super().render_data(result)
        lines: list[RenderableType] = []
        head = Text()
        if data.protocol:
            head.append_text(plain(f"{data.protocol}  {data.cipher}"))
            head.append_text(plain(f"  ALPN {data.alpn or '—'}", "dim"))
        else:
            head.append_text(plain(f"state {data.state}", "bold red"))
        lines.append(head)
        if data.server_name:
            lines.append(plain(f"SNI {data.server_name}", "dim"))
        if data.failure:
            fail = plain(data.failure, "bold red")
            if data.verify_message or data.detail:
                fail.append_text(plain(f": {data.verify_message or data.detail}"))
            lines.append(fail)
        bad = failing_index(data)
        for i, cert in enumerate(data.chain):
            lines.append(cert_line(cert, i, i == len(data.chain) - 1, i == bad))
        if data.chain:
            leaf = data.chain[0]
            sans = ", ".join(leaf.sans[:4]) + (
                f" +{len(leaf.sans) - 4}" if len(leaf.sans) > 4 else ""
            )
            lines.append(plain(f"SAN {sans or '—'}", "dim"))
            lines.append(plain(f"issuer {data.chain[-1].issuer}", "dim"))
        if data.client_cert_requested:
            lines.append(Text("server asks for a client certificate", style="yellow"))
        if data.peer_protocol:
            lines.append(plain(f"port speaks {data.peer_protocol}: {data.peer_banner}", "yellow"))
        trust = Text(
            "verified" if data.verified else "not verified",
            style="green" if data.verified else "bold red",
        )
        trust.append_text(plain(f" against {data.trust_store}", "dim"))
        lines.append(trust)
        return Group(*lines)
