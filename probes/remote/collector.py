"""The collector netmedic sends over SSH: it runs on the *other* host, not here.

``probes.remote.ssh`` sends this file's text on the standard input of
``ssh DEST python3 -`` with one line appended that calls :func:`main` with the
parameters, and reads back the one JSON document it prints.  So it must run on the
system ``python3`` of any Linux server: **standard library only, Python 3.8 syntax**
(annotations are strings, never evaluated).  It writes no file and starts nothing
that outlives it; every helper program is read-only, run by absolute path with an
argument list and a short timeout.

Two modes:

* ``server``: the far end of the connection.  Who listens on the port (sockets from
  /proc/net/tcp{,6}, owners from /proc/*/fd, their fd use and limit, cgroup), the
  connection states on the port, the unit files that name the port with their
  state and last log lines, containers publishing the port, input-side firewall
  rules (root: nft / iptables-save text, evaluated by netmedic), OOM kills from the
  kernel log and memory figures.
* ``client``: another vantage point.  Resolve the name, connect to each address,
  for TLS / HTTP targets the leaf certificate and the status line, and the path to
  each address the way tracepath finds it without root: UDP probes with rising TTLs
  on an ``IP_RECVERR`` socket, the routers' ICMP answers read from its error queue.

Everything it prints is untrusted on the netmedic side: capped, sanitised, parsed
as data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

SAFE_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin")
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
             "/lib/systemd/system")  # fmt: skip
MAX_TEXT = 200_000  # bytes of any one command's output kept
MAX_SOCKETS = 4000
LOG_LINES = 20
RUN_TIMEOUT_S = 4.0
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}  # fmt: skip


def program(name: str) -> str:
    for folder in SAFE_DIRS:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return ""


def run(args: list[str]) -> tuple[int, str]:
    """(exit status, stdout capped) of a read-only helper; -1 when it could not run."""
    env = {"PATH": ":".join(SAFE_DIRS), "LC_ALL": "C", "SYSTEMD_PAGER": "", "PAGER": "cat"}
    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return -1, ""
    return done.returncode, done.stdout[:MAX_TEXT].decode("utf-8", "replace")


def read(path: str, limit: int = MAX_TEXT) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


# -- sockets ------------------------------------------------------------------------


def _addr(hexaddr: str) -> tuple[str, int]:
    host, _, port = hexaddr.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        address = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # four little-endian 32-bit words
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        address = socket.inet_ntop(socket.AF_INET6, words)
        if address.startswith("::ffff:") and "." in address:
            address = address[7:]
    return address, int(port, 16)


def sockets(port: int) -> tuple[list[dict[str, object]], int]:
    """TCP sockets on *port* (either end) and every listener; and how many sockets exist."""
    out: list[dict[str, object]] = []
    total = 0
    for family, name in ((4, "/proc/net/tcp"), (6, "/proc/net/tcp6")):
        for line in read(name, 50_000_000).splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            total += 1
            local, remote = _addr(fields[1]), _addr(fields[2])
            state = TCP_STATES.get(fields[3], fields[3])
            if state != "LISTEN" and port not in (local[1], remote[1]):
                continue
            tx, _, rx = fields[4].partition(":")
            if len(out) < MAX_SOCKETS:
                out.append(
                    {
                        "family": family,
                        "state": state,
                        "laddr": local[0],
                        "lport": local[1],
                        "raddr": remote[0],
                        "rport": remote[1],
                        "rq": int(rx, 16),
                        "tq": int(tx, 16),
                        "uid": int(fields[7]),
                        "inode": int(fields[9]),
                    }
                )
    return out, total


def owners(inodes: set[int]) -> tuple[dict[str, list[int]], int]:
    """socket inode -> pids holding it, and how many processes could not be read."""
    found: dict[str, list[int]] = {}
    hidden = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            hidden += 1
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in inodes:
                    found.setdefault(str(inode), []).append(int(entry))
    return found, hidden


def process(pid: int) -> dict[str, object]:
    base = f"/proc/{pid}"
    argv = [a for a in read(f"{base}/cmdline", 4096).split("\0") if a]
    try:
        open_files = len(os.listdir(f"{base}/fd"))
    except OSError:
        open_files = -1
    soft = hard = -1
    for line in read(f"{base}/limits").splitlines():
        if line.startswith("Max open files"):
            parts = line.split()
            soft = _limit(parts[3]) if len(parts) > 4 else -1
            hard = _limit(parts[4]) if len(parts) > 4 else -1
    uid = -1
    for line in read(f"{base}/status").splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
    return {
        "pid": pid,
        "name": read(f"{base}/comm", 64).strip(),
        "argv": argv[:32],
        "uid": uid,
        "open_files": open_files,
        "fd_limit": soft,
        "fd_limit_hard": hard,
        "cgroup": read(f"{base}/cgroup", 8192),
    }


def _limit(text: str) -> int:
    return 0 if text == "unlimited" else int(text) if text.isdigit() else -1


def own_addresses() -> list[str]:
    """This host's addresses (IPv4 from fib_trie, IPv6 from if_inet6)."""
    found: list[str] = []
    last = ""
    for line in read("/proc/net/fib_trie").splitlines():
        text = line.strip()
        if text.startswith(("|--", "+--")):
            last = text.split()[-1]
        elif "/32 host LOCAL" in text and last and last not in found:
            found.append(last)
    for line in read("/proc/net/if_inet6").splitlines():
        raw = line.split()[0] if line.split() else ""
        if len(raw) == 32:
            found.append(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(raw)))
    return found


