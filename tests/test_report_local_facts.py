"""Issue 26: a report's local-sockets facts carry what concerns the target (its port's
listeners, their owners, its connections), not every listener of the host."""

from __future__ import annotations

import dataclasses
import json
import socket

from probes.host.local import collect_local
from tui.report.facts import probe_facts


def test_report_lists_only_the_listeners_that_concern_the_target() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as target,
        socket.create_server(("127.0.0.1", 0)) as unrelated,
    ):
        port, other = target.getsockname()[1], unrelated.getsockname()[1]
        data = collect_local(("127.0.0.1",), port)
    # What the journal holds: the probe's data as JSON.
    as_json = json.loads(json.dumps(dataclasses.asdict(data)))
    rows = probe_facts("local", as_json)
    text = "\n".join(f"{k}: {v}" for k, v in rows)
    assert f"listens on port {port}: tcp 127.0.0.1:{port} ← netmedic (this process)" in text
    assert f":{other}" not in text  # another listener of the host: counted, not listed
    (count,) = [v for k, v in rows if k == "listeners on this host"]
    assert count.startswith(f"{data.listeners_total} (") and "concern the target" in count
    assert len(rows) < 12
