"""Canary: plant secrets everywhere, run sessions through every output, grep every byte.

One more source since issue 17: the error a person pastes (``check --error``).

Secrets go into the target URL (user:password, secret query parameters), into
environment variables (``*_TOKEN``, ``*PASSWORD*``, ``*SECRET*``, ``*_KEY``, a
proxy URL with a password), and — through a stand-in HTTP probe and rule — into
probe data, summaries, findings and next-step commands as Authorization,
Cookie and API-key headers.  Outputs checked: ``check`` human and ``--json``
(stdout and stderr), the journal, ``--report``, ``report`` in md/html/json,
the support bundle (every entry, decompressed), ``sessions`` and error lines.
"""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest

import probes.diagnosis.engine as engine
from probes.core.context import ProbeConfig, ProbeContext
from probes.core.model import Finding, NextStep, ProbeResult, Severity, Status, to_jsonable
from probes.core.redact import Redactor, redact_text
from probes.core.target import parse_target
from probes.diagnosis.evidence import Evidence
from probes.run.plans import PROBES, ProbeSpec
from probes.run.runner import Run, run_to_end
from tests.probe_helpers import cli_recorder

URL_PASS = "CanaryUrlPass41"
QUERY_TOKEN = "CanaryQueryTok42"
QUERY_SIG = "CanarySig43"
BEARER = "CanaryBearer44"
COOKIE = "CanaryCookie45"
API_KEY = "CanaryApiKey46"
ENV = {
    "FOO_TOKEN": "CanaryEnvTok47",
    "DB_PASSWORD": "CanaryDbPw48",
    "MY_SECRET_THING": "CanarySecret49",
    "AWS_ACCESS_KEY": "CanaryKey50",
    "HTTPS_PROXY": "http://proxyuser:CanaryProxyPw51@127.0.0.1:3128",
}
CANARIES = [URL_PASS, QUERY_TOKEN, QUERY_SIG, BEARER, COOKIE, API_KEY, "CanaryEnvTok47",
            "CanaryDbPw48", "CanarySecret49", "CanaryKey50", "CanaryProxyPw51"]  # fmt: skip


