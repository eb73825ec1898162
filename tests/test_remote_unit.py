"""probes.remote without ssh: the collector's text, reading its document, ssh's failure
classes, destinations, inventories, and the CLI's refusals (issue 25)."""

from __future__ import annotations

import ast
import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult, Status, to_jsonable
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.remote import ssh
from probes.remote.compare import here_view
from probes.remote.document import read_server
from probes.remote.inventory import InventoryError, ansible_group, vantages
from probes.remote.vantage import VantageAttempt as VantageAttemptT
from probes.remote.vantage import VantagesData, VantageView
from tests.fake_engine import FakeNetwork
from tui.cli import main

COLLECTOR = Path(ssh.__file__).with_name("collector.py")


def test_the_collector_is_python_3_8_and_stdlib_only() -> None:
    tree = ast.parse(COLLECTOR.read_text(), feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_collector_reads_a_real_listener_and_netmedic_reads_its_document() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(7)
        port = listener.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-"],
            input=ssh.collector_script({"mode": "server", "port": port}),
            capture_output=True,
            timeout=30,
            check=True,
        )
        reply = ssh.classify("here", 0, done.stdout, done.stderr, 0.1)
    assert reply.ok
    data = read_server("here", reply.document, ["127.0.0.1"], port)
    assert data.local is not None
    (x,) = data.local.target.tcp_listeners
    assert (x.address, x.port) == ("127.0.0.1", port)
    import os

    assert os.getpid() in x.pids  # the owner, found through /proc/*/fd
    assert data.local.target.accepted_on == ("127.0.0.1",)
    assert x.backlog == -1  # unknown: /proc/net/tcp does not show it


def test_a_hostile_document_is_sanitised_and_never_crashes() -> None:
    doc = {
        "netmedic_collector": 1,
        "hostname": "db1\x1b]0;owned\x07",
        "uid": "zero",
        "addresses": ["10.0.0.5", "not an address", 7],
        "sockets": [{"state": "LISTEN", "laddr": "\x1b[31m", "lport": "x"}, "junk"],
        "owners": {"1": "not a list"},
        "processes": [{"pid": 1, "name": "evil\x1b[2J", "argv": ["--password", "hunter2"]}],
        "unit_states": [{"unit": "x.service", "log": ["line \x1b[31mred"]}],
        "firewall": {"backend": "nft", "json": "[not json"},
        "kernel": {"readable": True, "records": [42]},
        "memory": {"meminfo": {"MemTotal": "lots"}},
        "monotonic": "nan",
    }
    data = read_server("db1", doc, ["10.0.0.5"], 5432)
    text = json.dumps([data.hostname, data.units[0].log, data.local.processes[0].name])  # type: ignore[union-attr]
    assert "\x1b" not in text
    assert "hunter2" not in data.local.processes[0].cmdline  # type: ignore[union-attr]
    assert data.firewall_note == "the nft ruleset could not be read"


@pytest.mark.parametrize(
    ("stderr", "code", "status"),
    [
        (b"No ED25519 host key is known for db1 and you have requested strict checking.\r\n"
         b"Host key verification failed.\r\n", 255, ssh.HOST_KEY_UNKNOWN),
        (b"@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"
         b"Host key verification failed.\r\n", 255, ssh.HOST_KEY_CHANGED),
        (b"root@10.0.0.5: Permission denied (publickey,password).\r\n", 255, ssh.AUTH_FAILED),
        (b"ssh: connect to host 10.9.9.9 port 22: No route to host\r\n", 255, ssh.NO_ROUTE),
        (b"ssh: connect to host 10.9.9.9 port 22: Connection timed out\r\n", 255, ssh.TIMEOUT),
        (b"ssh: Could not resolve hostname nope: Name or service not known\r\n", 255, ssh.UNKNOWN_HOST),
        (b"bash: line 1: python3: command not found\n", 127, ssh.NO_PYTHON),
        (b"", 0, ssh.BAD_OUTPUT),
    ],
)  # fmt: skip
def test_ssh_failures_are_classified(stderr: bytes, code: int, status: str) -> None:
    reply = ssh.classify("db1", code, b"", stderr, 0.5)
    assert reply.status == status
    assert "\r" not in reply.detail and "@@@" not in reply.detail


