"""This host's own firewall: which output-path rules drop or reject the target.

Read-only.  ``nft -j list ruleset`` (rule text and handles from ``nft -a list
ruleset``), falling back to ``iptables-save`` / ``ip6tables-save``.  Only the
path of packets this host sends counts (chains on the output and postrouting
hooks, and the chains they jump to); the forward path is other hosts' traffic.
Each base chain is walked in order for a new TCP connection to the target's
address and port: the first rule that decides (accept, drop, reject) wins, and
a chain's drop policy counts when no rule decided.  A match this reader does
not understand (interface names, marks, sets by name...) is assumed to match
and the rule is marked ``certain=False``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import shlex
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.programs import find_program, safe_env
from probes.core.sanitize import clean_text

_OUTPUT_HOOKS = ("output", "postrouting")
# A server's side of the connection (probes.remote): what arrives for its port.
INPUT_HOOKS = ("prerouting", "input")
_MAX_DEPTH = 16  # jumps followed from a base chain
RUN_TIMEOUT_S = 3.0

Ip = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class FirewallRule:
    """One rule (or a chain's policy) that drops or rejects the target's traffic."""

    backend: str  # nft | iptables | ip6tables
    family: str  # nft family (ip, ip6, inet) or 4 / 6 for iptables
    table: str
    chain: str
    handle: int  # nft rule handle; iptables: rule number in the chain (0: the policy)
    verdict: str  # drop | reject
    text: str  # the rule as the tool prints it
    address: str  # which target address it blocks
    certain: bool = True  # False: a match we cannot evaluate was assumed to match

    @property
    def inspect_command(self) -> str:
        # Table and chain names come from the ruleset: quoted like any other value.
        if self.backend == "nft":
            return shlex.join(["nft", "-a", "list", "chain", self.family, self.table, self.chain])
        tool = "ip6tables" if self.backend == "ip6tables" else "iptables"
        return shlex.join([tool, "-t", self.table, "-L", self.chain, "-n", "-v", "--line-numbers"])

    @property
    def where(self) -> str:
        if self.backend == "nft":
            what = f"handle {self.handle}" if self.handle else "policy"
            return f"table {self.family} {self.table}, chain {self.chain}, {what}"
        what = f"rule {self.handle}" if self.handle else "policy"
        return f"{self.backend} table {self.table}, chain {self.chain}, {what}"


@dataclass(frozen=True, slots=True)
class FirewallData:
    backend: str  # nft | iptables | none
    port: int
    addresses: tuple[str, ...]
    rules: tuple[FirewallRule, ...]  # the rules that block the target
    chains: tuple[str, ...]  # the output-path base chains read
    note: str = ""


def find_tool(name: str) -> str | None:
    """*name* by absolute path from the system directories only."""
    return find_program(name)


async def run_tool(args: list[str], timeout: float = RUN_TIMEOUT_S) -> tuple[int, str, str]:
    """Run a read-only command (argument list, safe environment, deadline)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=safe_env(),
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def probe_firewall(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("firewall", Status.SKIPPED, 0.0, "skipped: no address to check")
        return
    if os.geteuid() != 0:
        text = "skipped: reading this host's firewall rules needs root"
        yield ProbeResult("firewall", Status.SKIPPED, time.monotonic() - started, text)
        return
    port = ctx.target.port
    addresses = resolution.addresses
    try:
        data = await _read(addresses, port, max(0.5, min(RUN_TIMEOUT_S, ctx.config.timeout)))
    except (OSError, TimeoutError, ValueError) as exc:
        text = f"could not read the firewall rules: {clean_text(str(exc) or type(exc).__name__)}"
        err = ProbeError(type(exc).__name__, text)
        yield ProbeResult("firewall", Status.ERROR, time.monotonic() - started, text, error=err)
        return
    elapsed = time.monotonic() - started
    if data is None:
        text = "skipped: neither nft nor iptables-save is installed"
        yield ProbeResult("firewall", Status.SKIPPED, elapsed, text)
        return
    if data.rules:
        first = data.rules[0]
        text = (
            f"this host's firewall {first.verdict}s TCP to {first.address}:{port} ({first.where})"
        )
        err = ProbeError("LOCAL_FIREWALL", f"{text}: {first.text}")
        yield ProbeResult("firewall", Status.FAILED, elapsed, text, data, err)
        return
    text = f"no {data.backend} output rule drops or rejects TCP to port {port}"
    yield ProbeResult("firewall", Status.OK, elapsed, text, data)


async def _read(addresses: Iterable[str], port: int, timeout: float) -> FirewallData | None:
    targets = [ip for ip in (_ip(a) for a in addresses) if ip is not None]
    nft = find_tool("nft")
    if nft is not None:
        code, out, err = await run_tool([nft, "-j", "list", "ruleset"], timeout)
        if code != 0:
            raise OSError(f"nft -j list ruleset failed: {err.strip()[:200]}")
        _code, text, _err = await run_tool([nft, "-a", "list", "ruleset"], timeout)
        ruleset = NftRuleset(json.loads(out or "{}"), nft_rule_texts(text))
        rules, bases = ruleset.blocking(targets, port)
        return FirewallData("nft", port, tuple(map(str, targets)), rules, bases)
    found: list[FirewallRule] = []
    chains: list[str] = []
    used = False
    for tool, version in (("iptables-save", 4), ("ip6tables-save", 6)):
        path = find_tool(tool)
        family_targets = [t for t in targets if t.version == version]
        if path is None:
            continue
        used = True
        code, out, err = await run_tool([path], timeout)
        if code != 0:
            raise OSError(f"{tool} failed: {err.strip()[:200]}")
        ipt_rules, read = iptables_blocking(out, family_targets, port, version)
        found += ipt_rules
        chains += read
    if not used:
        return None
    return FirewallData("iptables", port, tuple(map(str, targets)), tuple(found), tuple(chains))


def _ip(text: str) -> Ip | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


# --- nftables -----------------------------------------------------------------------

_HANDLE = re.compile(r"\s# handle (\d+)$")


def nft_rule_texts(listing: str) -> dict[tuple[str, str, str, int], str]:
    """(family, table, chain, handle) -> rule text, from ``nft -a list ruleset``."""
    texts: dict[tuple[str, str, str, int], str] = {}
    family = table = chain = ""
    for raw in listing.splitlines():
        line = raw.strip()
        if line.startswith("table "):
            parts = line.split()
            family, table = parts[1], parts[2]
        elif line.startswith("chain "):
            chain = line.split()[1]
        elif (m := _HANDLE.search(line)) and chain:
            texts[(family, table, chain, int(m.group(1)))] = clean_text(line[: m.start()], 300)
        elif line == "}":
            chain = "" if chain else chain
    return texts


class NftRuleset:
    def __init__(
        self,
        document: dict[str, Any],
        texts: dict[tuple[str, str, str, int], str],
        hooks: tuple[str, ...] = _OUTPUT_HOOKS,
    ):
        self.texts = texts
        self.hooks = hooks
        self.chains: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rules: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for item in document.get("nftables", []):
            if not isinstance(item, dict):
                continue
            if "chain" in item:
                c = item["chain"]
                self.chains[(c["family"], c["table"], c["name"])] = c
            elif "rule" in item:
                r = item["rule"]
                self.rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)

    def base_chains(self) -> list[tuple[str, str, str]]:
        return [
            key
            for key, c in self.chains.items()
            if c.get("hook") in self.hooks and c.get("type", "filter") in ("filter", "route")
        ]

    def blocking(
        self, targets: list[Ip], port: int
    ) -> tuple[tuple[FirewallRule, ...], tuple[str, ...]]:
        found: list[FirewallRule] = []
        bases = self.base_chains()
        for key in bases:
            family = key[0]
            for ip in targets:
                if (family == "ip" and ip.version != 4) or (family == "ip6" and ip.version != 6):
                    continue
                if family not in ("ip", "ip6", "inet"):
                    continue
                hit = self._walk(key, ip, port, True, 0)
                if hit is not None:
                    found.append(hit)
                elif self.chains[key].get("policy") == "drop":
                    found.append(self._policy(key, ip))
        names = tuple(f"{f} {t} {c} (hook {self.chains[(f, t, c)]['hook']})" for f, t, c in bases)
        return tuple(found), names

    def _policy(self, key: tuple[str, str, str], ip: Ip) -> FirewallRule:
        family, table, chain = key
        text = f"chain {chain} {{ type filter hook {self.chains[key]['hook']} ... policy drop; }}"
        return FirewallRule("nft", family, table, chain, 0, "drop", text, str(ip))

    def _walk(
        self, key: tuple[str, str, str], ip: Ip, port: int, certain: bool, depth: int
    ) -> FirewallRule | None:
        """The rule deciding to drop/reject in *key* (None: accepted or fell through)."""
        if depth > _MAX_DEPTH:
            return None
        for rule in self.rules.get(key, []):
            outcome = _nft_match(rule.get("expr", []), ip, port)
            if outcome is None:
                continue
            sure = certain and outcome
            verdict = _nft_verdict(rule.get("expr", []))
            if verdict is None:
                continue
            kind, target = verdict
            if kind == "accept" and sure:
                return None
            if kind in ("drop", "reject"):
                family, table, chain = key
                handle = int(rule.get("handle", 0))
                text = self.texts.get((family, table, chain, handle), f"{kind} (handle {handle})")
                return FirewallRule("nft", family, table, chain, handle, kind, text, str(ip), sure)
            if kind in ("jump", "goto") and target:
                sub = (key[0], key[1], target)
                hit = self._walk(sub, ip, port, sure, depth + 1)
                if hit is not None or kind == "goto":
                    return hit
            if kind == "return" and sure:
                return None
        return None


_VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return")


def _nft_verdict(exprs: list[Any]) -> tuple[str, str] | None:
    for e in exprs:
        if isinstance(e, dict):
            for kind in _VERDICTS:
                if kind in e:
                    value = e[kind]
                    target = value.get("target", "") if isinstance(value, dict) else ""
                    return kind, str(target)
    return None


def _nft_match(exprs: list[Any], ip: Ip, port: int) -> bool | None:
    """None: the rule cannot match a new TCP connection to ip:port; True: it
    matches; False: it may match (a condition we cannot evaluate)."""
    certain = True
    for e in exprs:
        if not isinstance(e, dict) or "match" not in e:
            continue
        m = e["match"]
        result = _one_match(m.get("left"), m.get("right"), ip, port)
        if result is None:
            certain = False
            continue
        if m.get("op", "==") == "!=":
            result = not result
        if not result:
            return None
    return certain


def _one_match(left: Any, right: Any, ip: Ip, port: int) -> bool | None:
    if not isinstance(left, dict):
        return None
    if "payload" in left:
        proto = left["payload"].get("protocol")
        fld = left["payload"].get("field")
        if fld == "daddr" and proto in ("ip", "ip6"):
            if (proto == "ip") != (ip.version == 4):
                return False
            return _contains(right, lambda v: _addr_in(ip, v))
        if fld == "saddr" and proto in ("ip", "ip6"):
            return False if (proto == "ip") != (ip.version == 4) else None
        if proto in ("tcp", "th") and fld == "dport":
            return _contains(right, lambda v: _port_in(port, v))
        if proto in ("udp", "sctp", "icmp", "icmpv6", "udplite", "dccp"):
            return False
        if proto in ("tcp", "th"):
            return None
        return None
    if "meta" in left:
        key = left["meta"].get("key")
        if key in ("l4proto", "protocol"):
            want = "tcp" if key == "l4proto" else ("ip" if ip.version == 4 else "ip6")
            return _contains(right, lambda v: v in (want, 6 if key == "l4proto" else want))
        if key == "nfproto":
            return _contains(right, lambda v: v == ("ipv4" if ip.version == 4 else "ipv6"))
        return None
    if "ct" in left and left["ct"].get("key") == "state":
        return _contains(right, lambda v: v == "new")
    return None


def _contains(right: Any, test: Any) -> bool | None:
    if isinstance(right, dict) and "set" in right:
        right = right["set"]
    if isinstance(right, list):
        results = [_contains(v, test) for v in right]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if isinstance(right, dict) and "range" in right:
        return bool(test(right))
    if isinstance(right, dict) and "prefix" in right:
        return bool(test(right))
    if isinstance(right, str | int):
        return bool(test(right))
    return None


def _addr_in(ip: Ip, value: Any) -> bool:
    try:
        if isinstance(value, dict) and "prefix" in value:
            net = ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}", False)
            return ip in net
        if isinstance(value, dict) and "range" in value:
            lo, hi = (ipaddress.ip_address(v) for v in value["range"])
            return lo <= ip <= hi  # type: ignore[operator]
        return ip == ipaddress.ip_address(str(value))
    except (ValueError, TypeError, KeyError):
        return False


