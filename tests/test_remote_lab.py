"""Both ends over real OpenSSH (issue 25): sshd in lab namespaces, keys made here.

    client 10.1.0.2 ── router ── server 10.2.0.2/.3  (sshd, the services)
                          └──── bastion 10.3.0.2      (sshd: the other vantage)

Each case runs ``netmedic check ... --server db`` or ``--from ...`` in the client's
namespace with a private ssh_config (``--ssh-config``), asserts the verdict and that the
remote side is left as it was (the same processes, no new files of ours).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab.checkdoc import evidence, finding, ids, probe
from tests.lab.netns import Lab, lab_unavailable_reason
from tests.lab.sshlab import SSHD, SshLab
from tests.lab.topology import Topology, build

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        lab_unavailable_reason() is not None or not os.path.exists(SSHD),
        reason=lab_unavailable_reason() or "needs openssh-server",
    ),
]

SERVER = "10.2.0.2"
BASTION = "10.3.0.2"
SILENT = "10.2.0.54"
CUT_OFF_HERE = "10.2.0.60"  # the router drops everything from the client to it
CUT_OFF_THERE = "10.2.0.61"  # ... and from the bastion to this one
LOOPBACK_ONLY, DROPPED, FAILED_UNIT, OOM, HEALTHY, BLOCKED_HERE = range(15432, 15438)
OOM_NAME = f"nmoom{os.getpid() % 100000}"
LISTEN = (
    "import socket,sys,time\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16); print('ready', flush=True)\n"
    "held = []\nwhile True: held.append(s.accept()[0])\n"
)


class Remote:
    def __init__(self, topo: Topology, bastion: str, ssh: SshLab, folder: Path) -> None:
        self.topo, self.bastion, self.ssh, self.folder = topo, bastion, ssh, folder

    def check(self, target: str, *options: str, timeout: str = "2") -> dict[str, Any]:
        done = self.topo.lab.run(
            self.topo.client,
            [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", timeout,
             "--symptom", "refused", "--ssh-config", str(self.ssh.config), *options, target],
            timeout=120,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        doc: dict[str, Any] = json.loads(done.stdout)
        return doc

    def remote_state(self) -> tuple[set[str], set[str]]:
        """The processes in the server's and bastion's namespaces, and the files in the
        remote logins' HOME and TMPDIR (the lab's own folders: nothing else writes there)."""
        pids: set[str] = set()
        for ns in (self.topo.server, self.bastion):
            listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            pids |= set(listed.stdout.split())
        files = {str(p) for folder in (self.ssh.home, self.ssh.tmp) for p in folder.rglob("*")}
        return pids, files


def assert_left_nothing(remote: Remote, before: tuple[set[str], set[str]]) -> None:
    """No process and no file of the check's is left on the remote side."""
    pids, files = remote.remote_state()
    assert pids <= before[0], f"left running: {pids - before[0]}"
    assert files <= before[1], f"left behind: {files - before[1]}"


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    folder = tmp_path_factory.mktemp("ssh")
    folder.chmod(0o755)
    with Lab("ssh") as lab:
        topo = build(lab)
        bastion = lab.add_host("b")
        lab.link(topo.router, "eth2", ["10.3.0.1/24"], bastion, "eth0", [f"{BASTION}/24"])
        lab.route(bastion, "default", "via", "10.3.0.1")
        lab.route(topo.client, "10.3.0.0/24", "via", "10.1.0.1")
        # What each place's resolver says of app.lab (ip netns exec mounts these).
        lab.write_etc(topo.client, "hosts", f"127.0.0.1 localhost\n{SERVER} app.lab\n")
        lab.write_etc(bastion, "hosts", "127.0.0.1 localhost\n10.2.0.3 app.lab\n")
        # Units on the server, as its /etc/systemd/system (ip netns exec mounts it).
        for cut_off in (CUT_OFF_HERE, CUT_OFF_THERE):
            lab.ns(topo.server, "ip", "addr", "add", f"{cut_off}/24", "dev", "eth0")
        units = Path("/etc/netns") / topo.server / "systemd" / "system"
        units.mkdir(parents=True)
        log = folder / "nmfail.log"
        log.write_text(
            "2026-12-07T06:58:01 nmfail starting on :15434\n"
            "2026-12-07T06:58:02 FATAL: could not open /var/lib/nmfail/data: Permission denied\n"
        )
        (units / "nmfail.service").write_text(
            f"[Service]\nExecStart=/usr/local/bin/nmfail --port {FAILED_UNIT}\n"
            f"StandardOutput=append:{log}\nStandardError=append:{log}\n"
        )
        (units / f"{OOM_NAME}.service").write_text(
            f"[Service]\nExecStart=/usr/local/bin/{OOM_NAME} --listen 0.0.0.0:{OOM}\n"
        )
        with open("/dev/kmsg", "w") as kmsg:  # the kernel's words for an OOM kill
            kmsg.write(
                f"Out of memory: Killed process 4242 ({OOM_NAME}) total-vm:812345kB, "
                "anon-rss:786432kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1600kB "
                "oom_score_adj:0\n"
            )
        for address, port in (
            ("127.0.0.1", LOOPBACK_ONLY),
            ("0.0.0.0", DROPPED),
            ("0.0.0.0", HEALTHY),
            ("0.0.0.0", BLOCKED_HERE),
        ):
            lab.spawn(topo.server, [sys.executable, "-c", LISTEN, address, str(port)])
        lab.nft(
            topo.server,
            "table inet guard {\n chain input {\n  type filter hook input priority 0; "
            f"policy accept;\n  tcp dport {DROPPED} drop\n }}\n}}\n",
        )
        topo.set_router_rules(
            f"ip saddr 10.1.0.2 tcp dport {BLOCKED_HERE} drop",
            f"ip saddr 10.1.0.2 ip daddr {CUT_OFF_HERE} drop",
            f"ip saddr {BASTION} ip daddr {CUT_OFF_THERE} drop",
            f"ip daddr {SILENT} tcp dport 22 drop",  # an ssh host that never answers
        )
        ssh = SshLab(lab, folder)
        ssh.serve(topo.server, SERVER)
        ssh.serve(bastion, BASTION)
        # The same server as seen by a login whose PATH has no python3.
        ssh.serve(topo.server, "10.2.0.3", "PATH=/nonexistent")
        ssh.alias("db", SERVER)
        ssh.alias("nopy", "10.2.0.3")
        ssh.alias("bastion", BASTION)
        # The logins' HOME and TMPDIR are the folders remote_state() watches.
        seen = lab.run(topo.client, ["ssh", "-F", str(ssh.config), "db", "echo $HOME $TMPDIR"])
        assert seen.stdout.split() == [str(ssh.home), str(ssh.tmp)], seen.stderr
        yield Remote(topo, bastion, ssh, folder)


