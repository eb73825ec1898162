"""Every scheme against a port speaking every other protocol: a verdict, in time.

A ``redis://`` check against an HTTP port once never ended: tcp heard HTTP, the http
follow-up skipped ("not an HTTP target"), and the skip asked for http again, 4,000
times in 30 s.  Here each scheme netmedic takes (redis, rediss, postgres, smtp, tls,
ws, wss, http, https) meets a port speaking HTTP, TLS, SSH, Redis, PostgreSQL,
nothing at all, or a reset, through the real CLI (``check --json --timeout 2``), and
must return a verdict within the timeout plus 1 s, and the verdict an expert would
give (EXPECTED).  The 63 checks run a few at a time, so the whole matrix takes seconds.

The verdict names what the port speaks when it speaks another protocol than the
scheme: an SSH port says its banner first, HTTP, Redis and PostgreSQL wait for a
request in their own protocol (the identify probe asks), a TLS server hangs up on
plaintext.  The client's timeout or hang-up is then only a consequence.  A port that
resets every connection answered (it is not silence, never tcp.filtered); one that
says nothing to anything is the scheme's own timeout.

The run's time is read from its own ``started_at`` to the process's exit: the
interpreter's start-up is not the run's.  On a machine shared with other work, a
check starved of CPU among its siblings can pass the bound without any fault of its
own, or end ``incomplete`` (its probes told STARVED or cut by the bound); such a case
is run again alone, and only its run alone is held to the bound and the table (an
endless run is endless alone too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.probe_helpers import ROOT, clean_env
from tests.servers.base import Handler, ServerThread, http_ok, read_head, response, silent
from tests.servers.pgserver import pg_error
from tests.servers.pki import DAY, NOW, Pki
from tests.servers.services import resp_server
from tests.servers.tlsserver import TlsServer

SCHEMES = ("redis", "rediss", "postgres", "smtp", "tls", "ws", "wss", "http", "https")
TIMEOUT_S = 2.0
MARGIN_S = 1.0  # the bound: timeout + 1 s
AT_ONCE = 4

_SPEAKS = ("HTTP", "TLS", "SSH", "Redis", "PostgreSQL", "silence", "reset")
_RESET = "tcp.reset_after_connect"
# scheme -> the verdict against each port, in _SPEAKS order.  The TLS port's certificate
# is from a private CA the checks are not given: tls.untrusted_root where TLS is meant.
_TABLE: dict[str, tuple[str, ...]] = {
    #           HTTP                      TLS                       SSH
    #           Redis                     PostgreSQL                silence                  reset
    "redis":    ("service.wrong_protocol", "service.wrong_protocol", "service.wrong_protocol",
                 "ok",                     "service.wrong_protocol", "service.unavailable",   _RESET),
    "rediss":   ("tls.not_tls",            "tls.untrusted_root",     "tls.not_tls",
                 "tls.not_tls",            "tls.not_tls",            "tls.handshake_timeout", _RESET),
    "postgres": ("service.wrong_protocol", "service.wrong_protocol", "service.wrong_protocol",
                 "service.wrong_protocol", "tls.starttls_refused",   "tls.handshake_timeout", _RESET),
    "smtp":     ("service.wrong_protocol", "service.wrong_protocol", "service.wrong_protocol",
                 "service.wrong_protocol", "service.wrong_protocol", "tls.handshake_timeout", _RESET),
    "tls":      ("tls.not_tls",            "tls.untrusted_root",     "tls.not_tls",
                 "tls.not_tls",            "tls.not_tls",            "tls.handshake_timeout", _RESET),
    "ws":       ("ws.upgrade_rejected",    "http.not_http",          "http.not_http",
                 "http.not_http",          "http.not_http",          "http.timeout",          _RESET),
    "wss":      ("tls.not_tls",            "tls.untrusted_root",     "tls.not_tls",
                 "tls.not_tls",            "tls.not_tls",            "tls.handshake_timeout", _RESET),
    "http":     ("ok",                     "http.not_http",          "http.not_http",
                 "http.not_http",          "http.not_http",          "http.timeout",          _RESET),
    "https":    ("tls.not_tls",            "tls.untrusted_root",     "tls.not_tls",
                 "tls.not_tls",            "tls.not_tls",            "tls.handshake_timeout", _RESET),
}  # fmt: skip
# Where two answers are both right: postgres:// to a silent port never answers the
# SSLRequest (the TLS probe) nor the startup message (the service probe).
_ALSO: dict[tuple[str, str], frozenset[str]] = {
    ("postgres", "silence"): frozenset({"service.unavailable"}),
}
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    (scheme, speaks): frozenset({verdict}) | _ALSO.get((scheme, speaks), frozenset())
    for scheme, row in _TABLE.items()
    for speaks, verdict in zip(_SPEAKS, row, strict=True)
}
# These verdicts' titles name the protocol the port speaks.
_MISMATCH_IDS = ("http.not_http", "tls.not_tls", "service.wrong_protocol")


async def _ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
    await writer.drain()
    while await reader.read(1024):
        pass


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.fixture(scope="module")
def speakers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Ports on loopback, by the protocol they speak."""
    st = ServerThread()
    pki = Pki(tmp_path_factory.mktemp("pki"))
    tls = TlsServer(pki.server_context(pki.leaf()))
    try:
        yield {
            "HTTP": st.serve(http_ok),
            "TLS": tls.port,
            "SSH": st.serve(_ssh),
            "Redis": st.serve(resp_server()),
            "PostgreSQL": st.serve(
                pg_error("28P01", 'password authentication failed for user "x"')
            ),
            "silence": st.serve(silent),
            "reset": st.serve(_reset),
        }
    finally:
        tls.close()
        st.close()


