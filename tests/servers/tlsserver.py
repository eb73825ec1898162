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
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                buf += chunk
            tls.sendall(response(200, "OK", {"Server": "lab-tls"}, self.body))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()
