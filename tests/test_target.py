"""Target parsing: what people type, and what gets refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.core.model import to_jsonable
from probes.core.target import TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "host", "port", "scheme", "path"),
    [
        ("db.internal:5432", "db.internal", 5432, "tcp", "/"),
        ("https://api.example.com/health", "api.example.com", 443, "https", "/health"),
        ("http://example.com", "example.com", 80, "http", "/"),
        ("[fd00::5]:6333", "fd00::5", 6333, "tcp", "/"),
        ("wss://ws.example.com/socket?x=1", "ws.example.com", 443, "wss", "/socket?x=1"),
        ("postgres://db:6543/app", "db", 6543, "postgres", "/app"),
        ("postgresql://db/app", "db", 5432, "postgresql", "/app"),
        ("redis://cache", "cache", 6379, "redis", "/"),
        ("rediss://cache", "cache", 6379, "rediss", "/"),
        ("smtp://mail.example.com", "mail.example.com", 25, "smtp", "/"),
        ("tls://example.com", "example.com", 443, "tls", "/"),
        ("tcp://example.com:22", "example.com", 22, "tcp", "/"),
        ("HTTPS://Example.COM.:8443/", "example.com", 8443, "https", "/"),
        ("example.com.:80", "example.com", 80, "tcp", "/"),
    ],
)
def test_accepts(text: str, host: str, port: int, scheme: str, path: str) -> None:
    target = parse_target(text)
    assert (target.host, target.port, target.scheme, target.path) == (host, port, scheme, path)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("127.1:80", "127.0.0.1"),
        ("0x7f.1:80", "127.0.0.1"),
        ("2130706433:80", "127.0.0.1"),
        ("010.0.0.1:80", "8.0.0.1"),
    ],
)
def test_odd_ipv4_forms_are_canonical(text: str, canonical: str) -> None:
    target = parse_target(text)
    assert target.host == canonical
    assert target.ip_version == 4
    assert target.sni is None


def test_idn_has_both_forms() -> None:
    target = parse_target("https://bücher.example/")
    assert target.host == "xn--bcher-kva.example"
    assert target.host_unicode == "bücher.example"
    assert target.display_host == "bücher.example"


def test_ipv6_zone_stays_out_of_host_and_sni() -> None:
    target = parse_target("[fe80::1%eth0]:22")
    assert target.host == "fe80::1"
    assert target.zone == "eth0"
    assert target.sni is None
    assert "eth0" not in target.url()


def test_credentials_are_split_off_and_never_shown() -> None:
    target = parse_target("https://alice:s3cretPass@api.example.com/x?token=abc123&page=2")
    assert target.username == "alice"
    assert target.password == "s3cretPass"
    for shown in (target.input, repr(target), str(to_jsonable(target)), target.shown_path):
        assert "s3cretPass" not in shown
        assert "abc123" not in shown
        assert "alice" not in shown
    assert "page=2" in target.input
    # The wire form keeps the query (the server needs it) but never the userinfo.
    assert target.url() == "https://api.example.com/x?token=abc123&page=2"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("example.com:0", "outside 1..65535"),
        ("example.com:65536", "outside 1..65535"),
        ("example.com:99999999", "outside 1..65535"),
        ("example.com:-1", "port must be a number"),
        ("example.com:http", "port must be a number"),
        ("example.com", "no port given"),
        ("", "empty"),
        ("   ", "empty"),
        (":80", "no host"),
        ("a" * 64 + ".com:80", "limit is 63"),
        (".".join(["abcdefghij"] * 24) + ":80", "limit is 253"),
        ("exa\nmple.com:80", "control characters"),
        ("example.com\r:80", "control characters"),
        ("exa\x00mple.com:80", "control characters"),
        ("-oProxyCommand=x:22", "may not start with '-'"),
        ("host;rm -rf /:80", "whitespace"),
        ("host;id:80", "not allowed in DNS"),
        ("$(id):80", "not allowed in DNS"),
        ("`id`:80", "not allowed in DNS"),
        ("a|b:80", "not allowed in DNS"),
        ("ftp://example.com", "unknown scheme"),
        ("gopher://x", "unknown scheme"),
        ("[fd00::1:80", "unclosed"),
        ("[nothex::1]:80", "not a valid IPv6"),
        ("user:pw@host:80", "only accepted in a URL"),
        ("1.2.3.4.5:80", "not a valid IPv4"),
        ("example..com:80", "empty label"),
    ],
)
def test_refuses_with_one_line_reason(text: str, reason: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_parser_only_raises_its_own_error(text: str) -> None:
    try:
        parse_target(text)
    except TargetError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["http", "https", "tcp", "ws", "redis", "tls"]),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}", fullmatch=True),
    st.integers(min_value=-5, max_value=70000),
    st.text(alphabet="/?=&abc%#:@[]", max_size=20),
)
def test_urls_parse_or_fail_cleanly(scheme: str, host: str, port: int, tail: str) -> None:
    try:
        target = parse_target(f"{scheme}://{host}:{port}{tail}")
    except TargetError:
        return
    assert 1 <= target.port <= 65535
