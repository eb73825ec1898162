"""The path to the target: the kernel's route, ping, mtr-style traceroute and path
MTU, with the packet engine (raw sockets via scapy, or unprivileged fallbacks).

A probe family: may import ``probes.core`` and ``probes.wire``, never another family.
scapy is imported lazily, inside the packet engine.
"""
