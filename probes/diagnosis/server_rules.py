"""Both ends together: this host's connect and the server's own evidence (``--server``).

The server's sockets arrive as a LocalData seen from the server (probes.remote.document),
so the local rules judge them unchanged — "refused here; on db1 postgres listens on
127.0.0.1:5432 only" is ``local.loopback_only`` with the fix on db1 — and this module
says where: titles name the host, commands run there through ``ssh``.  What only the
server's side can tell is ruled on here: an input-side firewall rule that drops the
port, and the unit or container that should serve it stopped, with its last log lines.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from probes.core.model import Finding, NextStep, ProbeResult, Severity, Status
from probes.diagnosis import local_rules
from probes.diagnosis.evidence import Evidence, q
from probes.net.tcp import OPEN, TcpData
from probes.remote.serverdata import ServerData, UnitState, named
from probes.remote.ssh import NO_PYTHON

# Client-side ids: the server's view cannot speak about this host's client sockets.
_CLIENT_SIDE = ("local.client_exhausted", "local.ephemeral_exhausted", "local.forwarded")
_STOPPED = ("failed", "inactive", "deactivating", "exited", "dead", "created", "restarting")


def _server(ev: Evidence) -> ServerData | None:
    return ev.data("server", ServerData)


def _name(data: ServerData) -> str:
    return data.dest


def there(dest: str, command: str | None) -> str | None:
    """*command* as a person runs it on *dest* (through their ssh)."""
    if command is None:
        return None
    if not any(c in command for c in '"$`\\!'):  # readable: the command in double quotes
        return f'ssh -t {shlex.quote(dest)} "{command}"'
    return shlex.join(["ssh", "-t", dest, command])


def _connect_failed(ev: Evidence) -> str:
    """How this host's connect failed ("" when it worked or was not tried)."""
    tcp = ev.data("tcp", TcpData)
    if tcp is None or not tcp.attempts or any(a.state == OPEN for a in tcp.attempts):
        return ""
    return tcp.attempts[0].state


def server_view(ev: Evidence) -> Iterator[Finding]:
    """The local rules over the server's sockets, told as the server's."""
    data = _server(ev)
    if data is None or data.local is None:
        return
    result = ProbeResult("local", Status.OK, 0.0, "", data.local)
    tcp = ev.results.get("tcp")
    seen = Evidence(ev.target, {"local": result, **({"tcp": tcp} if tcp else {})}, ev.symptom)
    name = _name(data)
    for rule in local_rules.RULES:
        for finding in rule(seen):
            if finding.id in _CLIENT_SIDE:
                continue
            yield Finding(
                finding.id,
                finding.severity,
                f"on {name}: " + finding.title.replace("this host", name),
                (*(e.replace("this host", name) for e in finding.evidence), _read_on(data)),
                tuple(NextStep(s.text, there(data.dest, s.command)) for s in finding.next_steps),
            )


def _read_on(data: ServerData) -> str:
    if data.status == NO_PYTHON:
        return (
            f"read on {data.dest} with `ss -Htln` only: it has no python3, so owners, firewall "
            "rules, units and the kernel log are not known"
        )
    who = "root" if data.privileged else "an unprivileged user"
    return f"read on {named(data)} over ssh as {who} (python {data.python})"


def input_rule(ev: Evidence) -> Iterator[Finding]:
    data = _server(ev)
    failed = _connect_failed(ev)
    if data is None or not data.input_rules or not failed:
        return
    rule = data.input_rules[0]
    port = ev.target.port
    evidence = [
        f"this host's connect to port {port}: {failed}",
        f"on {data.dest} ({data.firewall_backend}), {rule.where}: {rule.text}",
    ]
    if not rule.certain:
        evidence.append("the rule has a condition netmedic cannot evaluate (assumed to match)")
    evidence.append(_read_on(data))
    yield Finding(
        "server.firewall_blocked",
        Severity.ERROR,
        f"{failed} here; {data.dest} {rule.verdict}s port {port} in its input path ({rule.where})",
        tuple(evidence),
        (
            NextStep(f"See the rule on {data.dest}", there(data.dest, rule.inspect_command)),
            NextStep(
                f"Allow TCP port {port} from this host before that rule on {data.dest} "
                "(or remove the rule), the way its firewall is managed (nftables.conf, ufw, "
                "firewalld, configuration management)"
            ),
        ),
    )


def unit_stopped(ev: Evidence) -> Iterator[Finding]:
    data = _server(ev)
    if data is None or data.local is None or not _connect_failed(ev):
        return
    if data.local.target.serving:
        return  # something serves the port there: the unit's state explains nothing
    for unit in data.units:
        if unit.state and unit.state not in _STOPPED:
            continue
        if not unit.state and not unit.log:
            continue
        yield _stopped(ev, data, unit)
        return


def _how(unit: UnitState) -> str:
    """``is failed (exit-code, exit code 1)``: the state, and why when systemd says."""
    why = [unit.result] if unit.result and unit.result != "success" else []
    if why and unit.exit_code not in ("", "0"):
        why.append(f"exit code {unit.exit_code}")
    return f"is {unit.state}" + (f" ({', '.join(why)})" if why else "")


def _stopped(ev: Evidence, data: ServerData, unit: UnitState) -> Finding:
    port = ev.target.port
    when = f" {local_rules._age(unit.changed_s_ago)} ago" if unit.changed_s_ago >= 0 else ""
    if unit.state:
        title = f"{_connect_failed(ev)} here; on {data.dest} {unit.name} {_how(unit)}{when}"
    else:
        title = (
            f"{_connect_failed(ev)} here; on {data.dest} nothing serves port {port} and "
            f"{unit.name} is not running (its log, last written{when})"
        )
    evidence = [f"on {data.dest} no socket listens on port {port}"]
    if unit.restarts >= 0:
        evidence.append(f"{unit.name}: restarted {unit.restarts} times")
    if not unit.state and unit.kind == "unit":
        evidence.append(f"{unit.name}: systemd is not running there, so its state is unknown")
    if unit.log:
        evidence.append(f"last log lines ({unit.log_source}):")
        evidence += [f"  {line}" for line in unit.log[-10:]]
    evidence.append(_read_on(data))
    if unit.kind == "unit":
        steps = [
            NextStep(
                f"See {unit.name} on {data.dest}",
                there(data.dest, f"systemctl status {q(unit.name)}"),
            ),
            NextStep(
                "Read its log", there(data.dest, f"journalctl -u {q(unit.name)} -n 50 --no-pager")
            ),
        ]
    else:
        tool = "podman" if unit.kind == "podman" else "docker"
        steps = [
            NextStep(
                f"Read {unit.name}'s log", there(data.dest, f"{tool} logs --tail 50 {q(unit.name)}")
            )
        ]
    steps.append(NextStep("Fix what the log names, then start it again and check that it stays up"))
    return Finding("server.unit_failed", Severity.ERROR, title, tuple(evidence), tuple(steps))


RULES = (input_rule, unit_stopped, server_view)
