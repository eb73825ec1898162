"""What this process may do: raw sockets need root or CAP_NET_RAW."""

from __future__ import annotations

import os

CAP_NET_RAW = 13
CAP_NET_ADMIN = 12


def effective_capabilities(status_path: str = "/proc/self/status") -> int:
    try:
        with open(status_path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def has_raw_socket() -> bool:
    """True when raw sockets (scapy probes) are allowed: CAP_NET_RAW is effective.

    Root without the capability (a container, ``setpriv --inh-caps=-all``) cannot
    open raw sockets either; only when /proc cannot tell do we trust the uid.
    """
    caps = effective_capabilities()
    if caps:
        return bool(caps & (1 << CAP_NET_RAW))
    return os.geteuid() == 0 and not os.path.exists("/proc/self/status")
