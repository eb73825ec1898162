"""The local-sockets probe in a report: what concerns the target, not the whole host.

A ticket carries the listeners on the target's port (and those near it or held by
a look-alike of the expected service), their owners, the connections on the port
and to the target; the host's other listeners are counted, never listed with
their process names (``netmedic report --format json`` keeps the whole record).
"""

from __future__ import annotations

from typing import Any

Facts = list[tuple[str, str]]


def local_facts(data: dict[str, Any]) -> Facts:
    view = data["target"]
    port = view["port"]
    processes = {p["pid"]: p for p in data.get("processes") or ()}
    rows: Facts = []
    shown = [*view.get("listeners", ()), *view.get("nearby", ())]
    for item in view.get("listeners", ()):
        rows.append((f"listens on port {port}", _listener(item, processes)))
    if not view.get("listeners"):
        rows.append((f"port {port}", "nothing listens on it on this host"))
    for item in view.get("nearby", ()):
        rows.append(("nearby", _listener(item, processes)))
    total = data.get("listeners_total", 0)
    rows.append(("listeners on this host", f"{total} ({len(shown)} concern the target)"))
    server = view.get("server")
    if server:
        rows.append((f"connections on port {port}", _states(server)))
    for dest in view.get("clients", ()):
        rows.append((f"from here to {dest['address']}:{dest['port']}", _states(dest)))
    owners = {pid for item in shown for pid in item.get("pids", ())[:1]}
    for pid in sorted(owners):
        proc = processes.get(pid)
        if proc:
            rows.append((f"process {pid}", _process(proc)))
    rows.append(("sockets read via", f"{data.get('source', '?')}"))
    return rows


def _listener(item: dict[str, Any], processes: dict[int, dict[str, Any]]) -> str:
    address = item["address"]
    where = (
        f"[{address}]:{item['port']}" if item.get("family") == 6 else f"{address}:{item['port']}"
    )
    pids = item.get("pids") or ()
    owner = f"{item.get('process') or '?'} (pid {pids[0]})" if pids else f"uid {item.get('uid')}"
    text = f"{item['proto']} {where} ← {owner}"
    if item["proto"] == "tcp" and item.get("backlog", -1) >= 0:
        text += f", accept queue {item.get('queue', 0)}/{item['backlog']}"
    return text


def _states(load: dict[str, Any]) -> str:
    states = ", ".join(f"{s['state']} {s['count']}" for s in load.get("states", ())[:6])
    return f"{load.get('total', 0)}" + (f" ({states})" if states else "")


def _process(proc: dict[str, Any]) -> str:
    parts = [proc.get("name") or "?"]
    if proc.get("user"):
        parts.append(f"user {proc['user']}")
    if proc.get("unit"):
        parts.append(f"unit {proc['unit']}")
    if proc.get("open_files", -1) >= 0 and proc.get("fd_limit", -1) > 0:
        parts.append(f"open files {proc['open_files']}/{proc['fd_limit']}")
    return ", ".join(parts)