def test_a_remote_cannot_pass_for_the_collector_with_other_output() -> None:
    assert not ssh.classify("db1", 0, b'{"hostname": "x"}\n', b"", 0.1).ok


def test_ssh_command_is_batch_mode_checks_host_keys_and_ends_options() -> None:
    args = ssh.ssh_command("/usr/bin/ssh", "user@db1", 7, "/tmp/cfg")
    assert args[:2] == ["/usr/bin/ssh", "-T"]
    assert "BatchMode=yes" in args and "ConnectTimeout=7" in args
    assert not any("StrictHostKeyChecking" in a for a in args)
    assert args[args.index("--") + 1 :] == ["user@db1", "python3", "-"]


@pytest.mark.parametrize("dest", ["-oProxyCommand=touch /tmp/x", "db1 rm", "db\x1b1", ""])
def test_bad_destinations_are_refused(dest: str) -> None:
    with pytest.raises(ssh.DestinationError):
        ssh.check_destination(dest)


INVENTORY = {
    "_meta": {
        "hostvars": {
            "db1": {"ansible_host": "10.0.0.5", "ansible_user": "ops", "ansible_port": 2222},
            "web2": {"ansible_host": "fd00::7"},
        }
    },
    "all": {"children": ["ungrouped", "prod"]},
    "prod": {"children": ["db", "web"]},
    "db": {"hosts": ["db1"]},
    "web": {"hosts": ["web1", "web2"]},
    "ungrouped": {"hosts": ["lonely"]},
}


def test_ansible_inventory_groups_children_and_hostvars() -> None:
    assert ansible_group(INVENTORY, "prod") == [
        ("db1", "ssh://ops@10.0.0.5:2222"),
        ("web1", "web1"),
        ("web2", "fd00::7"),
    ]
    assert [name for name, _ in ansible_group(INVENTORY, "all")] == [
        "lonely",
        "db1",
        "web1",
        "web2",
    ]
    with pytest.raises(InventoryError, match="no group 'nope'"):
        ansible_group(INVENTORY, "nope")


def test_from_mixes_destinations_and_groups(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps(INVENTORY))
    chosen = vantages("bastion,@db,bastion", str(inventory))
    assert chosen == (("bastion", "bastion"), ("db1", "ssh://ops@10.0.0.5:2222"))
    plain = tmp_path / "hosts.txt"
    plain.write_text("# the app servers\napp1\nops@app2  # the old one\n\n")
    assert vantages("@all", str(plain)) == (("app1", "app1"), ("ops@app2", "ops@app2"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--server=-oProxyCommand=x"], "may not start with '-'"),
        (["--from", "@web", "--inventory", "/nonexistent/inv.json"], "no such file"),
        (["--from", " , "], "names no host"),
        (["--server", "db1", "--ssh-config", "/nonexistent/cfg"], "no such file"),
    ],
)
def test_bad_remote_options_are_one_line_and_exit_2(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "127.0.0.1:9", *options])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


# -- what the run makes of it -------------------------------------------------------------


def test_remote_text_passes_the_runs_secrets_boundary() -> None:
    from probes.core.options import run_redactor
    from probes.core.target import parse_target

    target = parse_target("postgres://app:Sekr3tPw9@db1:5432/orders")
    doc = {
        "netmedic_collector": 1,
        "unit_states": [{"unit": "app.service", "log": ["connecting with password Sekr3tPw9"]}],
        "processes": [{"pid": 9, "name": "app", "argv": ["app", "--db-password", "Sekr3tPw9"]}],
    }
    data = read_server("db1", doc, ["10.0.0.5"], 5432)
    redacted = run_redactor(target, (), {}).obj(data)
    assert "Sekr3tPw9" not in json.dumps(to_jsonable(redacted))
    assert "Sekr3tPw9" in json.dumps(to_jsonable(data))  # it was there to redact


