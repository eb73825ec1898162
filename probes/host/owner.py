"""What runs a service: the systemd unit or container behind a process or a port.

Read-only, and without asking any daemon:

* ``/proc/PID/cgroup`` names the unit (``system.slice/qdrant.service``) or the
  container (``docker-<id>.scope``, ``/docker/<id>``, ``libpod-<id>.scope``,
  ``cri-containerd-<id>.scope``, ``crio-<id>.scope``, ``kubepods``);
* containers' names, compose labels, addresses and published ports come from
  what the runtime keeps on disk (``/var/lib/docker/containers/*/config.v2.json``,
  podman's ``containers.json``);
* unit files (``*.service``, ``*.socket`` and drop-ins) that name a port in
  ``ListenStream=``, ``ExecStart=`` or ``Environment=`` say which unit *should*
  listen there when nothing does;
* DNAT rules (nftables, or ``iptables-save -t nat``) say where a port is
  forwarded, read the way :mod:`probes.host.firewall` reads rules.

Every reader takes a ``root`` directory so tests can hand it a fake tree.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probes.core.sanitize import clean_text
from probes.host.firewall import _port_in, find_tool, nft_rule_texts, run_tool

UNIT_DIRS = (
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "lib/systemd/system",
    "usr/lib/systemd/system",
)
DOCKER_DIR = "var/lib/docker/containers"
PODMAN_FILE = "var/lib/containers/storage/overlay-containers/containers.json"
MAX_UNIT_FILES = 4000  # unit files read per search
MAX_FILE_BYTES = 256 * 1024
MAX_CONTAINERS = 500

_ID = r"([0-9a-f]{12,64})"
_RUNTIMES = (
    ("docker", re.compile(rf"(?:/docker[-/]|/system\.slice/docker-){_ID}")),
    ("podman", re.compile(rf"libpod-(?!conmon-){_ID}")),
    ("containerd", re.compile(rf"cri-containerd-{_ID}")),
    ("crio", re.compile(rf"crio-(?!conmon-){_ID}")),
)
_ANY_ID = re.compile(rf"/{_ID}(?:\.scope)?$")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.@\\-]{1,200}\.(?:service|socket)$")
_UNIT_IN_PATH = re.compile(r"/([A-Za-z0-9:_.@\\-]+\.service)(?=/|$)")
# Container names as docker allows them: safe to show, and to put in a command.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


# -- cgroup placement -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a process runs, from its cgroup path."""

    unit: str = ""  # systemd unit (*.service)
    user_unit: bool = False  # a unit of a user's systemd (systemctl --user)
    runtime: str = ""  # docker | podman | containerd | crio (container runtimes)
    container: str = ""  # container id, 12 hex
    kubernetes: bool = False  # a kubepods cgroup


def parse_cgroup(text: str) -> Placement:
    """Placement from the text of ``/proc/PID/cgroup`` (v1 or v2)."""
    paths = [line.split(":", 2)[-1] for line in text.splitlines() if line.strip()]
    kube = any("kubepods" in p for p in paths)
    for runtime, pattern in _RUNTIMES:
        for path in paths:
            m = pattern.search(path)
            if m:
                return Placement(runtime=runtime, container=m.group(1)[:12], kubernetes=kube)
    if kube:
        for path in paths:
            m = _ANY_ID.search(path)
            if m:
                return Placement(runtime="containerd", container=m.group(1)[:12], kubernetes=True)
        return Placement(kubernetes=True)
    for path in paths:
        units = [u for u in _UNIT_IN_PATH.findall(path) if not u.startswith("user@")]
        if units:
            return Placement(unit=units[-1], user_unit="/user@" in path)
    return Placement()


def read_placement(pid: int, proc: str = "/proc") -> Placement:
    try:
        with open(f"{proc}/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            return parse_cgroup(fh.read(MAX_FILE_BYTES))
    except OSError:
        return Placement()


# -- containers on disk ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Container:
    id: str  # 12 hex
    name: str  # safe to show and to use in a command; the id when the name is odd
    runtime: str  # docker | podman
    running: bool | None  # None: the runtime keeps no state on disk we read
    addresses: tuple[str, ...] = ()
    published: tuple[int, ...] = ()  # host ports it publishes
    compose_project: str = ""
    compose_service: str = ""
    image: str = ""


@dataclass(frozen=True, slots=True)
class ContainerIndex:
    containers: tuple[Container, ...]
    source: str  # where they were read, or "" when no runtime keeps containers here

    def by_id(self, cid: str) -> Container | None:
        return next((c for c in self.containers if cid and c.id.startswith(cid[:12])), None)

    def by_address(self, address: str) -> Container | None:
        return next((c for c in self.containers if address in c.addresses), None)

    def publishing(self, port: int) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if port in c.published)


