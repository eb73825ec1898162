"""Host-wide facts the local probe reads: kernel log OOM kills, memory, limits.

Everything here is a small file read (``/proc``, ``/dev/kmsg``) that fails
soft: a fact that cannot be read is reported as unknown, with the reason, never
as an exception.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass

from probes.core.sanitize import clean_text

_KILLED = re.compile(
    r"(?P<scope>Memory cgroup out of memory|Out of memory)[^:]*: Killed process (?P<pid>\d+) "
    r"\((?P<name>[^)]*)\)(?:.*?anon-rss:(?P<rss>\d+)kB)?(?:.*?UID:(?P<uid>\d+))?"
)
_OOM_KILL = re.compile(
    r"oom-kill:.*?task_memcg=(?P<memcg>[^,]*),task=(?P<name>[^,]*),pid=(?P<pid>\d+)"
)
# The cgroup's usage and limit, logged just before the kill (cgroup v1 and v2).
_LIMIT = re.compile(r"^memory: usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB")
_UNIT = re.compile(r"([A-Za-z0-9:_.@\\-]+\.service)")


@dataclass(frozen=True, slots=True)
class OomKill:
    pid: int
    name: str
    age_s: float  # seconds ago (from the kernel log timestamp)
    cgroup_limit: bool  # a memory cgroup limit, not the whole machine, ran out
    anon_rss_kb: int = 0
    uid: int = -1
    memcg: str = ""  # the victim's memory cgroup path
    unit: str = ""  # systemd unit from that path
    limit_kb: int = 0  # the memory cgroup's limit when it ran out (0: unknown)


@dataclass(frozen=True, slots=True)
class OomReport:
    readable: bool  # the kernel log could be read
    source: str  # "/dev/kmsg" or why it could not be read
    kills: tuple[OomKill, ...]  # newest first, at most 20
    kills_since_boot: int  # /proc/vmstat oom_kill (-1 unknown); readable without root


@dataclass(frozen=True, slots=True)
class MemoryInfo:
    total_kb: int
    available_kb: int
    swap_total_kb: int
    swap_free_kb: int
    psi_some_avg10: float = -1.0  # /proc/pressure/memory; -1 when not available
    psi_full_avg10: float = -1.0

    @property
    def available_fraction(self) -> float:
        return self.available_kb / self.total_kb if self.total_kb else 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    files_open: int  # /proc/sys/fs/file-nr: allocated file handles
    files_max: int  # fs.file-max
    ephemeral_low: int
    ephemeral_high: int
    reserved_ports: int  # ports excluded by ip_local_reserved_ports inside the range
    tw_reuse: int  # net.ipv4.tcp_tw_reuse
    somaxconn: int

    @property
    def ephemeral_size(self) -> int:
        return max(0, self.ephemeral_high - self.ephemeral_low + 1 - self.reserved_ports)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _int(text: str, default: int = -1) -> int:
    try:
        return int(text.strip().split()[0])
    except (ValueError, IndexError):
        return default


def read_limits(proc: str = "/proc") -> Limits:
    file_nr = _read(f"{proc}/sys/fs/file-nr").split()
    rng = _read(f"{proc}/sys/net/ipv4/ip_local_port_range").split()
    low, high = (int(rng[0]), int(rng[1])) if len(rng) == 2 else (32768, 60999)
    reserved = _count_reserved(_read(f"{proc}/sys/net/ipv4/ip_local_reserved_ports"), low, high)
    return Limits(
        files_open=int(file_nr[0]) if len(file_nr) == 3 else -1,
        files_max=int(file_nr[2]) if len(file_nr) == 3 else -1,
        ephemeral_low=low,
        ephemeral_high=high,
        reserved_ports=reserved,
        tw_reuse=_int(_read(f"{proc}/sys/net/ipv4/tcp_tw_reuse")),
        somaxconn=_int(_read(f"{proc}/sys/net/core/somaxconn")),
    )


def _count_reserved(text: str, low: int, high: int) -> int:
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            start, end = int(a), int(b or a)
        except ValueError:
            continue
        start, end = max(start, low), min(end, high)
        if end >= start:
            count += end - start + 1
    return count


def read_memory(proc: str = "/proc") -> MemoryInfo:
    values: dict[str, int] = {}
    for line in _read(f"{proc}/meminfo").splitlines():
        key, _, rest = line.partition(":")
        values[key] = _int(rest, 0)
    some = full = -1.0
    for line in _read(f"{proc}/pressure/memory").splitlines():
        kind, _, rest = line.partition(" ")
        match = re.search(r"avg10=([\d.]+)", rest)
        if match:
            if kind == "some":
                some = float(match.group(1))
            elif kind == "full":
                full = float(match.group(1))
    return MemoryInfo(
        total_kb=values.get("MemTotal", 0),
        available_kb=values.get("MemAvailable", values.get("MemFree", 0)),
        swap_total_kb=values.get("SwapTotal", 0),
        swap_free_kb=values.get("SwapFree", 0),
        psi_some_avg10=some,
        psi_full_avg10=full,
    )


def read_tcp_counters(proc: str = "/proc") -> dict[str, int]:
    """Selected TcpExt counters of this network namespace (since boot)."""
    wanted = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPTimeWaitOverflow")
    lines = _read(f"{proc}/net/netstat").splitlines()
    out: dict[str, int] = {}
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if not head.startswith("TcpExt:"):
            continue
        for key, value in zip(head.split()[1:], values.split()[1:], strict=False):
            if key in wanted:
                out[key] = int(value)
    return out


def read_oom(kmsg: str = "/dev/kmsg", proc: str = "/proc") -> OomReport:
    since_boot = -1
    for line in _read(f"{proc}/vmstat").splitlines():
        if line.startswith("oom_kill "):
            since_boot = _int(line[9:])
    try:
        fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        why = "needs root" if exc.errno in (errno.EPERM, errno.EACCES) else exc.strerror
        return OomReport(False, f"{kmsg}: {why}", (), since_boot)
    records: list[str] = []
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # overwritten while reading: go on
                    continue
                break
            if not chunk:
                break
            if b"ill" in chunk or b"memory: usage" in chunk:  # kills and cgroup limits
                records.append(chunk.decode("utf-8", errors="replace"))
    finally:
        os.close(fd)
    return OomReport(True, kmsg, parse_oom_records(records, time.monotonic()), since_boot)


def parse_oom_records(records: list[str], now_monotonic: float) -> tuple[OomKill, ...]:
    """OOM kills from ``/dev/kmsg`` records (``prio,seq,usec,flags;message``)."""
    memcgs: dict[int, str] = {}
    kills: list[OomKill] = []
    limit_kb = 0  # the last "memory: usage ..., limit ..." line before a kill
    for record in records:
        head, _, message = record.partition(";")
        message = message.split("\n", 1)[0]
        fields = head.split(",")
        try:
            usec = int(fields[2])
        except (IndexError, ValueError):
            usec = 0
        limited = _LIMIT.search(message)
        if limited:
            limit_kb = int(limited.group("limit"))
            continue
        tagged = _OOM_KILL.search(message)
        if tagged:
            memcgs[int(tagged.group("pid"))] = tagged.group("memcg")
            continue
        match = _KILLED.search(message)
        if not match:
            continue
        pid = int(match.group("pid"))
        memcg = memcgs.get(pid, "")
        unit = _UNIT.findall(memcg)
        kills.append(
            OomKill(
                pid=pid,
                name=clean_text(match.group("name"), 64),
                age_s=max(0.0, now_monotonic - usec / 1e6),
                cgroup_limit=match.group("scope").startswith("Memory cgroup"),
                anon_rss_kb=int(match.group("rss") or 0),
                uid=int(match.group("uid")) if match.group("uid") else -1,
                memcg=clean_text(memcg, 160),
                unit=unit[-1] if unit else "",
                limit_kb=limit_kb if match.group("scope").startswith("Memory cgroup") else 0,
            )
        )
        limit_kb = 0
    kills.reverse()
    return tuple(kills[:20])