def _port_in(port: int, value: Any) -> bool:
    if isinstance(value, dict) and "range" in value:
        lo, hi = value["range"]
        return int(lo) <= port <= int(hi)
    try:
        return int(value) == port
    except (TypeError, ValueError):
        return False


# --- iptables -----------------------------------------------------------------------


def iptables_blocking(
    save: str,
    targets: list[Ip],
    port: int,
    version: int,
    bases: tuple[str, ...] = ("OUTPUT", "POSTROUTING"),
) -> tuple[list[FirewallRule], list[str]]:
    """Rules of ``iptables-save`` output that drop/reject TCP to the targets."""
    backend = "iptables" if version == 4 else "ip6tables"
    tables: dict[str, dict[str, list[str]]] = {}
    policies: dict[tuple[str, str], str] = {}
    table = ""
    for raw in save.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
            tables.setdefault(table, {})
        elif line.startswith(":") and table:
            name, policy = line[1:].split()[:2]
            tables[table].setdefault(name, [])
            policies[(table, name)] = policy
        elif line.startswith("-A ") and table:
            chain = line.split()[1]
            tables[table].setdefault(chain, []).append(line)
    found: list[FirewallRule] = []
    read: list[str] = []
    for tname in ("filter", "mangle", "raw", "security"):
        chains = tables.get(tname, {})
        for base in bases:
            if base not in chains:
                continue
            read.append(f"{backend} {tname} {base}")
            for ip in targets:
                hit = _ipt_walk(chains, tname, base, ip, port, backend, True, 0)
                if hit is not None:
                    found.append(hit)
                elif policies.get((tname, base)) == "DROP":
                    text = f":{base} DROP"
                    found.append(
                        FirewallRule(backend, str(version), tname, base, 0, "drop", text, str(ip))
                    )
    return found, read


