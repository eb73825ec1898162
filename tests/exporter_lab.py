"""What the exporter tests share: loopback targets (healthy HTTP, a refused port, an
expired certificate), an exporter.toml for them, a raw HTTP client, promtool."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.probe_helpers import closed_port
from tests.servers.base import http_ok, server_thread
from tests.servers.pki import DAY, NOW, Pki
from tests.servers.tlsserver import TlsServer


@dataclass(frozen=True)
class Targets:
    healthy: str  # http://127.0.0.1:P/
    refused: str  # 127.0.0.1:P, nothing listens
    expired: str  # https://127.0.0.1:P/, its certificate expired 3 days ago
    ca_file: Path


@contextmanager
def loopback_targets(directory: Path) -> Iterator[Targets]:
    pki = Pki(directory)
    leaf = pki.leaf(not_before=NOW - 90 * DAY, not_after=NOW - 3 * DAY)
    expired = TlsServer(pki.server_context(leaf))
    try:
        with server_thread() as servers:
            yield Targets(
                healthy=f"http://127.0.0.1:{servers.serve(http_ok)}/",
                refused=f"127.0.0.1:{closed_port()}",
                expired=f"https://127.0.0.1:{expired.port}/",
                ca_file=pki.ca_file,
            )
    finally:
        expired.close()


def exporter_toml(
    ca_file: Path,
    listen: str = "127.0.0.1:9469",
    extra: str = "",
    exporter: Mapping[str, float] | None = None,
) -> str:
    """Modules ``http`` and ``tls`` (trusting the test PKI); only 127.0.0.1 allowed."""
    settings = "".join(f"{key} = {value!r}\n" for key, value in (exporter or {}).items())
    return (
        "[exporter]\n"
        f'listen = "{listen}"\n'
        'allow = ["127.0.0.1"]\n'
        f"{settings}"
        "[modules.http]\n"
        'symptom = "auto"\n'
        "timeout = 5\n"
        "[modules.tls]\n"
        'symptom = "tls"\n'
        "timeout = 5\n"
        f'ca_file = "{ca_file}"\n'
        f"{extra}"
    )


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


async def http_request(port: int, raw: bytes, timeout: float = 30.0) -> Reply:
    """Send *raw* as it is to 127.0.0.1:*port*; the whole reply (the server closes)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(lines[0].split(" ")[1]), headers, body)


def get(path: str, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"GET {path} HTTP/1.1\r\nHost: exporter\r\n{extra}\r\n".encode()


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: tests/run.sh installs the Debian package prometheus"
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def samples(text: str, name: str) -> dict[str, float]:
    """The samples of metric *name* in exposition *text*: {label part: value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            out[key[len(name) :]] = float(value)
    return out
