"""A TCP connection this process connects itself, so the kernel can time it.

``asyncio.open_connection`` connects and wraps in one step, and when its wait is cut
short the socket is out of reach.  Connecting the socket first and handing it to the
streams afterwards keeps it in hand for ``TCP_INFO`` (probes/wire/tcpinfo.py):

* the connect time as the kernel measured it (SYN out to SYN-ACK in), read right after
  the connect, however late this process's event loop woke up to see it;
* whether the kernel finished a handshake our own timer gave up on (the answer came in
  time; this process did not run to see it);
* how long the peer took to answer the last thing we sent, by the kernel's clock (last
  data sent -> last data received: its think time).

Each figure falls back to our own clock, labelled so (probes/core/clocks.py), when the
kernel has none: no RTT sample, a retransmitted SYN, nothing received after the send.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from probes.core.clocks import KERNEL, WALL
from probes.core.target import endpoint
from probes.wire.connect import handshake_completed
from probes.wire.tcpinfo import Received, kernel_rtt, kernel_wait, received

Figure = tuple[float, str]  # (seconds, clock: probes.core.clocks.KERNEL | WALL)


class TimedConnection:
    """One TCP connection to a numeric *address*: connect, then wrap in streams."""

    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._sockaddr = socket.getaddrinfo(
            address, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )[0][4]
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        self.syn_sent_at: float | None = None  # our clock as connect() sent the SYN
        self.wall_connect_s: float | None = None
        self.kernel_connect_s: float | None = None  # None after a retransmitted SYN
        self._at_send: Received | None = None  # the receive counters when we last sent
        self._handed_over = False  # the streams' transport owns (and closes) the socket

    async def connect(self) -> None:
        started = self.syn_sent_at = time.monotonic()
        await asyncio.get_running_loop().sock_connect(self.sock, self._sockaddr)
        self.wall_connect_s = time.monotonic() - started
        self._read_handshake()

    def syn_unanswered_for(self) -> float | None:
        """Seconds the SYN has gone without a SYN-ACK, as the kernel sees it; None once
        the handshake completed (call :meth:`completed_late` first) or before the SYN.
        Our starvation does not keep a SYN-ACK from the kernel, so a SYN unanswered for
        a whole wait is the peer's silence however little this process ran."""
        if self.connected or self.syn_sent_at is None:
            return None
        return time.monotonic() - self.syn_sent_at

    def _read_handshake(self) -> None:
        """The kernel's handshake RTT, before anything else happens on the socket."""
        self.connected = True
        kernel = kernel_rtt(self.sock)
        if kernel is not None and not kernel.retransmits:
            self.kernel_connect_s = kernel.rtt_s

    def completed_late(self) -> bool:
        """After our wait for the connect was cut short: did the kernel finish the
        handshake anyway?  Then the connect's figures are read as if it had returned."""
        if self.connected or not handshake_completed(self.sock):
            return False
        self._read_handshake()
        return True

    @property
    def connect_time(self) -> Figure | None:
        """The connect time: the kernel's when it has one, else our clock's."""
        if self.kernel_connect_s is not None:
            return self.kernel_connect_s, KERNEL
        if self.wall_connect_s is not None:
            return self.wall_connect_s, WALL
        return None

    @property
    def source(self) -> str:
        """The local address:port ("" before the kernel gave it one)."""
        try:
            host, port = self.sock.getsockname()[:2]
        except OSError:
            return ""
        return endpoint(host, port) if port else ""

    async def streams(
        self, tls: ssl.SSLContext | None, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """asyncio streams over the connected socket (the TLS handshake, when *tls*).
        From here on their transport owns the socket, failed handshake included."""
        self._handed_over = True
        return await asyncio.open_connection(
            sock=self.sock, ssl=tls, server_hostname=server_hostname
        )

    def sending(self) -> None:
        """Call right before sending a request: what comes in after is its answer."""
        self._at_send = received(self.sock)

    def answer_segments(self) -> int:
        """Data segments the kernel has received since :meth:`sending` (read by us or
        not); 0 when nothing came back, or the kernel does not say."""
        now, before = received(self.sock), self._at_send
        if now is None or before is None or now.payload_bytes <= before.payload_bytes:
            return 0
        return max(1, now.data_segments - before.data_segments)

    def answer_time(self) -> float | None:
        """Seconds from the last data we sent to the last data that came back, by the
        kernel's clock (millisecond steps); None when nothing came back since.  With
        more than one segment back (answer_segments) it is the last one's."""
        return kernel_wait(self.sock) if self.answer_segments() else None

    def answer_figure(self, wall_s: float) -> Figure:
        """The server's think time, read right after its answer: the kernel's, or our
        clock's *wall_s* where the kernel has none.  The kernel's stamp is of the last
        segment in, so after several (a late read, TLS records) our figure stands in
        when lower: both can only overstate the first byte."""
        kernel = self.answer_time()
        if kernel is None or (self.answer_segments() > 1 and wall_s < kernel):
            return wall_s, WALL
        return kernel, KERNEL

    def close(self) -> None:
        """Close the socket unless the streams own it: closing an fd their transport
        still watches could unregister another socket that reuses the number."""
        if not self._handed_over:
            self.sock.close()
