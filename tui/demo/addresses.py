"""Which address of this host shows a loopback-only listener honestly."""

from __future__ import annotations

import ipaddress
import socket

import psutil

# Linux answers every address of 127.0.0.0/8 on lo: a listener bound to
# 127.0.0.1 is not reachable on 127.0.0.2, with no network at all.
SECOND_LOOPBACK = "127.0.0.2"


def other_local_address() -> str:
    """An address of this host that is not loopback (traffic to it never leaves
    the host: the kernel delivers it over lo), or :data:`SECOND_LOOPBACK` on a
    host with no such address."""
    try:
        interfaces = psutil.net_if_addrs()
        stats = psutil.net_if_stats()
    except (OSError, RuntimeError):
        return SECOND_LOOPBACK
    for name in sorted(interfaces):
        if name in stats and not stats[name].isup:
            continue
        for addr in interfaces[name]:
            if addr.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(addr.address)
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                return str(ip)
    return SECOND_LOOPBACK


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback
