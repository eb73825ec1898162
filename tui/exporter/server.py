"""``netmedic exporter``: blackbox_exporter's interface, answered by netmedic's check.

``GET /probe?target=T&module=M`` runs a journaled check of T (allow-listed, rate
limited, inside the scrape's timeout) and answers its metric families;
``GET /metrics`` the exporter's own figures; ``POST /alert`` takes Alertmanager's
webhook and starts a journaled diagnosis for each firing alert that names a known
target, at most one per target per ``alert_interval``.  Its journals are pruned
(``keep_*`` in exporter.toml) at most once a minute, on a worker thread.

Every refusal is a status and one line; no request can make the server wait past
its deadlines or hold more than its bounds (connections, checks at once, checks a
second, alert diagnoses pending).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from probes.core.context import ProbeConfig
from probes.core.target import Target, TargetError, parse_target
from probes.record.exporter_config import DEFAULT_MODULE, ExporterConfig, Module
from probes.record.exposition import TEXT_TYPE, content_type, render, wants_openmetrics
from probes.record.metrics import succeeded
from probes.record.services import SavedService, ServiceCheck, ServicesError, service_check
from tui.exporter.alerts import AlertGate, PayloadError, firing_alerts
from tui.exporter.checks import journaled_check
from tui.exporter.httpio import (
    MAX_LINE,
    HttpError,
    Request,
    error_bytes,
    read_request,
    response_bytes,
)
from tui.exporter.limits import TokenBucket
from tui.exporter.pruning import Pruner
from tui.exporter.stats import Stats

MAX_CONNECTIONS = 256
MAX_OVERFLOW = 1024  # connections past the bound still told "503"; past these, reset
MAX_PENDING_ALERTS = 32
SCRAPE_OFFSET_S = 0.5  # blackbox's default: answer this long before Prometheus gives up
SLOT_WAIT_S = 1.0  # how long a scrape may wait for a free check slot
WRITE_TIMEOUT_S = 10.0
LINGER_S = 1.0  # after answering, how long unread input is drained before closing
ALERT_BUDGET_FACTOR = 3.0  # an alert's diagnosis has no scraper waiting: more room


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Chosen:
    """What a request asked to check, resolved: its target, symptom, config, label."""

    target: Target
    symptom: str
    config: ProbeConfig
    module: str  # the module name, or @service: the label of the exporter's counters
    timeout: float


class Exporter:
    def __init__(
        self,
        config: ExporterConfig,
        services: tuple[SavedService, ...] = (),
        env: Mapping[str, str] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.config = config
        self.services = {s.name: s for s in services}
        self.env = os.environ if env is None else env
        self.max_connections = max_connections
        self.slots = asyncio.Semaphore(config.max_concurrent)
        self.bucket = TokenBucket(config.max_rate, config.max_concurrent)
        self.gate = AlertGate(config.alert_interval)
        self.stats = Stats(tuple(config.modules))
        self.pruner = Pruner(config.retention)
        self.alert_tasks: set[asyncio.Task[None]] = set()
        self.alert_sessions: list[str] = []  # the latest alert-driven sessions (bounded)
        self._unconnected = asyncio.Event()
        self._unconnected.set()
        self._overflow = 0  # connections over the bound being told so (503)

    # -- connections -----------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stats.connections >= self.max_connections:
            self.stats.rejected["connections"] += 1
            if self._overflow >= MAX_OVERFLOW:
                writer.transport.abort()  # a flood: not even an answer is owed
                return
            self._overflow += 1
            try:
                await self._send(
                    writer, error_bytes(HttpError(503, "too many connections; retry")), reader
                )
            finally:
                self._overflow -= 1
            return
        self.stats.connections += 1
        self._unconnected.clear()
        path, head_only = "other", False
        try:
            try:
                request = await read_request(reader)
                path, head_only = request.path, request.method == "HEAD"
                answer = await self.route(request)
                data = response_bytes(answer.status, answer.body, answer.content_type, head_only)
                status = answer.status
            except HttpError as exc:
                if exc.status in (400, 408, 411, 413, 414, 431):
                    self.stats.rejected["bad_request"] += 1
                data, status = error_bytes(exc, head_only), exc.status
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()  # the client went away: nothing to answer
                return
            except Exception as exc:  # one line, never a traceback on the wire
                if os.environ.get("NETMEDIC_DEBUG") == "1":
                    raise
                reason = f"internal error: {type(exc).__name__}"
                data, status = error_bytes(HttpError(500, reason), head_only), 500
            self.stats.request(path, status)
            await self._send(writer, data, reader)
        finally:
            self.stats.connections -= 1
            if not self.stats.connections:
                self._unconnected.set()

    async def _send(
        self, writer: asyncio.StreamWriter, data: bytes, reader: asyncio.StreamReader
    ) -> None:
        """Answer, then close gracefully: what the client sent and we did not read
        would otherwise make the kernel reset the connection and lose the answer."""
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            writer.write(data)
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(LINGER_S):
                while await reader.read(65536):
                    pass
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    async def route(self, request: Request) -> Answer:
        readers = ("GET", "HEAD")
        if request.path == "/probe":
            _method(request, readers)
            return await self.probe(request)
        if request.path == "/metrics":
            _method(request, readers)
            return self.own_metrics()
        if request.path == "/alert":
            _method(request, ("POST",))
            return self.alert(request)
        if request.path == "/":
            _method(request, readers)
            return Answer(200, _INDEX.encode())
        raise HttpError(404, "not found: try /probe?target=...&module=..., /metrics or /alert")

    # -- /probe ----------------------------------------------------------------------

    async def probe(self, request: Request) -> Answer:
        text = request.query.get("target", "")
        if not text:
            raise HttpError(400, "Target parameter is missing")
        chosen = self.choose(text, request.query.get("module", ""))
        budget = _budget(chosen.timeout, request.header("X-Prometheus-Scrape-Timeout-Seconds"))
        if not self.bucket.take():
            self.stats.rejected["rate"] += 1
            raise HttpError(
                429, f"check rate above max_rate ({self.config.max_rate:g}/s); retry later"
            )
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(min(SLOT_WAIT_S, budget / 2)):
                await self.slots.acquire()
        except TimeoutError:
            self.stats.rejected["busy"] += 1
            raise HttpError(
                503, f"all {self.config.max_concurrent} check slots are busy; retry later"
            ) from None
        self.stats.in_flight += 1
        try:
            left = budget - (loop.time() - started)
            outcome = await journaled_check(chosen.target, chosen.symptom, chosen.config, left)
        finally:
            self.stats.in_flight -= 1
            self.slots.release()
            self.pruner.kick()
        result = "success" if succeeded(outcome.diagnosis) else "failure"
        if outcome.cut_short:
            result = "cut_short"
        self.stats.check(chosen.module, result, outcome.duration_s)
        openmetrics = wants_openmetrics(request.header("Accept"))
        body = render(outcome.families, openmetrics).encode("utf-8")
        return Answer(200, body, content_type(openmetrics))

    def choose(self, text: str, module_name: str) -> Chosen:
        """The target and how to check it; HttpError when unknown or not allowed."""
        if text.startswith("@"):
            return self._saved(text[1:], module_name)
        module = self._module(module_name)
        try:
            target = parse_target(text)
        except TargetError as exc:
            raise HttpError(400, f"bad target: {exc}") from None
        if not (self.config.allows(target) or self._saved_address(target)):
            self.stats.rejected["not_allowed"] += 1
            raise HttpError(403, "target not allowed: no 'allow' entry of the exporter covers it")
        config = module.configure(ProbeConfig(timeout=module.timeout))
        return Chosen(target, module.symptom, config, module.name, module.timeout)

    def _module(self, name: str) -> Module:
        module = self.config.modules.get(name or DEFAULT_MODULE)
        if module is None:
            known = ", ".join(sorted(self.config.modules))
            raise HttpError(400, f"Unknown module {name[:40]!r} (known: {known})")
        return module

    def _saved(self, name: str, module_name: str) -> Chosen:
        saved = self.services.get(name)
        if saved is None:
            raise HttpError(400, f"no saved service {name[:40]!r}")
        module = self._module(module_name)
        try:
            check: ServiceCheck = service_check(saved, self.env)
        except (ServicesError, TargetError) as exc:
            raise HttpError(400, str(exc)) from None
        config = check.configure(module.configure(ProbeConfig(timeout=module.timeout)))
        symptom = saved.symptom or module.symptom
        return Chosen(check.target, symptom, config, f"@{name}", module.timeout)

    def _saved_address(self, target: Target) -> bool:
        for saved in self.services.values():
            with contextlib.suppress(TargetError):
                known = parse_target(saved.url)
                if (known.host, known.port) == (target.host, target.port):
                    return True
        return False

    # -- /metrics --------------------------------------------------------------------

    def own_metrics(self) -> Answer:
        """In the text format whatever Accept says: promtool 2.x reads only that, and
        counters are where the two formats differ."""
        body = render(self.stats.families() + self.pruner.families()).encode("utf-8")
        return Answer(200, body, TEXT_TYPE)

    # -- /alert ----------------------------------------------------------------------

    def alert(self, request: Request) -> Answer:
        kind = request.header("Content-Type").split(";")[0].strip().lower()
        if kind and kind != "application/json":
            raise HttpError(415, "the webhook sends application/json")
        try:
            alerts = firing_alerts(request.body)
        except PayloadError as exc:
            raise HttpError(400, str(exc)) from None
        told = []
        for alert in alerts:
            try:
                chosen = self.choose(alert.target, alert.module)
            except HttpError as exc:
                self.stats.alerts["unknown_target"] += 1
                told.append({"alert": alert.name, "outcome": "unknown_target", "why": exc.reason})
                continue
            key = f"{chosen.target.scheme}://{chosen.target.host_port}{chosen.target.shown_path}"
            shown = {"alert": alert.name, "target": chosen.target.input}
            if len(self.alert_tasks) >= MAX_PENDING_ALERTS:
                self.stats.alerts["busy"] += 1
                told.append({**shown, "outcome": "busy"})
            elif not self.gate.admit(key):
                self.stats.alerts["recent"] += 1
                told.append({**shown, "outcome": "recent"})
            else:
                self.stats.alerts["started"] += 1
                told.append({**shown, "outcome": "started"})
                task = asyncio.create_task(self._diagnose(chosen))
                self.alert_tasks.add(task)
                task.add_done_callback(self.alert_tasks.discard)
        body = json.dumps({"schema": "netmedic.alert/1", "alerts": told}) + "\n"
        return Answer(200, body.encode(), "application/json")

    async def _diagnose(self, chosen: Chosen) -> None:
        async with self.slots:
            self.stats.in_flight += 1
            try:
                outcome = await journaled_check(
                    chosen.target,
                    chosen.symptom,
                    chosen.config,
                    chosen.timeout * ALERT_BUDGET_FACTOR,
                )
            finally:
                self.stats.in_flight -= 1
                self.pruner.kick()
        if outcome.session_id:
            self.alert_sessions = [*self.alert_sessions[-99:], outcome.session_id]

    async def unconnected(self) -> None:
        """Wait until no connection is open (every handler has closed its side)."""
        await self._unconnected.wait()

    async def idle(self) -> None:
        """Wait for the alert-driven diagnoses started so far, and the journal pass
        under way (tests, shutdown)."""
        while self.alert_tasks:
            await asyncio.gather(*list(self.alert_tasks), return_exceptions=True)
        await self.pruner.settled()


def _method(request: Request, allowed: tuple[str, ...]) -> None:
    if request.method not in allowed:
        raise HttpError(405, f"{request.path} answers {' and '.join(allowed)} only")


def _budget(module_timeout: float, header: str) -> float:
    """Seconds the check may take: the module's timeout, or less when Prometheus
    said it gives up sooner (blackbox's rule: its timeout minus an offset)."""
    if not header:
        return module_timeout
    try:
        scrape = float(header)
    except ValueError:
        raise HttpError(400, "bad X-Prometheus-Scrape-Timeout-Seconds") from None
    if not math.isfinite(scrape) or scrape <= 0:
        raise HttpError(400, "bad X-Prometheus-Scrape-Timeout-Seconds")
    return max(0.1, min(module_timeout, scrape - SCRAPE_OFFSET_S))


async def start(exporter: Exporter, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(
        exporter.handle, host, port, limit=MAX_LINE + 2, backlog=1024, reuse_address=True
    )


async def serve(exporter: Exporter, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; then finish the alert diagnoses under way."""
    server = await start(exporter, host, port)
    exporter.pruner.kick()  # what an earlier exporter left beyond the bounds
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    bound = server.sockets[0].getsockname()[1]
    modules = ", ".join(sorted(exporter.config.modules))
    print(
        f"netmedic exporter: listening on http://{shown}:{bound} "
        f"(modules: {modules}; {len(exporter.config.allow)} allow entries, "
        f"{len(exporter.services)} saved services)",
        file=sys.stderr,
        flush=True,
    )
    print(
        f"netmedic exporter: journals: {exporter.config.retention.describe()}",
        file=sys.stderr,
        flush=True,
    )
    if not exporter.config.allow and not exporter.services:
        print(
            f"netmedic exporter: warning: nothing is allowed: every /probe gets 403 until "
            f"an 'allow' list in {exporter.config.source or 'exporter.toml'} names targets",
            file=sys.stderr,
            flush=True,
        )
    async with server:
        await stop.wait()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_S + WRITE_TIMEOUT_S):
            await exporter.unconnected()  # answers under way are sent
    await exporter.idle()


_INDEX = """netmedic exporter
GET  /probe?target=TARGET&module=NAME   check TARGET, answer Prometheus metrics
GET  /metrics                           the exporter's own figures
POST /alert                             Alertmanager webhook (v4): diagnose firing alerts
"""
