"""Stand-ins for the HTTP APIs the runbooks are about: a Qdrant-style vector database
(``api-key`` header, plain-text 401 without WWW-Authenticate), an OpenAI-style API
(Bearer, JSON error bodies) and a Confluence-style server (Basic)."""

from __future__ import annotations

import asyncio
import json

from tests.servers.base import Handler, read_head, response
from tests.servers.httpserver import parse_head


def qdrant(key: str) -> Handler:
    """/healthz and /collections; the key goes in ``api-key`` (or Authorization: Bearer)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, path, headers = parse_head(await read_head(reader))
        given = headers.get("api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if not given:
            body = b"Must provide an API key or an Authorization bearer token"
            writer.write(response(401, "Unauthorized", {"Content-Type": "text/plain"}, body))
        elif given != key:
            body = b"Invalid API key or JWT"
            writer.write(response(401, "Unauthorized", {"Content-Type": "text/plain"}, body))
        elif path.startswith("/healthz"):
            writer.write(
                response(200, "OK", {"Content-Type": "text/plain"}, b"healthz check passed")
            )
        else:
            body = json.dumps({"result": {"collections": []}, "status": "ok"}).encode()
            writer.write(response(200, "OK", {"Content-Type": "application/json"}, body))
        await writer.drain()

    return handle


def openai_like(key: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, _, headers = parse_head(await read_head(reader))
        auth = headers.get("authorization", "")
        if auth == f"Bearer {key}":
            body = json.dumps({"object": "list", "data": []}).encode()
            writer.write(response(200, "OK", {"Content-Type": "application/json"}, body))
        else:
            error = {
                "error": {
                    "message": "Incorrect API key provided: sk-wrong. You can find your API key at https://example.invalid/keys.\x1b[31m",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
            body = json.dumps(error).encode()
            writer.write(response(401, "Unauthorized", {"Content-Type": "application/json"}, body))
        await writer.drain()

    return handle


def json_status(code: int, reason: str, message: str) -> Handler:
    """Any status with a JSON error body ``{"status": {"error": message}}`` (Qdrant's shape)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        body = json.dumps({"status": {"error": message}, "time": 0.0}).encode()
        writer.write(response(code, reason, {"Content-Type": "application/json"}, body))
        await writer.drain()

    return handle
