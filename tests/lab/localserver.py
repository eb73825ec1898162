"""Socket scenarios for the local-evidence tests: ``python -m tests.lab.localserver MODE ...``.

Each mode sets up its sockets, prints "ready" and then holds everything open
until killed.  ``--comm NAME`` renames the process first (what ``ps`` and
/proc/PID/comm show), to play a named service; ``--nofile N`` (after it) sets
RLIMIT_NOFILE.

    hold ADDR:PORT...                 listen on each, accept and keep connections
    noaccept ADDR:PORT BACKLOG N      listen(BACKLOG), never accept, N clients connect
    closewait ADDR:PORT N             N connections whose clients close; this side never does
    fdfill ADDR:PORT LIMIT            RLIMIT_NOFILE=LIMIT, listen, open files until EMFILE
    synflood ADDR:PORT BACKLOG N SRC  listen(BACKLOG), N clients from SRC (their SYN-ACKs
                                      must be dropped by a firewall rule the test sets)
    clients ADDR:PORT N               listen and connect N clients to it (ephemeral ports)
    connect ADDR:PORT N               N connections to a server elsewhere, never closed
    hangup ADDR:PORT                  listen, accept and close every connection at once
    idle                              no sockets: just run (under --comm)
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import select
import socket
import sys
import time

held: list[object] = []


def _endpoint(text: str) -> tuple[int, str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, host, int(port)


def listen(text: str, backlog: int = 128) -> socket.socket:
    family, host, port = _endpoint(text)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    held.append(sock)
    return sock


def connect_nowait(text: str, source: str = "") -> socket.socket:
    family, host, port = _endpoint(text)
    sock = socket.socket(family, socket.SOCK_STREAM)
    if source:
        sock.bind((source, 0))
    sock.setblocking(False)
    try:
        sock.connect((host, port))
    except BlockingIOError:
        pass
    held.append(sock)
    return sock


def set_comm(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def serve_forever(listeners: list[socket.socket]) -> None:
    print("ready", flush=True)
    while True:
        if not listeners:
            time.sleep(3600)
            continue
        readable, _, _ = select.select(listeners, [], [], 3600)
        for sock in readable:
            conn, _ = sock.accept()
            held.append(conn)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--comm"]:
        set_comm(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--nofile"]:
        limit = int(argv[1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        argv = argv[2:]
    mode, args = argv[0], argv[1:]
    if mode == "hold":
        serve_forever([listen(a) for a in args])
    elif mode == "noaccept":
        listen(args[0], int(args[1]))
        for _ in range(int(args[2])):
            connect_nowait(args[0])
        time.sleep(0.3)
        serve_forever([])
    elif mode == "closewait":
        server = listen(args[0])
        for _ in range(int(args[1])):
            client = socket.create_connection(_endpoint(args[0])[1:])
            conn, _ = server.accept()
            held.append(conn)
            client.close()
        serve_forever([])
    elif mode == "fdfill":
        limit = int(args[1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        listen(args[0])
        try:
            while True:
                held.append(open(os.devnull, "rb"))  # noqa: SIM115 - held on purpose
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise
        serve_forever([])
    elif mode == "synflood":
        listen(args[0], int(args[1]))
        for _ in range(int(args[2])):
            connect_nowait(args[0], args[3])
        time.sleep(0.5)
        serve_forever([])
    elif mode == "clients":
        server = listen(args[0], 1024)
        for _ in range(int(args[1])):
            held.append(socket.create_connection(_endpoint(args[0])[1:]))
            conn, _ = server.accept()
            held.append(conn)
        serve_forever([server])
    elif mode == "connect":
        for _ in range(int(args[1])):
            held.append(socket.create_connection(_endpoint(args[0])[1:], timeout=5))
        serve_forever([])
    elif mode == "hangup":
        server = listen(args[0])
        print("ready", flush=True)
        while True:
            conn, _ = server.accept()
            conn.close()
    elif mode == "idle":
        serve_forever([])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
