"""The raw TCP socket only wakes netmedic for answers to its own probes.

A raw ``IPPROTO_TCP`` socket receives a copy of every TCP segment the host
gets; on a busy server that is every packet of every connection.  A socket
filter passes only SYN/RST segments acknowledging one of our probes.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest

from probes.path.packets import REPLY, TCP
from probes.path.pathengine import RawEngine, RawProber, Reply

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")
SEGMENTS = 300


def _closed_port(family: int, host: str) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _busy_connection(family: int, host: str) -> None:
    """Unrelated traffic: SEGMENTS small segments (and their ACKs) on loopback."""
    with socket.socket(family) as server:
        server.bind((host, 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()[:2]) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer, _ = server.accept()
            with peer:
                for _ in range(SEGMENTS):
                    client.sendall(b"x")
                    assert peer.recv(16)


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_only_answers_to_our_probes_reach_userspace(family: int, host: str) -> None:
    port = _closed_port(family, host)

    async def main() -> tuple[Reply, Reply, list[Any]]:
        engine = await RawEngine.start()
        fed: list[Any] = []
        feed = engine.feed

        def counting_feed(*args: Any) -> None:
            fed.append(args)
            feed(*args)

        engine.feed = counting_feed  # type: ignore[method-assign,assignment]
        try:
            prober = RawProber(engine, TCP, port)
            first = await prober.probe(host, timeout=2.0)  # opens the raw TCP socket
            fed.clear()
            _busy_connection(family, host)
            await asyncio.sleep(0.3)  # let the receive path drain whatever got through
            unrelated = list(fed)
            second = await prober.probe(host, timeout=2.0)
            return first, second, unrelated
        finally:
            engine.close()

    first, second, unrelated = asyncio.run(main())
    for reply in (first, second):  # the RST from the closed port still gets through
        assert reply.kind == REPLY and reply.responder == host
    assert unrelated == []  # none of the busy connection's segments woke us up
