"""Network-namespace lab: throwaway hosts, links, firewalls and servers.

Everything a :class:`Lab` creates (namespaces, /etc/netns files, processes) is
removed by :meth:`Lab.close`, which also runs when a test fails.  Traffic only
ever flows between namespaces the lab made itself.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_counter = itertools.count()


def lab_unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "namespace lab needs root (ip netns, nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"namespace lab needs '{tool}' (Debian: iproute2, nftables)"
    probe = f"nmprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create network namespaces: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Lab:
    def __init__(self, tag: str = "lab") -> None:
        self.prefix = f"nm{tag[:6]}{os.getpid() % 100000}x{next(_counter)}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    # -- namespaces and links -------------------------------------------------
    def add_host(self, name: str, forwarding: bool = False) -> str:
        ns = f"{self.prefix}-{name}"
        self.sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        self.ns(ns, "ip", "link", "set", "lo", "up")
        # No duplicate address detection: tentative link-local addresses stall NDP
        # (and so the first IPv6 connections) for a second or two.
        for conf in ("all", "default"):
            self.ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
        if forwarding:
            self.ns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        return ns

    def link(
        self,
        a: str,
        a_if: str,
        a_addrs: Sequence[str],
        b: str,
        b_if: str,
        b_addrs: Sequence[str],
        mtu: int | None = None,
    ) -> None:
        self.sh(
            "ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b
        )
        for ns, ifname, addrs in ((a, a_if, a_addrs), (b, b_if, b_addrs)):
            for addr in addrs:
                extra = ["nodad"] if ":" in addr else []
                self.ns(ns, "ip", "addr", "add", addr, "dev", ifname, *extra)
            if mtu:
                self.ns(ns, "ip", "link", "set", ifname, "mtu", str(mtu))
            self.ns(ns, "ip", "link", "set", ifname, "up")

    def route(self, ns: str, *spec: str) -> None:
        family = ["-6"] if any(":" in part for part in spec) else []
        self.ns(ns, "ip", *family, "route", "add", *spec)

    def nft(self, ns: str, ruleset: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "-f", "-"],
            input=ruleset.encode(),
            check=True,
            capture_output=True,
        )

    def write_etc(self, ns: str, filename: str, content: str) -> None:
        """A file bind-mounted over /etc/<filename> by 'ip netns exec'."""
        folder = Path("/etc/netns") / ns
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_text(content)

    # -- commands and processes ----------------------------------------------
    def sh(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(list(args), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def ns(self, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.sh("ip", "netns", "exec", ns, *args)

    def run(
        self, ns: str, args: Sequence[str], timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=REPO,
        )

    def spawn(
        self, ns: str, args: Sequence[str], ready: bytes | None = b"ready"
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in *ns*; wait for *ready* on its stdout."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            start_new_session=True,
        )
        self.procs.append(proc)
        if ready is not None:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if ready not in line:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{args} did not start: {line!r} {err[-500:]}")
        return proc

    def python(self, ns: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn(ns, [sys.executable, "-m", module, *args])

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        self.procs.clear()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "pids", ns], capture_output=True)
            pids = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        self.namespaces.clear()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
