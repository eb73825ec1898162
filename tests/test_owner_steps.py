"""Next steps of the other layers' rules name the unit or container that should
serve the port (probes.diagnosis.owner_steps), from the local probe's evidence;
without it they keep the generic step.

Real loopback evidence (a refused connect, a real HTTP server answering 503, the
local probe's own reading of this host), with the owner seams filled the way
tests/test_owner.py fills them: unit files in a temp root, containers replaced
in LocalData, a process's cgroup placement replaced."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.model import Finding, ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import http_rules, service_rules, tcp_rules
from probes.diagnosis.engine import diagnose
from probes.diagnosis.evidence import Evidence
from probes.diagnosis.owner_steps import port_owner
from probes.host.local import LocalData, collect_local
from probes.host.owner import Container, Forward
from probes.host.procinfo import process_info
from probes.net.tcp import TcpData
from probes.proto.service import FAILED, ServiceData
from probes.wire.connect import connect_once
from tests.probe_helpers import run

GENERIC = "systemctl --failed"
QDRANT = Container(
    "3f1c2a9b8d7e", "qdrant", "docker", False, ("172.17.0.2",), (6333,), "search", "qdrant"
)


def _refused(port: int, data: LocalData | None) -> Evidence:
    attempt = asyncio.run(connect_once("127.0.0.1", port, 1.0, 0.0))
    assert attempt.state == "refused"
    results = {"tcp": ProbeResult("tcp", Status.FAILED, 0.1, "", TcpData(port, (attempt,)))}
    if data is not None:
        results["local"] = ProbeResult("local", Status.OK, 0.1, "", data)
    return Evidence(parse_target(f"127.0.0.1:{port}"), results)


def _one(findings: object, fid: str) -> Finding:
    (f,) = [x for x in findings if x.id == fid]  # type: ignore[attr-defined]
    return f


def _commands(f: Finding) -> list[str]:
    return [s.command for s in f.next_steps if s.command]


def _unit_root(tmp_path: Path, port: int, unit: str = "vecdb.service") -> str:
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / unit).write_text(
        f"[Service]\nExecStart=/opt/vecdb/bin/vecdb serve --listen 127.0.0.1:{port}\n"
    )
    return str(tmp_path)


def test_refused_names_the_unit_file_end_to_end(tmp_path: Path, closed_port: int) -> None:
    """Loopback: a real refused connect, the local probe's own reading of this host
    with a real unit file naming the port: the ranked diagnosis names the unit in
    tcp.refused's steps, not 'systemctl --failed'."""
    data = collect_local(("127.0.0.1",), closed_port, root=_unit_root(tmp_path, closed_port))
    ev = _refused(closed_port, data)
    diagnosis = diagnose(ev.target, ev.results, "refused")
    f = _one(diagnosis.findings, "tcp.refused")
    cmds = _commands(f)
    assert "systemctl status vecdb.service" in cmds
    assert "journalctl -u vecdb.service -n 50 --no-pager" in cmds
    assert GENERIC not in cmds
    assert any(e.startswith(f"vecdb.service names port {closed_port}") for e in f.evidence)
    # the ss step stays first: what listens is still the first question
    assert cmds[0] == f"ss -tlnp 'sport = :{closed_port}'"


def test_refused_without_local_evidence_keeps_the_generic_step(closed_port: int) -> None:
    f = _one(tcp_rules.connect_failures(_refused(closed_port, None)), "tcp.refused")
    assert GENERIC in _commands(f)


def test_refused_with_nothing_named_keeps_the_generic_step(
    tmp_path: Path, closed_port: int
) -> None:
    data = collect_local(("127.0.0.1",), closed_port, root=str(tmp_path))
    assert not data.units and not data.containers
    ev = _refused(closed_port, data)
    assert port_owner(ev) is None
    f = _one(tcp_rules.connect_failures(ev), "tcp.refused")
    assert GENERIC in _commands(f)


def test_refused_names_the_container_publishing_the_port(closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port, root="/nonexistent")
    data = dataclasses.replace(
        data, containers=(QDRANT,), containers_source="/var/lib/docker/containers"
    )
    f = _one(tcp_rules.connect_failures(_refused(closed_port, data)), "tcp.refused")
    cmds = _commands(f)
    assert "docker logs --tail 50 qdrant" in cmds
    assert "docker compose -p search logs --tail 50 qdrant" in cmds
    assert GENERIC not in cmds
    assert any(
        f"the container qdrant (stopped) publishes port {closed_port}" in e for e in f.evidence
    )


