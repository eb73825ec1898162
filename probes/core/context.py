"""What every probe gets: the target, a small config, and shared resolution.

Name resolution through the system resolver (``getaddrinfo``) happens once per
run and is shared: the DNS probe reports it, TCP and the others connect to what
it returned.  It runs on a daemon thread so a resolver that hangs can neither
block the event loop nor keep the process alive after the deadline.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from probes.core.live import LiveControl
from probes.core.model import ProbeError
from probes.core.target import Target

T = TypeVar("T")


SELF_NAME = "netmedic (this process)"


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    timeout: float = 5.0  # per-probe deadline, seconds
    resolv_conf: str = "/etc/resolv.conf"
    hosts_file: str = "/etc/hosts"
    dns_port: int = 53  # seam for tests that run resolvers on loopback high ports
    ca_file: str | None = None
    banner_wait: float = 0.6  # how long to listen for a server's first bytes
    # Path probes (ping, trace, mtu).  A duration of None fits the work inside
    # ``timeout`` (what ``check`` wants); 0 runs until cancelled (live panels).
    ping_interval: float = 0.2
    ping_count: int = 0  # 0: as many as the duration allows
    ping_duration: float | None = None
    ping_size: int = 84  # IP packet size, like ping's default 56 data bytes
    trace_protocol: str = "icmp"  # icmp | udp | tcp (TCP goes to the target's port)
    trace_interval: float = 0.25  # between rounds
    trace_rounds: int = 0  # 0: as many as the duration allows
    trace_duration: float | None = None
    trace_max_ttl: int = 30
    # Live runs: rounds in the rolling window that findings read (60 at 1 Hz: the last
    # minute), and reverse DNS of trace hops in the background (off for headless runs:
    # it asks the configured resolvers about every router).
    live_window: int = 60
    resolve_names: bool = False
    # Connection sampler: one connection (and request) every interval; duration as for
    # ping (None: fit in the timeout, 0: until cancelled).  The burst probe: N
    # connections at once (0: its default).
    sample_interval: float = 1.0
    sample_duration: float | None = None
    sample_count: int = 0
    burst: int = 0
    # Local sockets: one look (None), or, for a local target, a look every
    # local_interval seconds until cancelled (0: a live run).
    local_duration: float | None = None
    local_interval: float = 5.0
    mtu_max: int = 0  # 0: the route's MTU
    path_mode: str = "auto"  # auto | unprivileged (force the fallbacks, for tests)
    tls_min_version: str = ""  # "TLSv1.3" to behave like a client that offers only 1.3
    # Extra request headers (name, value), sent only to the target's origin.  Values
    # are secrets until proven otherwise: never in repr, JSON or any output.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    origin: str = ""  # Origin for the CORS preflight and the WebSocket upgrade
    cors_method: str = "GET"  # Access-Control-Request-Method of the preflight
    # Proxy variables to use instead of os.environ (a seam for tests); None = environ.
    proxy_env: tuple[tuple[str, str], ...] | None = field(default=None, repr=False)
    # A saved service's profile kind ("qdrant", "openai"...; probes.core.profiles) and
    # the status its health path should answer (0: any 2xx/3xx).
    service_kind: str = ""
    expect_status: int = 0
    # WebSocket: keep the socket open this long after the upgrade (idle timeouts);
    # None: only the brief look for a close frame and one ping.
    ws_hold: float | None = None
    # What a pasted error reports that no probe can see (probes.triage.shaping:
    # "password_rejected"); rules weigh it beside what the server itself says.
    app_reports: tuple[str, ...] = ()
    # (pid, name, unit) of the processes earlier runs saw serving the port (the
    # journals, probes.record.owners): an OOM kill of one is the service's death.
    seen_owners: tuple[tuple[int, str, str], ...] = ()
    # Other hosts over the person's own ssh (probes.remote): the target's server, the
    # vantage points as (name, ssh destination), an ssh_config file for ``ssh -F``, the
    # deadline per host, how many hosts are asked at once, and the remote probes' whole
    # run time (None: fit in the timeout; probes.remote.plan sets it).
    server: str = ""
    vantages: tuple[tuple[str, str], ...] = ()
    ssh_config: str = ""
    remote_timeout: float = 20.0
    remote_concurrency: int = 10
    remote_budget: float | None = None
    # A live run's look at the server's side again every server_interval seconds
    # (0: one look; ``watch --server``), with remote_budget 0 (until cancelled).
    server_interval: float = 0.0
    # How netmedic's own process is named where it holds a listener (the demo's servers).
    self_name: str = SELF_NAME


@dataclass(frozen=True, slots=True)
class Resolution:
    """What getaddrinfo answered for the target (or how it failed)."""

    addresses: tuple[str, ...]
    elapsed_s: float
    error: ProbeError | None = None
    canonical_name: str = ""


async def run_in_daemon_thread(fn: Callable[[], T]) -> T:
    """Run a blocking call on a daemon thread; cancellation abandons it safely."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: object) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)  # type: ignore[arg-type]
        else:
            future.set_exception(value)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result: object = fn()
            ok = True
        except BaseException as exc:  # delivered to the awaiting coroutine
            result, ok = exc, False
        try:
            loop.call_soon_threadsafe(deliver, ok, result)
        except RuntimeError:  # loop already closed: nobody is waiting any more
            pass

    thread = threading.Thread(target=work, name="netmedic-blocking", daemon=True)
    _BLOCKING.add(thread)
    thread.start()
    return await future


