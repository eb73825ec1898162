"""HTTP APIs at the service's door: the server's own error text, the key convention,
and a retry command that works when pasted."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator

import pytest

from probes.core.model import Finding
from tests.probe_helpers import ROOT, check_cli, clean_env, evidence, finding, run
from tests.servers.apis import json_status, openai_like, qdrant
from tests.servers.base import ServerThread, server_thread

KEY = "qdrant-secret-key-123"


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def _step(f: Finding, needle: str) -> str:
    for step in f.next_steps:
        if step.command and needle in step.command:
            return step.command
    raise AssertionError(f"no command with {needle!r} in {f.next_steps}")


def _paste(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a suggested ``netmedic ...`` command as a person pasting it would."""
    argv = shlex.split(command)
    assert argv[0] == "netmedic"
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv[1:], "--json", "--timeout", "3"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


def test_qdrant_401_without_challenge_wants_api_key_and_the_retry_works(st: ServerThread) -> None:
    port = st.serve(qdrant(KEY))
    doc, _, _ = check_cli(f"http://127.0.0.1:{port}/collections", "--symptom", "auth")
    assert doc["verdict"] == "http.unauthorized"
    f = next(f for f in doc["findings"] if f["id"] == "http.unauthorized")
    text = "\n".join([f["title"], *f["evidence"]])
    assert "Must provide an API key or an Authorization bearer token" in text
    assert "api-key" in text
    retry = next(s["command"] for s in f["next_steps"] if "--header" in (s["command"] or ""))
    assert shlex.split(retry)[-1] == "api-key: $QDRANT_API_KEY"
    pasted = _paste(retry, clean_env(QDRANT_API_KEY=KEY))
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert '"verdict": "ok"' in pasted.stdout and KEY not in pasted.stdout


def test_bare_host_port_6333_is_http_with_the_api_key_convention(st: ServerThread) -> None:
    port = st.serve(qdrant(KEY))
    # A bare host:port on Qdrant's port: the banner (or the port) brings the HTTP probe.
    _, diagnosis = run(f"http://127.0.0.1:{port}/", ("http",), "auth", service_kind="qdrant")
    f = finding(diagnosis, "http.unauthorized")
    assert "api-key" in _step(f, "--header")


def test_invalid_key_is_quoted_from_the_body_and_never_the_key(st: ServerThread) -> None:
    port = st.serve(qdrant(KEY))
    doc, out, _ = check_cli(
        f"http://127.0.0.1:{port}/collections",
        "--header",
        "api-key: $QDRANT_API_KEY",
        env=clean_env(QDRANT_API_KEY="wrong-key-456"),
    )
    assert doc["verdict"] == "http.unauthorized"
    assert "Invalid API key" in out and "wrong-key-456" not in out
    assert "credentials were sent (api-key; values hidden)" in out


def test_openai_style_json_error_gives_bearer_and_strips_escapes(st: ServerThread) -> None:
    port = st.serve(openai_like("sk-good"))
    _, diagnosis = run(f"http://127.0.0.1:{port}/v1/models", ("http",), "auth")
    text = evidence(diagnosis, "http.unauthorized")
    assert "Incorrect API key provided" in text and "\x1b" not in text
    f = finding(diagnosis, "http.unauthorized")
    retry = _step(f, "--header")
    assert shlex.split(retry)[-1] == "Authorization: $API_AUTHORIZATION"
    export = _step(f, "export")
    assert shlex.split(export) == ["export", "API_AUTHORIZATION=Bearer ${API_AUTHORIZATION_TOKEN}"]
    pasted = _paste(retry, clean_env(API_AUTHORIZATION="Bearer sk-good"))
    assert pasted.returncode == 0 and '"verdict": "ok"' in pasted.stdout


def test_basic_challenge_gives_basic(st: ServerThread) -> None:
    from tests.servers.httpserver import status

    port = st.serve(status(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="wiki"'}))
    _, diagnosis = run(f"http://127.0.0.1:{port}/", ("http",), "auth")
    f = finding(diagnosis, "http.unauthorized")
    assert 'Basic realm="wiki"' in f.title
    assert "Basic" in _step(f, "export")


@pytest.mark.parametrize(
    ("code", "reason", "message", "fid"),
    [
        (403, "Forbidden", "rate limit exceeded for this key", "http.forbidden"),
        (404, "Not Found", "Collection `docs` doesn't exist!", "http.client_error"),
        (500, "Internal Server Error", "Service internal error: disk full", "http.server_error"),
    ],
)
def test_error_bodies_are_shown(
    st: ServerThread, code: int, reason: str, message: str, fid: str
) -> None:
    port = st.serve(json_status(code, reason, message))
    _, diagnosis = run(f"http://127.0.0.1:{port}/collections/docs", ("http",), "auth")
    assert diagnosis.verdict == fid
    assert f"the server says: {message}" in evidence(diagnosis, fid)


def test_error_body_excerpt_is_capped() -> None:
    from probes.proto.errbody import EXCERPT_CAP, excerpt

    text = excerpt(b'{"error": {"message": "' + b"x" * 5000 + b'"}}', "application/json")
    assert len(text) == EXCERPT_CAP
    assert excerpt(b"<html><title>Access denied</title><body>...</body></html>") == "Access denied"


def test_cors_without_origin_tries_dev_origins_as_labelled_guesses(st: ServerThread) -> None:
    from tests.servers.httpserver import cors

    port = st.serve(cors("http://localhost:5173", "GET"))
    doc, out, _ = check_cli(f"http://127.0.0.1:{port}/api", "--symptom", "cors")
    assert "origin.netmedic.invalid" not in out
    f = next(f for f in doc["findings"] if f["id"] == "cors.origin_needed")
    text = "\n".join([f["title"], *f["evidence"]])
    assert "guesses" in text and "http://localhost:5173: allowed" in text
    assert "http://localhost:3000: refused" in text
    assert f["severity"] == "info"
    retry = next(s["command"] for s in f["next_steps"] if s["command"])
    assert shlex.split(retry)[-2:] == ["--origin", "https://app.example.com"]


def test_cors_without_origin_none_allowed_is_a_warning(st: ServerThread) -> None:
    from tests.servers.httpserver import cors

    port = st.serve(cors("https://prod.example.com", "GET"))
    _, diagnosis = run(f"http://127.0.0.1:{port}/api", ("cors",), "cors")
    assert diagnosis.verdict == "cors.origin_needed"
    assert "none of the common dev origins" in finding(diagnosis, "cors.origin_needed").title
