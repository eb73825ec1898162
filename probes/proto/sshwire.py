"""Just enough SSH (RFC 4253, 4252) to say what a server offers, read-only.

The identification line (banner, protocol version, software), the key exchange
with curve25519-sha256 (the host key type and its SHA256 fingerprint, as
``ssh-keyscan`` and ``ssh -v`` show them), then the ``none`` authentication
request every client starts with (RFC 4252 §5.2): the server answers with the
methods it accepts.  No credentials are ever sent and nothing logs in; the
host key signature is not checked (nothing is trusted on its strength).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from probes.core.sanitize import clean_text

CLIENT_VERSION = b"SSH-2.0-netmedic"
KEX = "curve25519-sha256"
KEX_ALIASES = (KEX, "curve25519-sha256@libssh.org")
HOST_KEYS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
)
CIPHER = "aes128-ctr"
MAC = "hmac-sha2-256"
MAX_PACKET = 256 * 1024
MAX_BANNER_LINES = 20
GREET_WAIT_S = 2.0  # OpenSSH greets at once; a loaded server within a second or so  # RFC 4253 §4.2: lines before the version line are allowed

MSG_DISCONNECT, MSG_IGNORE, MSG_UNIMPLEMENTED, MSG_DEBUG = 1, 2, 3, 4
MSG_SERVICE_REQUEST, MSG_SERVICE_ACCEPT, MSG_EXT_INFO = 5, 6, 7
MSG_KEXINIT, MSG_NEWKEYS, MSG_KEX_ECDH_INIT, MSG_KEX_ECDH_REPLY = 20, 21, 30, 31
MSG_USERAUTH_REQUEST, MSG_USERAUTH_FAILURE, MSG_USERAUTH_SUCCESS = 50, 51, 52
MSG_USERAUTH_BANNER = 53
SKIPPED_MESSAGES = (MSG_IGNORE, MSG_DEBUG, MSG_UNIMPLEMENTED, MSG_EXT_INFO)


class SshError(Exception):
    """The server broke the protocol or ended the exchange (the reason is the text);
    *first* is what it sent first when that was not SSH (to name what it speaks)."""

    def __init__(self, message: str, first: bytes = b"", silent: bool = False) -> None:
        super().__init__(message)
        self.first = first
        self.silent = silent  # nothing at all came: not an SSH server


@dataclass(frozen=True, slots=True)
class SshHello:
    """What an SSH server says about itself before anyone logs in."""

    banner: str  # the identification line, sanitised: "SSH-2.0-OpenSSH_9.2p1 Debian-2"
    protocol: str  # "2.0" (or "1.99": both)
    software: str  # "OpenSSH_9.2p1 Debian-2"
    host_key_types: tuple[str, ...] = ()  # what the server can sign with (its KEXINIT)
    kex: tuple[str, ...] = ()  # the key exchanges it offers
    host_key_type: str = ""  # the key it showed in this exchange
    fingerprint: str = ""  # "SHA256:..." as ssh-keygen -l prints it
    auth_methods: tuple[str, ...] = ()  # what it accepts after "none" ("" until asked)
    none_accepted: bool = False  # "none" logged in: the server asks for nothing
    pre_auth_banner: str = ""  # SSH_MSG_USERAUTH_BANNER text, sanitised and capped
    stopped: str = ""  # why the exchange stopped before the methods (unsupported kex...)


def parse_identification(line: bytes) -> tuple[str, str, str]:
    """(banner, protocol, software) of ``SSH-protoversion-softwareversion [comments]``."""
    text = clean_text(line.decode("latin-1").rstrip("\r\n"), 255)
    if not text.startswith("SSH-"):
        raise SshError(f"not an SSH identification line: {text[:60]!r}")
    _, protocol, rest = [*text.split("-", 2), "", ""][:3]
    return text, protocol, rest


async def hello(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    user: str,
    greet_wait: float = GREET_WAIT_S,
) -> SshHello:
    """Run the read-only exchange on an open connection (the caller closes it).

    An SSH server speaks first (RFC 4253 §4.2): silence for *greet_wait* seconds is
    another protocol (an HTTP server waits for a request), reported as such."""
    try:
        server_version = await asyncio.wait_for(_identification(reader), greet_wait)
    except TimeoutError:
        raise SshError(
            f"the port says nothing for {greet_wait:g} s: an SSH server greets first",
            silent=True,
        ) from None
    writer.write(CLIENT_VERSION + b"\r\n")
    await writer.drain()
    banner, protocol, software = parse_identification(server_version)
    if protocol not in ("2.0", "1.99"):
        return SshHello(banner, protocol, software, stopped=f"protocol {protocol} (not SSH-2)")
    wire = _Wire(reader, writer)
    client_kexinit = _kexinit()
    await wire.send(client_kexinit)
    server_kexinit = await wire.receive()
    if not server_kexinit or server_kexinit[0] != MSG_KEXINIT:
        raise SshError("the server did not start the key exchange")
    lists = _name_lists(server_kexinit)
    kex, host_keys, ciphers, macs = lists[0], lists[1], lists[2], lists[4]
    base = SshHello(banner, protocol, software, tuple(host_keys), tuple(kex))
    agreed_kex = next((k for k in KEX_ALIASES if k in kex), None)
    key_type = next((k for k in HOST_KEYS if k in host_keys), None)
    if agreed_kex is None or key_type is None or CIPHER not in ciphers or MAC not in macs:
        return _replace(base, stopped="no key exchange netmedic speaks (curve25519, aes128-ctr)")
    secret = X25519PrivateKey.generate()
    q_c = secret.public_key().public_bytes_raw()
    await wire.send(bytes([MSG_KEX_ECDH_INIT]) + _string(q_c))
    reply = await wire.receive()
    if not reply or reply[0] != MSG_KEX_ECDH_REPLY:
        raise SshError("the server did not answer the key exchange")
    k_s, at = _read_string(reply, 1)
    q_s, at = _read_string(reply, at)
    shared = secret.exchange(X25519PublicKey.from_public_bytes(q_s))
    k = _mpint(shared)
    h = hashlib.sha256(
        _string(CLIENT_VERSION)
        + _string(server_version.rstrip(b"\r\n"))
        + _string(client_kexinit)
        + _string(server_kexinit)
        + _string(k_s)
        + _string(q_c)
        + _string(q_s)
        + k
    ).digest()
    shown, _ = _read_string(k_s, 0)
    digest = base64.b64encode(hashlib.sha256(k_s).digest()).decode().rstrip("=")
    base = _replace(base, host_key_type=clean_text(shown.decode("latin-1"), 60))
    base = _replace(base, fingerprint=f"SHA256:{digest}")
    await wire.send(bytes([MSG_NEWKEYS]))
    if (await wire.receive())[:1] != bytes([MSG_NEWKEYS]):
        raise SshError("the server did not finish the key exchange")
    wire.encrypt(k, h)
    await wire.send(bytes([MSG_SERVICE_REQUEST]) + _string(b"ssh-userauth"))
    if (await wire.receive())[:1] != bytes([MSG_SERVICE_ACCEPT]):
        raise SshError("the server refused the authentication service")
    await wire.send(
        bytes([MSG_USERAUTH_REQUEST])
        + _string(user.encode())
        + _string(b"ssh-connection")
        + _string(b"none")
    )
    notice = ""
    while True:
        answer = await wire.receive()
        if answer[:1] == bytes([MSG_USERAUTH_BANNER]):
            text, _ = _read_string(answer, 1)
            notice = clean_text(text.decode("utf-8", "replace"), 300)
            continue
        if answer[:1] == bytes([MSG_USERAUTH_SUCCESS]):
            return _replace(base, none_accepted=True, pre_auth_banner=notice)
        if answer[:1] == bytes([MSG_USERAUTH_FAILURE]):
            methods, _ = _read_string(answer, 1)
            names = tuple(m for m in methods.decode("ascii", "replace").split(",") if m)
            return _replace(
                base, auth_methods=tuple(clean_text(m, 40) for m in names), pre_auth_banner=notice
            )
        raise SshError(f"unexpected message {answer[:1].hex()} after the 'none' request")


def _replace(hello_: SshHello, **changes: Any) -> SshHello:
    return dataclasses.replace(hello_, **changes)


async def _identification(reader: asyncio.StreamReader) -> bytes:
    first = b""
    for _ in range(MAX_BANNER_LINES):
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise SshError(
                "the server closed the connection before the SSH identification line",
                first or exc.partial,
            ) from None
        except asyncio.LimitOverrunError:
            raise SshError("no SSH identification line: a long line instead", first) from None
        first = first or line
        if line.startswith(b"SSH-"):
            return line
    raise SshError("no SSH identification line in the first lines the server sent", first)


def _kexinit() -> bytes:
    lists = (
        ",".join(KEX_ALIASES),
        ",".join(HOST_KEYS),
        CIPHER,
        CIPHER,
        MAC,
        MAC,
        "none",
        "none",
        "",
        "",
    )
    body = b"".join(_string(x.encode()) for x in lists)
    return bytes([MSG_KEXINIT]) + os.urandom(16) + body + b"\x00" + b"\x00" * 4


def _name_lists(kexinit: bytes) -> list[list[str]]:
    at = 17  # message number and the 16-byte cookie
    out = []
    for _ in range(10):
        raw, at = _read_string(kexinit, at)
        out.append([clean_text(x, 60) for x in raw.decode("ascii", "replace").split(",") if x])
    return out


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_string(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        raise SshError("a message ended early")
    (n,) = struct.unpack_from(">I", data, at)
    if at + 4 + n > len(data):
        raise SshError("a message ended early")
    return data[at + 4 : at + 4 + n], at + 4 + n


def _mpint(raw: bytes) -> bytes:
    """The shared secret as an SSH mpint (RFC 8731: the X25519 output, big-endian)."""
    value = raw.lstrip(b"\x00")
    if value and value[0] & 0x80:
        value = b"\x00" + value
    return _string(value)


class _Wire:
    """Binary packets (RFC 4253 §6), in the clear and then aes128-ctr + hmac-sha2-256."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seq_out = self.seq_in = 0
        self._enc: CipherContext | None = None
        self._dec: CipherContext | None = None
        self._mac_out = self._mac_in = b""

    def encrypt(self, k: bytes, h: bytes) -> None:
        def key(letter: bytes, size: int) -> bytes:
            return hashlib.sha256(k + h + letter + h).digest()[:size]

        iv_out, iv_in = key(b"A", 16), key(b"B", 16)
        enc_out, enc_in = key(b"C", 16), key(b"D", 16)
        self._mac_out, self._mac_in = key(b"E", 32), key(b"F", 32)
        self._enc = Cipher(algorithms.AES(enc_out), modes.CTR(iv_out)).encryptor()
        self._dec = Cipher(algorithms.AES(enc_in), modes.CTR(iv_in)).decryptor()

    async def send(self, payload: bytes) -> None:
        block = 16 if self._enc is not None else 8
        pad = block - (len(payload) + 5) % block
        if pad < 4:
            pad += block
        packet = struct.pack(">IB", len(payload) + pad + 1, pad) + payload + os.urandom(pad)
        if self._enc is not None:
            mac = hmac.new(self._mac_out, struct.pack(">I", self.seq_out) + packet, "sha256")
            packet = self._enc.update(packet) + mac.digest()
        self.seq_out = (self.seq_out + 1) & 0xFFFFFFFF
        self.writer.write(packet)
        await self.writer.drain()

    async def receive(self) -> bytes:
        """The next payload that is not IGNORE/DEBUG/EXT_INFO; DISCONNECT raises."""
        while True:
            payload = await self._packet()
            if payload[:1] == bytes([MSG_DISCONNECT]):
                reason, _ = _read_string(payload, 5) if len(payload) >= 9 else (b"", 0)
                text = clean_text(reason.decode("utf-8", "replace"), 200)
                raise SshError(f"the server disconnected: {text or 'no reason given'}")
            if payload[:1] and payload[0] in SKIPPED_MESSAGES:
                continue
            return payload

    async def _packet(self) -> bytes:
        if self._dec is None:
            head = await self.reader.readexactly(5)
        else:
            head = self._dec.update(await self.reader.readexactly(16))
        length, pad = struct.unpack(">IB", head[:5])
        if length < 5 or length > MAX_PACKET or pad >= length:
            raise SshError(f"a packet of {length} bytes is not SSH")
        rest_len = length + 4 - len(head)
        rest = await self.reader.readexactly(rest_len)
        if self._dec is not None:
            rest = self._dec.update(rest)
            mac = await self.reader.readexactly(32)
            packet = head + rest
            want = hmac.new(self._mac_in, struct.pack(">I", self.seq_in) + packet, "sha256")
            if not hmac.compare_digest(mac, want.digest()):
                raise SshError("a packet failed its integrity check")
        else:
            packet = head + rest
        self.seq_in = (self.seq_in + 1) & 0xFFFFFFFF
        return packet[5 : 5 + length - pad - 1]
