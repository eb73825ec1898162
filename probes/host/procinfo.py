"""Which process owns a socket, and what that process is allowed.

Socket ownership is found as ``ss -p`` and ``lsof`` find it: every
``/proc/PID/fd/*`` link that reads ``socket:[INODE]``.  The walk stops as soon
as every wanted inode has an owner.  Without root the fds of other users'
processes are unreadable: their sockets stay without an owner and the caller
says so instead of showing a blank.

Per process: name, user, command line (redacted, capped), open files against
RLIMIT_NOFILE (``/proc/PID/limits`` is world-readable), and where it runs from
(systemd unit, container) so next steps can name the unit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from probes.core.redact import redact_url_credentials
from probes.core.sanitize import clean_text
from probes.host.owner import ContainerIndex, read_placement

_SECRET_ARG = re.compile(
    r"(?i)(--?[a-z0-9_-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key)[a-z0-9_-]*[= ])(\S+)"
)


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    name: str
    user: str = ""
    cmdline: str = ""  # redacted, capped
    open_files: int = -1  # -1: not readable (another user's process)
    fd_limit: int = -1  # soft RLIMIT_NOFILE; -1 unknown, 0 unlimited
    fd_limit_hard: int = -1
    unit: str = ""  # systemd unit from the cgroup path
    container: str = ""  # container id (12 hex) from the cgroup path
    kubernetes: bool = False  # runs in a kubepods cgroup
    user_unit: bool = False  # unit is a user's (systemctl --user)
    runtime: str = ""  # container runtime from the cgroup path (docker, podman, ...)
    container_name: str = ""  # from what the runtime keeps on disk
    compose_project: str = ""
    compose_service: str = ""

    @property
    def fd_use(self) -> float:
        """Fraction of the soft limit in use (0 when unknown)."""
        if self.open_files < 0 or self.fd_limit <= 0:
            return 0.0
        return self.open_files / self.fd_limit


@dataclass
class OwnerMap:
    """inode → pids, plus fd counts and names seen while walking."""

    owners: dict[int, list[int]]
    fd_counts: dict[int, int]
    names: dict[int, str]  # pid → comm, for every process seen
    unreadable: int  # processes whose fds could not be read
    complete: bool  # every process's fds were read


def map_owners(wanted: Iterable[int], proc: str = "/proc") -> OwnerMap:
    """Find the processes holding the socket inodes in *wanted*."""
    targets = {i for i in wanted if i}
    remaining = set(targets)
    owners: dict[int, list[int]] = {}
    fd_counts: dict[int, int] = {}
    names: dict[int, str] = {}
    unreadable = 0
    me = os.getpid()
    pids = sorted(int(e) for e in os.listdir(proc) if e.isdigit())
    walked_all = True
    for pid in pids:
        names[pid] = _comm(proc, pid)
        if not remaining:
            walked_all = False
            continue
        if pid == me:
            continue
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            unreadable += 1
            continue
        except OSError:  # exited meanwhile
            continue
        fd_counts[pid] = len(fds)
        readlink = os.readlink
        for fd in fds:
            try:
                link = readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in targets:
                    holders = owners.setdefault(inode, [])
                    if pid not in holders:
                        holders.append(pid)
                    remaining.discard(inode)
    return OwnerMap(owners, fd_counts, names, unreadable, walked_all and unreadable == 0)


def _comm(proc: str, pid: int) -> str:
    try:
        with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def process_info(
    pid: int,
    open_files: int | None = None,
    proc: str = "/proc",
    containers: ContainerIndex | None = None,
) -> ProcessInfo:
    """What netmedic can learn about *pid* without failing."""
    name, user, cmdline = _comm(proc, pid), "", ""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            try:
                name = p.name() or name
            except psutil.Error:
                pass
            try:
                user = p.username()
            except (psutil.Error, KeyError):
                user = ""
            try:
                cmdline = " ".join(p.cmdline())
            except psutil.Error:
                cmdline = ""
    except psutil.Error:
        pass
    if open_files is None:
        try:
            open_files = len(os.listdir(f"{proc}/{pid}/fd"))
        except OSError:
            open_files = -1
    soft, hard = read_fd_limits(pid, proc)
    place = read_placement(pid, proc)
    box = containers.by_id(place.container) if containers and place.container else None
    return ProcessInfo(
        pid=pid,
        name=clean_text(name, 64),
        user=clean_text(user, 64),
        cmdline=clean_text(redact_cmdline(cmdline), 240),
        open_files=open_files,
        fd_limit=soft,
        fd_limit_hard=hard,
        unit=place.unit,
        container=place.container,
        kubernetes=place.kubernetes,
        user_unit=place.user_unit,
        runtime=place.runtime,
        container_name=box.name if box else "",
        compose_project=box.compose_project if box else "",
        compose_service=box.compose_service if box else "",
    )


def redact_cmdline(cmdline: str) -> str:
    """Mask ``--password=x`` style arguments and URL credentials."""
    return _SECRET_ARG.sub(lambda m: f"{m.group(1)}***", redact_url_credentials(cmdline))


def read_fd_limits(pid: int | str, proc: str = "/proc") -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE of *pid* from /proc/PID/limits; 0 = unlimited."""
    try:
        with open(f"{proc}/{pid}/limits", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Max open files"):
                    parts = line[len("Max open files") :].split()
                    return _limit(parts[0]), _limit(parts[1])
    except (OSError, IndexError):
        pass
    return -1, -1


def _limit(text: str) -> int:
    return 0 if text == "unlimited" else int(text)
