"""Issue 17 item 4: name what runs the service.

The readers of probes.host.owner against fake /proc, unit-file and container
trees (the ``root`` / ``proc`` seams), and the local rules' next steps built
from real loopback evidence plus those trees.  systemd is not PID 1 here, so
no transient scope: cgroup files are written by the test, in the formats the
kernel writes (v1 and v2)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import local_rules, owner_steps
from probes.diagnosis.evidence import Evidence
from probes.host.local import LocalData, collect_local
from probes.host.owner import (
    Forward,
    iptables_forwards,
    name_containers,
    nft_forwards,
    parse_cgroup,
    read_containers,
    read_placement,
    units_for_port,
)
from probes.host.procinfo import process_info
from probes.host.system import OomKill, OomReport
from probes.net.tcp import TcpData
from probes.wire.connect import connect_once

DOCKER_ID = "3f1c2a9b8d7e" + "0" * 52
PODMAN_ID = "a1b2c3d4e5f6" + "1" * 52


# -- cgroup paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "runtime", "container", "kube"),
    [
        ("0::/system.slice/qdrant.service\n", "qdrant.service", "", "", False),
        (f"0::/system.slice/docker-{DOCKER_ID}.scope\n", "", "docker", DOCKER_ID[:12], False),
        (
            f"12:memory:/docker/{DOCKER_ID}\n1:cpu:/docker/{DOCKER_ID}\n",
            "",
            "docker",
            DOCKER_ID[:12],
            False,
        ),
        (
            f"0::/machine.slice/libpod-{PODMAN_ID}.scope/container\n",
            "",
            "podman",
            PODMAN_ID[:12],
            False,
        ),
        (
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
            f"cri-containerd-{DOCKER_ID}.scope\n",
            "",
            "containerd",
            DOCKER_ID[:12],
            True,
        ),
        (
            f"11:memory:/kubepods/burstable/pod99/{DOCKER_ID}\n",
            "",
            "containerd",
            DOCKER_ID[:12],
            True,
        ),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service\n",
            "api.service",
            "",
            "",
            False,
        ),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", "", "", "", False),
        ("0::/\n", "", "", "", False),
    ],
)
def test_parse_cgroup(text: str, unit: str, runtime: str, container: str, kube: bool) -> None:
    p = parse_cgroup(text)
    assert (p.unit, p.runtime, p.container, p.kubernetes) == (unit, runtime, container, kube)


def test_user_unit_is_marked() -> None:
    p = parse_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service\n")
    assert p.user_unit


# -- fake trees --------------------------------------------------------------------------


def _docker(root: Path, cid: str, name: str, ip: str, running: bool, **labels: str) -> None:
    folder = root / "var/lib/docker/containers" / cid
    folder.mkdir(parents=True)
    doc = {
        "ID": cid,
        "Name": name,
        "State": {"Running": running},
        "Config": {"Image": "qdrant/qdrant:v1", "Labels": labels},
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": ip, "GlobalIPv6Address": ""}}},
        "HostConfig": {"PortBindings": {"6333/tcp": [{"HostIp": "", "HostPort": "6333"}]}},
    }
    (folder / "config.v2.json").write_text(json.dumps(doc))


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A fake root: unit files and docker/podman state."""
    etc = tmp_path / "etc/systemd/system"
    lib = tmp_path / "lib/systemd/system"
    etc.mkdir(parents=True)
    lib.mkdir(parents=True)
    (etc / "qdrant.service").write_text(
        "[Unit]\nDescription=Qdrant\n[Service]\nUser=qdrant\n"
        "ExecStart=/usr/local/bin/qdrant --config-path /etc/qdrant/config.yaml --port 6333\n"
    )
    (lib / "web.socket").write_text("[Socket]\nListenStream=[::]:8088\n")
    (lib / "busy.service").write_text("[Service]\nExecStart=/usr/bin/busy --threads 6333\n")
    (lib / "other.socket").write_text("[Socket]\nListenStream=16333\n")
    dropin = etc / "api.service.d"
    dropin.mkdir()
    (dropin / "port.conf").write_text("[Service]\nEnvironment=PORT=7001\n")
    (etc / "masked.service").symlink_to("/dev/null")
    _docker(
        tmp_path,
        DOCKER_ID,
        "/qdrant",
        "172.17.0.2",
        False,
        **{"com.docker.compose.project": "search", "com.docker.compose.service": "qdrant"},
    )
    _docker(tmp_path, "b" * 64, "/bad;name$(x)", "172.17.0.3", True)
    podman = tmp_path / "var/lib/containers/storage/overlay-containers"
    podman.mkdir(parents=True)
    (podman / "containers.json").write_text(json.dumps([{"id": PODMAN_ID, "names": ["cache"]}]))
    return tmp_path