async def _here(target: str) -> dict[str, ProbeResult]:
    network = FakeNetwork(listening=True)
    ctx = ProbeContext(parse_target(target))
    out = {}
    for name in ("dns", "tcp", "tls", "http"):
        async for result in network.overrides()[name](ctx):
            out[name] = result
    return out


def _with_vantage(results: dict[str, ProbeResult], view: VantageView) -> list[str]:
    data = VantagesData((view,), 1, 10, 20.0)
    all_results = {**results, "vantages": ProbeResult("vantages", Status.OK, 0.1, "", data)}
    return [f.id for f in diagnose(parse_target(TARGET), all_results).findings]


TARGET = "https://api.example.com/health"


async def test_the_first_layer_that_differs_is_the_finding() -> None:
    results = await _here(TARGET)
    here = here_view(results)
    assert here.tls_leaf and here.http_status
    same = dataclasses.replace(here, name="app2", dest="app2")
    assert not [i for i in _with_vantage(results, same) if "vantage" in i or "from_" in i]
    other_cert = dataclasses.replace(same, tls_leaf="AA:BB", http_status=here.http_status + 1)
    found = _with_vantage(results, other_cert)
    assert "tls.differs_by_vantage" in found and "http.differs_by_vantage" not in found
    other_status = dataclasses.replace(same, http_status=503)
    assert "http.differs_by_vantage" in _with_vantage(results, other_status)
    # A difference matters as much as what it does here: a 503 only there is a warning,
    # a certificate both places trust is a note (CDNs serve several).
    data = VantagesData((other_status,), 1, 10, 20.0)
    both = {**results, "vantages": ProbeResult("vantages", Status.OK, 0.1, "", data)}
    severities = {f.id: f.severity for f in diagnose(parse_target(TARGET), both).findings}
    assert severities["http.differs_by_vantage"] == "warning"
    unreached = VantageView("old", "old", ssh.AUTH_FAILED, "Permission denied (publickey).")
    assert "remote.unreachable" in _with_vantage(results, unreached)


def test_check_shows_vantage_progress_on_a_terminal_only() -> None:
    import io

    from probes.core.context import ProbeConfig
    from probes.core.events import ProbeUpdate
    from tui.remote import with_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    config = ProbeConfig(vantages=(("a", "a"), ("b", "b")))
    seen: list[object] = []
    terminal = Terminal()
    sink = with_progress(seen.append, terminal, config)
    assert sink is not None
    views = (VantageView("a", "a", ssh.OK),)
    partial = ProbeResult(
        "vantages", Status.OK, 0.1, "", VantagesData(views, 2, 10, 20.0), final=False
    )
    sink(ProbeUpdate(partial))
    assert terminal.getvalue() == "\rvantages: 1/2 answered" and len(seen) == 1
    assert with_progress(seen.append, io.StringIO(), config) == seen.append  # a pipe: silent


def _server_evidence(doc: dict[str, object], refused: bool = True) -> list[str]:
    from probes.net.tcp import OPEN, REFUSED, TcpAttempt, TcpData

    data = read_server("db1", {"netmedic_collector": 1, "uid": 0, **doc}, ["10.0.0.5"], 5432)
    attempt = TcpAttempt("10.0.0.5", 4, 5432, REFUSED if refused else OPEN, 0.01)
    results = {
        "tcp": ProbeResult("tcp", Status.FAILED, 0.1, "", TcpData(5432, (attempt,))),
        "server": ProbeResult("server", Status.OK, 0.5, "", data),
    }
    diagnosis = diagnose(parse_target("10.0.0.5:5432"), results)
    return [diagnosis.verdict, *(f"{f.id}: {f.title}" for f in diagnosis.findings)]