@dataclass(frozen=True)
class Case:
    scheme: str
    speaks: str
    returncode: int
    verdict: str
    run_s: float  # from the run's start to the process's exit
    stderr: str
    followups: tuple[str, ...] = ()
    title: str = ""  # the verdict's finding's title


def _check(scheme: str, speaks: str, port: int, env: dict[str, str]) -> Case:
    url = f"{scheme}://127.0.0.1:{port}/"
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", str(TIMEOUT_S), url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,  # a run that never ends fails here, not by hanging the suite
        check=False,
    )
    ended = time.time()
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return Case(scheme, speaks, done.returncode, "", float("inf"), done.stderr[-400:])
    started = dt.datetime.fromisoformat(doc["started_at"]).timestamp()
    followups = tuple(f["probe"] for f in doc["followups"])
    title = next((f["title"] for f in doc["findings"] if f["id"] == doc["verdict"]), "")
    return Case(
        scheme,
        speaks,
        done.returncode,
        doc["verdict"],
        ended - started,
        done.stderr[-400:],
        followups,
        title,
    )


# 63 checks of about 0.7 s CPU each: some 30 s on an idle 2-core machine, minutes on
# one shared with other work (which the per-case bound allows for, see above).
@pytest.mark.timeout(600)
def test_every_scheme_against_every_protocol_ends_in_time(
    speakers: dict[str, int], tmp_path: Path
) -> None:
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "state"))
    pairs = [(scheme, speaks) for scheme in SCHEMES for speaks in speakers]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        cases = list(pool.map(lambda p: _check(p[0], p[1], speakers[p[1]], env), pairs))
    cases = [
        _check(c.scheme, c.speaks, speakers[c.speaks], env) if _starved(c) else c for c in cases
    ]
    slow = [c for c in cases if c.run_s > TIMEOUT_S + MARGIN_S]
    broken = [c for c in cases if not c.verdict or c.returncode not in (0, 1, 4)]
    assert not broken, broken
    assert not slow, [(c.scheme, c.speaks, round(c.run_s, 2), c.verdict) for c in slow]
    assert len(cases) == len(SCHEMES) * len(_SPEAKS) == len(EXPECTED)
    wrong = [
        (c.scheme, c.speaks, c.verdict, c.title)
        for c in cases
        if c.verdict not in EXPECTED[(c.scheme, c.speaks)]
    ]
    assert not wrong, wrong
    # A mismatch says which protocol the port speaks, as its banner or answer named it.
    unnamed = [
        (c.scheme, c.speaks, c.title)
        for c in cases
        if c.verdict in _MISMATCH_IDS and f"speaks {c.speaks}" not in c.title
    ]
    assert not unnamed, unnamed


def _starved(case: Case) -> bool:
    """Over the bound, or incomplete: maybe starved among its siblings."""
    return case.run_s > TIMEOUT_S + MARGIN_S or case.verdict == "incomplete"


def _redirect_to(location: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(response(301, "Moved Permanently", {"Location": location}))
        await writer.drain()

    return handle


def test_a_redirect_to_https_with_a_bad_certificate_ends_in_time(tmp_path: Path) -> None:
    """http:// redirecting to https:// with a self-signed, expired, wrong-name or
    private-CA certificate: the tls follow-up is planned once (it skips for an
    http:// target, and that skip once planned it again, forever)."""
    pki = Pki(tmp_path)
    contexts = {
        "self-signed": pki.self_signed_context(),
        "expired": pki.self_signed_context(not_before=NOW - 10 * DAY, not_after=NOW - DAY),
        "wrong-name": pki.server_context(pki.leaf("elsewhere.example")),
        "private-ca": pki.server_context(pki.leaf()),
    }
    servers = {kind: TlsServer(ctx) for kind, ctx in contexts.items()}
    st = ServerThread()
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "state"))
    try:
        ports = {
            kind: st.serve(_redirect_to(f"https://127.0.0.1:{tls.port}/"))
            for kind, tls in servers.items()
        }
        with ThreadPoolExecutor(AT_ONCE) as pool:
            checked = pool.map(lambda p: _check("http", "HTTP", p, env), ports.values())
            cases = dict(zip(ports, checked, strict=True))
        for kind, case in cases.items():
            assert case.verdict == "http.redirect_broken", (kind, case)
            assert case.followups == ("tls",), (kind, case)
            if case.run_s > TIMEOUT_S + MARGIN_S:  # starved among its siblings? alone:
                alone = _check("http", "HTTP", ports[kind], env)
                assert alone.run_s <= TIMEOUT_S + MARGIN_S, (kind, alone)
    finally:
        st.close()
        for tls in servers.values():
            tls.close()