# -- what should serve the port -------------------------------------------------------


def unit_files(port: int) -> list[dict[str, str]]:
    """Unit files whose text names the port number (netmedic decides which really do)."""
    files: list[dict[str, str]] = []
    needle = re.compile(r"(?<!\d)" + str(port) + r"(?!\d)")
    for folder in UNIT_DIRS:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if not name.endswith((".service", ".socket")) or os.path.islink(path):
                continue
            text = read(path, 65536)
            if needle.search(text) and len(files) < 20:
                files.append({"path": path, "text": text})
    return files


def unit_state(unit: str) -> dict[str, object]:
    """State and last log lines of *unit*: from systemd when it runs, else from the log
    file the unit writes its output to (``StandardOutput=append:/path``)."""
    state: dict[str, object] = {"unit": unit, "systemd": False, "properties": {}, "log": []}
    systemctl = program("systemctl")
    if os.path.isdir("/run/systemd/system") and systemctl:
        keys = "ActiveState,SubState,Result,ExecMainStatus,NRestarts,StateChangeTimestampMonotonic"
        code, text = run([systemctl, "show", f"--property={keys}", "--", unit])
        if code == 0:
            state["systemd"] = True
            props = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
            state["properties"] = props
        journalctl = program("journalctl")
        if journalctl:
            args = [journalctl, "-u", unit, "-n", str(LOG_LINES), "--no-pager", "-o", "short-iso"]
            _code, text = run(args)
            state["log"] = text.splitlines()[-LOG_LINES:]
            state["log_source"] = "journal"
    if not state["log"]:
        for folder in UNIT_DIRS:
            text = read(os.path.join(folder, unit), 65536)
            match = re.search(r"(?m)^Standard(?:Output|Error)=(?:append|file):(/\S+)", text)
            if match:
                state["log"] = _tail(match.group(1))
                state["log_source"] = match.group(1)
                state["log_age_s"] = _age(match.group(1))
                break
    return state


def _tail(path: str) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-LOG_LINES:]


def _age(path: str) -> float:
    try:
        return max(0.0, time.time() - os.stat(path).st_mtime)
    except OSError:
        return -1.0


def containers(port: int) -> list[dict[str, object]]:
    """docker/podman containers publishing the port, with their last log lines."""
    found: list[dict[str, object]] = []
    for tool in ("docker", "podman"):
        path = program(tool)
        if not path:
            continue
        code, text = run([path, "ps", "-a", "--no-trunc", "--format", "{{json .}}"])
        if code != 0:
            continue
        for line in text.splitlines():
            try:
                box = json.loads(line)
            except ValueError:
                continue
            ports = str(box.get("Ports", ""))
            if f":{port}->" not in ports:
                continue
            name = str(box.get("Names", "")).split(",")[0]
            _code, logs = run([path, "logs", "--tail", str(LOG_LINES), "--", name])
            found.append(
                {
                    "runtime": tool,
                    "name": name,
                    "state": str(box.get("State", "")),
                    "status": str(box.get("Status", "")),
                    "ports": ports,
                    "log": logs.splitlines()[-LOG_LINES:],
                }
            )
    return found


