"""The exporter's HTTP face on loopback: bad input gets a status and one line, bounds
hold under 1,000 concurrent requests, the scrape's timeout is honoured, every check
is journaled, and Alertmanager's webhook starts at most one diagnosis per target."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from probes.record.exporter_config import (
    ExporterConfig,
    ExporterConfigError,
    parse_exporter_config,
)
from probes.record.services import parse_services
from probes.record.session import list_sessions, load_session
from tests.exporter_lab import (
    Targets,
    exporter_toml,
    get,
    http_request,
    loopback_targets,
    promtool_check,
    samples,
)
from tests.servers.base import server_thread
from tests.servers.httpserver import hang
from tui.exporter import httpio
from tui.exporter.server import Exporter, start
from tui.report import render


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    with loopback_targets(Path(tmp_path_factory.mktemp("pki"))) as found:
        yield found


def _config(targets: Targets, **exporter: float) -> ExporterConfig:
    return parse_exporter_config(
        exporter_toml(targets.ca_file, exporter=exporter), "exporter.toml", {}
    )


@pytest.fixture
async def served(targets: Targets) -> AsyncIterator[tuple[Exporter, int]]:
    exporter = Exporter(_config(targets), env={})
    server = await start(exporter, "127.0.0.1", 0)
    try:
        yield exporter, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
        await exporter.idle()


BAD = [
    (get("/probe?module=http"), 400, "Target parameter is missing"),
    (get("/probe?target=127.0.0.1:80&module=nope"), 400, "Unknown module 'nope'"),
    (get("/probe?target=10.20.30.40:80"), 403, "target not allowed"),
    (get("/probe?target=localhost:80"), 403, "target not allowed"),
    (get("/probe?target=127.0.0.1:99999"), 400, "bad target"),
    (get("/probe?target=" + "a" * 20000), 414, "request line is too long"),
    (get("/probe?" + "&".join(f"k{i}=v" for i in range(40))), 400, "bad query string"),
    (get("/probe", *(f"X-H{i}: v" for i in range(100))), 431, "header"),
    (get("/probe", "X-Big: " + "b" * 9000), 431, "header line is too long"),
    (b"GET http://example.com/ HTTP/1.1\r\n\r\n", 400, "this is no proxy"),
    (b"GET /probe HTTP/2.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "not ASCII"),
    (b"DELETE /probe HTTP/1.1\r\n\r\n", 405, "GET and HEAD only"),
    (b"GET /alert HTTP/1.1\r\n\r\n", 405, "POST only"),
    (get("/nothing"), 404, "not found"),
    (b"POST /alert HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413, "larger than"),
    (b"POST /alert HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "Content-Length"),
    (b"POST /alert HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400, "not JSON"),
    (
        b'POST /alert HTTP/1.1\r\nContent-Length: 16\r\n\r\n{"version": "3"}',
        400,
        '"version": "4"',
    ),
    (
        get("/probe?target=127.0.0.1:80", "X-Prometheus-Scrape-Timeout-Seconds: nan"),
        400,
        "Scrape-Timeout",
    ),
]


@pytest.mark.parametrize(("raw", "status", "says"), BAD, ids=[str(b[1]) for b in BAD])
async def test_bad_input_gets_a_status_and_one_line(
    served: tuple[Exporter, int], raw: bytes, status: int, says: str
) -> None:
    _exporter, port = served
    reply = await http_request(port, raw)
    assert reply.status == status
    assert reply.text.count("\n") == 1 and says in reply.text, reply.text
    assert "Traceback" not in reply.text


async def test_a_head_that_never_ends_gets_408(
    served: tuple[Exporter, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpio, "HEAD_TIMEOUT_S", 0.3)
    _exporter, port = served
    reply = await http_request(port, b"GET /probe?target=127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n")
    assert reply.status == 408 and reply.text == "the request head did not arrive in time\n"


async def test_probe_answers_metrics_and_journals_the_check(
    served: tuple[Exporter, int], targets: Targets
) -> None:
    _exporter, port = served
    reply = await http_request(port, get(f"/probe?target={targets.refused}&module=http"))
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert samples(reply.text, "netmedic_verdict") == {
        '{id="local.not_listening",severity="error"}': 1.0
    }
    (session,) = [s for s in list_sessions() if s.target == targets.refused]
    report = render(load_session(session.id), "md")
    assert "tcp.refused" in report or "refused" in report.lower()
    own = await http_request(port, get("/metrics"))
    counted = samples(own.text, "netmedic_exporter_checks_total")
    assert counted['{module="http",result="failure"}'] == 1.0
    # every configured module's series exists from the start, at 0 until it counts
    assert counted['{module="http",result="success"}'] == 0.0
    assert sum(counted.values()) == 1.0
    assert promtool_check(own.text).returncode == 0


async def test_openmetrics_when_asked(served: tuple[Exporter, int], targets: Targets) -> None:
    _exporter, port = served
    accept = "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
    reply = await http_request(port, get(f"/probe?target={targets.refused}", accept))
    assert reply.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert reply.text.endswith("# EOF\n")
    assert promtool_check(reply.text).returncode == 0


async def test_a_scrape_never_waits_past_its_timeout(targets: Targets) -> None:
    """A server that accepts and never answers, a module allowing 30 s: Prometheus
    said it gives up after 1.5 s, so the answer (not ok) comes before that."""
    toml = exporter_toml(targets.ca_file) + "[modules.slow]\ntimeout = 30\n"
    exporter = Exporter(parse_exporter_config(toml, "exporter.toml", {}), env={})
    server = await start(exporter, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        with server_thread() as servers:
            hung = servers.serve(hang)
            request = get(
                f"/probe?target=http://127.0.0.1:{hung}/&module=slow",
                "X-Prometheus-Scrape-Timeout-Seconds: 1.5",
            )
            reply = await http_request(port, request, timeout=1.5)
    finally:
        server.close()
        await server.wait_closed()
    assert reply.status == 200
    assert samples(reply.text, "probe_success") == {"": 0.0}
    assert samples(reply.text, "probe_duration_seconds")[""] < 1.5


async def test_a_thousand_concurrent_requests_are_bounded(targets: Targets) -> None:
    exporter = Exporter(_config(targets, max_rate=5, max_concurrent=4), env={})
    server = await start(exporter, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    request = get(f"/probe?target={targets.refused}")
    try:
        replies = await asyncio.gather(
            *(http_request(port, request, timeout=60) for _ in range(1000)),
            return_exceptions=True,
        )
        async with asyncio.timeout(10):  # the last handlers close their side
            await exporter.unconnected()
    finally:
        server.close()
        await server.wait_closed()
    failed = [r for r in replies if isinstance(r, BaseException)]
    assert not failed, failed[:3]
    statuses = [r.status for r in replies if not isinstance(r, BaseException)]
    assert set(statuses) <= {200, 429, 503}
    assert 1 <= statuses.count(200) <= 50  # a burst of max_concurrent, then 5 a second
    assert statuses.count(429) + statuses.count(503) >= 950
    for reply in replies:
        assert not isinstance(reply, BaseException)
        if reply.status != 200:
            assert reply.text.count("\n") == 1 and "retry" in reply.text
    assert exporter.stats.connections == 0 and exporter.stats.in_flight == 0


def _payload(*alerts: tuple[str, dict[str, str]]) -> bytes:
    """What Alertmanager 0.25 posts to a webhook receiver."""
    doc = {
        "receiver": "netmedic",
        "status": "firing",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "probe failed"},
                "startsAt": "2026-12-07T05:50:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0",
                "fingerprint": f"{i:016x}",
            }
            for i, (status, labels) in enumerate(alerts)
        ],
        "groupLabels": {"alertname": "ProbeFailed"},
        "commonLabels": {"alertname": "ProbeFailed", "job": "blackbox"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="ProbeFailed"}',
        "truncatedAlerts": 0,
    }
    return json.dumps(doc).encode()


def _post(body: bytes) -> bytes:
    head = (
        "POST /alert HTTP/1.1\r\nHost: netmedic\r\nUser-Agent: Alertmanager/0.25.0\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def test_an_alert_starts_one_diagnosis_per_target_and_journals_it(
    served: tuple[Exporter, int], targets: Targets
) -> None:
    exporter, port = served
    body = _payload(
        ("firing", {"alertname": "ProbeFailed", "instance": targets.refused, "job": "blackbox"}),
        ("firing", {"alertname": "ProbeFailed", "instance": "10.20.30.40:443"}),
        ("resolved", {"alertname": "ProbeFailed", "instance": targets.healthy}),
        ("firing", {"alertname": "HighLoad", "job": "node"}),
    )
    reply = await http_request(port, _post(body))
    assert reply.status == 200
    told = json.loads(reply.body)["alerts"]
    assert [a["outcome"] for a in told] == ["started", "unknown_target"]
    again = json.loads((await http_request(port, _post(body))).body)["alerts"]
    assert again[0]["outcome"] == "recent"
    await exporter.idle()
    (session,) = [s for s in list_sessions() if s.target == targets.refused]
    assert session.verdict == "local.not_listening" and session.ended
    assert exporter.alert_sessions == [session.id]
    own = await http_request(port, get("/metrics"))
    assert samples(own.text, "netmedic_exporter_alert_diagnoses_total") == {
        '{outcome="recent"}': 1.0,
        '{outcome="started"}': 1.0,
        '{outcome="unknown_target"}': 2.0,
    }


async def test_a_saved_service_is_a_target(targets: Targets) -> None:
    saved = parse_services(f'[services.web]\nurl = "{targets.healthy}"\n')
    config = parse_exporter_config("[exporter]\nallow = []\n", "exporter.toml", {})
    exporter = Exporter(config, saved, env={})
    server = await start(exporter, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        by_name = await http_request(port, get("/probe?target=@web"))
        by_url = await http_request(port, get(f"/probe?target={targets.healthy}"))
        other = await http_request(port, get(f"/probe?target={targets.refused}"))
    finally:
        server.close()
        await server.wait_closed()
    assert samples(by_name.text, "probe_success") == {"": 1.0}
    assert by_url.status == 200 and other.status == 403


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[exporter]\nlisten = 9469\n", "listen must be a string"),
        ("[exporter]\nallow = [1]\n", "allow must be a list of strings"),
        ("[exporter]\nallow = ['10.0.0.0/33']\n", "not a network"),
        ("[exporter]\nmax_rate = 0\n", "max_rate must be between"),
        ("[exporter]\nopen_relay = true\n", "unknown key 'open_relay'"),
        ("[modules.x]\nsymptom = 'nope'\n", "unknown symptom"),
        ("[modules.x]\nheaders = { Authorization = 'Bearer abc' }\n", "environment variable"),
        ("[modules.x]\nheaders = { Authorization = '$NOT_SET_HERE' }\n", "not set"),
        ("[modules.x]\nca_file = '/nonexistent/ca.pem'\n", "not readable"),
        ("[modules]\nx = 1\n", "must be a table"),
        ("oops = [", "exporter.toml"),
    ],
)
def test_bad_config_is_one_line_naming_the_file(toml: str, says: str) -> None:
    with pytest.raises(ExporterConfigError) as caught:
        parse_exporter_config(toml, "exporter.toml", {})
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("exporter.toml")


def test_module_headers_come_from_the_environment() -> None:
    toml = "[modules.api]\nheaders = { Authorization = '$API_TOKEN' }\nexpect = 204\n"
    config = parse_exporter_config(toml, "exporter.toml", {"API_TOKEN": "Bearer s3cret"})
    module = config.modules["api"]
    assert module.headers == (("Authorization", "Bearer s3cret"),)
    assert "s3cret" not in repr(module) and module.expect == 204


async def test_refusals_quote_no_secret_and_no_control_characters(
    served: tuple[Exporter, int],
) -> None:
    _exporter, port = served
    reply = await http_request(
        port, get("/probe?target=https://bob:hunter2@127.0.0.1:99999/%1b[31m")
    )
    assert reply.status == 400 and "hunter2" not in reply.text and "\x1b" not in reply.text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--config", "/nonexistent/exporter.toml"], "no such file"),
        (["--listen", "127.0.0.1"], "--listen"),
        (["--listen", "[::1]:70000"], "outside 1..65535"),
    ],
)
def test_the_command_refuses_bad_input_with_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    assert main(["exporter", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and err.startswith("netmedic: error:")


def test_the_command_refuses_a_bad_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    bad = tmp_path / "exporter.toml"
    bad.write_text("[exporter]\nallow = '*'\n")
    assert main(["exporter", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "allow must be a list" in err


async def test_a_module_header_secret_stays_out_of_metrics_and_journal(targets: Targets) -> None:
    canary = "Bearer canary-7f3a9c-exporter"
    toml = (
        "[exporter]\nallow = ['127.0.0.1']\n[modules.api]\nheaders = { Authorization = '$TOKEN' }\n"
    )
    exporter = Exporter(parse_exporter_config(toml, "exporter.toml", {"TOKEN": canary}), env={})
    server = await start(exporter, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        reply = await http_request(port, get(f"/probe?target={targets.healthy}&module=api"))
    finally:
        server.close()
        await server.wait_closed()
    assert samples(reply.text, "probe_success") == {"": 1.0}
    (session,) = [s for s in list_sessions() if s.target == targets.healthy]
    assert "canary-7f3a9c" not in reply.text
    assert "canary-7f3a9c" not in session.path.read_text()


@pytest.mark.parametrize(
    ("entry", "target", "covered"),
    [
        ("127.0.0.1", "127.0.0.1:8080", True),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/", True),
        ("127.0.0.1:8080", "127.0.0.1:8081", False),
        ("*.internal", "db.internal:5432", True),
        ("*.internal", "internal:5432", False),
        ("*.internal", "db.internal.evil.example:5432", False),
        ("10.0.0.0/8", "10.1.2.3:443", True),
        ("10.0.0.0/8", "ten.example:443", False),  # a name may resolve anywhere
        ("[::1]:6379", "redis://[::1]:6379", True),
        ("::1", "[::1]:22", True),
        ("API.Example.com", "https://api.example.com/health", True),
    ],
)
def test_allow_entries(entry: str, target: str, covered: bool) -> None:
    from probes.core.target import parse_target

    config = parse_exporter_config(f"[exporter]\nallow = ['{entry}']\n", "exporter.toml", {})
    assert config.allows(parse_target(target)) is covered
