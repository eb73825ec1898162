"""Suggested commands are code: hostile evidence never escapes its quoting.

Every probe's data class is built with shell metacharacters and newlines in
every text field (names, paths, banners, headers, certificate names, proxy
variables, process names, resolver addresses), over the states and status
codes its module defines, and every rule in ``engine.RULES`` runs over it.
Every ``NextStep.command`` must parse with ``shlex``, and a hostile value must
come back whole inside one word: never a command word of its own.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import shlex
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest

from probes.core.model import Finding, ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import engine
from probes.diagnosis.evidence import Evidence, q

HOSTILE = "h;PWN1|PWN2&PWN3$(PWN4)`PWN5`'PWN6\"PWN7<PWN8>PWN9\nPWN10 PWN11\\PWN12"
# Text fields that select a rule's branch: tried with every constant of the module.
CHOICE_FIELDS = {"state", "kind", "phase", "rcode", "status", "verdict", "backend", "service",
                 "mode", "failure", "starttls", "hangup_when", "proto", "family", "source"}  # fmt: skip
CODES = (101, 200, 301, 401, 403, 404, 407, 429, 500, 502, 503, 504)


def _constants(cls: type) -> list[str]:
    module = sys.modules[cls.__module__]
    found = {v for v in vars(module).values() if isinstance(v, str) and v.isidentifier()}
    for value in vars(module).values():
        if isinstance(value, tuple | frozenset) and all(isinstance(v, str) for v in value):
            found.update(v for v in value if v.isidentifier())
    return sorted(v for v in found if len(v) < 40 and not v.startswith("_"))


def build(tp: Any, name: str = "", choice: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value of type *tp* with hostile text everywhere *choice* does not decide."""
    choice = choice or {}
    origin = typing.get_origin(tp)
    if name in choice and (tp is str or tp is int):
        return choice[name]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return build(args[0], name, choice, depth)
    if origin is tuple:
        items = typing.get_args(tp)
        if len(items) == 2 and items[1] is Ellipsis:
            return (build(items[0], name, choice, depth), build(items[0], name, {}, depth))
        return tuple(build(a, name, choice, depth) for a in items)
    if origin in (list, set, frozenset):
        return origin([build(typing.get_args(tp)[0], name, choice, depth)])
    if origin is dict:
        key, value = typing.get_args(tp)
        return {build(key, "", {}, depth): build(value, name, {}, depth)}
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if tp is str:
        return HOSTILE
    if tp is bool:
        return bool(choice.get("__bool__", True))
    if tp is int:
        return 1
    if tp is float:
        return float(choice.get("__float__", 1.0))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type) and depth < 6:
        hints = typing.get_type_hints(tp)
        inner = {k: v for k, v in choice.items() if k.startswith("__")}
        return tp(**{f.name: build(hints[f.name], f.name, inner, depth + 1)
                     for f in dataclasses.fields(tp) if f.init})  # fmt: skip
    if tp is object or tp is Any:
        return HOSTILE
    return None


def variants(cls: type) -> Iterator[Any]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name in CHOICE_FIELDS]
    texts = [n for n in names if hints[n] is str]
    codes = [n for n in names if hints[n] is int]
    constants = _constants(cls)
    for flag, number in itertools.product((True, False), (1.0, -5.0, 40.0)):
        common = {"__bool__": flag, "__float__": number}
        yield build(cls, choice=common)
        for field, value in itertools.product(texts, constants):
            for code in CODES if codes else (None,):
                chosen: dict[str, Any] = {**common, field: value}
                if code is not None:
                    chosen.update(dict.fromkeys(codes, code))
                yield build(cls, choice=chosen)


def discover() -> dict[str, type]:
    """Which data class each probe's rules ask for (by watching Evidence.data)."""
    asked: dict[str, type] = {}
    original = Evidence.data

    def watching(self: Evidence, probe: str, kind: type[Any]) -> Any:
        asked.setdefault(probe, kind)
        return original(self, probe, kind)

    Evidence.data = watching  # type: ignore[method-assign]
    try:
        for _ in range(4):  # a rule may ask for a second probe only once the first is there
            results = {p: _result(p, build(k)) for p, k in asked.items()}
            _run_rules(Evidence(TARGET, results))
    finally:
        Evidence.data = original  # type: ignore[method-assign]
    return asked


