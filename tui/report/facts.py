"""Key numbers of a probe result, as ``(label, value)`` rows for a report.

Known probes (dns, route, tcp) get tailored rows; anything else is flattened
generically: scalar fields, lists of scalars joined, lists of records (hops,
certificates, listeners) one row per record.  Every value is plain text; the
renderers escape it for their format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from probes.core.clocks import KERNEL, clocked
from tui.report.local_facts import local_facts
from tui.report.remote_facts import server_facts, vantage_facts

MAX_ROWS = 40
MAX_VALUE = 300

Facts = list[tuple[str, str]]


def probe_facts(probe: str, data: Any) -> Facts:
    if not isinstance(data, dict) or not data:
        return []
    fn = _KNOWN.get(probe, _generic)
    try:
        rows = fn(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        rows = _generic(data)
    return [(_cap(k), _cap(v)) for k, v in rows[:MAX_ROWS]]


def ms(seconds: Any) -> str:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return ""
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def _connect_time(attempt: dict[str, Any]) -> str:
    """The kernel's handshake time when it has one (probes.wire.connect.TcpAttempt)."""
    kernel = attempt.get("kernel_rtt_s")
    if isinstance(kernel, int | float) and not attempt.get("syn_retransmits"):
        return clocked(float(kernel), KERNEL)
    if attempt.get("state") == "open":
        return f"{ms(attempt.get('elapsed_s'))} (our clock)"
    return ms(attempt.get("elapsed_s"))


def _cap(text: Any) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= MAX_VALUE else s[: MAX_VALUE - 1] + "…"


def _dns(data: dict[str, Any]) -> Facts:
    rows: Facts = []
    system = data.get("system") or {}
    addrs = ", ".join(system.get("addresses") or ())
    err = system.get("error") or {}
    if addrs:
        rows.append(("system resolver", f"{addrs} ({ms(system.get('elapsed_s'))})"))
    elif err:
        rows.append(
            ("system resolver", f"{err.get('errno_name', '')}: {err.get('explanation', '')}")
        )
    hosts = data.get("hosts_addresses") or ()
    if hosts:
        rows.append(("hosts file", ", ".join(hosts)))
    servers = data.get("nameservers") or ()
    if servers:
        rows.append(("nameservers", ", ".join(servers)))
    if data.get("search"):
        rows.append(("search", " ".join(data["search"])))
    if data.get("resolv_conf_error"):
        rows.append(("resolv.conf", data["resolv_conf_error"]))
    for ans in data.get("resolvers") or ():
        label = f"{ans.get('server', '?')} {ans.get('rdtype', '')}"
        parts = [str(ans.get("rcode", ""))]
        if ans.get("addresses"):
            parts.append(", ".join(ans["addresses"]))
        if ans.get("cname_chain"):
            parts.append("via CNAME " + " → ".join(ans["cname_chain"]))
        if ans.get("truncated"):
            parts.append(f"truncated, TCP retry: {ans.get('tcp_retry') or 'none'}")
        if ans.get("detail"):
            parts.append(str(ans["detail"]))
        parts.append(f"({ms(ans.get('elapsed_s'))})")
        rows.append((label, " ".join(parts)))
    return rows


def _route(data: dict[str, Any]) -> Facts:
    rows: Facts = []
    for r in data.get("routes") or ():
        if r.get("routable"):
            bits = [r.get("route_type") or "unicast"]
            if r.get("gateway"):
                bits.append(f"via {r['gateway']}")
            if r.get("device"):
                bits.append(f"dev {r['device']}")
            if r.get("source"):
                bits.append(f"src {r['source']}")
            rows.append((str(r.get("address", "?")), " ".join(bits)))
        else:
            rows.append(
                (
                    str(r.get("address", "?")),
                    f"{r.get('errno_name', '')}: {r.get('explanation', '')}",
                )
            )
    return rows


def _tcp(data: dict[str, Any]) -> Facts:
    rows: Facts = []
    for a in data.get("attempts") or ():
        addr = str(a.get("address", "?"))
        where = f"[{addr}]:{a.get('port')}" if a.get("family") == 6 else f"{addr}:{a.get('port')}"
        text = f"{a.get('state', '?')} after {_connect_time(a)}"
        if a.get("errno_name"):
            text += f" ({a['errno_name']})"
        icmp = a.get("icmp") or {}
        if isinstance(icmp, dict) and icmp.get("sender"):
            text += f"; ICMP from {icmp['sender']}"
        if a.get("protocol"):
            text += f"; speaks {a['protocol']}"
        if a.get("banner"):
            text += f"; banner {a['banner']!r}"
        if a.get("closed_by_peer"):
            text += f"; closed by peer ({a['closed_by_peer']})"
        rows.append((where, text))
    return rows


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, float) and (key.endswith("_s") or key.endswith("elapsed")):
        # a journal written before absent phases were None said -1 for "not reached"
        return ms(value) if value >= 0 else "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _record(item: dict[str, Any]) -> str:
    return (
        ", ".join(
            f"{k}={_fmt(k, v)}" for k, v in item.items() if _scalar(v) and v not in (None, "", ())
        )
        or "(record)"
    )


def _generic(data: dict[str, Any], prefix: str = "") -> Facts:
    rows: Facts = []
    for key, value in data.items():
        label = f"{prefix}{key}"
        if value in (None, "", [], {}):
            continue
        if _scalar(value):
            rows.append((label, _fmt(str(key), value)))
        elif isinstance(value, list):
            if all(_scalar(v) for v in value):
                rows.append((label, ", ".join(str(v) for v in value)))
            else:
                for i, item in enumerate(value[:30], 1):
                    text = _record(item) if isinstance(item, dict) else str(item)
                    rows.append((f"{label}[{i}]", text))
                if len(value) > 30:
                    rows.append((label, f"… {len(value) - 30} more"))
        elif isinstance(value, dict) and not prefix:
            rows.extend(_generic(value, f"{label}."))
        elif isinstance(value, dict):
            rows.append((label, _record(value)))
    return rows


_KNOWN: dict[str, Callable[[dict[str, Any]], Facts]] = {
    "dns": _dns,
    "route": _route,
    "tcp": _tcp,
    "server": server_facts,
    "vantages": vantage_facts,
    "local": local_facts,  # what concerns the target, not every listener of the host
}
