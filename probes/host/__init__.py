"""Evidence from this host: listening sockets and connection states (sock_diag),
the processes that own them, limits, memory and the kernel's OOM kills, and the
local network context (firewall, proxy variables, resolver files).

A probe family: may import ``probes.core`` and ``probes.wire``, never another family.
"""
