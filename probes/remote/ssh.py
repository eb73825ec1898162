"""Run the collector on another host through the person's own OpenSSH client.

``ssh -T -o BatchMode=yes -o ConnectTimeout=N [-F CONFIG] -- DEST python3 -`` with the
collector's text on standard input: the user's ssh binary, config, agent, ProxyJump,
ControlMaster and known_hosts all apply; BatchMode means a password prompt or an
unknown host key fails at once instead of hanging, and host keys are checked as the
person's config says (netmedic never turns that off).  Nothing is copied to the other
side: the collector runs from the pipe and prints one JSON document.

A failure is a value (:class:`Reply` with a ``status``), classified from ssh's exit
status 255 and its stderr: host key unknown or changed, permission denied, no route,
timeout, no python3.  The output is capped; what comes back is parsed as data only,
so a remote host cannot make netmedic run anything here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.core.programs import find_user_program
from probes.core.sanitize import clean_text

MAX_OUTPUT = 8 * 1024 * 1024  # bytes of JSON accepted from one host
MAX_STDERR = 16 * 1024
COLLECTOR = Path(__file__).with_name("collector.py")

# Reply.status values (failure classes first, for a person).
OK = "ok"
HOST_KEY_UNKNOWN = "host_key_unknown"
HOST_KEY_CHANGED = "host_key_changed"
AUTH_FAILED = "auth_failed"
UNKNOWN_HOST = "unknown_host"
NO_ROUTE = "no_route"
SSH_REFUSED = "ssh_refused"
TIMEOUT = "timeout"
NO_PYTHON = "no_python"
NO_SSH = "no_ssh"
BAD_OUTPUT = "bad_output"
SSH_ERROR = "ssh_error"

EXPLAIN: dict[str, str] = {
    HOST_KEY_UNKNOWN: "its host key is not in known_hosts (connect once with ssh to check "
    "and accept it)",
    HOST_KEY_CHANGED: "its host key CHANGED since it was recorded in known_hosts "
    "(a reinstall, or someone in the middle)",
    AUTH_FAILED: "ssh was refused: no key the server accepts (it wants a password or "
    "another key; netmedic never types passwords)",
    UNKNOWN_HOST: "ssh cannot resolve the host name",
    NO_ROUTE: "no route to the host",
    SSH_REFUSED: "the host refuses connections to its SSH port",
    TIMEOUT: "no answer in time",
    NO_PYTHON: "the host has no python3 (3.8 or newer): only plain commands could be run",
    NO_SSH: "no ssh client on this host",
    BAD_OUTPUT: "the host's answer is not the collector's JSON",
    SSH_ERROR: "ssh failed",
}

# stderr lines of OpenSSH -> status (first match wins).
_STDERR_CLASSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed"), HOST_KEY_CHANGED),
    (re.compile(r"Host key verification failed|No \S+ host key is known"), HOST_KEY_UNKNOWN),
    (re.compile(r"Permission denied|Too many authentication failures"), AUTH_FAILED),
    (re.compile(r"Could not resolve hostname"), UNKNOWN_HOST),
    (re.compile(r"No route to host|Network is unreachable"), NO_ROUTE),
    (re.compile(r"Connection refused"), SSH_REFUSED),
    (re.compile(r"timed out|Connection timed out"), TIMEOUT),
    (re.compile(r"python3: (?:command )?not found|python3: No such file"), NO_PYTHON),
    # A python3 older than 3.8 cannot read the collector: as good as none.
    (re.compile(r"future feature annotations is not defined"), NO_PYTHON),
)  # fmt: skip


class DestinationError(ValueError):
    """A destination ssh must not be handed (it would read as an option)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back from one host."""

    dest: str
    status: str  # OK or a failure class above
    detail: str  # ssh's own words for a failure (sanitised), "" when ok
    elapsed_s: float
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def explanation(self) -> str:
        return EXPLAIN.get(self.status, self.status)


def check_destination(dest: str) -> str:
    """*dest* unchanged when ssh can take it as a destination, else DestinationError."""
    if not dest or len(dest) > 255:
        raise DestinationError("an SSH destination is 1..255 characters")
    if dest.startswith("-"):
        raise DestinationError(f"an SSH destination may not start with '-': {dest[:40]!r}")
    if any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in dest):
        raise DestinationError(
            f"an SSH destination has no spaces or control characters: {dest[:40]!r}"
        )
    return dest


def ssh_binary() -> str | None:
    """The person's ssh client: from the system directories, else their PATH (not for root:
    a directory early in root's PATH must not choose the program netmedic runs)."""
    return find_user_program("ssh")