def _safe_name(name: str, fallback: str) -> str:
    name = name.lstrip("/")
    return name if _SAFE_NAME.match(name) else fallback


def _label(labels: Any, key: str) -> str:
    value = labels.get(key, "") if isinstance(labels, dict) else ""
    return _safe_name(str(value), "") if value else ""


def _load_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES * 8:
            return None
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _docker_container(doc: Any) -> Container | None:
    if not isinstance(doc, dict):
        return None
    cid = str(doc.get("ID", ""))
    if not re.fullmatch(r"[0-9a-f]{12,64}", cid):
        return None
    config = _dict(doc.get("Config"))
    labels = _dict(config.get("Labels"))
    state = _dict(doc.get("State"))
    nets = _dict(_dict(doc.get("NetworkSettings")).get("Networks"))
    addresses: list[str] = []
    if isinstance(nets, dict):
        for net in nets.values():
            if isinstance(net, dict):
                for key in ("IPAddress", "GlobalIPv6Address"):
                    if _is_ip(str(net.get(key) or "")):
                        addresses.append(str(net[key]))
    published: set[int] = set()
    bindings = _dict(_dict(doc.get("HostConfig")).get("PortBindings"))
    if isinstance(bindings, dict):
        for binds in bindings.values():
            for b in binds or ():
                port = str((b or {}).get("HostPort", "")) if isinstance(b, dict) else ""
                if port.isdigit():
                    published.add(int(port))
    return Container(
        id=cid[:12],
        name=_safe_name(str(doc.get("Name", "")), cid[:12]),
        runtime="docker",
        running=bool(state.get("Running")),
        addresses=tuple(addresses),
        published=tuple(sorted(published)),
        compose_project=_label(labels, "com.docker.compose.project"),
        compose_service=_label(labels, "com.docker.compose.service"),
        image=clean_text(str(config.get("Image", "")), 120),
    )


def read_containers(root: str = "/") -> ContainerIndex:
    """Containers docker and podman keep on disk (no daemon asked)."""
    found: list[Container] = []
    sources: list[str] = []
    docker = Path(root, DOCKER_DIR)
    try:
        entries = sorted(docker.iterdir())[:MAX_CONTAINERS] if docker.is_dir() else []
        if docker.is_dir():
            sources.append(f"/{DOCKER_DIR}")
    except OSError:
        entries = []
    for entry in entries:
        c = _docker_container(_load_json(entry / "config.v2.json"))
        if c is not None:
            found.append(c)
    podman = Path(root, PODMAN_FILE)
    try:  # podman's storage is root's alone (0700): without root it is unreadable
        doc = _load_json(podman) if podman.is_file() else None
    except OSError:
        doc = None
    if isinstance(doc, list):
        sources.append(f"/{PODMAN_FILE}")
        for item in doc[:MAX_CONTAINERS]:
            if not isinstance(item, dict) or not re.fullmatch(
                r"[0-9a-f]{12,64}", str(item.get("id"))
            ):
                continue
            cid = str(item["id"])[:12]
            names = item.get("names") or []
            name = _safe_name(str(names[0]), cid) if names else cid
            found.append(Container(cid, name, "podman", None))
    return ContainerIndex(tuple(found), ", ".join(sources))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- unit files that name a port ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitFile:
    """A unit whose file names the port: it should be the one listening there."""

    unit: str  # qdrant.service / qdrant.socket
    path: str  # the file that names the port
    line: str  # that line (sanitized, capped)
    user: str = ""  # User= of the unit, when set
    program: str = ""  # the name of the program ExecStart= runs ("qdrant")


_KEYS = ("ListenStream", "ExecStart", "ExecStartPre", "Environment")


def _port_pattern(port: int) -> re.Pattern[str]:
    # ":6333", "--port 6333", "--port=6333", "-p 6333", "PORT=6333", "--listen 0.0.0.0:6333"
    return re.compile(
        rf"(?i)(?:(?<![\w.]):|:|(?:port|listen|bind|addr|address)[= ]|(?<!\w)-p ?){port}(?!\d)"
    )