def test_loopback_only_on_the_server(remote: Remote) -> None:
    before = remote.remote_state()
    report = remote.folder / "loopback.md"
    doc = remote.check(f"{SERVER}:{LOOPBACK_ONLY}", "--server", "db", "--report", str(report))
    assert probe(doc, "server")["status"] == "ok"
    assert doc["verdict"] == "local.loopback_only", ids(doc)
    f = finding(doc, "local.loopback_only")
    assert f["title"].startswith("on db: ") and f"127.0.0.1:{LOOPBACK_ONLY}" in f["title"]
    assert any(s["command"] and s["command"].startswith("ssh -t db ") for s in f["next_steps"])
    text = report.read_text()  # the report shows both ends
    assert f"127.0.0.1:{LOOPBACK_ONLY}" in text and "db (" in text
    assert_left_nothing(remote, before)


def test_without_python3_plain_ss_still_finds_loopback_only(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{LOOPBACK_ONLY}", "--server", "nopy")
    server = probe(doc, "server")
    assert server["status"] == "ok" and server["data"]["status"] == "no_python"
    assert doc["verdict"] == "local.loopback_only", ids(doc)
    assert "ss -Htln` only" in evidence(doc, "local.loopback_only")
    assert_left_nothing(remote, before)


def test_input_chain_drops_the_port(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{DROPPED}", "--server", "db")
    assert doc["verdict"] == "server.firewall_blocked", ids(doc)
    text = evidence(doc, "server.firewall_blocked")
    assert f"tcp dport {DROPPED} drop" in text and "chain input" in text
    assert_left_nothing(remote, before)


def test_stopped_unit_with_its_log(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{FAILED_UNIT}", "--server", "db")
    assert doc["verdict"] == "server.unit_failed", ids(doc)
    f = finding(doc, "server.unit_failed")
    assert "nmfail.service" in f["title"]
    assert "Permission denied" in evidence(doc, "server.unit_failed")
    assert_left_nothing(remote, before)


def test_oom_killed_service(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{OOM}", "--server", "db")
    assert doc["verdict"] == "system.oom_killed", ids(doc)
    assert OOM_NAME in finding(doc, "system.oom_killed")["title"]
    assert_left_nothing(remote, before)


def test_healthy_server(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{HEALTHY}", "--server", "db")
    server = probe(doc, "server")
    assert server["status"] == "ok"
    print(
        f"--server: {server['duration_s'] * 1000:.0f} ms in all, "
        f"{server['data']['collect_s'] * 1000:.0f} ms collecting on the server; "
        f"the whole check {doc['duration_s']:.2f} s"
    )
    assert doc["verdict"] == "ok", ids(doc)
    assert "local.listening" in ids(doc)
    assert_left_nothing(remote, before)


def test_reachable_from_the_bastion_blocked_here(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{SERVER}:{BLOCKED_HERE}", "--from", "bastion")
    assert doc["verdict"] == "path.blocked_from_here", ids(doc)
    assert "open from bastion" in finding(doc, "path.blocked_from_here")["title"]
    # Only the port is dropped: the path reaches the server from both places.
    steps = [s["text"] for s in finding(doc, "path.blocked_from_here")["next_steps"]]
    assert any(s.startswith(f"The path reaches {SERVER} from here too (2 hops)") for s in steps)
    assert_left_nothing(remote, before)


def test_the_path_from_each_place_locates_the_block_here(remote: Remote) -> None:
    before = remote.remote_state()
    report = remote.folder / "cut-off.md"
    doc = remote.check(
        f"{CUT_OFF_HERE}:{BLOCKED_HERE}",
        "--from",
        "bastion",
        "--report",
        str(report),
        # this host's trace is a follow-up of the unanswered SYN (at 1 s): 4 s leaves it
        # room to finish on a loaded machine, where 2 s left it cut short
        timeout="4",
    )
    assert doc["verdict"] == "path.blocked_from_here", ids(doc)
    (view,) = probe(doc, "vantages")["data"]["views"]
    (path,) = view["paths"]  # traced on the bastion, unprivileged, from its error queue
    assert path["outcome"] == "reached" and path["protocol"] == "udp"
    assert [h["address"] for h in path["hops"]] == ["10.3.0.1", CUT_OFF_HERE]
    text = evidence(doc, "path.blocked_from_here")
    assert "path from here (icmp" in text and "goes silent after hop 1 (10.1.0.1)" in text
    assert (
        f"path from bastion (udp, round trips by the remote script's clock): reaches {CUT_OFF_HERE} in 2 hops"
        in text
    )
    steps = [s["text"] for s in finding(doc, "path.blocked_from_here")["next_steps"]]
    assert (
        f"From here the path goes silent after hop 1 (10.1.0.1); from bastion it reaches "
        f"{CUT_OFF_HERE} in 2 hops: look at the firewall or route on hop 1 (10.1.0.1) and the "
        "next one"
    ) in steps
    assert f"path to {CUT_OFF_HERE}: 10.3.0.1 → {CUT_OFF_HERE} (reached)" in report.read_text()
    assert_left_nothing(remote, before)


def test_the_vantage_s_path_says_where_it_is_cut_off(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"{CUT_OFF_THERE}:{HEALTHY}", "--from", "bastion")
    f = finding(doc, "path.blocked_from_vantage")
    assert f["title"].startswith("open from here, filtered from bastion")
    (path,) = probe(doc, "vantages")["data"]["views"][0]["paths"]
    assert (path["outcome"], path["stopped_at"]) == ("silent", 1)
    assert [h["address"] for h in path["hops"]] == ["10.3.0.1", ""]
    assert (
        "From bastion the path goes silent after hop 1 (10.3.0.1); from here it reaches "
        f"{CUT_OFF_THERE} in 2 hops: look at the firewall or route on hop 1 (10.3.0.1) and the "
        "next one"
    ) in [s["text"] for s in f["next_steps"]]
    assert_left_nothing(remote, before)


def test_check_prints_the_host_by_layer_table(remote: Remote) -> None:
    done = remote.topo.lab.run(
        remote.topo.client,
        [sys.executable, "-m", "tui.cli", "check", "--timeout", "2", "--symptom", "refused",
         "--ssh-config", str(remote.ssh.config), "--from", "bastion", "--server", "db",
         f"{SERVER}:{BLOCKED_HERE}"],
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    print(done.stdout)
    table = done.stdout[done.stdout.index("the same check from each place") :]
    here, bastion = (line.split() for line in table.splitlines()[2:4])
    assert here[0] == "here" and "filtered" in here
    assert bastion[0] == "bastion" and "open" in bastion and bastion[-1] == "tcp"
    assert " ".join(bastion[-3:-1]) == "2 hops"  # the path layer: reached from the bastion


def test_different_dns_answer_from_the_bastion(remote: Remote) -> None:
    before = remote.remote_state()
    doc = remote.check(f"app.lab:{HEALTHY}", "--from", "bastion")
    f = finding(doc, "dns.differs_by_vantage")
    assert SERVER in f["title"] and "10.2.0.3" in f["title"]
    assert_left_nothing(remote, before)


def test_inventory_of_twenty_with_one_bad_host(remote: Remote) -> None:
    for i in range(20):
        if f"v{i:02d}" not in remote.ssh.hosts:
            # v07 never answers: its SYNs are dropped on the way.
            remote.ssh.alias(f"v{i:02d}", SILENT if i == 7 else BASTION)
    inventory = remote.folder / "inventory.json"
    inventory.write_text(
        json.dumps(
            {
                "_meta": {"hostvars": {"v03": {"ansible_user": "root"}}},
                "all": {"children": ["ungrouped", "web"]},
                "web": {"hosts": [f"v{i:02d}" for i in range(20)]},
            }
        )
    )
    before = remote.remote_state()
    started = time.monotonic()
    doc = remote.check(
        f"{SERVER}:{HEALTHY}", "--from", "@web", "--inventory", str(inventory),
        "--remote-timeout", "4",
    )  # fmt: skip
    print(f"20 vantages, concurrency 10: {time.monotonic() - started:.1f} s")
    views = probe(doc, "vantages")["data"]["views"]
    assert len(views) == 20
    bad = [v["name"] for v in views if v["status"] != "ok"]
    assert bad == ["v07"]
    v07 = next(v for v in views if v["name"] == "v07")
    print(f"v07 gave up after {v07['elapsed_s']:.1f} s: {v07['detail']}")
    assert v07["status"] == "timeout"
    assert "v07" in finding(doc, "remote.unreachable")["title"]
    assert all(v["tcp"][0]["state"] == "open" for v in views if v["status"] == "ok")
    assert_left_nothing(remote, before)


def test_an_unknown_host_key_is_reported_not_accepted(remote: Remote) -> None:
    if "stranger" not in remote.ssh.hosts:  # the server's key, looked up under another name
        remote.ssh.alias("stranger", SERVER, "  HostKeyAlias never-seen\n")
    known = remote.ssh.known_hosts.read_text()
    doc = remote.check(f"{SERVER}:{HEALTHY}", "--server", "stranger")
    assert probe(doc, "server")["data"]["status"] == "host_key_unknown"
    assert doc["verdict"] == "remote.unreachable", ids(doc)
    assert "host key is not in known_hosts" in finding(doc, "remote.unreachable")["title"]
    assert remote.ssh.known_hosts.read_text() == known  # nothing was accepted for the person


def test_tui_screenshots_of_both_ends(remote: Remote) -> None:
    """The real TUI in the client's namespace: the field, the panels, the verdict."""
    out = remote.folder / "shots"
    out.mkdir(exist_ok=True)
    field = f"--server db --from bastion --ssh-config {remote.ssh.config}"
    for name, port, verdict in (
        ("13-server-side-loopback-only", LOOPBACK_ONLY, "local.loopback_only"),
        ("14-blocked-here-open-from-bastion", BLOCKED_HERE, "path.blocked_from_here"),
    ):
        done = remote.topo.lab.run(
            remote.topo.client,
            [sys.executable, "-m", "tests.remote_screens", str(out), name, f"{SERVER}:{port}",
             field],
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        for size in ("80x24", "120x40"):
            svg = (out / f"{name}-{size}.svg").read_text()
            assert verdict in svg and "Server&#160;side" in svg and "bastion" in svg


def test_watch_looks_at_the_server_again_every_n_rounds(remote: Remote) -> None:
    """`watch --server`: a look at the start and every --server-every rounds, each in the
    line of its interval; the server's finding is raised once, not at every look."""
    before = remote.remote_state()
    done = remote.topo.lab.run(
        remote.topo.client,
        [sys.executable, "-m", "tui.cli", "watch", "--json", "--interval", "0.25",
         "--count", "14", "--timeout", "1", "--server", "db", "--server-every", "4",
         "--ssh-config", str(remote.ssh.config), f"{SERVER}:{LOOPBACK_ONLY}"],
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ticks = [json.loads(line) for line in done.stdout.splitlines()][:-1]
    looks = [t["interval"] for t in ticks if t["server"]]
    print(f"looks at the server's side in intervals {looks} of {len(ticks)}")
    assert len(looks) >= 2, looks
    assert all(t["server"]["status"] == "ok" for t in ticks if t["server"])
    assert (
        f"127.0.0.1:{LOOPBACK_ONLY}" in next(t for t in ticks if t["server"])["server"]["summary"]
    )
    raised = [f["id"] for t in ticks for f in t["findings_raised"]]
    assert raised.count("local.loopback_only") == 1, raised
    assert not [
        f["id"] for t in ticks for f in t["findings_cleared"] if f["id"].startswith("local.")
    ]
    assert_left_nothing(remote, before)