def test_units_naming_the_port(host: Path) -> None:
    (qdrant,) = units_for_port(6333, str(host))
    assert qdrant.unit == "qdrant.service"
    assert qdrant.path == "/etc/systemd/system/qdrant.service"
    assert "--port 6333" in qdrant.line
    assert (qdrant.user, qdrant.program) == ("qdrant", "qdrant")
    (web,) = units_for_port(8088, str(host))
    assert web.unit == "web.socket" and web.line == "ListenStream=[::]:8088"
    (api,) = units_for_port(7001, str(host))
    assert api.unit == "api.service" and api.path.endswith("api.service.d/port.conf")
    assert units_for_port(16334, str(host)) == ()
    assert units_for_port(1, str(host / "nowhere")) == ()


def test_containers_from_disk(host: Path) -> None:
    index = read_containers(str(host))
    assert "/var/lib/docker/containers" in index.source
    qdrant = index.by_id(DOCKER_ID)
    assert qdrant is not None
    assert (qdrant.name, qdrant.running, qdrant.addresses) == ("qdrant", False, ("172.17.0.2",))
    assert (qdrant.compose_project, qdrant.compose_service) == ("search", "qdrant")
    assert index.publishing(6333)[0] is qdrant
    odd = index.by_address("172.17.0.3")
    assert odd is not None and odd.name == "b" * 12  # a name unsafe to print: the id
    cache = index.by_id(PODMAN_ID[:12])
    assert cache is not None and (cache.name, cache.runtime) == ("cache", "podman")
    assert read_containers(str(host / "nowhere")).source == ""


