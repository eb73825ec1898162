"""Real redis-server and PostgreSQL on a free loopback port, in a temp dir, stopped after.

PostgreSQL refuses to run as root: it runs as the ``postgres`` user (setpriv);
without root or without the binaries the fixtures skip with a reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], limit: float = 15.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {limit}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def redis_unavailable() -> str | None:
    return None if shutil.which("redis-server") else "redis-server is not installed"


@contextlib.contextmanager
def redis_server(
    password: str = "", tls: tuple[str, str, str] | None = None, maxclients: int = 0
) -> Iterator[int]:
    """redis-server on 127.0.0.1; *tls* = (cert, key, ca) serves TLS only."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="netmedic-redis-")
    args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", workdir, "--daemonize", "no", "--protected-mode", "no"]
    if tls:
        cert, key, ca = tls
        args += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", cert]
        args += ["--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"]
    else:
        args += ["--port", str(port)]
    if password:
        args += ["--requirepass", password]
    if maxclients:
        args += ["--maxclients", str(maxclients)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        yield port
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _wait_accepting(binary: Path, port: int, proc: subprocess.Popen[bytes], limit: float) -> None:
    """Until PostgreSQL accepts logins: its port opens while it still answers 57P03
    ("the database system is starting up"). pg_isready exits 0 once it accepts."""
    end = time.monotonic() + limit
    command = [str(binary / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2"]
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with {proc.returncode}")
        if subprocess.run(command, check=False, capture_output=True, timeout=10).returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL on {port} did not accept connections after {limit}s")


def postgres_unavailable() -> str | None:
    if _pg_bin() is None:
        return "PostgreSQL binaries are not installed (/usr/lib/postgresql/*/bin)"
    if os.geteuid() != 0:
        return "PostgreSQL refuses to run as root and switching to the postgres user needs root"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user to run the server as"
    return None


@contextlib.contextmanager
def postgres_server(
    cert_pem: bytes,
    key_pem: bytes,
    ssl: bool = True,
    setup_sql: str = "",
    hba: str = "",
    settings: tuple[str, ...] = (),
) -> Iterator[int]:
    """A fresh cluster with SSL on (or off), SCRAM for 'app', and a reject line for 'blocked'.
    *setup_sql* runs first in single-user mode (CREATE ROLE ..., one statement a line);
    *hba* replaces pg_hba.conf; *settings* are more ``name=value`` server settings."""
    import pwd

    binary = _pg_bin()
    assert binary is not None
    pw = pwd.getpwnam("postgres")
    workdir = Path(tempfile.mkdtemp(prefix="netmedic-pg-"))
    os.chown(workdir, pw.pw_uid, pw.pw_gid)
    data = workdir / "data"
    as_postgres = [
        "setpriv",
        f"--reuid={pw.pw_uid}",
        f"--regid={pw.pw_gid}",
        "--clear-groups",
        "--",
    ]
    port = free_port()
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [*as_postgres, str(binary / "initdb"), "-D", str(data), "-A", "scram-sha-256",
             "--no-sync", "-U", "postgres", "--pwfile=/dev/null"],
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip
        if not (data / "PG_VERSION").exists():
            # An empty pwfile is refused by some versions: fall back to trust for initdb.
            subprocess.run(
                [*as_postgres, str(binary / "initdb"), "-D", str(data), "-A", "trust",
                 "--no-sync", "-U", "postgres"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        (data / "pg_hba.conf").write_text(
            hba
            or "host all blocked 127.0.0.1/32 reject\n"
            "host all netmedic 127.0.0.1/32 reject\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        if setup_sql:
            subprocess.run(
                [*as_postgres, str(binary / "postgres"), "--single", "-D", str(data), "-j", "postgres"],
                input=setup_sql.encode(), check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        for name, content in (("server.crt", cert_pem), ("server.key", key_pem)):
            path = data / name
            path.write_bytes(content)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            path.chmod(0o600)
        proc = subprocess.Popen(
            [*as_postgres, str(binary / "postgres"), "-D", str(data), "-p", str(port),
             "-k", str(workdir), "-c", "listen_addresses=127.0.0.1", "-c", f"ssl={'on' if ssl else 'off'}",
             "-c", "fsync=off", *(a for kv in settings for a in ("-c", kv))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(port, proc, 30)
        _wait_accepting(binary, port, proc, 30)
        yield port
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def redis_standin(reply: bytes) -> Any:
    """A Redis stand-in (for ServerThread) that answers every command with *reply*."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await asyncio.wait_for(reader.read(4096), 5):
            commands = data.count(b"\r\n*") + data.startswith(b"*")
            writer.write(reply * max(1, commands))
            await writer.drain()

    return handle


def resp_server(
    info: dict[str, str] | None = None, greeting: bytes = b"", silent: bool = False
) -> Any:
    """A RESP (Redis protocol) stand-in: PING → +PONG, INFO → *info* as a bulk string.
    *greeting* is sent on connect and the connection closed (Redis at maxclients says
    "-ERR max number of clients reached" this way); *silent* never answers."""
    import asyncio

    fields = {"redis_version": "7.2.4", "role": "master", **(info or {})}
    text = "# Server\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields.items())
    bulk = b"$%d\r\n%s\r\n" % (len(text.encode()), text.encode())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greeting:
            writer.write(greeting)
            await writer.drain()
            return
        while True:
            head = await asyncio.wait_for(reader.readline(), 10)
            if not head:
                return
            if silent:
                continue
            if not head.startswith(b"*"):
                continue
            parts = []
            for _ in range(int(head[1:])):
                await reader.readline()  # $len
                parts.append((await reader.readline()).strip().upper())
            writer.write(bulk if parts[:1] == [b"INFO"] else b"+PONG\r\n")
            await writer.drain()

    return handle
