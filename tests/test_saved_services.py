"""services.toml: strict parsing with line numbers, `netmedic services`, `check @name`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.record.services import ServicesError, parse_services, service_check
from tests.probe_helpers import ROOT, clean_env
from tests.servers.apis import qdrant
from tests.servers.base import ServerThread, server_thread
from tests.servers.services import resp_server

GOOD = """\
# saved services
[services.vectors]
url = "http://127.0.0.1:6333"
kind = "qdrant"
headers = { "api-key" = "$QDRANT_API_KEY" }
symptom = "auth"

[services.cache]
url = "redis://127.0.0.1:6379"
description = "the session cache"
"""


def test_a_good_file_parses_into_the_model() -> None:
    vectors, cache = parse_services(GOOD)
    assert vectors.name == "vectors" and vectors.headers == (("api-key", "QDRANT_API_KEY"),)
    assert vectors.check_url == "http://127.0.0.1:6333/healthz" and vectors.line == 2
    assert cache.check_url == "redis://127.0.0.1:6379" and cache.symptom == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('symptom = "auth"', 'symtom = "auth"'), ":6: [services.vectors] unknown key 'symtom'"),
        (GOOD.replace('"$QDRANT_API_KEY"', '"sk-literal-secret"'), ":5: [services.vectors] header 'api-key' must name an environment variable"),
        (GOOD.replace("redis://127.0.0.1", "redis://:pw@127.0.0.1"), ":9: [services.cache] url carries a password"),
        (GOOD.replace('kind = "qdrant"', 'kind = "mongo"'), ":4: [services.vectors] unknown kind 'mongo'"),
        (GOOD.replace('symptom = "auth"', 'symptom = "sad"'), ":6: [services.vectors] unknown symptom 'sad'"),
        (GOOD + "expect = 999\n", ":11: [services.cache] expect must be an HTTP status"),
        (GOOD.replace('url = "redis', 'url = redis'), "at line 9"),
        ("colour = 1\n", ":1: unknown top-level key 'colour'"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_the_line(text: str, message: str) -> None:
    with pytest.raises(ServicesError) as info:
        parse_services(text, "/cfg/services.toml")
    assert str(info.value).startswith("/cfg/services.toml"), str(info.value)
    assert message in str(info.value), str(info.value)
    assert "sk-literal-secret" not in str(info.value)


def test_service_check_is_what_check_at_name_runs() -> None:
    """One function builds the run for `check @name` and the TUI's picker."""
    vectors, cache = parse_services(GOOD)
    check = service_check(vectors, {"QDRANT_API_KEY": "k1"})
    assert check.target.input == "http://127.0.0.1:6333/healthz"  # the kind's health path
    assert check.symptom == "auth"
    assert "k1" not in repr(check)
    base = ProbeConfig(timeout=2.0, ca_file="/tmp/ca.pem", headers=(("x-extra", "v"),))
    config = check.configure(base)
    assert config.headers == (("api-key", "k1"), ("x-extra", "v"))  # an explicit one still counts
    assert (config.service_kind, config.expect_status) == ("qdrant", 0)
    assert (config.timeout, config.ca_file) == (2.0, "/tmp/ca.pem")
    assert service_check(cache, {}).symptom == "auto"
    with pytest.raises(ServicesError, match=r"@vectors sends api-key from \$QDRANT_API_KEY"):
        service_check(vectors, {})


@pytest.fixture()
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def _cli(*args: str, config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
        env=clean_env(NETMEDIC_CONFIG_DIR=str(config), NETMEDIC_STATE_DIR=str(config / "state"),
                      XDG_STATE_HOME=str(config / "state"), **env),
    )  # fmt: skip


def test_check_at_name_uses_the_saved_url_header_and_symptom(
    st: ServerThread, tmp_path: Path
) -> None:
    port = st.serve(qdrant("saved-key-1"))
    (tmp_path / "services.toml").write_text(GOOD.replace(":6333", f":{port}"))
    done = _cli("check", "@vectors", "--json", "--timeout", "3", config=tmp_path,
                QDRANT_API_KEY="saved-key-1")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "ok" and doc["symptom"] == "auth"
    assert doc["target"]["input"].endswith("/healthz")
    assert "saved-key-1" not in done.stdout
    wrong = _cli("check", "@vectors", "--json", "--timeout", "3", config=tmp_path,
                 QDRANT_API_KEY="not-it")  # fmt: skip
    doc = json.loads(wrong.stdout)
    assert wrong.returncode == 1 and doc["verdict"] == "http.unauthorized"
    assert "Invalid API key" in wrong.stdout and "not-it" not in wrong.stdout


def test_check_at_name_without_the_variable_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "services.toml").write_text(GOOD)
    done = _cli("check", "@vectors", config=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "QDRANT_API_KEY, which is not set" in done.stderr
    unknown = _cli("check", "@nope", config=tmp_path)
    assert unknown.returncode == 2 and "no saved service 'nope'" in unknown.stderr


def test_check_at_name_for_a_redis(st: ServerThread, tmp_path: Path) -> None:
    port = st.serve(resp_server({"connected_clients": "99", "maxclients": "100"}))
    (tmp_path / "services.toml").write_text(GOOD.replace(":6379", f":{port}"))
    done = _cli("check", "@cache", "--json", "--timeout", "3", config=tmp_path)
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "service.connections_near_limit", doc["findings"]


def test_services_lists_saved_and_builtin(tmp_path: Path) -> None:
    (tmp_path / "services.toml").write_text(GOOD)
    done = _cli("services", config=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "@vectors" in done.stdout and "http://127.0.0.1:6333/healthz" in done.stdout
    assert "api-key from $QDRANT_API_KEY (not set)" in done.stdout
    assert "qdrant" in done.stdout and "openai" in done.stdout
    empty = _cli("services", config=tmp_path / "none")
    assert empty.returncode == 0 and "no saved services" in empty.stdout
    (tmp_path / "services.toml").write_text(GOOD.replace("kind =", "knd ="))
    bad = _cli("services", config=tmp_path)
    assert bad.returncode == 2 and "services.toml:4:" in bad.stderr
