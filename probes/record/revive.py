"""Typed probe data back from its JSON form: the inverse of :func:`probes.core.model.to_jsonable`.

A journal stores results as plain JSON.  When a session is resumed, the panels
want the dataclasses they were written for; :func:`revive` rebuilds them from
the dataclass field annotations, and raises :class:`ReviveError` when the JSON
does not fit (an older journal, a field masked by redaction), so the caller can
fall back to showing the plain fields.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
_ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


class ReviveError(ValueError):
    """The JSON value does not fit the type."""


def revive(cls: type[T], value: Any) -> T:
    """*value* (plain JSON) as an instance of the dataclass *cls*."""
    result: T = _convert(cls, value, cls.__name__)
    return result


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(tp), value, where)
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise ReviveError(f"{where}: {value!r} is not one of {typing.get_args(tp)}")
    if origin in (tuple, list, set, frozenset):
        return _sequence(origin, typing.get_args(tp), value, where)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ReviveError(f"{where}: expected an object")
        args = typing.get_args(tp)
        if not args:
            return dict(value)
        return {
            _convert(args[0], k, where): _convert(args[1], v, f"{where}[{k}]")
            for k, v in value.items()
        }
    if isinstance(tp, type):
        return _scalar_or_class(tp, value, where)
    return value  # an annotation this reviver does not know: keep the JSON


def _union(args: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None and type(None) in args:
        return None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _convert(arg, value, where)
        except ReviveError:
            continue
    raise ReviveError(f"{where}: {value!r} fits none of {args}")


def _sequence(origin: type, args: tuple[Any, ...], value: Any, where: str) -> Any:
    if not isinstance(value, list):
        raise ReviveError(f"{where}: expected a list")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise ReviveError(f"{where}: expected {len(args)} items")
        return tuple(
            _convert(a, v, f"{where}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    item = args[0] if args else Any
    items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return origin(items)


def _scalar_or_class(tp: type, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, where)
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ReviveError(f"{where}: {value!r} is not a {tp.__name__}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    elif issubclass(tp, _ADDRESS_TYPES):
        try:
            return tp(value)
        except ValueError:
            pass
    else:
        return value
    raise ReviveError(f"{where}: {value!r} is not a {tp.__name__}")


def _dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ReviveError(f"{where}: expected an object")
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError) as exc:
        raise ReviveError(
            f"{where}: cannot read the annotations of {cls.__name__}: {exc}"
        ) from None
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in value:
            kwargs[f.name] = _convert(hints.get(f.name, Any), value[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ReviveError(f"{where}: {f.name} is missing")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ReviveError(f"{where}: {exc}") from None
