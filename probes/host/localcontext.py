"""Local context for a support bundle: what this host says about the target.

resolv.conf, the hosts-file lines naming the target, ``ip route get`` to each
address, listeners on the target port (``ss``), and the proxy variables.
Subprocesses take argument lists (never a shell) with a deadline; a missing
tool or file becomes a line of text saying so.  The caller redacts.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from probes.core.programs import find_program, safe_env
from probes.core.redact import PROXY_VARIABLES, redact_env

COMMAND_TIMEOUT_S = 3.0
MAX_OUTPUT = 256 * 1024
MAX_FILE_BYTES = 1 << 20  # larger than any config file a person wrote


@dataclass(frozen=True, slots=True)
class ContextFile:
    name: str  # file name inside the bundle's context/ folder
    text: str


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    """``$ argv`` followed by its output, or why it could not run."""
    shown = "$ " + shlex.join(argv)
    exe = find_program(argv[0])
    if exe is None:
        return f"{shown}\n({argv[0]} is not installed)\n"
    try:
        proc = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=safe_env(),
        )
    except subprocess.TimeoutExpired:
        return f"{shown}\n(no answer within {timeout:g}s)\n"
    except OSError as exc:
        return f"{shown}\n(could not run: {exc.strerror or exc})\n"
    out = proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    err = proc.stderr[:MAX_OUTPUT].decode("utf-8", "replace")
    tail = f"(exit status {proc.returncode})\n" if proc.returncode else ""
    return f"{shown}\n{out}{err}{tail}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(MAX_FILE_BYTES)
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})\n"


def hosts_lines(text: str, host: str) -> list[str]:
    """Lines of a hosts file that name *host* (or give it as the address)."""
    wanted = host.lower().rstrip(".").strip("[]")
    found = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and any(f.lower().rstrip(".") == wanted for f in fields):
            found.append(line)
    return found


def _addresses(addresses: Sequence[str]) -> list[str]:
    valid = []
    for address in addresses:
        try:
            valid.append(str(ipaddress.ip_address(address.split("%", 1)[0])))
        except ValueError:
            continue
    return valid


def collect(
    host: str,
    port: int | None,
    addresses: Sequence[str],
    *,
    resolv_conf: str = "/etc/resolv.conf",
    hosts_file: str = "/etc/hosts",
    env: Mapping[str, str] | None = None,
) -> list[ContextFile]:
    env = os.environ if env is None else env
    files = [ContextFile("resolv.conf", _read(resolv_conf))]
    hosts_text = _read(hosts_file)
    lines = hosts_lines(hosts_text, host) if not hosts_text.startswith("(cannot") else [hosts_text]
    files.append(
        ContextFile(
            "hosts.txt",
            f"# lines of {hosts_file} naming {host}\n"
            + ("\n".join(lines) + "\n" if lines else "(none)\n"),
        )
    )
    # iproute2 does not accept "--" before the address; only validated addresses reach it.
    routes = [run_command(["ip", "route", "get", a]) for a in _addresses(addresses)]
    files.append(ContextFile("route.txt", "\n".join(routes) or "(no address to route to)\n"))
    listeners = run_command(["ss", "-tlnp", f"sport = :{port}"]) if port else "(no port)\n"
    files.append(ContextFile("listeners.txt", listeners))
    proxies = redact_env({k: env[k] for k in PROXY_VARIABLES if k in env})
    text = "".join(f"{k}={v}\n" for k, v in proxies.items()) or "(no proxy variables set)\n"
    files.append(ContextFile("proxy-env.txt", text))
    return files