# -- firewall, kernel log, memory ---------------------------------------------------------


def firewall() -> dict[str, str]:
    if os.geteuid() != 0:
        return {"note": "not root: the firewall rules cannot be read"}
    nft = program("nft")
    if nft:
        code, doc = run([nft, "-j", "list", "ruleset"])
        if code == 0 and doc.strip():
            _code, text = run([nft, "-a", "list", "ruleset"])
            return {"backend": "nft", "json": doc, "text": text}
    out = {"backend": "iptables"}
    for tool in ("iptables-save", "ip6tables-save"):
        path = program(tool)
        if path:
            _code, out[tool] = run([path])
    return out


def kernel_log() -> dict[str, object]:
    """Kernel log records about OOM kills (/dev/kmsg: root), with the clock they use."""
    records: list[str] = []
    readable = True
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return {"readable": False, "source": f"/dev/kmsg: {exc.strerror}", "records": []}
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == 32:  # EPIPE: overwritten while reading
                    continue
                break
            if not chunk:
                break
            if b"ill" in chunk or b"memory: usage" in chunk:
                records.append(chunk.decode("utf-8", "replace")[:2000])
    finally:
        os.close(fd)
    return {"readable": readable, "source": "/dev/kmsg", "records": records[-200:]}


def memory() -> dict[str, object]:
    values: dict[str, int] = {}
    for line in read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        digits = rest.split()
        if digits and digits[0].isdigit():
            values[key] = int(digits[0])
    oom_kills = -1
    for line in read("/proc/vmstat").splitlines():
        if line.startswith("oom_kill "):
            oom_kills = int(line.split()[1])
    return {
        "meminfo": values,
        "pressure": read("/proc/pressure/memory", 1000),
        "oom_kills": oom_kills,
    }


def collect_server(params: dict[str, object]) -> dict[str, object]:
    port = int(str(params["port"]))
    socks, total = sockets(port)
    wanted = {int(str(s["inode"])) for s in socks if s["lport"] == port and s["inode"]}
    held, hidden = owners(wanted)
    pids = sorted({pid for found in held.values() for pid in found})[:16]
    units = unit_files(port)
    named = [os.path.basename(f["path"]) for f in units]
    for pid in pids:
        match = re.search(r"/([^/]+\.service)(?:/|$)", read(f"/proc/{pid}/cgroup", 8192))
        if match:
            named.append(match.group(1))
    return {
        "mode": "server",
        "addresses": own_addresses(),
        "sockets": socks,
        "sockets_total": total,
        "owners": held,
        "owners_hidden": hidden,
        "processes": [process(pid) for pid in pids],
        "units": units,
        "unit_states": [unit_state(u) for u in list(dict.fromkeys(named))[:4]],
        "containers": containers(port),
        "firewall": firewall(),
        "kernel": kernel_log(),
        "memory": memory(),
    }


# -- client mode ------------------------------------------------------------------------


def collect_client(params: dict[str, object]) -> dict[str, object]:
    host, port = str(params["host"]), int(str(params["port"]))
    timeout = float(str(params.get("timeout", 3)))
    scheme = str(params.get("scheme", ""))
    out: dict[str, object] = {"mode": "client"}
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(i[4][0]) for i in infos))
        out["resolve"] = {"addresses": addresses, "error": ""}
    except socket.gaierror as exc:
        out["resolve"] = {"addresses": [], "error": str(exc)}
        return out
    out["resolve_ms"] = round((time.monotonic() - started) * 1000, 1)
    # The whole look fits in the budget netmedic gives (its per-host deadline): each
    # connect gets what is left, and addresses past it are told as not tried.
    deadline = started + float(str(params.get("budget", timeout * 4)))
    # The path is measured while the connects run: it waits for routers, they for SYNs.
    tracer = PathTracer(_first_per_family(addresses), min(deadline, time.monotonic() + PATH_TIME_S))
    attempts = []
    first_open = ""
    for address in addresses[:8]:
        left = deadline - time.monotonic()
        if left < 0.2:
            attempts.append({"address": address, "state": "not_tried", "error": "", "ms": 0.0})
            continue
        attempts.append(_connect(address, port, min(timeout, left)))
        if attempts[-1]["state"] in ("open", "refused"):
            tracer.port_answered(address)
        if attempts[-1]["state"] == "open" and not first_open:
            first_open = address
    out["tcp"] = attempts
    out["path"] = tracer.result()
    if first_open and scheme in ("https", "wss", "tls"):
        out["tls"] = _tls(first_open, port, host, timeout)
    if first_open and scheme in ("http", "https"):
        out["http"] = _http(first_open, port, host, str(params.get("path", "/")), scheme, timeout)
    return out


