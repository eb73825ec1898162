"""Report rows for the other hosts' evidence: the server's side and each vantage."""

from __future__ import annotations

from typing import Any

Facts = list[tuple[str, str]]


def server_facts(data: dict[str, Any]) -> Facts:
    rows: Facts = [("server", f"{data.get('dest', '?')} ({data.get('hostname') or '?'})")]
    if data.get("status") != "ok":
        rows.append(("read", f"{data.get('status')}: {data.get('detail', '')}"))
    local = data.get("local") or {}
    target = local.get("target") or {}
    listeners = target.get("listeners") or []
    where = ", ".join(f"{x.get('address')}:{x.get('port')} ({x.get('process') or 'owner unknown'})"
                      for x in listeners[:6])  # fmt: skip
    rows.append((f"port {target.get('port', '?')}", where or "nothing listens"))
    for state in (target.get("server") or {}).get("states") or []:
        rows.append((f"connections {state.get('state')}", str(state.get("count"))))
    for rule in data.get("input_rules") or []:
        rows.append(("input rule", f"{rule.get('table')} {rule.get('chain')}: {rule.get('text')}"))
    for unit in data.get("units") or []:
        state = unit.get("state") or "state unknown"
        rows.append((str(unit.get("name")), f"{state} {unit.get('result') or ''}".strip()))
        rows += [
            (f"  log ({unit.get('log_source')})", str(line)) for line in unit.get("log", [])[-5:]
        ]
    for kill in ((local.get("oom") or {}).get("kills") or [])[:3]:
        rows.append(
            (
                "OOM kill",
                f"{kill.get('name')} (pid {kill.get('pid')}), {kill.get('age_s', 0):.0f} s ago",
            )
        )
    return rows


def vantage_facts(data: dict[str, Any]) -> Facts:
    rows: Facts = []
    for view in data.get("views") or []:
        if view.get("status") != "ok":
            rows.append(
                (str(view.get("name")), f"not asked: {view.get('status')} {view.get('detail', '')}")
            )
            continue
        tcp = ", ".join(f"{a.get('address')} {a.get('state')}" for a in view.get("tcp") or [])
        parts = [f"dns {', '.join(view.get('addresses') or []) or view.get('resolve_error') or '-'}",
                 f"tcp {tcp or '-'}"]  # fmt: skip
        if view.get("tls_leaf"):
            parts.append(f"tls leaf {str(view['tls_leaf'])[:23]}")
        if view.get("http_status"):
            parts.append(f"http {view['http_status']}")
        parts += [_path(path) for path in view.get("paths") or []]
        rows.append((str(view.get("name")), "; ".join(parts)))
    return rows


def _path(path: dict[str, Any]) -> str:
    """ "path to 10.0.0.5: 10.3.0.1 → 10.0.0.5 (reached)"."""
    hops = " → ".join(str(h.get("address") or "*") for h in path.get("hops") or [])
    detail = (
        f", {path['detail']}" if path.get("outcome") != "reached" and path.get("detail") else ""
    )
    return f"path to {path.get('address')}: {hops or '-'} ({path.get('outcome')}{detail})"