def test_process_in_a_container_is_named(host: Path, tmp_path: Path) -> None:
    """A real process, its cgroup file as the kernel writes it (cgroup v1 docker)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        proc = tmp_path / "proc"
        (proc / str(child.pid)).mkdir(parents=True)
        (proc / str(child.pid) / "cgroup").write_text(
            f"12:memory:/docker/{DOCKER_ID}\n0::/system.slice/docker-{DOCKER_ID}.scope\n"
        )
        info = process_info(child.pid, proc=str(proc), containers=read_containers(str(host)))
        assert (info.runtime, info.container, info.container_name) == (
            "docker",
            DOCKER_ID[:12],
            "qdrant",
        )
        assert (info.compose_project, info.compose_service) == ("search", "qdrant")
        assert info.unit == ""
        assert read_placement(child.pid + 10**6, str(proc)).unit == ""  # unreadable: nothing
    finally:
        child.kill()
        child.wait()


# -- DNAT rules --------------------------------------------------------------------------

NFT_JSON = {
    "nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {
            "rule": {
                "family": "ip",
                "table": "nat",
                "chain": "output",
                "handle": 2,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                            "right": "10.9.0.1",
                        }
                    },
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                            "right": 8080,
                        }
                    },
                    {"dnat": {"addr": "10.99.0.5", "port": 80}},
                ],
            }
        },
        {
            "rule": {
                "family": "ip",
                "table": "nat",
                "chain": "output",
                "handle": 4,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                            "right": {"set": [8081, {"range": [9000, 9010]}]},
                        }
                    },
                    {"dnat": {"addr": "10.99.0.6"}},
                ],
            }
        },
        {
            "rule": {
                "family": "ip",
                "table": "nat",
                "chain": "OUTPUT",
                "handle": 6,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                            "right": 7070,
                        }
                    },
                    {"xt": {"type": "target", "name": "DNAT"}},
                ],
            }
        },
    ]
}
NFT_LISTING = """table ip nat {
\tchain output {
\t\ttype nat hook output priority dstnat; policy accept;
\t\tip daddr 10.9.0.1 tcp dport 8080 dnat to 10.99.0.5:80 # handle 2
\t\ttcp dport { 8081, 9000-9010 } dnat to 10.99.0.6 # handle 4
\t}
}
"""


def test_nft_dnat_rules() -> None:
    (f,), xt = nft_forwards(NFT_JSON, NFT_LISTING, 8080)
    assert xt  # an iptables-nft DNAT: iptables-save must be read too
    assert (f.to_address, f.to_port, f.destination) == ("10.99.0.5", 80, "10.99.0.5:80")
    assert f.text == "ip daddr 10.9.0.1 tcp dport 8080 dnat to 10.99.0.5:80"
    assert f.inspect_command == "nft -a list chain ip nat output"
    (g,), _ = nft_forwards(NFT_JSON, NFT_LISTING, 9005)
    assert (g.to_address, g.to_port) == ("10.99.0.6", 0)
    assert nft_forwards(NFT_JSON, NFT_LISTING, 7070)[0] == []


def test_iptables_dnat_rules(host: Path) -> None:
    save = (
        "*filter\n-A INPUT -p tcp --dport 6333 -j DNAT --to-destination 1.1.1.1:1\nCOMMIT\n"
        "*nat\n:PREROUTING ACCEPT [0:0]\n"
        "-A DOCKER -i docker0 -j RETURN\n"
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 6333 -j DNAT --to-destination 172.17.0.2:6333\n"
        "-A DOCKER -p tcp -m tcp ! --dport 6333 -j DNAT --to-destination 172.17.0.9:1\n"
        "-A DOCKER -p tcp -m multiport --dports 7000:7100,6333 -j DNAT --to-destination 172.17.0.4\n"
        "COMMIT\n"
    )
    first, second = iptables_forwards(save, 6333)
    assert (first.to_address, first.to_port) == ("172.17.0.2", 6333)
    assert first.where == "iptables table nat, chain DOCKER, rule 2"
    assert (second.to_address, second.to_port) == ("172.17.0.4", 0)
    named = name_containers([first, second], read_containers(str(host)))
    assert (named[0].container, named[0].container_running) == ("qdrant", False)
    assert named[1].container == ""


# -- the rules ---------------------------------------------------------------------------


def _evidence(data: LocalData, port: int) -> Evidence:
    attempt = asyncio.run(connect_once("127.0.0.1", port, 1.0, 0.0))
    assert attempt.state == "refused"
    tcp = TcpData(port, (attempt,))
    return Evidence(
        parse_target(f"127.0.0.1:{port}"),
        {
            "local": ProbeResult("local", Status.OK, 0.1, "", data),
            "tcp": ProbeResult("tcp", Status.FAILED, 0.1, "", tcp),
        },
    )


def _commands(finding: object) -> list[str]:
    return [s.command for s in finding.next_steps if s.command]  # type: ignore[attr-defined]


def test_not_listening_names_the_unit_that_should(host: Path, closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port)
    assert data.target.local and not data.target.serving
    (unit,) = units_for_port(6333, str(host))
    data = dataclasses.replace(data, units=(dataclasses.replace(unit),), tools=("systemd",))
    (f,) = local_rules.not_listening(_evidence(data, closed_port))
    assert f.id == "local.not_listening"
    assert f.title.endswith("qdrant.service should")
    cmds = _commands(f)
    assert cmds[:2] == [
        "systemctl status qdrant.service",
        "journalctl -u qdrant.service -n 50 --no-pager",
    ]
    assert not any("systemctl --failed" in c or "list-units" in c for c in cmds)
    assert any("/etc/systemd/system/qdrant.service" in e for e in f.evidence)


def test_not_listening_names_the_stopped_container(host: Path, closed_port: int) -> None:
    index = read_containers(str(host))
    data = collect_local(("127.0.0.1",), closed_port)
    data = dataclasses.replace(
        data, containers=index.publishing(6333), containers_source=index.source, tools=("docker",)
    )
    (f,) = local_rules.not_listening(_evidence(data, closed_port))
    cmds = _commands(f)
    assert "docker logs --tail 50 qdrant" in cmds
    assert "docker compose -p search logs --tail 50 qdrant" in cmds
    assert any("container qdrant (stopped) publishes port" in e for e in f.evidence)
    assert not any("--filter publish=" in c for c in cmds)


def test_forward_to_a_gone_container(host: Path, closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port)
    rule = Forward(
        "iptables", "iptables table nat, chain DOCKER, rule 2", "-A DOCKER ...", "172.17.0.99", 80
    )
    data = dataclasses.replace(
        data, forwards=(rule,), containers_source="/var/lib/docker/containers"
    )
    (f,) = local_rules.not_listening(_evidence(data, closed_port))
    assert f.id == "local.forwarded" and f.severity.value == "error"
    assert "no container has that address" in f.title
    assert any("DNAT rule (iptables table nat, chain DOCKER, rule 2)" in e for e in f.evidence)
    assert "iptables-save -t nat" in _commands(f)
    # the same rule to a container that exists but is stopped: named
    named = name_containers([rule], read_containers(str(host)))
    assert named[0].container == ""
    rule2 = dataclasses.replace(rule, to_address="172.17.0.2")
    (named2,) = name_containers([rule2], read_containers(str(host)))
    data = dataclasses.replace(data, forwards=(named2,))
    (g,) = local_rules.not_listening(_evidence(data, closed_port))
    assert "the container qdrant (stopped)" in g.title
    assert "docker logs --tail 50 qdrant" in _commands(g)


def test_oom_kill_names_the_unit_from_its_file(host: Path, closed_port: int) -> None:
    data = collect_local(("127.0.0.1",), closed_port)
    (unit,) = units_for_port(6333, str(host))
    kill = OomKill(pid=4242, name="qdrant", age_s=30, cgroup_limit=False)
    data = dataclasses.replace(
        data, units=(unit,), oom=OomReport(True, "/dev/kmsg", (kill,), 1), tools=()
    )
    (f,) = local_rules.oom_killed(_evidence(data, closed_port))
    assert f.severity.value == "error"
    assert f.title.endswith("(qdrant.service)")
    assert "systemctl status qdrant.service" in _commands(f)
    assert "journalctl -u qdrant.service -n 50 --no-pager" in _commands(f)


def test_listener_in_a_unit_names_it_without_systemd_tools(closed_port: int) -> None:
    """The cgroup proves systemd runs it: name the unit even when systemctl was not found."""
    data = collect_local(("127.0.0.1",), closed_port)
    proc = process_info(os.getpid())
    proc = dataclasses.replace(proc, unit="qdrant.service")
    steps = owner_steps.service_steps(dataclasses.replace(data, tools=()), proc)
    assert [s.command for s in steps] == [
        "systemctl status qdrant.service",
        "journalctl -u qdrant.service -n 50 --no-pager",
    ]


def test_unit_program_running_elsewhere_is_pointed_at(tmp_path: Path, closed_port: int) -> None:
    """The unit file names the port; its program runs, listening on another port."""
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "vecdb.service").write_text(
        f"[Service]\nExecStart=/opt/vecdb/bin/vecdb serve --listen 127.0.0.1:{closed_port}\n"
    )
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, time\n"
            "open('/proc/self/comm', 'w').write('vecdb')\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "print(s.getsockname()[1], flush=True); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        other = int(child.stdout.readline())
        data = collect_local(("127.0.0.1",), closed_port, root=str(tmp_path))
        assert [u.unit for u in data.units] == ["vecdb.service"]
        assert data.target.expected_names == ("vecdb",)
        assert child.pid in data.target.lookalikes
        (f,) = local_rules.not_listening(_evidence(data, closed_port))
        assert any(
            f"vecdb (pid {child.pid}) runs and listens on TCP {other}" in e for e in f.evidence
        )
        assert _commands(f)[0] == "systemctl status vecdb.service"
    finally:
        child.kill()
        child.wait()


def test_docker_proxy_listener_names_its_container(host: Path, closed_port: int) -> None:
    index = read_containers(str(host))
    data = collect_local(("127.0.0.1",), closed_port)
    data = dataclasses.replace(data, containers=index.publishing(6333))
    proxy = dataclasses.replace(
        process_info(os.getpid()),
        name="docker-proxy",
        cmdline="/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 6333 "
        "-container-ip 172.17.0.2 -container-port 6333",
    )
    commands = [s.command for s in owner_steps.service_steps(data, proxy)]
    assert "docker logs --tail 50 qdrant" in commands


def test_unreadable_container_storage_is_no_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without root, podman's 0700 storage cannot even be stat'ed: no containers, no error."""
    real_is_file = Path.is_file

    def denied(self: Path) -> bool:
        if "containers" in self.parts:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", denied)
    index = read_containers(str(tmp_path))
    assert index.containers == ()