def _connect(address: str, port: int, timeout: float) -> dict[str, object]:
    started = time.monotonic()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    state, error = "open", ""
    try:
        sock.connect((address, port))
    except ConnectionRefusedError:
        state = "refused"
    except TimeoutError:
        state = "filtered"
    except OSError as exc:
        state = "unreachable" if exc.errno in (101, 113) else "error"
        error = exc.strerror or str(exc)
    finally:
        sock.close()
    ms = round((time.monotonic() - started) * 1000, 1)
    return {"address": address, "state": state, "error": error, "ms": ms}


# -- the path, as tracepath finds it without root ------------------------------------

PATH_HOPS = 16
PATH_ROUNDS = 2  # a hop silent in both rounds is told as silent
PATH_WAIT_S = 1.0  # per round, for the routers' answers
PATH_TIME_S = PATH_ROUNDS * PATH_WAIT_S + 0.5
# Once the address answered its port, hops still silent this long after are left silent:
# a server that drops UDP probes would otherwise cost every check both rounds.
PATH_SETTLE_S = 0.3
PATH_PORT = 33434  # traceroute's ports: each probe its own, so an answer names its TTL
# Not in the socket module of every Python (linux/in.h, in6.h, socket.h, errqueue.h).
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SOL_IPV6 = getattr(socket, "SOL_IPV6", 41)
EE_ORIGIN_LOCAL, EE_ORIGIN_ICMP, EE_ORIGIN_ICMP6 = 1, 2, 3
EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err, then the offender
ICMP_UNREACHABLE = {
    0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
    3: "port unreachable", 4: "fragmentation needed", 6: "net unknown", 7: "host unknown",
    9: "net administratively prohibited", 10: "host administratively prohibited",
    13: "administratively prohibited",
}  # fmt: skip
ICMP6_UNREACHABLE = {
    0: "no route", 1: "administratively prohibited", 3: "address unreachable",
    4: "port unreachable", 5: "source address failed policy", 6: "reject route",
}  # fmt: skip


def extended_error(raw: bytes) -> dict[str, object]:
    """struct sock_extended_err and the offender's address (SO_EE_OFFENDER) it carries."""
    errno_, origin, kind, code, _pad, info, _data = EXTENDED_ERR.unpack_from(raw)
    offender = ""
    rest = raw[EXTENDED_ERR.size :]
    if len(rest) >= 8:
        family = struct.unpack_from("=H", rest)[0]
        if family == socket.AF_INET:
            offender = socket.inet_ntop(socket.AF_INET, rest[4:8])
        elif family == socket.AF_INET6 and len(rest) >= 24:
            offender = socket.inet_ntop(socket.AF_INET6, rest[8:24])
    return {"errno": errno_, "origin": origin, "type": kind, "code": code, "info": info,
            "offender": offender}  # fmt: skip


def icmp_meaning(err: dict[str, object]) -> tuple[str, str]:
    """(what the answer means for the probe: hop | reached | unreachable | local, words)."""
    origin, kind, code = err["origin"], err["type"], err["code"]
    if origin == EE_ORIGIN_ICMP:
        if kind == 11:
            return "hop", "time exceeded"
        if kind == 3:
            words = ICMP_UNREACHABLE.get(int(str(code)), "unreachable")
            return ("reached" if code == 3 else "unreachable"), f"{words} (code {code})"
    elif origin == EE_ORIGIN_ICMP6:
        if kind == 3:
            return "hop", "time exceeded"
        if kind == 1:
            words = ICMP6_UNREACHABLE.get(int(str(code)), "unreachable")
            return ("reached" if code == 4 else "unreachable"), f"{words} (code {code})"
        if kind == 2:
            return "hop", "packet too big"
    return "local", os.strerror(int(str(err["errno"]))) if err["errno"] else "local error"


