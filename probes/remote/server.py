"""The server's side of the connection (``check TARGET --server DEST``): the probe.

Runs the collector on DEST over the person's ssh (probes.remote.ssh), or, without
python3 there, plain ``ss -Htln``; the answer is read by probes.remote.document into a
:class:`~probes.remote.serverdata.ServerData`.  A live run may look again at a pace
(``ProbeConfig.server_interval``: ``watch --server``), as a local target's sockets are.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.remote import ssh
from probes.remote.document import read_server, ss_document
from probes.remote.serverdata import ServerData, summarize


async def probe_server(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    """Collect the target host's side over SSH and read it as evidence; in a live run
    with a ``server_interval``, look again at that pace until cancelled."""
    dest = ctx.config.server
    if not dest:
        yield ProbeResult("server", Status.SKIPPED, 0.0, "no --server given")
        return
    resolution = await ctx.resolution()
    yield await _look(ctx, dest, resolution.addresses)
    live = ctx.live
    interval = ctx.config.server_interval
    while live is not None and interval > 0:
        # Each look is bounded by ssh's own deadline (remote_timeout); paused with the run.
        await live.wait_open()
        await live.clock.sleep(interval)
        await live.wait_open()
        yield await _look(ctx, dest, resolution.addresses)


async def _look(ctx: ProbeContext, dest: str, addresses: tuple[str, ...]) -> ProbeResult:
    """One look at the server's side: the collector, or plain ``ss`` without python3."""
    started = time.monotonic()
    params = {"mode": "server", "port": ctx.target.port}
    reply = await ssh.collect(dest, params, ctx.config.remote_timeout, ctx.config.ssh_config)
    elapsed = time.monotonic() - started
    if reply.status == ssh.NO_PYTHON:
        lines = await ssh.plain_listeners(dest, ctx.config.remote_timeout, ctx.config.ssh_config)
        if lines:
            doc = ss_document(lines)
            data = dataclasses.replace(
                read_server(dest, doc, addresses, ctx.target.port),
                status=ssh.NO_PYTHON,
                detail=reply.detail,
                fallback_listeners=lines,
            )
            return ProbeResult(
                "server", Status.OK, time.monotonic() - started, summarize(data), data
            )
    if not reply.ok:
        data = ServerData(dest, reply.status, reply.detail)
        return ProbeResult(
            "server",
            Status.FAILED,
            elapsed,
            f"{dest}: {reply.explanation}",
            data,
            ProbeError(reply.status.upper(), f"{reply.explanation}: {reply.detail}", dest, elapsed),
        )
    data = read_server(dest, reply.document, addresses, ctx.target.port)
    return ProbeResult("server", Status.OK, elapsed, summarize(data), data)
