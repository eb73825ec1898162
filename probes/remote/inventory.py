"""Which hosts ``--from`` names: a list of ssh destinations, or ``@GROUP`` of an inventory.

An inventory is what the person already has: the JSON ``ansible-inventory --list``
prints (its documented shape: groups with ``hosts`` and ``children``, and
``_meta.hostvars`` with ``ansible_host``, ``ansible_user``, ``ansible_port``), read
from a file or by running ``ansible-inventory --list`` when it is installed, or a
plain file of ssh destinations, one a line (``#`` comments).  No INI or YAML parser
of our own: Ansible reads its own formats.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from probes.core.programs import find_user_program
from probes.remote.ssh import DestinationError, check_destination

MAX_HOSTS = 1000
MAX_BYTES = 16 * 1024 * 1024
ANSIBLE_TIMEOUT_S = 30.0

Vantage = tuple[str, str]  # (name shown, ssh destination)


class InventoryError(ValueError):
    """A bad --from / --inventory; ``str()`` is one line for a person."""


def vantages(spec: str, inventory: str = "") -> tuple[Vantage, ...]:
    """``a,b,user@c`` or ``@GROUP`` → (name, destination) pairs, in order, once each."""
    found: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        pairs = group(part[1:], inventory) if part.startswith("@") else [(part, part)]
        for name, dest in pairs:
            try:
                found.setdefault(name, check_destination(dest))
            except DestinationError as exc:
                raise InventoryError(f"--from: {exc}") from None
    if not found:
        raise InventoryError("--from names no host")
    if len(found) > MAX_HOSTS:
        raise InventoryError(f"--from names {len(found)} hosts; at most {MAX_HOSTS}")
    return tuple(found.items())


def group(name: str, inventory: str = "") -> list[Vantage]:
    if not name:
        raise InventoryError("--from @GROUP needs a group name (@all for every host)")
    if inventory:
        text = _read(inventory)
        stripped = text.lstrip()
        if stripped.startswith("{"):
            return ansible_group(_json(text, inventory), name)
        if name != "all":
            raise InventoryError(
                f"{inventory} is a plain list of destinations: it has only the group @all"
            )
        return plain_hosts(text)
    return ansible_group(_run_ansible_inventory(), name)


def plain_hosts(text: str) -> list[Vantage]:
    hosts = []
    for line in text.splitlines():
        dest = line.split("#", 1)[0].strip()
        if dest:
            hosts.append((dest, dest))
    return hosts


def ansible_group(doc: Any, name: str) -> list[Vantage]:
    """The hosts of *name* and its children, as ``ansible-inventory --list`` prints them."""
    if not isinstance(doc, dict):
        raise InventoryError("the inventory is not ansible-inventory --list JSON (an object)")
    meta = doc.get("_meta", {})
    hostvars = meta.get("hostvars", {}) if isinstance(meta, dict) else {}
    if name not in doc and name != "all":
        groups = ", ".join(sorted(k for k in doc if k != "_meta")[:10])
        raise InventoryError(f"the inventory has no group {name!r} (groups: {groups})")
    hosts: dict[str, None] = {}
    _collect(doc, name, hosts, set())
    if name == "all" and not hosts and isinstance(hostvars, dict):
        hosts = dict.fromkeys(str(h) for h in hostvars)
    return [(host, _destination(host, hostvars.get(host, {}))) for host in hosts]


def _collect(doc: dict[str, Any], name: str, hosts: dict[str, None], seen: set[str]) -> None:
    if name in seen or len(seen) > 10000:
        return
    seen.add(name)
    entry = doc.get(name, {})
    if not isinstance(entry, dict):
        return
    for host in entry.get("hosts", []) if isinstance(entry.get("hosts"), list) else []:
        hosts.setdefault(str(host), None)
    for child in entry.get("children", []) if isinstance(entry.get("children"), list) else []:
        _collect(doc, str(child), hosts, seen)


def _destination(host: str, hostvars: Any) -> str:
    """``ssh://user@address:port`` from the host's variables (OpenSSH reads that form)."""
    values = hostvars if isinstance(hostvars, dict) else {}
    address = str(values.get("ansible_host") or host)
    user = str(values.get("ansible_user") or "")
    port = str(values.get("ansible_port") or "")
    if not user and not port:
        return address
    where = f"[{address}]" if ":" in address else address
    return f"ssh://{user + '@' if user else ''}{where}{':' + port if port else ''}"


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InventoryError(f"--inventory {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InventoryError(f"--inventory {path}: larger than {MAX_BYTES // 1024 // 1024} MiB")
    return data.decode("utf-8", "replace")


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InventoryError(f"--inventory {where}: not valid JSON ({exc})") from None


def _run_ansible_inventory(args: Sequence[str] = ()) -> Any:
    tool = find_user_program("ansible-inventory")
    if tool is None:
        raise InventoryError(
            "--from @GROUP needs --inventory FILE (ansible-inventory --list JSON, or a list "
            "of destinations) or ansible-inventory installed"
        )
    try:
        done = subprocess.run(
            [tool, "--list", *args],
            capture_output=True,
            timeout=ANSIBLE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InventoryError(f"ansible-inventory --list failed: {exc}") from None
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise InventoryError(f"ansible-inventory --list failed: {last[0][:200]}")
    return _json(done.stdout[:MAX_BYTES].decode("utf-8", "replace"), "ansible-inventory --list")


def inventory_path(path: str) -> str:
    """*path* when it is a readable file."""
    if not Path(path).is_file():
        raise InventoryError(f"--inventory {path}: no such file")
    return path
