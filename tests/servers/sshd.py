"""A real OpenSSH server (Debian's openssh-server) on loopback, with a host key the
test makes: for the read-only ``ssh://`` probe.  Needs root (privilege separation)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def sshd_unavailable_reason() -> str | None:
    if not os.path.exists(SSHD):
        return "sshd is not installed (Debian: openssh-server)"
    if os.geteuid() != 0:
        return "sshd's privilege separation needs root"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed"
    return None


@dataclass(frozen=True)
class Sshd:
    port: int
    fingerprint: str  # "SHA256:..." of the host key, as ssh-keygen -l prints it
    log: Path


@contextmanager
def sshd(directory: Path, key_type: str = "ed25519", password: bool = False) -> Iterator[Sshd]:
    key = directory / f"host_{key_type}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "netmedic-test", "-f", str(key)],
        check=True,
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
    )
    fingerprint = listed.stdout.split()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = directory / "sshd_config"
    yes_no = "yes" if password else "no"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\nUsePAM no\n"
        f"PasswordAuthentication {yes_no}\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nLogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation directory
    log = directory / "sshd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while b"Server listening" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {log.read_text()}")
            time.sleep(0.02)
        yield Sshd(port, fingerprint, log)
    finally:
        proc.terminate()
        proc.wait(10)
