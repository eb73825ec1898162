"""A userspace delaying bridge (this kernel has no ``tc netem``).

    python -m tests.lab.delaybridge IF_A IF_B DELAY_MS

Run inside a namespace holding both interfaces: every frame received on one is
sent out of the other DELAY_MS later (each direction), ARP and NDP included,
so the two ends share one subnet as if wired together through a slow link.
"""

from __future__ import annotations

import collections
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _open(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    return sock


def _pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
    queue: collections.deque[tuple[float, bytes]] = collections.deque()
    ready = threading.Condition()

    def sender() -> None:
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, frame = queue.popleft()
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                dst.send(frame)
            except OSError:
                pass

    threading.Thread(target=sender, daemon=True).start()
    while True:
        frame, addr = src.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:  # our own transmissions on this interface
            continue
        with ready:
            queue.append((time.monotonic() + delay, frame))
            ready.notify()


def main() -> None:
    if_a, if_b, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    a, b = _open(if_a), _open(if_b)
    delay = delay_ms / 1000
    threading.Thread(target=_pump, args=(a, b, delay), daemon=True).start()
    threading.Thread(target=_pump, args=(b, a, delay), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
