"""Real OpenSSH servers in lab namespaces, with keys, known_hosts and an ssh_config made
by the test (nothing of the machine's own ssh setup is read or changed)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.lab.netns import Lab

SSHD = "/usr/sbin/sshd"


class SshLab:
    """Keys in *folder*; ``serve(ns, address)`` starts an sshd there; ``alias`` adds a Host."""

    def __init__(self, lab: Lab, folder: Path) -> None:
        self.lab = lab
        self.folder = folder
        self.key = folder / "id_ed25519"
        self.host_key = folder / "host_ed25519"
        for key in (self.key, self.host_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        (folder / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text("")
        self.config = folder / "ssh_config"
        self.hosts: list[str] = []
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        self.home, self.tmp = folder / "remote-home", folder / "remote-tmp"
        self.home.mkdir()
        self.tmp.mkdir()

    def serve(self, ns: str, address: str, env: str = "") -> None:
        """sshd on *address*; its logins get HOME and TMPDIR in the lab's folder (so a
        test can see that nothing is left there) and *env* ("PATH=/nonexistent")."""
        conf = self.folder / f"sshd_{address}.conf"
        conf.write_text(
            f"ListenAddress {address}\nPort 22\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.folder}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPidFile none\nMaxStartups 50\nLogLevel ERROR\n"
            f"SetEnv HOME={self.home} TMPDIR={self.tmp} {env}\n"
        )
        self.lab.spawn(ns, [SSHD, "-D", "-e", "-f", str(conf)], ready=None)
        public = Path(f"{self.host_key}.pub").read_text().split()
        with self.known_hosts.open("a") as fh:
            fh.write(f"{address} {public[0]} {public[1]}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # sshd is up when its port accepts
            probe = self.lab.run(ns, ["bash", "-c", f"exec 3<>/dev/tcp/{address}/22"], timeout=5)
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd on {address} did not start")

    def listen(self, ns: str, endpoints: list[str]) -> None:
        """One real sshd answering on every ``ADDR:PORT`` (``[v6]:PORT``) of *endpoints*:
        an open port that speaks SSH as a server does, not a banner that hangs up."""
        conf = self.folder / f"sshd_{ns}_listen.conf"
        listen = "".join(f"ListenAddress {e}\n" for e in endpoints)
        conf.write_text(
            f"{listen}HostKey {self.host_key}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
            "MaxStartups 50\nLogLevel ERROR\n"
        )
        self.lab.spawn(ns, [SSHD, "-D", "-e", "-f", str(conf)], ready=None)
        for endpoint in endpoints:
            host, _, port = endpoint.rpartition(":")
            self._wait_port(ns, host.strip("[]"), port)

    def _wait_port(self, ns: str, address: str, port: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = self.lab.run(
                ns, ["bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"], timeout=5
            )
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd on {address}:{port} did not start")

    def alias(self, name: str, address: str, extra: str = "") -> None:
        with self.config.open("a") as fh:
            fh.write(
                f"Host {name}\n  HostName {address}\n  User root\n  IdentityFile {self.key}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {self.known_hosts}\n"
                f"  GlobalKnownHostsFile /dev/null\n  ConnectTimeout 5\n{extra}"
            )
        self.hosts.append(name)