# Threads started by run_in_daemon_thread that may still run (a probe that was
# cancelled leaves its blocking call behind).  Killing a daemon thread at interpreter
# exit can abort the process (a thread inside an import or a native library), so a
# face waits for them before it exits: see join_blocking_threads.
_BLOCKING: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def join_blocking_threads(timeout: float) -> bool:
    """Wait up to *timeout* seconds for every blocking-call thread; True when none is left."""
    deadline = time.monotonic() + timeout
    for thread in list(_BLOCKING):
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in list(_BLOCKING))


_GAI_ERRORS = {
    socket.EAI_NONAME: ("EAI_NONAME", "the name does not resolve (unknown host)"),
    socket.EAI_AGAIN: ("EAI_AGAIN", "temporary resolver failure (no answer or SERVFAIL)"),
    socket.EAI_FAIL: ("EAI_FAIL", "non-recoverable resolver failure"),
    getattr(socket, "EAI_NODATA", -5): ("EAI_NODATA", "the name has no address records"),
    getattr(socket, "EAI_ADDRFAMILY", -9): (
        "EAI_ADDRFAMILY",
        "the name has no address of the asked family",
    ),
}


async def system_resolve(target: Target, deadline: float) -> Resolution:
    """getaddrinfo(target) with a deadline; failures come back as values."""
    if target.is_ip:
        host = f"{target.host}%{target.zone}" if target.zone else target.host
        return Resolution(addresses=(host,), elapsed_s=0.0)
    started = time.monotonic()

    def lookup() -> list[tuple[int, str]]:
        infos = socket.getaddrinfo(
            target.host, target.port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_CANONNAME
        )
        return [(int(info[0]), str(info[4][0])) for info in infos]

    try:
        async with asyncio.timeout(deadline):
            infos = await run_in_daemon_thread(lookup)
    except TimeoutError:
        elapsed = time.monotonic() - started
        return Resolution(
            (), elapsed, ProbeError("TIMEOUT", f"getaddrinfo gave no answer in {deadline:g}s")
        )
    except socket.gaierror as exc:
        elapsed = time.monotonic() - started
        name, text = _GAI_ERRORS.get(exc.errno, (f"EAI_{exc.errno}", str(exc.strerror)))
        return Resolution((), elapsed, ProbeError(name, text, elapsed_s=elapsed))
    except (OSError, UnicodeError) as exc:
        elapsed = time.monotonic() - started
        return Resolution((), elapsed, ProbeError(type(exc).__name__, str(exc)))
    elapsed = time.monotonic() - started
    seen: dict[str, None] = {}
    for _family, addr in infos:
        seen.setdefault(addr, None)
    return Resolution(tuple(seen), elapsed)


SystemResolver = Callable[[Target, float], Awaitable[Resolution]]


@dataclass
class _RunState:
    """What every probe of one run shares, whatever config it was given."""

    resolution: asyncio.Task[Resolution] | None = None
    shared: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    # What the server's first bytes named (set by the runner when the TCP probe has
    # heard them), so a protocol probe asked for by that evidence knows it applies.
    heard_protocol: str = ""
    # A live run's pause switch and pacing clock (None: a headless, bounded run).
    live: LiveControl | None = None


@dataclass
class ProbeContext:
    target: Target
    config: ProbeConfig = field(default_factory=ProbeConfig)
    # Seam for tests: how the target's addresses are found (getaddrinfo by default).
    system_resolver: SystemResolver = system_resolve
    symptom: str = "auto"  # lets a probe decide whether it applies; never the verdict
    _state: _RunState = field(default_factory=_RunState, repr=False)

    def with_config(self, config: ProbeConfig) -> ProbeContext:
        """The same run (shared resolution and packet engine) with another config:
        a follow-up probe started late gets what is left of the run's time."""
        return ProbeContext(self.target, config, self.system_resolver, self.symptom, self._state)

    @property
    def heard_protocol(self) -> str:
        """The protocol the target's banner named ("HTTP", "Redis"...), or ""."""
        return self._state.heard_protocol

    def heard(self, protocol: str) -> None:
        self._state.heard_protocol = protocol

    @property
    def live(self) -> LiveControl | None:
        """Set for a live run: streaming probes pause with it and pace by its clock."""
        return self._state.live

    def go_live(self, control: LiveControl) -> None:
        self._state.live = control

    async def resolution(self) -> Resolution:
        """The shared getaddrinfo answer; the first caller starts it."""
        if self._state.resolution is None:
            self._state.resolution = asyncio.ensure_future(
                self.system_resolver(self.target, self.config.timeout)
            )
        return await asyncio.shield(self._state.resolution)

    def resolved(self) -> Resolution | None:
        """The resolution if it has finished, without waiting."""
        task = self._state.resolution
        if task is None or not task.done() or task.cancelled() or task.exception():
            return None
        return task.result()

    async def shared(self, name: str, factory: Callable[[], Awaitable[T]]) -> T:
        """One object per run shared by probes (the packet engine); made by the first caller.

        Objects with a ``close()`` method are closed by :meth:`close`.
        """
        future = self._state.shared.get(name)
        if future is None:
            future = asyncio.ensure_future(factory())
            self._state.shared[name] = future
        result: T = await asyncio.shield(future)
        return result

    def close(self) -> None:
        state = self._state
        if state.resolution is not None and not state.resolution.done():
            state.resolution.cancel()
        for future in state.shared.values():
            if not future.done():
                future.cancel()
            elif not future.cancelled() and future.exception() is None:
                closer = getattr(future.result(), "close", None)
                if callable(closer):
                    closer()
        state.shared.clear()