class _PathTo:
    """Probes toward one address: which TTL each port carried, and what came back."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.v6 = ":" in address
        self.sock = socket.socket(socket.AF_INET6 if self.v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            if self.v6:
                self.sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
            else:
                self.sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        except OSError:
            self.sock.close()
            raise
        self.sent: dict[int, tuple[int, float]] = {}  # port -> (TTL, sent at)
        self.hops: dict[int, tuple[str, float]] = {}  # TTL -> (who answered, ms)
        self.end = 0  # TTL of the destination's or an unreachable answer
        self.port_answered_at = 0.0  # set by the connect (main thread) when it got an answer
        self.outcome = ""
        self.detail = ""

    def send_round(self, n: int) -> None:
        for ttl in range(1, (self.end or PATH_HOPS) + 1):
            if ttl in self.hops:
                continue
            if self.v6:
                self.sock.setsockopt(SOL_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            else:
                self.sock.setsockopt(socket.SOL_IP, socket.IP_TTL, ttl)
            port = PATH_PORT + n * PATH_HOPS + ttl - 1
            self.sent[port] = (ttl, time.monotonic())
            try:
                self.send(port)
            except OSError as exc:  # no route from here, for one
                if not self.outcome:
                    self.outcome, self.detail = "error", exc.strerror or str(exc)
                return

    def send(self, port: int) -> None:
        # An ICMP answer already queued also sets the socket's pending error, which the
        # next send returns instead of sending: read the queue (it clears it) and retry.
        try:
            self.sock.sendto(b"netmedic path probe", (self.address, port))
        except OSError:
            self.drain()
            self.sock.sendto(b"netmedic path probe", (self.address, port))

    def drain(self) -> None:
        while True:
            try:
                _data, ancillary, _flags, where = self.sock.recvmsg(512, 512, MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = time.monotonic()
            probe = self.sent.get(where[1] if isinstance(where, tuple) and len(where) > 1 else 0)
            for level, kind, raw in ancillary:
                if probe and (level, kind) in (
                    (socket.SOL_IP, IP_RECVERR),
                    (SOL_IPV6, IPV6_RECVERR),
                ):
                    self.answer(probe[0], extended_error(raw), round((now - probe[1]) * 1000, 2))

    def answer(self, ttl: int, err: dict[str, object], ms: float) -> None:
        meaning, words = icmp_meaning(err)
        if meaning == "local":
            if not self.outcome:
                self.outcome, self.detail = "error", words
            return
        if ttl not in self.hops:
            self.hops[ttl] = (str(err["offender"]), ms)
        if meaning == "hop" or (self.end and ttl >= self.end):
            return
        self.end = ttl
        reached = meaning == "reached" and err["offender"] == self.address
        self.outcome = "reached" if reached else "unreachable"
        self.detail = words if meaning != "reached" or reached else f"{words} from another host"

    def waiting(self) -> bool:
        if self.outcome == "error":
            return False
        if self.port_answered_at and time.monotonic() - self.port_answered_at >= PATH_SETTLE_S:
            return False
        return not self.end or any(t not in self.hops for t in range(1, self.end))

    def result(self) -> dict[str, object]:
        self.sock.close()
        answered = sorted(self.hops)
        last = self.end or min(PATH_HOPS, answered[-1] + 1 if answered else 1)
        if self.outcome == "error":  # nothing went out past the last answer
            last = answered[-1] if answered else 0
        hops = [{"ttl": t, "address": self.hops[t][0], "ms": self.hops[t][1]}
                if t in self.hops else {"ttl": t, "address": "", "ms": 0.0}
                for t in range(1, last + 1)]  # fmt: skip
        outcome, stopped = self.outcome, self.end
        if not outcome:
            outcome, stopped = "silent", answered[-1] if answered else 0
            if self.port_answered_at:
                self.detail = "the address answered its port: the probes die past the last hop"
        return {"address": self.address, "protocol": "udp", "clock": "collector",
                "outcome": outcome, "detail": self.detail, "stopped_at": stopped,
                "hops": hops}  # fmt: skip


def _first_per_family(addresses: list[str]) -> list[str]:
    """The first IPv4 and the first IPv6 address: routers answer a host's probes at a
    few per second (Linux: a burst of 6, then 1/s), so more paths at once mute hops."""
    first = {":" in a: a for a in reversed(addresses)}
    return [a for a in addresses if first.get(":" in a) == a]


class PathTracer:
    """The paths to every address at once, in a thread, done by *deadline*."""

    def __init__(self, addresses: list[str], deadline: float) -> None:
        self.paths: list[_PathTo] = []
        self.failed: list[dict[str, object]] = []
        for address in addresses:
            try:
                self.paths.append(_PathTo(address))
            except OSError as exc:
                self.failed.append({"address": address, "outcome": "error", "hops": [],
                                    "detail": exc.strerror or str(exc)})  # fmt: skip
        self.deadline = deadline
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            self.rounds()
        except Exception as exc:  # told in the document, never a traceback on the wire
            for path in self.paths:
                path.outcome, path.detail = path.outcome or "error", f"{type(exc).__name__}: {exc}"

    def rounds(self) -> None:
        for n in range(PATH_ROUNDS):
            for path in self.paths:
                if path.waiting():
                    path.send_round(n)
            round_end = min(self.deadline, time.monotonic() + PATH_WAIT_S)
            while any(p.waiting() for p in self.paths):
                left = round_end - time.monotonic()
                if left <= 0:
                    break
                # Short waits: a connect may settle a path meanwhile.
                ready, _w, _x = select.select([p.sock for p in self.paths], [], [], min(left, 0.1))
                for path in self.paths:
                    if path.sock in ready:
                        path.drain()
            if time.monotonic() >= self.deadline:
                return

    def port_answered(self, address: str) -> None:
        for path in self.paths:
            if path.address == address:
                path.port_answered_at = time.monotonic()

    def result(self) -> list[dict[str, object]]:
        self.thread.join(max(0.0, self.deadline - time.monotonic()) + 0.5)
        return [p.result() for p in self.paths] + self.failed


def _tls(address: str, port: int, host: str, timeout: float) -> dict[str, object]:
    name = "" if _is_ip(host) else host
    result: dict[str, object] = {"address": address, "verified": False, "verify_error": ""}
    for verify in (True, False):
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            # Nested, not one parenthesised with: the collector is Python 3.8.
            with socket.create_connection((address, port), timeout) as raw:  # noqa: SIM117
                with context.wrap_socket(raw, server_hostname=name or None) as tls:
                    der = tls.getpeercert(binary_form=True) or b""
                    result["version"] = tls.version() or ""
        except ssl.SSLCertVerificationError as exc:
            result["verify_error"] = str(exc.verify_message or exc)
            continue
        except (OSError, ssl.SSLError) as exc:
            result["error"] = str(exc)
            return result
        digest = hashlib.sha256(der).hexdigest().upper()
        result["leaf_sha256"] = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
        result["verified"] = verify
        return result
    return result


def _http(
    address: str, port: int, host: str, path: str, scheme: str, timeout: float
) -> dict[str, object]:
    authority = host if port in (80, 443) else f"{host}:{port}"
    request = (
        f"GET {path or '/'} HTTP/1.1\r\nHost: {authority}\r\n"
        "User-Agent: netmedic-vantage\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")
    try:
        with socket.create_connection((address, port), timeout) as raw:
            sock = raw
            if scheme == "https":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(raw, server_hostname=None if _is_ip(host) else host)
            sock.sendall(request)
            head = sock.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
    except (OSError, ssl.SSLError) as exc:
        return {"status": 0, "error": str(exc)}
    parts = head.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return {"status": 0, "error": f"not an HTTP status line: {head[:80]}"}
    return {"status": int(parts[1]), "reason": parts[2] if len(parts) > 2 else ""}


def _is_ip(text: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except OSError:
            continue
    return False


def main(params: dict[str, object]) -> None:
    started = time.monotonic()
    doc: dict[str, object] = {
        "netmedic_collector": 1,
        "hostname": socket.gethostname(),
        "uid": os.geteuid(),
        "python": sys.version.split()[0],
        "monotonic": time.monotonic(),
    }
    try:
        if params.get("mode") == "client":
            doc.update(collect_client(params))
        else:
            doc.update(collect_server(params))
    except Exception as exc:  # report, never a traceback on the wire
        doc["error"] = f"{type(exc).__name__}: {exc}"
    doc["collect_s"] = round(time.monotonic() - started, 3)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
