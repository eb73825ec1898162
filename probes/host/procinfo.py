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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

from probes.core.detectors import VENDOR_PREFIX
from probes.core.redact import REDACTED, is_secret_name, redact_text
from probes.core.sanitize import clean_text
from probes.host.owner import ContainerIndex, read_placement

# A long option whose name says it holds a secret (``--requirepass``, ``--api-key``).
_SECRET_FLAG = re.compile(r"(?i)pass|pwd|secret|token|key|auth|cred")
# Short options that take a password in common tools: ``-p`` (mysql, redis-cli
# and any script's "-p PASSWORD"), ``-a`` (redis-cli), ``-w`` (ldapsearch).  A port
# given as ``-p 8080`` is masked too: a hidden port costs less than a leaked password.
_SECRET_SHORT = frozenset("paw")
MASK = REDACTED


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


def map_owners(wanted: Iterable[int], proc: str = "/proc", own: Iterable[int] = ()) -> OwnerMap:
    """Find the processes holding the socket inodes in *wanted*.

    netmedic's own process counts only for the inodes in *own* (its listeners: the
    demo's servers live here); its probe connections are not the target's clients."""
    targets = {i for i in wanted if i}
    own_inodes = {i for i in own if i} & targets
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
        if pid == me and not own_inodes:
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
                if inode in (own_inodes if pid == me else targets):
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
    *,
    with_cmdline: bool = True,
) -> ProcessInfo:
    """What netmedic can learn about *pid* without failing.

    *with_cmdline* False leaves the command line out: only the processes that
    matter to the target show theirs (another service's may hold its password).
    """
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
                cmdline = " ".join(redact_argv(p.cmdline())) if with_cmdline else ""
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
        cmdline=clean_text(cmdline, 240),
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
    """:func:`redact_argv` over a command line split at spaces."""
    return " ".join(redact_argv(cmdline.split(" ")))


def _is_option(arg: str) -> bool:
    return len(arg) > 1 and arg[0] == "-" and not arg[1:2].isdigit()


def _secret_option(arg: str) -> bool:
    if arg.startswith("--"):
        name = arg[2:].split("=", 1)[0]
        return bool(_SECRET_FLAG.search(name)) or is_secret_name(name)
    return arg[1] in _SECRET_SHORT


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A process's arguments with every secret masked.

    The value of a secret-looking option (``--requirepass X``, ``--token=X``,
    ``-p X``, ``-pX``) is masked, and so is every argument after it except the
    names of later options: which later arguments are values cannot be known
    without the program's own parser.  URL passwords, ``NAME=secret`` assignments
    and bare vendor tokens (``ghp_…``, ``AKIA…``: detect-secrets' plugins) are
    masked anywhere.
    """
    out: list[str] = []
    masking = False  # a secret option was seen: values from here on are hidden
    value_next = False  # the previous argument was a secret option without its value
    for arg in argv:
        if value_next:
            out.append(MASK)
            value_next = False
        elif _is_option(arg) and _secret_option(arg):
            masking = True
            if arg.startswith("--"):
                name, eq, _value = arg.partition("=")
                value_next = not eq
                out.append(f"{name}={MASK}" if eq else name)
            else:
                value_next = len(arg) == 2
                out.append(arg if value_next else f"{arg[:2]}{MASK}")
        elif masking:
            name, eq, _value = arg.partition("=")
            out.append((f"{name}={MASK}" if eq else arg) if _is_option(arg) else MASK)
        else:
            out.append(_bare_tokens(redact_text(arg)))
    return out


def _bare_tokens(arg: str) -> str:
    """*arg* with vendor tokens masked; detect-secrets is imported only for an argument
    that starts like one (it costs start-up time)."""
    if not VENDOR_PREFIX.search(arg):
        return arg
    from probes.core.detectors import vendor_secrets_in

    for token in vendor_secrets_in(arg):
        arg = arg.replace(token, MASK)
    return arg


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