def _result(probe: str, data: Any, status: Status = Status.FAILED) -> ProbeResult:
    return ProbeResult(probe, status, 0.1, HOSTILE, data)


def _run_rules(ev: Evidence) -> list[tuple[str, Finding]]:
    found = []
    for rule in engine.RULES:
        for finding in rule(ev):
            found.append((rule.__name__, finding))
    return found


TARGET = dataclasses.replace(
    parse_target("https://user@h.test:8443/x"),
    input=f"https://h.test:8443/{HOSTILE}",
    path=f"/{HOSTILE}",
    username=HOSTILE,
)


def assert_safe(command: str, where: str) -> None:
    shlex.split(command)  # a command that does not even parse is wrong already
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    for word in lexer:
        if "PWN" in word:
            assert "PWN1" in word and "PWN12" in word, f"{where}: {word!r} split out of {command!r}"


def test_q_round_trips_every_hostile_value() -> None:
    for value in (HOSTILE, "", "-rf", "a b", "'", "\n", "$HOME", "x;id>pwn7;"):
        assert shlex.split(f"echo {q(value)}") == ["echo", value]


def test_every_rule_quotes_hostile_evidence() -> None:
    kinds = discover()
    assert len(kinds) >= 10, kinds
    fired: set[str] = set()
    checked = 0
    safe: set[str] = set()  # commands already lexed: most repeat across variants
    for probe, cls in kinds.items():
        base = {p: _result(p, build(k)) for p, k in kinds.items() if p != probe}
        for data in variants(cls):
            for status in (Status.FAILED, Status.OK):
                ev = Evidence(TARGET, {**base, probe: _result(probe, data, status)})
                for rule, finding in _run_rules(ev):
                    for step in finding.next_steps:
                        if step.command:
                            if step.command not in safe:
                                assert_safe(step.command, f"{rule} ({finding.id})")
                                safe.add(step.command)
                            checked += 1
                            if "PWN" in step.command:
                                fired.add(rule)
    with_values = {r.__name__ for r in engine.RULES} & fired
    print(f"{checked} commands checked ({len(safe)} distinct); rules that put hostile values in a command: "
          f"{len(with_values)} of {len(engine.RULES)}")  # fmt: skip
    assert checked > 1000
    # Measured: 9 rules carry a hostile value into a command; the host name itself is
    # validated by parse_target, so most commands only ever quote a clean host.
    assert len(with_values) >= 9, sorted(with_values)


def _proxy_commands(proxy: str, state: str) -> list[str]:
    from probes.diagnosis import proxy_rules
    from probes.proto.proxy import ProxyData

    data = ProxyData(
        (("HTTPS_PROXY", proxy),), True, "HTTPS_PROXY", proxy, state=state,
        detail="connection refused", method="CONNECT",
    )  # fmt: skip
    ev = Evidence(parse_target("https://api.example.test/"), {"proxy": _result("proxy", data)})
    return [
        step.command
        for rule in proxy_rules.RULES
        for finding in rule(ev)
        for step in finding.next_steps
        if step.command
    ]


def _shell_words(command: str) -> list[str]:
    """Words as a shell reads them: ; | & < > ( ) end a word unless quoted."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


_OPERATORS = {";", "|", "&", ">", "<", "(", ")", ";;", "&&", "||", ">>"}


@pytest.mark.parametrize(
    "proxy", ["http://x;id>pwn7;:3128", "http://x$(id):3128", "http://`id`/", "x;id"]
)
@pytest.mark.parametrize("state", ["unreachable", "auth_required", "upstream_failed", "failed"])
def test_the_proxy_step_of_issue_18(proxy: str, state: str) -> None:
    """HTTPS_PROXY='http://x;id>pwn7;:3128' once made the step `nc -zv x;id>pwn7; 3128`:
    pasted, it ran `id` as root.  The hostile proxy adds no shell operator and no word
    of its own to any command (compared with the same step for a clean proxy)."""
    hostile = _proxy_commands(proxy, state)
    clean = _proxy_commands("http://proxy.example:3128", state)
    assert hostile and len(hostile) == len(clean)
    for bad, good in zip(hostile, clean, strict=True):
        words = _shell_words(bad)
        assert "id" not in words and "pwn7" not in words, bad
        operators = [w for w in words if w in _OPERATORS]
        assert operators == [w for w in _shell_words(good) if w in _OPERATORS], bad
