"""Next steps that name what runs (or should run) a service on this host.

Built from the local probe's evidence (:class:`probes.host.local.LocalData`: the
cgroup placement of a process, unit files naming the port, containers on disk,
DNAT rules), so a rule can say ``systemctl status qdrant.service`` or ``docker
logs --tail 50 qdrant`` instead of a generic ``systemctl --failed``.  Every value
put in a command is quoted with :func:`q`.

:func:`port_owner` is what the other layers' rules ask (tcp.refused, an HTTP 503,
a service that cannot serve): ``None`` when the evidence names nothing, and the
rule keeps its generic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from probes.core.model import NextStep
from probes.diagnosis.evidence import Evidence, q
from probes.host.local import LocalData
from probes.host.owner import Container
from probes.host.procinfo import ProcessInfo


def unit_steps(unit: str, *, user: bool = False) -> list[NextStep]:
    """Status and log of a systemd unit, named."""
    ctl = "systemctl --user" if user else "systemctl"
    log = "journalctl --user-unit" if user else "journalctl -u"
    return [
        NextStep(f"See the state of {unit}", f"{ctl} status {q(unit)}"),
        NextStep(f"Read {unit}'s recent log", f"{log} {q(unit)} -n 50 --no-pager"),
    ]


def container_steps(runtime: str, ref: str, project: str, service: str) -> list[NextStep]:
    """Log and state of a docker/podman container, by name (or id)."""
    tool = "podman" if runtime == "podman" else "docker"
    steps = [
        NextStep(f"Read the container {ref}'s recent log", f"{tool} logs --tail 50 {q(ref)}"),
        NextStep(f"See the state of {ref}", f"{tool} ps -a --filter name={q(ref)}"),
    ]
    if project and service and tool == "docker":
        steps.append(
            NextStep(
                f"It is the compose service {service} of project {project}",
                f"docker compose -p {q(project)} logs --tail 50 {q(service)}",
            )
        )
    return steps


def box_steps(box: Container) -> list[NextStep]:
    return container_steps(box.runtime, box.name, box.compose_project, box.compose_service)


def cri_steps(container: str) -> list[NextStep]:
    return [
        NextStep(f"See the container {container}", f"crictl ps -a --id {q(container)}"),
        NextStep("Read its recent log", f"crictl logs --tail 50 {q(container)}"),
    ]


def pod_step(data: LocalData) -> NextStep:
    return NextStep(
        "Find the pod on this node",
        f"kubectl get pods -A -o wide --field-selector spec.nodeName={q(data.hostname)}",
    )


def proxied_container(data: LocalData, proc: ProcessInfo) -> Container | None:
    """The container docker-proxy forwards to (its ``-container-ip``), when known."""
    if proc.name != "docker-proxy":
        return None
    args = proc.cmdline.split()
    if "-container-ip" not in args or args.index("-container-ip") + 1 >= len(args):
        return None
    address = args[args.index("-container-ip") + 1]
    return next((c for c in data.containers if address in c.addresses), None)


def _placed(data: LocalData, proc: ProcessInfo) -> tuple[str, list[NextStep]]:
    """What runs *proc* (a unit, a container, a pod) and its steps; ("", []) unknown."""
    box = proxied_container(data, proc)  # before its unit: docker-proxy runs in docker.service
    if box is not None:
        return f"the container {box.name}", box_steps(box)
    if proc.unit:  # the cgroup says systemd runs it
        user = " (a user unit)" if proc.user_unit else ""
        return proc.unit + user, unit_steps(proc.unit, user=proc.user_unit)
    if proc.container and proc.runtime in ("docker", "podman"):
        ref = proc.container_name or proc.container
        steps = container_steps(proc.runtime, ref, proc.compose_project, proc.compose_service)
        return f"the container {ref}", steps
    if proc.container and proc.runtime:
        steps = cri_steps(proc.container)
        if proc.kubernetes and "kubectl" in data.tools:
            steps.append(pod_step(data))
        return f"the container {proc.container}", steps
    if proc.kubernetes and "kubectl" in data.tools:
        return "a Kubernetes pod", [pod_step(data)]
    return "", []


def service_steps(data: LocalData, proc: ProcessInfo | None) -> list[NextStep]:
    """Commands that fit how *proc* runs here (read-only)."""
    if proc is None:
        return []
    steps = _placed(data, proc)[1]
    return steps or [
        NextStep(f"See how {proc.name} was started", f"ps -o pid,user,lstart,args -p {proc.pid}")
    ]


@dataclass(frozen=True, slots=True)
class PortOwner:
    """What runs, or should run, the service on the target's port (this host)."""

    name: str  # "qdrant.service", "the container qdrant"
    why: str  # the evidence that names it, one line
    steps: tuple[NextStep, ...]  # its state and log, named


def owner_or(owner: PortOwner | None, *generic: NextStep) -> tuple[NextStep, ...]:
    """The owner's named steps when it is known, else *generic*."""
    return owner.steps if owner is not None else generic


def port_owner(ev: Evidence) -> PortOwner | None:
    """The unit or container the local evidence names for the target's port.

    In order: the process holding the port (its cgroup), a DNAT rule sending the
    port to a known container, a unit file naming the port, a container publishing
    it, a process of the expected name placed in a unit or container.  None when
    the target is not this host or nothing is named."""
    data = ev.data("local", LocalData)
    if data is None or not data.target.local:
        return None
    view = data.target
    port = view.port
    for x in view.listeners:
        proc = data.process(x.pids[0]) if x.proto == "tcp" and x.pids else None
        name, steps = _placed(data, proc) if proc is not None else ("", [])
        if proc is not None and steps:
            return PortOwner(
                name, f"{proc.name} (pid {proc.pid}) holds {x.endpoint}: {name} runs it", (*steps,)
            )
    forward = next((f for f in data.forwards if f.container), None)
    if forward is not None:
        box = next((c for c in data.containers if c.name == forward.container), None)
        steps = box_steps(box) if box else container_steps("docker", forward.container, "", "")
        why = (
            f"a DNAT rule ({forward.where}) sends port {port} to the container {forward.container}"
        )
        return PortOwner(f"the container {forward.container}", why, (*steps,))
    if data.units:
        u = data.units[0]
        why = f"{u.unit} names port {port} ({u.path}: {u.line})"
        return PortOwner(u.unit, why, (*unit_steps(u.unit),))
    if data.containers:
        c = data.containers[0]
        state = {True: "running", False: "stopped", None: "state unknown"}[c.running]
        why = f"the container {c.name} ({state}) publishes port {port}"
        return PortOwner(f"the container {c.name}", why, (*box_steps(c),))
    for pid in view.lookalikes:
        proc = data.process(pid)
        name, steps = _placed(data, proc) if proc is not None else ("", [])
        if proc is not None and steps:
            why = f"{proc.name} (pid {pid}) runs in {name} but does not listen on port {port}"
            return PortOwner(name, why, (*steps,))
    return None