def _ipt_walk(
    chains: dict[str, list[str]],
    table: str,
    chain: str,
    ip: Ip,
    port: int,
    backend: str,
    certain: bool,
    depth: int,
) -> FirewallRule | None:
    if depth > _MAX_DEPTH:
        return None
    for number, line in enumerate(chains.get(chain, []), start=1):
        outcome = _ipt_match(line.split()[2:], ip, port)
        if outcome is None:
            continue
        sure = certain and outcome
        parts = line.split()
        target = parts[parts.index("-j") + 1] if "-j" in parts[:-1] else ""
        if target == "ACCEPT" and sure:
            return None
        if target in ("DROP", "REJECT"):
            text = clean_text(line, 300)
            return FirewallRule(
                backend, str(ip.version), table, chain, number, target.lower(), text, str(ip), sure
            )
        if target in chains:
            hit = _ipt_walk(chains, table, target, ip, port, backend, sure, depth + 1)
            if hit is not None:
                return hit
        if target == "RETURN" and sure:
            return None
    return None


def _ipt_match(args: list[str], ip: Ip, port: int) -> bool | None:
    certain = True
    i = 0
    while i < len(args):
        arg = args[i]
        negate = arg == "!"
        if negate:
            i += 1
            arg = args[i] if i < len(args) else ""
        value = args[i + 1] if i + 1 < len(args) else ""
        result: bool | None
        if arg == "-j":
            break
        if arg in ("-d", "--destination"):
            try:
                result = ip in ipaddress.ip_network(value, strict=False)
            except ValueError:
                result = None
        elif arg in ("-p", "--protocol"):
            result = value in ("tcp", "6", "all")
        elif arg in ("--dport", "--destination-port"):
            lo, _, hi = value.partition(":")
            result = int(lo or 0) <= port <= int(hi or lo or 65535) if lo or hi else None
        elif arg == "--dports":
            result = any(
                int(a) <= port <= int(b or a)
                for a, _, b in (p.partition(":") for p in value.split(","))
            )
        elif arg in ("-m", "--match"):
            i += 2
            continue
        elif arg == "--state" or arg == "--ctstate":
            result = "NEW" in value.split(",")
        elif arg.startswith("-"):
            result = None
        else:
            i += 1
            continue
        if result is None:
            certain = False
        elif result == negate:
            return None
        i += 2
    return certain
