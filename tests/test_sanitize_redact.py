"""Untrusted remote text and secrets."""

from __future__ import annotations

from probes.core.redact import SecretScrubber, is_secret_name, redact_env, redact_url_credentials
from probes.core.sanitize import clean_bytes, clean_text


def test_escapes_and_controls_are_neutralised() -> None:
    evil = "ok\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\nnext\u202etxt\x00"
    out = clean_text(evil)
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out
    assert "\u202e" not in out and "\n" not in out and "\r" not in out


def test_length_is_capped() -> None:
    assert len(clean_text("x" * 10_000, limit=50)) == 50
    assert len(clean_bytes(b"\xff" * 500, limit=40)) <= 40


def test_secret_names() -> None:
    for name in (
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-API-Key",
        "api-key",
        "token",
        "access_token",
        "sig",
        "signature",
        "password",
        "DB_PASSWORD",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "QDRANT_API_KEY",
    ):
        assert is_secret_name(name), name
    descriptive = ("signature_algorithm", "auth_method", "public_key", "proxy_authenticate")
    for name in ("Accept", "page", "Host", "PATH", "HOME", "keyboard", *descriptive):
        assert not is_secret_name(name), name


def test_url_credentials_and_env() -> None:
    text = "proxy http://bob:hunter2@proxy:3128 and https://tok@github.com/x"
    out = redact_url_credentials(text)
    assert "hunter2" not in out and "bob" not in out and "tok@" not in out
    env = redact_env({"HTTPS_PROXY": "http://u:pw12345@p:1", "DB_PASSWORD": "x", "HOME": "/root"})
    assert env == {"HTTPS_PROXY": "http://***@p:1", "DB_PASSWORD": "***", "HOME": "/root"}


def test_scrubber_removes_known_values() -> None:
    scrub = SecretScrubber(["sekrit-value-1"])
    assert scrub("header was sekrit-value-1!") == "header was ***!"


def test_learning_a_secret_never_disturbs_a_scrub_in_progress() -> None:
    """The TUI's journal thread and event loop share one Redactor: ``add`` must
    publish a new list, never reorder the one another thread is walking."""
    scrubber = SecretScrubber(["first-secret-1"])
    walking = scrubber._secrets
    scrubber.add("a-much-longer-second-secret")
    assert walking == ["first-secret-1"]
    assert scrubber("x first-secret-1 a-much-longer-second-secret") == "x *** ***"


def test_a_suggested_command_keeps_its_placeholder_and_its_quotes() -> None:
    """`--header 'Authorization: $API_TOKEN'` is a command to paste, not a secret; a real
    value in a quoted header is masked without eating the closing quote or what follows."""
    from probes.core.redact import Redactor

    command = "netmedic check api:6333 --header 'Authorization: $API_TOKEN'"
    assert Redactor().text(command) == command
    assert Redactor().text("-H 'api-key: ${QDRANT_KEY}'") == "-H 'api-key: ${QDRANT_KEY}'"
    curl = "curl -H 'Authorization: Bearer abc123xyz987' https://api/v1"
    assert Redactor().text(curl) == "curl -H 'Authorization: ***' https://api/v1"
    assert Redactor().text('{"Authorization": "Bearer abc123xyz987"}') == '{"Authorization": "***"}'