def test_refused_names_the_container_a_dnat_rule_points_at(closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port, root="/nonexistent")
    rule = Forward(
        "nft", "table ip nat, chain output, handle 4", "dnat to 172.17.0.2", "172.17.0.2", 6333
    )
    rule = dataclasses.replace(rule, container="qdrant", container_running=False)
    data = dataclasses.replace(data, forwards=(rule,), containers=(QDRANT,))
    owner = port_owner(_refused(closed_port, data))
    assert owner is not None and owner.name == "the container qdrant"
    assert "DNAT rule (table ip nat, chain output, handle 4)" in owner.why


def test_odd_unit_names_are_quoted(closed_port: int, tmp_path: Path) -> None:
    """systemd escapes odd characters as \\xNN: the command quotes the name."""
    root = _unit_root(tmp_path, closed_port, unit="vec\\x20db.service")
    data = collect_local(("127.0.0.1",), closed_port, root=root)
    f = _one(tcp_rules.connect_failures(_refused(closed_port, data)), "tcp.refused")
    assert "systemctl status 'vec\\x20db.service'" in _commands(f)


def test_service_probe_refused_names_the_unit(tmp_path: Path, closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port, root=_unit_root(tmp_path, closed_port))
    ev = _refused(closed_port, data)
    svc = ServiceData("redis", "127.0.0.1", closed_port, FAILED, "connection refused: [Errno 111]")
    ev = Evidence(
        ev.target, {**ev.results, "service": ProbeResult("service", Status.FAILED, 0.1, "", svc)}
    )
    f = _one(service_rules.service_findings(ev), "tcp.refused")
    assert "systemctl status vecdb.service" in _commands(f)


def _with_unit(data: LocalData, unit: str) -> LocalData:
    """The listener's process as systemd would place it (no systemd is PID 1 here)."""
    pid = data.target.listeners[0].pids[0]
    placed = tuple(dataclasses.replace(p, unit=unit) if p.pid == pid else p for p in data.processes)
    if not any(p.pid == pid for p in placed):
        placed += (dataclasses.replace(process_info(pid), unit=unit),)
    return dataclasses.replace(data, processes=placed)


SERVER_503 = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503, "Service Unavailable")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


@pytest.fixture
def server_503() -> Iterator[tuple[int, int]]:
    """A real HTTP server answering 503, in another process (the local probe's
    walk skips its own): (pid, port)."""
    child = subprocess.Popen([sys.executable, "-c", SERVER_503], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.pid, int(child.stdout.readline())
    finally:
        child.kill()
        child.wait()


def test_http_503_names_the_unit_of_the_process_serving_the_port(
    server_503: tuple[int, int],
) -> None:
    """Loopback: the HTTP probe gets a real 503, the local probe sees who listens."""
    pid, port = server_503
    the_run, diagnosis = run(f"http://127.0.0.1:{port}/", ("http", "local"))
    generic = _one(diagnosis.findings, "http.unavailable")
    assert GENERIC in _commands(generic)  # that process runs in no unit here
    local = the_run.results["local"]
    assert isinstance(local.data, LocalData) and local.data.target.listeners[0].pids == (pid,)
    placed = _with_unit(local.data, "api.service")
    ev = Evidence(
        the_run.target, {**the_run.results, "local": dataclasses.replace(local, data=placed)}
    )
    f = _one(http_rules.status_findings(ev), "http.unavailable")
    cmds = _commands(f)
    assert cmds[:2] == [
        "systemctl status api.service",
        "journalctl -u api.service -n 50 --no-pager",
    ]
    assert GENERIC not in cmds
    assert any(f":{port}: api.service runs it" in e for e in f.evidence)


def test_docker_proxy_names_its_container_not_docker_service(closed_port: int) -> None:
    """docker-proxy runs in docker.service's cgroup; the container is what serves."""
    data = collect_local(("127.0.0.1",), closed_port, root="/nonexistent")
    proxy = dataclasses.replace(
        process_info(os.getpid()),
        name="docker-proxy",
        unit="docker.service",
        cmdline="/usr/bin/docker-proxy -proto tcp -host-port 6333 -container-ip 172.17.0.2",
    )
    from probes.diagnosis.owner_steps import service_steps

    cmds = [
        s.command for s in service_steps(dataclasses.replace(data, containers=(QDRANT,)), proxy)
    ]
    assert "docker logs --tail 50 qdrant" in cmds
    assert not any("docker.service" in (c or "") for c in cmds)