def _names_port(key: str, value: str, port: int, pattern: re.Pattern[str]) -> bool:
    if key == "ListenStream":
        tail = value.strip().rsplit(":", 1)[-1]
        return tail == str(port)
    return bool(pattern.search(value))


def _unit_of(path: Path) -> str:
    """The unit a file configures (a drop-in's unit is its directory's)."""
    parent = path.parent.name
    if path.suffix == ".conf" and parent.endswith(".d"):
        return parent[:-2]
    return path.name


def _candidate_files(root: str) -> Iterator[Path]:
    for folder in UNIT_DIRS:
        base = Path(root, folder)
        try:
            entries = sorted(base.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".service", ".socket")) and not entry.is_symlink():
                yield entry
            elif entry.name.endswith((".service.d", ".socket.d")) and entry.is_dir():
                try:
                    yield from sorted(p for p in entry.iterdir() if p.suffix == ".conf")
                except OSError:
                    continue


def units_for_port(port: int, root: str = "/") -> tuple[UnitFile, ...]:
    """Units whose files name *port* (first directory wins, as systemd's search path)."""
    return units_in_texts(_unit_texts(root), port)


def _unit_texts(root: str) -> Iterator[tuple[str, str]]:
    """(path as the host sees it, text) of every unit file, bounded."""
    for count, path in enumerate(_candidate_files(root)):
        if count >= MAX_UNIT_FILES:
            break
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        yield "/" + str(path.relative_to(root)), text


def units_in_texts(files: Iterable[tuple[str, str]], port: int) -> tuple[UnitFile, ...]:
    """Units whose (path, text) pairs name *port*: the files may come from this host or
    from a server's collector (probes.remote), read the same way."""
    pattern = _port_pattern(port)
    found: dict[str, UnitFile] = {}
    users: dict[str, str] = {}
    programs: dict[str, str] = {}
    for where, text in files:
        unit = _unit_of(Path(where))
        if not _UNIT_NAME.match(unit):
            continue
        for raw in text.splitlines():
            key, sep, value = raw.strip().partition("=")
            key = key.strip()
            if not sep:
                continue
            if key == "User" and value.strip():
                users.setdefault(unit, clean_text(value.strip(), 64))
            if key == "ExecStart" and value.strip():
                programs.setdefault(unit, _program(value))
            if key in _KEYS and unit not in found and _names_port(key, value, port, pattern):
                found[unit] = UnitFile(unit, clean_text(where, 200), clean_text(raw.strip(), 200))
    return tuple(
        UnitFile(u.unit, u.path, u.line, users.get(u.unit, ""), programs.get(u.unit, ""))
        for u in found.values()
    )


def _program(exec_start: str) -> str:
    """``/usr/bin/qdrant --port 6333`` → ``qdrant`` (ExecStart prefixes removed)."""
    words = exec_start.strip().lstrip("-@+!:").split()
    return clean_text(os.path.basename(words[0]), 64) if words else ""


# -- DNAT rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forward:
    """A DNAT rule that sends connections to the port somewhere else."""

    backend: str  # nft | iptables | ip6tables
    where: str  # "table ip nat, chain output, handle 2"
    text: str  # the rule as the tool prints it
    to_address: str
    to_port: int  # 0: the port is kept
    container: str = ""  # the container that has to_address ("" none known)
    container_running: bool | None = None

    @property
    def destination(self) -> str:
        host = f"[{self.to_address}]" if ":" in self.to_address else self.to_address
        return f"{host}:{self.to_port}" if self.to_port else host

    @property
    def inspect_command(self) -> str:
        """The command that shows the rule; table and chain names come from the ruleset
        (anyone with root could have named them), so every word is quoted."""
        if self.backend == "nft":
            parts = self.where.split(", ")
            family_table = parts[0].removeprefix("table ").split()
            chain = parts[1].removeprefix("chain ") if len(parts) > 1 else ""
            return shlex.join(["nft", "-a", "list", "chain", *family_table, chain])
        program = "ip6tables-save" if self.backend == "ip6tables" else "iptables-save"
        return shlex.join([program, "-t", "nat"])


def _port_matches(exprs: list[Any], port: int) -> bool:
    for e in exprs:
        m = e.get("match") if isinstance(e, dict) else None
        if not isinstance(m, dict):
            continue
        left = m.get("left")
        payload = left.get("payload") if isinstance(left, dict) else None
        if not isinstance(payload, dict) or payload.get("field") != "dport":
            continue
        right = m.get("right")
        values = right["set"] if isinstance(right, dict) and "set" in right else [right]
        hit = any(_port_in(port, v) for v in values)
        return hit if m.get("op", "==") in ("==", "in") else not hit
    return False