async def _leaky_http(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    """Stands in for an HTTP probe that echoes everything it sent."""
    url = (
        f"http://admin:{URL_PASS}@{ctx.target.host_port}/health?token={QUERY_TOKEN}&sig={QUERY_SIG}"
    )
    yield ProbeResult(
        "http",
        Status.FAILED,
        0.01,
        f"GET {url} with Authorization: Bearer {BEARER} -> 401",
        {
            "url": url,
            "request_headers": [
                ["Authorization", f"Bearer {BEARER}"],
                ["Cookie", f"sessionid={COOKIE}"],
                ["X-Api-Key", API_KEY],
            ],
            "headers": {"Set-Cookie": f"sid={COOKIE}; Path=/", "x-api-key": API_KEY},
            "env_echo": " ".join(ENV.values()),
            "proxy": ENV["HTTPS_PROXY"],
        },
    )


def _leaky_rule(ev: Evidence) -> Iterable[Finding]:
    result = ev.results.get("http")
    if result is None:
        return []
    return [
        Finding(
            "http.unauthorized",
            Severity.ERROR,
            f"401 for {result.data['url']}",
            (result.summary, f"Cookie: sessionid={COOKIE}", f"key {API_KEY} rejected"),
            (
                NextStep(
                    "Retry with the token",
                    f"curl -H 'Authorization: Bearer {BEARER}' -H 'X-Api-Key: {API_KEY}' "
                    f"'{result.data['url']}'",
                ),
                NextStep(f"Check DB_PASSWORD={ENV['DB_PASSWORD']} and {ENV['FOO_TOKEN']}"),
            ),
        )
    ]


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def _assert_clean(label: str, data: bytes) -> None:
    for canary in CANARIES:
        assert canary.encode() not in data, f"{canary} leaked into {label}"


def test_no_secret_reaches_any_output(
    tmp_path: Path,
    listener: int,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(
        PROBES, "http", ProbeSpec("http", "HTTP", "tests.test_redaction_canary:_leaky_http")
    )
    monkeypatch.setattr(engine, "RULES", (*engine.RULES, _leaky_rule))
    out = tmp_path / "out"
    out.mkdir()
    target = (
        f"http://admin:{URL_PASS}@127.0.0.1:{listener}/health?token={QUERY_TOKEN}&sig={QUERY_SIG}"
    )

    outputs: dict[str, bytes] = {}

    run = cli_recorder(capsysbinary, outputs)

    assert run("check --json", "check", target, "--json", "--timeout", "1",
               "--report", str(out / "check.md")) == 1  # fmt: skip
    assert b"http.unauthorized" in outputs["check --json stdout"]
    assert run("check human", "check", target, "--timeout", "1",
               "--report", str(out / "check.html")) == 1  # fmt: skip
    assert b"http.unauthorized" in outputs["check human stdout"]
    for fmt in ("md", "html", "json"):
        assert run(f"report {fmt}", "report", "latest", "--format", fmt) == 0
        assert b"http.unauthorized" in outputs[f"report {fmt} stdout"]
        assert run(f"report -o {fmt}", "report", "--format", fmt, "-o", str(out / f"r.{fmt}")) == 0
    assert run("bundle", "report", "latest", "--bundle", str(out / "bundle.zip")) == 0
    assert run("sessions", "sessions") == 0
    assert run("bad target", "check", f"http://admin:{URL_PASS}@host:99999/") == 2
    assert run("bad target 2", "check", f"http://admin:{URL_PASS}@ho st/") == 2

    files = [*(tmp_path / "state").rglob("*.jsonl"), *out.iterdir()]
    assert len(files) == 2 + 2 + 3 + 1
    for path in files:
        outputs[str(path)] = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO((out / "bundle.zip").read_bytes())) as zf:
        names = zf.namelist()
        assert {n.split("/", 1)[1] for n in names} >= {
            "report.md", "report.html", "report.json", "journal.jsonl",
            "context/resolv.conf", "context/hosts.txt", "context/route.txt",
            "context/listeners.txt", "context/proxy-env.txt", "manifest.json",
        }  # fmt: skip
        for name in names:
            outputs[f"bundle:{name}"] = zf.read(name)
        proxy = next(n for n in names if n.endswith("proxy-env.txt"))
        assert b"HTTPS_PROXY=http://***@127.0.0.1:3128" in zf.read(proxy)
    for label, data in outputs.items():
        _assert_clean(label, data)


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Bearer abcdefgh123", "abcdefgh123"),
        ("proxy-authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("Cookie: a=b; session=zzz999", "zzz999"),
        ("GET /x?api_key=k1k1k1&access_token=t2t2t2 HTTP/1.1", "k1k1k1"),
        ("GET /x?api_key=k1k1k1&access_token=t2t2t2 HTTP/1.1", "t2t2t2"),
        ("export GITHUB_TOKEN=ghp_secretvalue", "ghp_secretvalue"),
        ("redis://:hunter2@cache:6379/0", "hunter2"),
        ("sent with bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
    ],
)
def test_redact_text_shapes(text: str, hidden: str) -> None:
    assert hidden not in redact_text(text)


def test_redaction_keeps_what_is_not_secret() -> None:
    challenge = 'WWW-Authenticate: Basic realm="ops"'
    assert redact_text(challenge) == challenge
    plain = '10.0.0.5:5432 refused after 0.8 ms; users:(("postgres",pid=12,fd=5))'
    assert redact_text(plain) == plain
    doc = {
        "session": {"id": "x"},
        "token": "t0t0t0",
        "headers": [["Cookie", "c=1"], ["Accept", "*/*"]],
    }
    assert Redactor().json(doc) == {
        "session": {"id": "x"},
        "token": "***",
        "headers": [["Cookie", "***"], ["Accept", "*/*"]],
    }


async def test_nothing_downstream_of_the_run_sees_a_secret(
    listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is the secrets boundary: every event it emits, every result it keeps
    and its diagnosis are clean, so journal, check output, reports and the screen
    (which receive only these) never hold a secret to leak."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(
        PROBES, "http", ProbeSpec("http", "HTTP", "tests.test_redaction_canary:_leaky_http")
    )
    monkeypatch.setattr(engine, "RULES", (*engine.RULES, _leaky_rule))
    target = parse_target(
        f"http://admin:{URL_PASS}@127.0.0.1:{listener}/health?token={QUERY_TOKEN}&sig={QUERY_SIG}"
    )
    seen: list[object] = []
    run = Run(target, "auth", ProbeConfig(timeout=1.0), plan=("tcp", "http"), on_event=seen.append)
    diagnosis = await run_to_end(run)

    assert diagnosis.verdict == "http.unauthorized"  # the leaky rule saw the evidence
    assert len(seen) >= 3
    for event in seen:
        _assert_clean(f"event {type(event).__name__}", json.dumps(to_jsonable(event)).encode())
    _assert_clean("run.results", json.dumps(to_jsonable(run.results)).encode())
    _assert_clean("run.diagnosis", json.dumps(to_jsonable(run.diagnosis)).encode())


# One more source: the error a person pastes (``check --error``; the TUI's picker is
# covered in tests/tui/test_error_paste.py).  Tracebacks quote tokens in URLs, in
# headers and in dict literals.
PASTE_CANARIES = ["CanaryPasteBearer61", "CanaryPasteKey62", "CanaryPastePw63", "CanaryPasteTok64"]
PASTED = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/client.py", line 12, in <module>\n'
    "    requests.get(url, headers={'Authorization': 'Bearer CanaryPasteBearer61'},\n"
    "                 params={'api_key': 'CanaryPasteKey62'})\n"
    "redis.exceptions.ConnectionError: redis://:CanaryPastePw63@127.0.0.1:{port}/0 "
    "GET /x?access_token=CanaryPasteTok64 -> Error 111 connecting to 127.0.0.1:{port}. "
    "Connection refused.\n"
)


def test_no_pasted_secret_reaches_any_output(
    tmp_path: Path, listener: int, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    pasted = PASTED.replace("{port}", str(listener))
    outputs: dict[str, bytes] = {}

    run = cli_recorder(capsysbinary, outputs)

    run("check --json", "check", "--error", pasted, "--json", "--timeout", "1",
        "--report", str(out / "check.md"))  # fmt: skip
    assert b"your app said" in outputs["check --json stdout"]
    run("check human", "check", "--error", pasted, "--timeout", "1")
    assert b"your app said" in outputs["check human stdout"]
    for fmt in ("md", "html", "json"):
        assert run(f"report {fmt}", "report", "latest", "--format", fmt) == 0
        assert b"Your app said" in outputs[f"report {fmt} stdout"] or fmt == "json"
    assert run("bundle", "report", "latest", "--bundle", str(out / "bundle.zip")) == 0
    assert run("no host", "check", "--error", "Authorization: Bearer CanaryPasteBearer61") == 2
    journals = list(Path(os.environ["XDG_STATE_HOME"]).rglob("*.jsonl"))
    assert len(journals) == 2
    for path in [*journals, *out.iterdir()]:
        outputs[str(path)] = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO((out / "bundle.zip").read_bytes())) as zf:
        for name in zf.namelist():
            outputs[f"bundle:{name}"] = zf.read(name)
    for label, data in outputs.items():
        for canary in PASTE_CANARIES:
            assert canary.encode() not in data, f"{canary} leaked into {label}"
