"""Run a command in a pseudo-terminal of a given size and watch what it writes."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence


class PtyProcess:
    def __init__(
        self, argv: Sequence[str], cols: int, rows: int, env: dict[str, str] | None = None
    ) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": str(cols),
            "LINES": str(rows),
        }
        full_env.update(env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            start_new_session=True,
        )
        os.close(slave)
        self.buffer = bytearray()

    def read_for(self, seconds: float) -> int:
        """Read (and discard into the buffer) for *seconds*; return bytes read."""
        end = time.perf_counter() + seconds
        total = 0
        while (left := end - time.perf_counter()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                total += len(chunk)
                self.buffer += chunk
        return total

    def wait_for(self, *markers: bytes, timeout: float = 20.0) -> float:
        """Seconds from spawn until every marker has appeared in the output."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if all(m in self.buffer for m in markers):
                return time.perf_counter() - self.started
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.buffer += os.read(self.master, 65536)
                except OSError:
                    break
        raise TimeoutError(f"markers {markers!r} not seen")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)
