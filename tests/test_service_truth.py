"""Service truths against real servers: Redis that cannot save (-MISCONF), Redis at
maxclients, and a CORS preflight refused for every origin tried; each asserting the
verdict, its severity, the exit code and commands that reach this check's server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.base import ServerThread, read_head, response, server_thread
from tests.servers.httpserver import parse_head
from tests.truth_helpers import check, expect


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def _redis(port: int, *command: str) -> bytes:
    """One RESP command to the real redis-server; its raw reply."""
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(f"*{len(command)}\r\n".encode())
        for word in command:
            s.sendall(f"${len(word.encode())}\r\n{word}\r\n".encode())
        return s.recv(65536)


def _needs_redis() -> None:
    from tests.servers.services import redis_unavailable

    if redis_unavailable():
        pytest.skip(str(redis_unavailable()))


def test_redis_that_cannot_save_is_persistence_failed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save point, a dump directory removed, a failed BGSAVE: Redis answers
    PING with -MISCONF and INFO says rdb_last_bgsave_status:err."""
    from tests.servers.services import redis_server

    _needs_redis()
    with redis_server() as port:
        assert _redis(port, "CONFIG", "SET", "save", "3600 1").startswith(b"+OK")
        workdir = _redis(port, "CONFIG", "GET", "dir").split(b"\r\n")[-2].decode()
        Path(workdir).rmdir()  # the fixture's empty temp dir: the dump has nowhere to go
        _redis(port, "BGSAVE")
        end = time.monotonic() + 10
        while b"rdb_last_bgsave_status:err" not in _redis(port, "INFO", "persistence"):
            assert time.monotonic() < end, "BGSAVE did not fail"
            time.sleep(0.05)
        assert _redis(port, "PING").startswith(b"-MISCONF")
        code, doc = check(capsys, monkeypatch, f"redis://127.0.0.1:{port}")
    f = expect(code, doc, "service.persistence_failed", "error", 1, port=port)
    assert "rdb_last_bgsave_status: err" in f["title"] + " ".join(f["evidence"])
    assert "service.unavailable" not in {x["id"] for x in doc["findings"]}


def test_redis_at_maxclients_advice_reaches_this_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.services import redis_server

    _needs_redis()
    with redis_server(maxclients=1) as port:
        held = None
        for _ in range(50):  # the start-up check's connection may still count: retry
            sock = socket.create_connection(("127.0.0.1", port), 5)
            sock.sendall(b"PING\r\n")
            if sock.recv(64).startswith(b"+PONG"):
                held = sock  # the one allowed client
                break
            sock.close()
            time.sleep(0.05)
        assert held is not None
        with held:
            code, doc = check(capsys, monkeypatch, f"redis://127.0.0.1:{port}")
    f = expect(code, doc, "service.too_many_connections", "error", 1, port=port)
    commands = [s["command"] for s in f["next_steps"] if s.get("command")]
    assert f"redis-cli -h 127.0.0.1 -p {port} INFO clients" in commands


async def _no_cors(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An API without any CORS support: OPTIONS 200 with Allow, no Access-Control-*."""
    method, _, _ = parse_head(await read_head(reader))
    extra = {"Allow": "GET, OPTIONS"} if method == "OPTIONS" else {}
    writer.write(response(200, "OK", extra, b"" if method == "OPTIONS" else b"{}"))
    await writer.drain()


async def _cors_405(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    method, _, _ = parse_head(await read_head(reader))
    code, reason = (405, "Method Not Allowed") if method == "OPTIONS" else (200, "OK")
    writer.write(response(code, reason, {}, b"{}"))
    await writer.drain()


@pytest.mark.parametrize("handler", [_no_cors, _cors_405])
def test_a_pasted_cors_error_without_origin_refused_for_every_origin(
    st: ServerThread,
    handler: object,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = st.serve(handler)  # type: ignore[arg-type]
    text = (
        "Uncaught (in promise) TypeError: Failed to fetch. The request to "
        f"http://127.0.0.1:{port}/api was blocked by CORS policy"
    )
    code, doc = check(capsys, monkeypatch, "--error", text)
    f = expect(code, doc, "cors.preflight_rejected", "error", 1, port=port)
    assert "every origin tried" in f["title"]