def nft_forwards(document: dict[str, Any], listing: str, port: int) -> tuple[list[Forward], bool]:
    """DNAT rules for *port* in ``nft -j list ruleset``; and whether xt DNAT
    targets (iptables-nft) were seen, which only ``iptables-save`` can read."""
    texts = nft_rule_texts(listing)
    found: list[Forward] = []
    xt = False
    for item in document.get("nftables", []):
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, dict):
            continue
        exprs = rule.get("expr", [])
        if any(
            isinstance(e, dict) and isinstance(e.get("xt"), dict) and e["xt"].get("name") == "DNAT"
            for e in exprs
        ):
            xt = True
        dnat = next((e["dnat"] for e in exprs if isinstance(e, dict) and "dnat" in e), None)
        if not isinstance(dnat, dict) or not _port_matches(exprs, port):
            continue
        addr = str(dnat.get("addr", ""))
        if not _is_ip(addr):
            continue
        to_port = dnat.get("port", 0)
        family, table, chain = rule["family"], rule["table"], rule["chain"]
        handle = int(rule.get("handle", 0))
        where = f"table {family} {table}, chain {chain}, handle {handle}"
        text = texts.get((family, table, chain, handle), f"dnat to {addr}")
        found.append(Forward("nft", where, text, addr, to_port if isinstance(to_port, int) else 0))
    return found, xt


_TO_DEST = re.compile(r"^\[?([0-9a-fA-F.:]+?)\]?(?::(\d+))?(?:-\d+)?$")


def iptables_forwards(save: str, port: int, backend: str = "iptables") -> list[Forward]:
    """DNAT rules for *port* in ``iptables-save -t nat`` output."""
    found: list[Forward] = []
    table = ""
    numbers: dict[str, int] = {}
    for raw in save.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
            continue
        if table != "nat" or not line.startswith("-A "):
            continue
        args = line.split()
        chain = args[1]
        numbers[chain] = numbers.get(chain, 0) + 1
        if "DNAT" not in args or "--to-destination" not in args:
            continue
        flag = "--dport" if "--dport" in args else "--dports"
        dports = _arg(args, flag)
        if not dports or args[args.index(flag) - 1] == "!":
            continue
        if not any(_in_ports(port, p) for p in dports.split(",")):
            continue
        m = _TO_DEST.match(_arg(args, "--to-destination"))
        if m is None or not _is_ip(m.group(1)):
            continue
        where = f"{backend} table nat, chain {chain}, rule {numbers[chain]}"
        found.append(
            Forward(backend, where, clean_text(line, 300), m.group(1), int(m.group(2) or 0))
        )
    return found


def _arg(args: list[str], name: str) -> str:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else ""


def _in_ports(port: int, text: str) -> bool:
    lo, _, hi = text.partition(":")
    try:
        return int(lo) <= port <= int(hi or lo)
    except ValueError:
        return False


async def read_forwards(port: int, timeout: float) -> tuple[Forward, ...]:
    """DNAT rules that forward *port* (root: reading nat tables needs CAP_NET_ADMIN)."""
    found: list[Forward] = []
    need_iptables = True
    nft = find_tool("nft")
    if nft is not None:
        code, out, _err = await run_tool([nft, "-j", "list", "ruleset"], timeout)
        if code == 0:
            _code, listing, _err = await run_tool([nft, "-a", "list", "ruleset"], timeout)
            try:
                rules, need_iptables = nft_forwards(json.loads(out or "{}"), listing, port)
            except ValueError:
                rules = []
            found += rules
    if need_iptables:
        for tool, backend in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
            path = find_tool(tool)
            if path is None:
                continue
            code, out, _err = await run_tool([path, "-t", "nat"], timeout)
            if code == 0:
                found += iptables_forwards(out, port, backend)
    return tuple(dict.fromkeys(found))


def name_containers(forwards: Iterable[Forward], index: ContainerIndex) -> tuple[Forward, ...]:
    """Each forward with the container that has its destination address, if any."""
    named: list[Forward] = []
    for f in forwards:
        c = index.by_address(f.to_address)
        if c is None:
            named.append(f)
        else:
            named.append(
                Forward(f.backend, f.where, f.text, f.to_address, f.to_port, c.name, c.running)
            )
    return tuple(named)
