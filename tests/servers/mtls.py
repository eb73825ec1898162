"""TLS 1.2 servers that ask for a client certificate, on a thread (blocking ssl).

``required=True``: the handshake demands one; a client without it gets a reset (as
servers that abort with SO_LINGER 0 do).  ``required=False``: the certificate is
optional at the handshake and enforced per request (nginx's ``ssl_verify_client
optional`` with ``return 444``): the request is answered with a reset.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.servers.pki import Pki


@contextlib.contextmanager
def client_cert_server(folder: Path, required: bool) -> Iterator[tuple[int, str]]:
    """(port, CA file) of a loopback server asking for a client certificate."""
    pki = Pki(folder)
    ctx = pki.server_context(pki.leaf(), client_ca=pki.root, max_version=ssl.TLSVersion.TLSv1_2)
    if not required:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            failed = False
            try:
                tls.do_handshake()
                tls.recv(1)  # the request (without a certificate, when optional)
            except (ssl.SSLError, OSError):
                failed = True
            if failed or not required:
                with contextlib.suppress(OSError):  # an RST, not a FIN
                    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            tls.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), str(pki.ca_file)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
