"""Readers for /etc/resolv.conf and /etc/hosts, as glibc understands them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2


def read_resolv_conf(path: str) -> tuple[ResolvConf, str]:
    """Parse resolv.conf; returns (config, error text or "")."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_FILE_BYTES)
    except OSError as exc:
        # glibc falls back to 127.0.0.1 when the file is missing.
        return ResolvConf(nameservers=("127.0.0.1",)), f"cannot read {path}: {exc.strerror}"
    return parse_resolv_conf(text), ""


def parse_resolv_conf(text: str) -> ResolvConf:
    servers: list[str] = []
    search: tuple[str, ...] = ()
    ndots, timeout, attempts = 1, 5.0, 2
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        key, *values = line.split()
        if key == "nameserver" and values:
            addr = values[0].split("%", 1)[0]
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                continue
            if len(servers) < 3:  # glibc uses the first three (MAXNS)
                servers.append(values[0])
        elif key in ("search", "domain") and values:
            search = tuple(values[:6]) if key == "search" else (values[0],)
        elif key == "options":
            for opt in values:
                name, _, val = opt.partition(":")
                if not val.isdigit():
                    continue
                if name == "ndots":
                    ndots = min(int(val), 15)
                elif name == "timeout":
                    timeout = float(min(max(int(val), 1), 30))
                elif name == "attempts":
                    attempts = min(max(int(val), 1), 5)
    return ResolvConf(tuple(servers) or ("127.0.0.1",), search, ndots, timeout, attempts)


def read_hosts(path: str) -> dict[str, tuple[str, ...]]:
    """Map of lower-case name -> addresses, in file order."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_FILE_BYTES)
    except OSError:
        return {}
    return parse_hosts(text)


def parse_hosts(text: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        addr = fields[0]
        try:
            ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            continue
        for name in fields[1:]:
            entry = table.setdefault(name.lower().rstrip("."), [])
            if addr not in entry:
                entry.append(addr)
    return {name: tuple(addrs) for name, addrs in table.items()}
