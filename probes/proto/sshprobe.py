"""``ssh://host[:port]``: what the SSH server offers (the service probe's SSH part).

Banner, protocol version, software, the host key type and fingerprint, and the
authentication methods it accepts (:mod:`probes.proto.sshwire`, read-only: the
``none`` request, never a password or a key).  The user asked about is the
URL's (``ssh://git@host``), else this machine's login name, as ``ssh`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.sanitize import clean_text
from probes.proto.sshwire import CLIENT_VERSION, GREET_WAIT_S, SshError, SshHello, hello
from probes.wire.banner import identify

NUDGE_WAIT_S = 0.5


def login_name(url_user: str) -> str:
    if url_user:
        return url_user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        return "root"


async def _nudge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """A silent port: say our line (and an empty one, as a request ends) and listen
    briefly, so an HTTP server's "400 Bad Request" names what it speaks."""
    try:
        writer.write(CLIENT_VERSION + b"\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(256), NUDGE_WAIT_S)
    except (OSError, TimeoutError):
        return b""


@dataclass(frozen=True, slots=True)
class SshLook:
    """What one look at an SSH port found: the server's offer, or why there is none."""

    hello: SshHello | None
    error: str = ""
    not_ssh: bool = False  # it speaks something else (or stays silent)
    first: bytes = b""  # what it said first, when that was not SSH
    protocol_seen: str = ""

    @property
    def info(self) -> tuple[tuple[str, str], ...]:
        seen = self.hello
        if seen is None:
            return ()
        info = [("banner", seen.banner), ("protocol", seen.protocol), ("software", seen.software)]
        if seen.host_key_type:
            info.append(("host key", f"{seen.host_key_type} {seen.fingerprint}"))
        if seen.host_key_types:
            info.append(("host key types offered", ", ".join(seen.host_key_types)))
        # "login methods", not "auth ...": a name the redactor rightly reads as a secret's.
        if seen.none_accepted:
            info.append(("login methods", "none: this user needs no credentials at all"))
        elif seen.auth_methods:
            info.append(("login methods", ", ".join(seen.auth_methods)))
        if seen.pre_auth_banner:
            info.append(("pre-login banner", seen.pre_auth_banner))
        if seen.stopped:
            info.append(("not read", seen.stopped))
        return tuple(info)

    @property
    def detail(self) -> str:
        seen = self.hello
        if seen is None:
            return self.error
        methods = ", ".join(seen.auth_methods) or ("none" if seen.none_accepted else "not read")
        return clean_text(
            f"{seen.software or seen.banner}; host key {seen.host_key_type or '?'}; "
            f"logins by {methods}",
            200,
        )


async def look(ctx: ProbeContext, address: str) -> SshLook:
    """Connect, read the server's offer (read-only), close."""
    t = ctx.target
    reader, writer = await asyncio.open_connection(address, t.port)
    try:
        try:
            wait = min(GREET_WAIT_S, ctx.config.timeout / 2)
            return SshLook(await hello(reader, writer, login_name(t.username), wait))
        except SshError as exc:
            first = exc.first or (await _nudge(reader, writer) if exc.silent else b"")
            # What it speaks: its first words, or what the tcp probe's nudge heard.
            proto = identify(first) or ctx.heard_protocol or ""
            if exc.silent or (exc.first and not exc.first.startswith(b"SSH-")):
                said = str(exc) if exc.silent else "the port does not answer like SSH"
                said += f"; it speaks {proto}" if proto else ""
                return SshLook(None, said, True, first, proto)
            return SshLook(None, clean_text(str(exc), 200))
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()
