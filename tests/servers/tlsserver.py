"""A blocking ``ssl`` server on a thread, like nginx/OpenSSL servers behave.

asyncio's SSL transport closes without sending the alert when a handshake
fails; real servers send it (protocol_version, handshake_failure,
certificate_required), and the probe reads those alerts.  So the TLS cases run
on plain ``ssl`` sockets: handshake, then a minimal HTTP answer.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

from tests.servers.base import response


class TlsServer:
    def __init__(self, ctx: ssl.SSLContext, body: bytes = b"ok\n") -> None:
        self.ctx = ctx
        self.body = body
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            contextlib.closing(conn),
            self.ctx.wrap_socket(conn, server_side=True) as tls,
        ):
            if tls.selected_alpn_protocol() == "h2":
                _serve_h2(tls, self.body)
                return
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                buf += chunk
            if b"upgrade: websocket" in buf.lower():
                tls.sendall(_ws_accept(buf))
                _ws_echo(tls)
                return
            tls.sendall(response(200, "OK", {"Server": "lab-tls"}, self.body))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()


def h2_context(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """*ctx* offering HTTP/2 by ALPN."""
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def _serve_h2(tls: ssl.SSLSocket, body: bytes) -> None:
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    tls.sendall(conn.data_to_send())
    while True:
        data = tls.recv(65535)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                conn.send_headers(
                    event.stream_id,
                    [(":status", "200"), ("content-length", str(len(body))), ("server", "lab-h2")],
                )
                conn.send_data(event.stream_id, body, end_stream=True)
        tls.sendall(conn.data_to_send())


def _ws_accept(head: bytes) -> bytes:
    import base64
    import hashlib

    from tests.servers.httpserver import WS_GUID, parse_head

    _, _, headers = parse_head(head)
    key = headers.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


def _ws_echo(tls: ssl.SSLSocket) -> None:
    """After the 101: answer pings with pongs until the client closes (a real WebSocket)."""
    import struct

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = tls.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    while True:
        first, second = exactly(2)
        mask = exactly(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(second & 0x7F)))
        opcode = first & 0x0F
        if opcode == 0x9:
            tls.sendall(struct.pack("!BB", 0x8A, len(payload)) + payload)
        elif opcode == 0x8:
            tls.sendall(struct.pack("!BB", 0x88, len(payload[:2])) + payload[:2])
            return
