"""A scriptable DNS server for tests (UDP and TCP, asyncio, dnspython).

The zone is a JSON object mapping names to behaviour::

    {"api.lab.": {"A": ["10.2.0.2"], "AAAA": ["fd00:2::2"]},
     "alias.lab.": {"CNAME": "api.lab."},
     "broken.lab.": {"rcode": "SERVFAIL"},
     "slow.lab.": {"drop": true},
     "big.lab.": {"A": ["10.2.0.2"], "truncate": true, "tcp": false}}

Unknown names get NXDOMAIN.  Run in-process with :class:`DnsServer`, or as
``python -m tests.lab.dnsserver ADDR PORT ZONE_JSON`` (prints "ready").
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, Any]]


def answer(zone: Zone, wire: bytes, over_tcp: bool) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    question = query.question[0]
    qname = question.name.to_text().lower()
    entry = zone.get(qname)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if entry is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
    if entry.get("drop") or (over_tcp and entry.get("tcp") is False):
        return None
    if "rcode" in entry:
        response.set_rcode(dns.rcode.from_text(entry["rcode"]))
        return response.to_wire()
    if entry.get("truncate") and not over_tcp:
        response.flags |= dns.flags.TC
        return response.to_wire()
    name = question.name
    if "CNAME" in entry:
        target = dns.name.from_text(entry["CNAME"])
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", target.to_text()))
        name = target
        entry = zone.get(target.to_text().lower(), {})
    rdtype = dns.rdatatype.to_text(question.rdtype)
    values = entry.get(rdtype, [])
    if values:
        response.answer.append(dns.rrset.from_text_list(name, 60, "IN", rdtype, values))
    return response.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(self.zone, data, over_tcp=False)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DnsServer:
    """In-process server on *host*; ``port`` is set after :meth:`start`."""

    def __init__(self, zone: Zone, host: str = "127.0.0.1", port: int = 0) -> None:
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.host = host
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self.port = self._tcp.sockets[0].getsockname()[1]
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self.zone), local_addr=(self.host, self.port)
        )
        return self

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            reply = answer(self.zone, await reader.readexactly(size), over_tcp=True)
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
            else:
                await reader.read()  # hold the connection until the client gives up
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp:
            self._udp.close()
        if self._tcp:
            self._tcp.close()
            await self._tcp.wait_closed()


async def _main(host: str, port: int, zone: Zone) -> None:
    await DnsServer(zone, host, port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])))