def test_a_failed_systemd_unit_is_named_with_its_state_and_log() -> None:
    """The document a systemd host gives (systemctl show, journalctl -u): canned here,
    since the lab's namespaces run no systemd."""
    found = _server_evidence(
        {
            "addresses": ["10.0.0.5"],
            "monotonic": 1000.0,
            "units": [{"path": "/lib/systemd/system/postgresql@15-main.service",
                       "text": "[Service]\nExecStart=/usr/lib/postgresql/15/bin/postgres -p 5432\n"}],
            "unit_states": [{
                "unit": "postgresql@15-main.service", "systemd": True,
                "properties": {"ActiveState": "failed", "Result": "exit-code", "ExecMainStatus": "1",
                               "NRestarts": "5", "StateChangeTimestampMonotonic": "880000000"},
                "log": ["FATAL:  could not open file \"/etc/ssl/private/db.key\": Permission denied"],
                "log_source": "journal",
            }],
        }
    )  # fmt: skip
    assert found[0] == "server.unit_failed", found
    assert (
        "server.unit_failed: refused here; on db1 postgresql@15-main.service is failed "
        "(exit-code, exit code 1) 2 min ago"
    ) in found


def test_a_stopped_container_publishing_the_port_is_named() -> None:
    found = _server_evidence(
        {
            "addresses": ["10.0.0.5"],
            "containers": [{"runtime": "docker", "name": "pg", "state": "exited",
                            "status": "Exited (137) 3 minutes ago",
                            "log": ["LOG:  database system is shut down"]}],
        }
    )  # fmt: skip
    assert found[0] == "server.unit_failed", found
    assert any("pg is exited (Exited (137) 3 minutes ago)" in f for f in found), found


def test_server_and_vantage_data_revive_from_their_json() -> None:
    from probes.record.revive import revive

    data = read_server(
        "db1", {"netmedic_collector": 1, **SERVER_DOC_FOR_REVIVE}, ["10.0.0.5"], 5432
    )
    assert revive(type(data), json.loads(json.dumps(to_jsonable(data)))) == data
    views = VantagesData(
        (VantageView("a", "a", ssh.OK, tcp=(VantageAttemptT("1.2.3.4", "open"),)),), 1, 10, 20.0
    )
    assert revive(VantagesData, json.loads(json.dumps(to_jsonable(views)))) == views


SERVER_DOC_FOR_REVIVE = {
    "hostname": "db1",
    "uid": 0,
    "addresses": ["10.0.0.5"],
    "sockets": [{"family": 4, "state": "LISTEN", "laddr": "127.0.0.1", "lport": 5432, "inode": 5}],
    "owners": {"5": [42]},
    "processes": [
        {"pid": 42, "name": "postgres", "cgroup": "0::/system.slice/postgresql.service\n"}
    ],
    "unit_states": [{"unit": "postgresql.service", "log": ["ok"]}],
    "kernel": {
        "readable": True,
        "records": ["6,100,5000000,-;Out of memory: Killed process 9 (x)"],
    },
    "memory": {"meminfo": {"MemTotal": 1000, "MemAvailable": 500}},
    "monotonic": 100.0,
}


async def test_vantages_are_asked_at_most_n_at_once_in_order_with_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from probes.core.context import ProbeConfig
    from probes.remote import vantage

    running = peak = 0

    async def fake_collect(
        dest: str, params: dict[str, object], timeout: float, config: str = ""
    ) -> ssh.Reply:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 if dest != "h03" else 0.05)  # h03 answers last
        running -= 1
        doc = {"netmedic_collector": 1, "resolve": {"addresses": ["10.0.0.5"]},
               "tcp": [{"address": "10.0.0.5", "state": "open"}]}  # fmt: skip
        return ssh.Reply(dest, ssh.OK, "", 0.01, doc)

    monkeypatch.setattr(vantage.ssh, "collect", fake_collect)
    hosts = tuple((f"h{i:02d}", f"h{i:02d}") for i in range(25))
    config = ProbeConfig(vantages=hosts, remote_concurrency=4)
    ctx = ProbeContext(parse_target("10.0.0.5:5432"), config)
    results = [r async for r in vantage.probe_vantages(ctx)]
    assert peak == 4
    assert [r.final for r in results] == [False] * 24 + [True]
    final = results[-1].data
    assert isinstance(final, VantagesData)
    assert [v.name for v in final.views] == [name for name, _ in hosts]  # as named
