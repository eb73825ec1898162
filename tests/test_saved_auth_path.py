"""A saved service's health check also asks a path that needs its key: a Qdrant whose
/healthz answers anyone passes with a wrong key no more."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.base import ServerThread, read_head, response, server_thread
from tests.servers.httpserver import parse_head
from tests.truth_helpers import check, expect

SERVICES = """\
[services.vectors]
url = "http://127.0.0.1:{port}"
kind = "qdrant"
headers = {{ "api-key" = "$QDRANT_API_KEY" }}
"""


def qdrant_open_health(key: str):  # type: ignore[no-untyped-def]
    """As Qdrant does: /healthz, /livez, /readyz need no key; the API does."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, path, headers = parse_head(await read_head(reader))
        if path.startswith(("/healthz", "/livez", "/readyz")):
            writer.write(
                response(200, "OK", {"Content-Type": "text/plain"}, b"healthz check passed")
            )
        elif headers.get("api-key") != key:
            body = b"Invalid API key or JWT"
            writer.write(response(401, "Unauthorized", {"Content-Type": "text/plain"}, body))
        else:
            body = json.dumps({"result": {"collections": []}, "status": "ok"}).encode()
            writer.write(response(200, "OK", {"Content-Type": "application/json"}, body))
        await writer.drain()

    return handle


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


@pytest.mark.parametrize(("key", "verdict", "severity", "exit_code"), [
    ("wrong-key", "http.unauthorized", "error", 1),
    ("right-key", "ok", "ok", 0),
])  # fmt: skip
def test_the_key_is_checked_where_it_is_needed(
    st: ServerThread,
    tmp_path: Path,
    key: str,
    verdict: str,
    severity: str,
    exit_code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = st.serve(qdrant_open_health("right-key"))
    (tmp_path / "services.toml").write_text(SERVICES.format(port=port))
    env = {"NETMEDIC_CONFIG_DIR": str(tmp_path), "QDRANT_API_KEY": key}
    code, doc = check(capsys, monkeypatch, "@vectors", env=env)
    f = expect(code, doc, verdict, severity, exit_code, port=port)
    http = next(p for p in doc["probes"] if p["probe"] == "http")
    assert http["data"]["authed"]["url"].endswith("/collections")
    if verdict != "ok":
        assert "refuses the configured key" in f["title"]
        assert "Invalid API key" in " ".join(f["evidence"])
    assert key not in json.dumps(doc)
