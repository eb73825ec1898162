"""Reverse DNS of trace hops, in the background (live runs only).

Names arrive after the numbers: each new responder gets one lookup on a daemon
thread (getnameinfo may block for seconds), never more than MAX_NAMES per trace.
A PTR record is remote text: it is sanitised and capped before anyone sees it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from probes.core.context import run_in_daemon_thread
from probes.core.sanitize import clean_text

MAX_NAMES = 64
MAX_NAME_LEN = 80


def _lookup(address: str) -> str:
    try:
        name, _port = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)
    except (OSError, UnicodeError):
        return ""
    return name


class ReverseNames:
    """address -> name ("" until known, or when there is none)."""

    def __init__(self, lookup: Callable[[str], str] = _lookup) -> None:
        self._lookup = lookup
        self._names: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, address: str) -> str:
        return self._names.get(address, "")

    def ask(self, address: str, changed: asyncio.Event) -> None:
        if address in self._names or len(self._names) >= MAX_NAMES:
            return
        self._names[address] = ""

        async def resolve() -> None:
            name = await run_in_daemon_thread(lambda: self._lookup(address))
            if name and name != address:
                self._names[address] = clean_text(name, MAX_NAME_LEN)
                changed.set()

        task = asyncio.ensure_future(resolve())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
