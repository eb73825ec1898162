"""A blocking ``CONNECT`` tunnel through an HTTP proxy, for the TLS inspector.

The TLS probe's handshakes are blocking socket calls on a daemon thread; when
clients reach the target through a proxy, each handshake runs inside a tunnel
opened here.  Proxy credentials go to the proxy only.
"""

from __future__ import annotations

import base64
import socket
import time
from urllib.parse import unquote, urlsplit

from probes.core.sanitize import clean_text
from probes.proto.httphead import NotHttp, parse_head
from probes.proto.proxy import (
    AUTH_REQUIRED,
    FAILED,
    UNREACHABLE,
    UPSTREAM_FAILED,
    ProxyChoice,
    answer_state,
)

PROXY_FINDINGS = {
    UNREACHABLE: "proxy.unreachable",
    AUTH_REQUIRED: "proxy.auth_required",
    UPSTREAM_FAILED: "proxy.upstream_failed",
    FAILED: "proxy.failed",
}


class TunnelError(OSError):
    """The proxy did not open the tunnel; ``state`` is a proxy state, ``str()`` says why."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state
        self.detail = detail

    @property
    def finding(self) -> str:
        return PROXY_FINDINGS.get(self.state, "proxy.failed")


def open_tunnel(proxy: ProxyChoice, authority: str, deadline: float) -> socket.socket:
    """A socket connected through *proxy* to *authority* (``host:port``); raises TunnelError."""
    parts = urlsplit(proxy.http_url)
    host, port = parts.hostname or "", parts.port or 80
    try:
        sock = socket.create_connection(
            (host, port), timeout=max(0.05, deadline - time.monotonic())
        )
    except OSError as exc:
        raise TunnelError(
            UNREACHABLE,
            clean_text(f"cannot connect to the proxy {proxy.shown}: {exc.strerror or exc}"),
        ) from exc
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", "User-Agent: netmedic"]
    if parts.username:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(token.encode()).decode()}")
    try:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = _read_head(sock)
        response = parse_head(head)
    except NotHttp as exc:
        sock.close()
        raise TunnelError(
            FAILED, f"the proxy {proxy.shown} does not answer like an HTTP proxy: {exc}"
        ) from None
    except OSError as exc:
        sock.close()
        raise TunnelError(
            FAILED, clean_text(f"the proxy {proxy.shown} hung up on the CONNECT: {exc}")
        ) from exc
    state = answer_state("CONNECT", response.status, response.get)
    if state != "ok":
        sock.close()
        raise TunnelError(
            state,
            f"CONNECT {authority} through {proxy.shown} → {response.status} {response.reason}",
        )
    return sock


def _read_head(sock: socket.socket) -> bytes:
    """Read the CONNECT answer byte by byte, so nothing of the tunnel is consumed."""
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionResetError("closed before the end of the CONNECT answer")
        buf += byte
        if len(buf) > 16384:
            raise NotHttp("the CONNECT answer is too long")
    return buf