def ssh_command(ssh: str, dest: str, connect_timeout: float, config: str = "") -> list[str]:
    args = [
        ssh,
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={max(1, round(connect_timeout))}",
    ]
    if config:
        args += ["-F", config]
    return [*args, "--", check_destination(dest), "python3", "-"]


def collector_script(params: dict[str, Any]) -> bytes:
    """The collector's text plus the one line that runs it with *params* (a literal)."""
    literal = repr(json.dumps(params))
    return (COLLECTOR.read_text() + f"\nmain(json.loads({literal}))\n").encode()


async def collect(dest: str, params: dict[str, Any], timeout: float, config: str = "") -> Reply:
    """Run the collector on *dest* within *timeout* seconds; failures come back as values."""
    started = time.monotonic()
    ssh = ssh_binary()
    if ssh is None:
        return Reply(dest, NO_SSH, "ssh not found in /usr/bin, /bin or PATH", 0.0)
    args = ssh_command(ssh, dest, min(timeout, 10.0), config)
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C here is netmedic's, not ssh's to forward
        )
    except OSError as exc:
        return Reply(dest, NO_SSH, clean_text(str(exc)), time.monotonic() - started)
    try:
        async with asyncio.timeout(timeout):
            out, err = await _communicate(proc, collector_script(params))
    except TimeoutError:
        await _kill(proc)
        return Reply(dest, TIMEOUT, f"no answer within {timeout:g} s", time.monotonic() - started)
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    return classify(dest, proc.returncode or 0, out, err, time.monotonic() - started)


async def _communicate(proc: asyncio.subprocess.Process, script: bytes) -> tuple[bytes, bytes]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(script)
        await proc.stdin.drain()
    with contextlib.suppress(OSError):
        proc.stdin.close()
    out, err = await asyncio.gather(
        _capped(proc.stdout, MAX_OUTPUT), _capped(proc.stderr, MAX_STDERR)
    )
    await proc.wait()
    return out, err


async def _capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)  # keep draining so ssh never blocks on a full pipe
    return b"".join(chunks)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await proc.wait()


def classify(dest: str, code: int, out: bytes, err: bytes, elapsed: float) -> Reply:
    """The Reply for ssh's exit status and output."""
    stderr = err.decode("utf-8", "replace")
    if code == 0 or out.strip():
        doc = _document(out)
        if doc is not None:
            return Reply(dest, OK, "", elapsed, doc)
    status = SSH_ERROR
    if code == 127:
        status = NO_PYTHON
    for pattern, name in _STDERR_CLASSES:
        if pattern.search(stderr):
            status = name
            break
    else:
        if code == 0:
            status = BAD_OUTPUT
    return Reply(dest, status, _last_words(stderr) or f"exit status {code}", elapsed)


def _document(out: bytes) -> dict[str, Any] | None:
    lines = out.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return None
    try:
        doc = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("netmedic_collector") != 1:
        return None
    return doc


def _last_words(stderr: str) -> str:
    """ssh's most telling stderr lines, one line, sanitised."""
    lines = [
        line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("@")
    ]
    return clean_text(" / ".join(lines[-3:]), 300)


async def plain_listeners(dest: str, timeout: float, config: str = "") -> tuple[str, ...]:
    """Without python3: the listening sockets as ``ss -Htln`` prints them (fixed text,
    nothing of ours interpolated into the remote command line)."""
    ssh = ssh_binary()
    if ssh is None:
        return ()
    # One fixed string for the remote shell: its PATH may be what hid python3.
    plain = "PATH=/usr/sbin:/usr/bin:/sbin:/bin ss -Htln"
    args = [*ssh_command(ssh, dest, min(timeout, 10.0), config)[:-2], plain]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return ()
    try:
        async with asyncio.timeout(timeout):
            assert proc.stdout is not None
            out = await _capped(proc.stdout, 1024 * 1024)
            await proc.wait()
    except TimeoutError:
        await _kill(proc)
        return ()
    return tuple(
        clean_text(line, 200) for line in out.decode("utf-8", "replace").splitlines()[:2000]
    )
