"""Socket primitives shared by probe families: a classified TCP connect that reads
the kernel's ICMP error queue (IP_RECVERR), and naming a protocol from a banner.

May import ``probes.core`` only.
"""
